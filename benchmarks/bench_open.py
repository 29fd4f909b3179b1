"""Compare opening a large checkpoint with `annotator-gui info` and with plain `torch.load`.

Writes three checkpoints with `make_checkpoint.py` (or reuses them): a realistic
one-split file, the same with 20 epochs of parameter copies, and a four-split
file. Then it runs each reader as a whole new process, several times and
interleaved, and reports the median wall time and the median peak memory
(max RSS of the child, from `os.wait4`). Also measured, for context: a bare
interpreter start and `import torch` alone.

    .venv/bin/python benchmarks/bench_open.py [--dir DIR] [--repeats N] [--cold]

By default the runs are warm-cache: the files were just written or read, and
one discarded warm-up run of every command precedes the measured ones. With
`--cold`, the checkpoint's pages are evicted from the page cache before every
run (`posix_fadvise(POSIX_FADV_DONTNEED)`). The interpreter, numpy and torch
stay cached in both modes.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = pathlib.Path(__file__).resolve().parent
GENERATOR = HERE / "make_checkpoint.py"

# Size of one (encoder, head) parameter copy of the published model, in bytes
# (`make_checkpoint.model_copy_bytes(512, 128, 6)`), for the disk-space check.
COPY_BYTES = 56_989_944
# Bytes per logit row in a legacy file, an estimate: 6 annotators x 4 float32
# plus 7 Task 3 tasks x 2 float32 (the int64 predictions compress to little).
# The file stores them about 1.5 times larger, as protocol 2 pickles bytes as UTF-8 text.
ROW_BYTES_ESTIMATE = 1.5 * (6 * 4 * 4 + 7 * 2 * 4)

# The stand-in `mabe.training` that torch.load needs to rebuild the objects. It is
# kept minimal so that the baseline costs no more than torch itself.
TORCH_LOAD_CODE = """
import dataclasses, sys, types
module = types.ModuleType("mabe.training")
for name in ("TrainingConfig", "TrainingResult"):
    setattr(module, name, dataclasses.make_dataclass(name, [], namespace={"__module__": "mabe.training"}))
sys.modules["mabe"] = types.ModuleType("mabe")
sys.modules["mabe.training"] = module
import torch
results = torch.load(sys.argv[1], weights_only=False)
assert len(results) == int(sys.argv[2]), len(results)
"""


@dataclass(frozen=True)
class CheckpointSpec:
    """One benchmark file: its name and the generator's arguments."""

    label: str
    splits: int
    epochs: int
    sequences: int = 460
    frames: int = 2_000_235

    def file_name(self, layout: str) -> str:
        return f"mabe_{self.splits}split_{self.epochs}epochs_{self.sequences}seq_{self.frames}rows_{layout}.pt"

    def estimated_bytes(self) -> float:
        copies = 8 + 1 + self.epochs  # best_params of 8 tasks, final_params, params_by_epoch
        return self.splits * (copies * COPY_BYTES + self.frames * ROW_BYTES_ESTIMATE)


SPECS = (
    CheckpointSpec("1 split, 2 epochs", splits=1, epochs=2),
    CheckpointSpec("1 split, 20 epochs", splits=1, epochs=20),
    CheckpointSpec("4 splits, 2 epochs", splits=4, epochs=2),
)


@dataclass
class Samples:
    """Measured runs of one command."""

    label: str
    command: list[str]
    expected: dict | None = None
    wall_seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    max_rss_mib: list[float] = field(default_factory=list)

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall_seconds)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu_seconds)

    @property
    def median_rss(self) -> float:
        return statistics.median(self.max_rss_mib)


# -- files ----------------------------------------------------------------------------


