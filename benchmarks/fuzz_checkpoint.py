"""Fuzz the checkpoint reader with 10,000 or more damaged copies of the real fixtures.

Run from the repository root. A 10,000-case run with 2 workers used about
7 minutes of CPU time per worker and took 33 minutes of wall-clock time on a
2-core machine that other jobs kept busy:

    .venv/bin/python benchmarks/fuzz_checkpoint.py --cases 10000 --workers 2

Each worker process runs hypothesis with its own random seed on the
mutations that tests/test_fuzz.py uses (bit flips, overwrites, insertions,
deletions and truncation of the data pickle, the npz blobs, the storage
records and the zip directory of both fixtures). Unlike the test, a case
that raises an exception other than CheckpointError is recorded and the run
goes on, so one run lists every kind of escape it finds. The summary gives
the number of cases, how many loaded or were rejected, the slowest case by
wall-clock and by CPU time, and one example per escaped exception type. The
exit status is 1 if any case escaped or took 2 s of CPU time or more.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAX_SECONDS_PER_CASE = 2.0


def run_worker(job: tuple[int, int]) -> dict:
    """Run `cases` hypothesis examples with `seed`; return counts, the slowest cases and escapes."""
    seed, cases = job
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed

    from tests.hostile.mutation import check_case, mutated_checkpoints

    stats = {
        "cases": 0, "loaded": 0, "rejected": 0, "escaped": {}, "over_limit": [],
        "slowest_wall": (0.0, ""), "slowest_cpu": (0.0, ""),
    }
    folder = Path(tempfile.mkdtemp(prefix="fuzz_checkpoint_"))

    @hypothesis_seed(seed)
    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=mutated_checkpoints())
    def fuzz(case):
        stats["cases"] += 1
        try:
            outcome = check_case(folder / f"{case.fixture.name}.pt", case.build())
        except Exception as error:  # recorded, not raised, so the run covers every case
            name = f"{type(error).__name__} in {traceback.extract_tb(error.__traceback__)[-1].name}"
            stats["escaped"].setdefault(name, (repr(case), f"{type(error).__name__}: {error}"[:300], 0))
            example, message, count = stats["escaped"][name]
            stats["escaped"][name] = (example, message, count + 1)
            return
        stats[outcome.kind] += 1
        if outcome.seconds > stats["slowest_wall"][0]:
            stats["slowest_wall"] = (outcome.seconds, repr(case))
        if outcome.cpu_seconds > stats["slowest_cpu"][0]:
            stats["slowest_cpu"] = (outcome.cpu_seconds, repr(case))
        if outcome.cpu_seconds >= MAX_SECONDS_PER_CASE:
            stats["over_limit"].append((outcome.cpu_seconds, repr(case)))

    fuzz()
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="number of damaged files in total")
    parser.add_argument("--workers", type=int, default=2, help="number of worker processes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first worker; worker i uses seed + i")
    arguments = parser.parse_args()

    share, rest = divmod(arguments.cases, arguments.workers)
    jobs = [(arguments.seed + index, share + (index < rest)) for index in range(arguments.workers)]
    with multiprocessing.get_context("spawn").Pool(arguments.workers) as pool:
        results = pool.map(run_worker, jobs)

    total = {key: sum(result[key] for result in results) for key in ("cases", "loaded", "rejected")}
    escaped: dict = {}
    for result in results:
        for name, (example, message, count) in result["escaped"].items():
            previous = escaped.get(name, (example, message, 0))
            escaped[name] = (previous[0], previous[1], previous[2] + count)
    slowest_wall = max(result["slowest_wall"] for result in results)
    slowest_cpu = max(result["slowest_cpu"] for result in results)
    over_limit = sorted(case for result in results for case in result["over_limit"])

    print(f"cases run: {total['cases']} (loaded {total['loaded']}, rejected {total['rejected']}, "
          f"escaped {sum(count for _, _, count in escaped.values())})")
    print(f"slowest case, wall-clock: {slowest_wall[0]:.3f} s for {slowest_wall[1]}")
    print(f"slowest case, CPU time: {slowest_cpu[0]:.3f} s for {slowest_cpu[1]}")
    print(f"cases at or over {MAX_SECONDS_PER_CASE} s of CPU time: {len(over_limit)}")
    for seconds, case in over_limit[-10:]:
        print(f"  {seconds:.3f} s for {case}")
    for name, (example, message, count) in sorted(escaped.items()):
        print(f"escaped {name}: {count} cases, for example {example}\n  {message}")
    return 1 if escaped or over_limit else 0


if __name__ == "__main__":
    sys.exit(main())