def ensure_checkpoint(spec: CheckpointSpec, folder: pathlib.Path, layout: str) -> pathlib.Path:
    """Return the path of `spec`'s file, writing it first if it does not exist yet."""
    path = folder / spec.file_name(layout)
    if path.exists():
        print(f"reusing {path} ({path.stat().st_size / 2**20:.0f} MiB)", flush=True)
        return path
    free = shutil.disk_usage(folder).free
    needed = spec.estimated_bytes() * 1.2
    if free < needed:
        sys.exit(f"bench_open: error: {folder} has {free / 2**30:.1f} GiB free, but {spec.label} needs "
                 f"about {needed / 2**30:.1f} GiB; free space or pass another --dir")
    print(f"writing {path} ({spec.label}, about {spec.estimated_bytes() / 2**20:.0f} MiB)", flush=True)
    command = [sys.executable, str(GENERATOR), str(path), "--splits", str(spec.splits)]
    command += ["--epochs", str(spec.epochs), "--sequences", str(spec.sequences)]
    command += ["--frames", str(spec.frames), "--layout", layout]
    subprocess.run(command, check=True)
    return path


def evict_from_page_cache(path: pathlib.Path) -> None:
    """Ask the kernel to drop the file's clean pages from the page cache."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)


def cached_fraction(path: pathlib.Path) -> float | None:
    """Return the fraction of the file in the page cache, from util-linux `fincore`, or None."""
    if shutil.which("fincore") is None:
        return None
    completed = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES,SIZE", str(path)],
        capture_output=True,
        text=True,
    )
    fields = completed.stdout.split()
    if completed.returncode != 0 or len(fields) != 2 or int(fields[1]) == 0:
        return None
    return int(fields[0]) / int(fields[1])


# -- measurement ------------------------------------------------------------------------


def run_once(command: list[str], out_path: str, err_path: str, env: dict) -> tuple[float, float, float, int]:
    """Run `command` as a new process; return wall seconds, CPU seconds, max RSS in MiB and exit code.

    The child is waited for with `os.wait4`, whose resource usage belongs to
    that child alone, so every run's peak memory is measured apart.
    """
    actions = [
        (os.POSIX_SPAWN_OPEN, 1, out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    start = time.perf_counter()
    pid = os.posix_spawn(command[0], command, env, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    # Linux reports ru_maxrss in KiB.
    return wall, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def check_info_output(samples: Samples, out_path: str) -> None:
    """Raise if `info` printed other counts than the file has, so a broken reader cannot look fast."""
    with open(out_path) as handle:
        summary = json.load(handle)
    for key, value in samples.expected.items():
        if summary.get(key) != value:
            raise SystemExit(f"bench_open: error: {samples.label} printed {key}={summary.get(key)!r}, expected {value!r}")


def measure(all_samples: list[Samples], repeats: int, cold_files: dict[str, pathlib.Path], env: dict) -> None:
    """Run every command once to warm up, then `repeats` times, interleaved."""
    with tempfile.TemporaryDirectory(prefix="bench_open_") as scratch:
        out_path = os.path.join(scratch, "stdout")
        err_path = os.path.join(scratch, "stderr")
        for round_index in range(repeats + 1):
            # Rotate the order each round, so no command always runs right after the same one.
            shift = round_index % len(all_samples)
            for samples in all_samples[shift:] + all_samples[:shift]:
                cold_path = cold_files.get(samples.label)
                if cold_path is not None:
                    evict_from_page_cache(cold_path)
                wall, cpu, rss, code = run_once(samples.command, out_path, err_path, env)
                if code != 0:
                    with open(err_path) as handle:
                        tail = handle.read()[-2000:]
                    raise SystemExit(f"bench_open: error: {samples.label} exited with status {code}:\n{tail}")
                if samples.expected is not None:
                    check_info_output(samples, out_path)
                if round_index == 0:
                    continue
                samples.wall_seconds.append(wall)
                samples.cpu_seconds.append(cpu)
                samples.max_rss_mib.append(rss)
                print(f"  round {round_index}: {samples.label}: {wall:.3f} s wall, {cpu:.3f} s CPU, {rss:.0f} MiB", flush=True)


# -- report ------------------------------------------------------------------------------


def reader_state(python: str, env: dict) -> dict:
    """Describe the `annotator_gui` that the children import: its folder, git commit and uncommitted files."""
    folder = subprocess.run(
        [python, "-c", "import annotator_gui, os; print(os.path.dirname(annotator_gui.__file__))"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        # `python -c` puts the working folder first on sys.path, which the
        # annotator-gui command does not, so ask from a neutral folder.
        cwd="/",
    ).stdout.strip()
    state = {"package": folder, "commit": None, "uncommitted": None}
    commit = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True, text=True)
    if commit.returncode == 0:
        state["commit"] = commit.stdout.strip()
        status = subprocess.run(
            ["git", "-C", folder, "status", "--porcelain", "--", "."], capture_output=True, text=True
        )
        state["uncommitted"] = status.stdout.splitlines()
    return state


def machine_description(python: str, env: dict) -> dict:
    versions = subprocess.run(
        [python, "-c", "import sys, numpy, torch; print(sys.version.split()[0], numpy.__version__, torch.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.split()
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": versions[0],
        "numpy": versions[1],
        "torch": versions[2],
    }


def _ratio_line(name: str, value: float, goal: float | None = None, at_most: bool = True) -> str:
    if goal is None:
        return f"| {name} | {value:.3f} | |"
    verdict = "met" if (value <= goal if at_most else value >= goal) else "MISSED"
    return f"| {name} | {value:.3f} | at most {goal:.3f}: {verdict} |"


def report(context: list[Samples], per_file: dict[str, dict[str, Samples]], sizes: dict[str, int]) -> list[str]:
    lines = [
        "| file | size (MiB) | command | median wall (s) | median CPU (s) | median max RSS (MiB) | runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for samples in context:
        lines.append(
            f"| (none) | | {samples.label} | {samples.median_wall:.3f} | {samples.median_cpu:.3f} | "
            f"{samples.median_rss:.0f} | {len(samples.wall_seconds)} |"
        )
    for label, readers in per_file.items():
        for reader, samples in readers.items():
            lines.append(
                f"| {label} | {sizes[label] / 2**20:.0f} | {reader} | {samples.median_wall:.3f} | "
                f"{samples.median_cpu:.3f} | {samples.median_rss:.0f} | {len(samples.wall_seconds)} |"
            )
    lines += ["", "| ratio (of medians) | value | goal |", "|---|---|---|"]
    for label, readers in per_file.items():
        info, torch_load = readers["info"], readers["torch.load"]
        goal_wall, goal_rss = (1 / 3, 1 / 4) if label == SPECS[0].label else (None, None)
        lines.append(_ratio_line(f"{label}: info / torch.load, wall", info.median_wall / torch_load.median_wall, goal_wall))
        lines.append(_ratio_line(f"{label}: info / torch.load, CPU", info.median_cpu / torch_load.median_cpu))
        lines.append(_ratio_line(f"{label}: info / torch.load, max RSS", info.median_rss / torch_load.median_rss, goal_rss))
    base, many = per_file[SPECS[0].label], per_file[SPECS[1].label]
    four = per_file[SPECS[2].label]
    for reader in ("info", "torch.load"):
        goal = 1.15 if reader == "info" else None
        lines.append(_ratio_line(f"{reader}: 20 / 2 epochs, wall", many[reader].median_wall / base[reader].median_wall, goal))
        lines.append(_ratio_line(f"{reader}: 20 / 2 epochs, CPU", many[reader].median_cpu / base[reader].median_cpu))
        lines.append(_ratio_line(f"{reader}: 20 / 2 epochs, max RSS", many[reader].median_rss / base[reader].median_rss, goal))
        lines.append(_ratio_line(f"{reader}: 4 / 1 splits, wall", four[reader].median_wall / base[reader].median_wall))
        lines.append(_ratio_line(f"{reader}: 4 / 1 splits, max RSS", four[reader].median_rss / base[reader].median_rss))
    # Both files are read in every round, seconds apart, so the ratio within a
    # round moves less with the other jobs on the machine than a ratio of medians.
    lines.append(_ratio_line(
        "info: 20 / 2 epochs, wall, median of per-round ratios",
        _median_ratio(many["info"].wall_seconds, base["info"].wall_seconds),
        1.15,
    ))
    lines.append(_ratio_line(
        "info: 20 / 2 epochs, CPU, median of per-round ratios",
        _median_ratio(many["info"].cpu_seconds, base["info"].cpu_seconds),
    ))
    return lines


def _median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """Return the median of the ratios of samples taken in the same round."""
    return statistics.median(top / bottom for top, bottom in zip(numerators, denominators))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark opening large checkpoints: annotator-gui info against torch.load.")
    parser.add_argument("--dir", type=pathlib.Path, default=HERE / "out", help="folder for the checkpoints and results (default benchmarks/out)")
    parser.add_argument("--repeats", type=int, default=5, help="measured runs per command, after one warm-up run (default 5)")
    parser.add_argument("--layout", choices=("legacy", "zip"), default="legacy", help="torch.save layout of the files (default legacy)")
    parser.add_argument("--cold", action="store_true", help="evict each checkpoint from the page cache before every run")
    parser.add_argument(
        "--annotator-gui",
        type=pathlib.Path,
        default=pathlib.Path(sys.executable).with_name("annotator-gui"),
        help="the annotator-gui command to measure (default: next to this Python)",
    )
    parser.add_argument(
        "--pythonpath",
        type=pathlib.Path,
        help="folder put first on PYTHONPATH of every measured process, e.g. a clean checkout whose reader is measured",
    )
    arguments = parser.parse_args(argv)
    if arguments.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {arguments.repeats}")
    if not arguments.annotator_gui.exists():
        parser.error(f"{arguments.annotator_gui} not found; install the project (pip install -e .) or pass --annotator-gui")
    arguments.dir.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ)
    if arguments.pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(arguments.pythonpath.resolve()), env.get("PYTHONPATH")]))
    reader = reader_state(sys.executable, env)
    print(f"measuring the reader in {reader['package']} at commit {reader['commit']}, "
          f"uncommitted changes: {reader['uncommitted']}", flush=True)
    paths = {spec.label: ensure_checkpoint(spec, arguments.dir, arguments.layout) for spec in SPECS}
    sizes = {label: path.stat().st_size for label, path in paths.items()}
    python = sys.executable
    context = [
        Samples("python -c pass", [python, "-c", "pass"]),
        Samples("import torch", [python, "-c", "import torch"]),
    ]
    per_file: dict[str, dict[str, Samples]] = {}
    cold_files = {}
    for spec in SPECS:
        path = str(paths[spec.label])
        expected = {"splits": spec.splits, "sequences": [spec.sequences] * spec.splits, "frames": [spec.frames] * spec.splits}
        per_file[spec.label] = {
            "torch.load": Samples(f"torch.load: {spec.label}", [python, "-c", TORCH_LOAD_CODE, path, str(spec.splits)]),
            "info": Samples(f"info: {spec.label}", [str(arguments.annotator_gui), "info", path], expected),
        }
        if arguments.cold:
            for samples in per_file[spec.label].values():
                cold_files[samples.label] = paths[spec.label]
    all_samples = context + [samples for readers in per_file.values() for samples in readers.values()]

    print(f"measuring {len(all_samples)} commands, 1 warm-up and {arguments.repeats} measured runs each", flush=True)
    load_before = os.getloadavg()
    measure(all_samples, arguments.repeats, cold_files, env)
    load_after = os.getloadavg()
    residency = {label: cached_fraction(path) for label, path in paths.items()}

    machine = machine_description(python, env)
    cache = "cold (checkpoint evicted before each run)" if arguments.cold else "warm"
    lines = report(context, per_file, sizes)
    print()
    print(f"machine: {machine}")
    print(f"page cache: {cache}; fraction of each file cached after the runs: {residency}")
    # Other processes on the machine lengthen wall times much more than CPU times.
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {load_after}")
    print("\n".join(lines))

    record = {
        "command": " ".join([pathlib.Path(python).name, *sys.argv]),
        "machine": machine,
        "reader": reader,
        "page_cache": cache,
        "cached_fraction_after": residency,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "layout": arguments.layout,
        "files": {label: {"path": str(paths[label]), "bytes": sizes[label]} for label in paths},
        "samples": [
            {
                "label": samples.label,
                "wall_seconds": samples.wall_seconds,
                "cpu_seconds": samples.cpu_seconds,
                "max_rss_mib": samples.max_rss_mib,
            }
            for samples in all_samples
        ],
        "table": lines,
    }
    result_path = arguments.dir / ("bench_open_cold.json" if arguments.cold else "bench_open.json")
    result_path.write_text(json.dumps(record, indent=1))
    print(f"\nwrote {result_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
