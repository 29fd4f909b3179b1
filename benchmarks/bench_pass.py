"""Measure the streaming statistics pass against the original MABe analysis.

Four measurements on one checkpoint, each repeated and interleaved, with
medians reported:

1. In one process, on the same file: the original loop on what `torch.load`
   returned (`np.load` on a BytesIO per blob, `scipy.special.softmax`, `pdist`
   with a Python metric, summed over sequences, square root). Then two
   decode-only floors, which inflate every blob with the standard `zlib` on
   all cores and do nothing else. Then the app's pass (`collect_statistics`).
   Last, on one thread, the two steps that no pass can skip: turning the
   stored UTF-8 text back into bytes, and inflating with libdeflate. Their
   sum divided by the cores bounds how fast any pass with these decoders
   can be.
2. Whole processes: `annotator-gui analyze --no-figures` against the original
   pipeline (`torch.load`, then the original loop), with each child's peak
   memory from `os.wait4`.
3. Peak memory of the pass alone, in a fresh process, against the size of
   the compressed logits.
4. A responsiveness probe: the pass runs in the app's `BackgroundWorker`
   (a QThread) while a 10 ms QTimer on the GUI thread records the longest
   stall of the event loop, the rate of progress updates and, in a second
   run, the time from a cancel request to the worker's `cancelled` signal.

    .venv/bin/python benchmarks/bench_pass.py [--checkpoint FILE] [--repeats N]

Without `--checkpoint`, the realistic one-split file (460 sequences,
2,000,235 frames, two epochs of published-size parameters) is written to
benchmarks/out/ by `make_checkpoint.py`, or reused if it exists.
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

# The original pipeline as a script for a fresh interpreter. A stand-in
# `mabe.training` with empty dataclasses is all that torch.load needs.
ORIGINAL_PIPELINE = """
import dataclasses, io, sys, types
import numpy as np
import scipy.special
import torch
from scipy.spatial.distance import pdist, squareform

module = types.ModuleType("mabe.training")
for name in ("TrainingConfig", "TrainingResult"):
    setattr(module, name, dataclasses.make_dataclass(name, [], namespace={"__module__": "mabe.training"}))
sys.modules["mabe"] = types.ModuleType("mabe")
sys.modules["mabe.training"] = module

result = torch.load(sys.argv[1], weights_only=False)[int(sys.argv[2])]
annotators = sorted(next(iter(result.test_logits.values())))
total = np.zeros((len(annotators), len(annotators)))
for per_annotator in result.test_logits.values():
    probabilities = np.stack([
        scipy.special.softmax(np.load(io.BytesIO(per_annotator[a]))["arr_0"], axis=-1).ravel()
        for a in annotators
    ])
    total += squareform(pdist(probabilities, lambda u, v: np.sum((u - v) ** 2)))
print(np.sqrt(total)[0, 1])
"""

# Peak memory of the pass alone: VmRSS after opening the file, then VmHWM
# (peak resident set) after the pass, both in bytes.
PASS_MEMORY = """
import sys
from annotator_gui.analysis.statistics import collect_statistics
from annotator_gui.checkpoint import open_checkpoint

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

with open_checkpoint(sys.argv[1]) as checkpoint:
    split = checkpoint.split(int(sys.argv[2]))
    before = status("VmRSS")
    collect_statistics(split)
    print(before, status("VmHWM"))
"""


# -- the contenders run in this process ---------------------------------------


def original_loop(result) -> np.ndarray:
    """Compute the distances as the original analysis loop does, on one `TrainingResult` from torch.load."""
    import scipy.special
    from scipy.spatial.distance import pdist, squareform

    annotators = sorted(next(iter(result.test_logits.values())))
    total = np.zeros((len(annotators), len(annotators)))
    for per_annotator in result.test_logits.values():
        probabilities = np.stack([
            scipy.special.softmax(np.load(io.BytesIO(per_annotator[a]))["arr_0"], axis=-1).ravel()
            for a in annotators
        ])
        total += squareform(pdist(probabilities, lambda u, v: np.sum((u - v) ** 2)))
    return np.sqrt(total)


def deflate_member(blob: bytes) -> tuple[memoryview, int]:
    """Return the deflate stream of a one-member npz archive and its inflated size; nothing is inflated.

    numpy writes zip64 headers, whose 32-bit size fields are 0xFFFFFFFF and
    point to the zip64 field, so the app's header parser reads the sizes.
    """
    from annotator_gui.checkpoint.npz import _locate_member

    _, start, compressed_size, size, _ = _locate_member(blob)
    return memoryview(blob)[start:start + compressed_size], size


def inflate_all(blobs, workers: int, read=None) -> int:
    """Inflate every blob with zlib on `workers` threads, one contiguous share each; return bytes out."""

    def inflate_share(share) -> int:
        size = 0
        for blob in share:
            size += len(zlib.decompress(deflate_member(read(blob) if read else blob)[0], -15))
        return size

    shares = [blobs[index::workers] for index in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(inflate_share, shares))


def text_to_bytes(texts) -> int:
    """Turn each sequence's stored UTF-8 text into blob bytes with the app's decoder, on this thread.

    `texts` contains (stored text of a sequence's blobs, their lengths) pairs.
    Each text is first copied into a reused buffer, as the pass reads it,
    because the decoder overwrites its input.
    """
    from annotator_gui.checkpoint.npz import latin1_from_utf8_parts

    buffer = np.empty(max(text.size for text, _ in texts), dtype=np.uint8)
    decoded = np.empty_like(buffer)
    size = 0
    for text, lengths in texts:
        stored = buffer[:text.size]
        np.copyto(stored, text)
        size += sum(part.size for part in latin1_from_utf8_parts(stored, lengths, decoded))
    return size


def libdeflate_inflate(blobs) -> int:
    """Inflate every blob with libdeflate on this thread; return bytes out."""
    import deflate

    return sum(len(deflate.deflate_decompress(*deflate_member(blob))) for blob in blobs)


def stored_texts(split) -> list[tuple[np.ndarray, list[int]]]:
    """Read each sequence's blobs as the file stores them: (concatenated bytes, length of each)."""
    texts = []
    for sequence_id in split.sequence_ids:
        references = [split.test_logits[sequence_id][annotator] for annotator in split.annotators]
        stored = b"".join(ref.file.read_at(ref.offset, ref.length) for ref in references)
        texts.append((np.frombuffer(stored, dtype=np.uint8), [ref.length for ref in references]))
    return texts


def app_pass(split):
    from annotator_gui.analysis import metrics
    from annotator_gui.analysis.statistics import collect_statistics

    return metrics.prediction_distances(collect_statistics(split))


def measure_in_process(path: pathlib.Path, split_index: int, repeats: int) -> dict:
    import torch
    from make_checkpoint import install_training_classes

    from annotator_gui.checkpoint import open_checkpoint

    install_training_classes()
    result = torch.load(path, weights_only=False)[split_index]
    checkpoint = open_checkpoint(path)
    split = checkpoint.split(split_index)
    annotators = sorted(next(iter(result.test_logits.values())))
    loaded_blobs = [per_annotator[a] for per_annotator in result.test_logits.values() for a in annotators]
    references = [split.test_logits[s][a] for s in split.sequence_ids for a in split.annotators]
    workers = os.cpu_count() or 1
    compressed = sum(len(deflate_member(blob)[0]) for blob in loaded_blobs)
    texts = stored_texts(split)

    contenders = {
        "original loop": lambda: original_loop(result),
        "floor: read + zlib": lambda: inflate_all(references, workers, read=lambda ref: ref.read()),
        "floor: zlib from memory": lambda: inflate_all(loaded_blobs, workers),
        "app pass": lambda: app_pass(split),
        "bound: text to bytes, one thread": lambda: text_to_bytes(texts),
        "bound: libdeflate, one thread": lambda: libdeflate_inflate(loaded_blobs),
    }
    times = {name: [] for name in contenders}
    outputs = {}
    for repeat in range(repeats + 1):  # the first round warms caches and is dropped
        for name, run in contenders.items():
            start = time.perf_counter()
            outputs[name] = run()
            elapsed = time.perf_counter() - start
            if repeat:
                times[name].append(elapsed)
        print(f"  round {repeat}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items() if t), flush=True)
    # The bound's steps must produce as many bytes as torch.load and the zlib floor.
    decoded, loaded = outputs["bound: text to bytes, one thread"], sum(len(blob) for blob in loaded_blobs)
    if decoded != loaded:
        raise SystemExit(f"bench_pass: the stored text decoded to {decoded} bytes, but torch.load returned {loaded}")
    inflated, floor_inflated = outputs["bound: libdeflate, one thread"], outputs["floor: zlib from memory"]
    if inflated != floor_inflated:
        raise SystemExit(f"bench_pass: libdeflate inflated {inflated} bytes, zlib {floor_inflated}")
    original, fast = outputs["original loop"], outputs["app pass"]
    off_diagonal = ~np.eye(len(original), dtype=bool)
    checkpoint.close()
    return {
        "times": times,
        "compressed_bytes": compressed,
        "blobs": len(loaded_blobs),
        "workers": workers,
        "max_relative_difference": float(np.max(np.abs(fast - original)[off_diagonal] / original[off_diagonal])),
    }


# -- fresh processes --------------------------------------------------------------


# A small interpreter forks and execs the command and reports the child's
# peak RSS. Measuring from this process instead would count its own memory:
# a child's peak RSS includes what it had before exec, a copy of its parent.
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {seconds} {usage.ru_maxrss * 1024}")
"""


def run_child(command: list[str]) -> tuple[float, int, str]:
    """Run a command in a fresh process; return (wall seconds, peak RSS in bytes, stdout)."""
    with tempfile.NamedTemporaryFile(prefix="bench_pass_", suffix=".txt") as result:
        process = subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, result.name, *command], capture_output=True, text=True
        )
        exit_status, seconds, peak = open(result.name).read().split()
    if process.returncode != 0 or int(exit_status) != 0:
        raise RuntimeError(f"{command[:3]} failed with exit status {exit_status}: {process.stderr[-2000:]}")
    return float(seconds), int(peak), process.stdout


def analyze_command(path: pathlib.Path, split_index: int, out_dir: str) -> list[str]:
    script = pathlib.Path(sys.executable).with_name("annotator-gui")
    start = [str(script)] if script.exists() else [sys.executable, "-m", "annotator_gui"]
    return start + ["analyze", str(path), "--split", str(split_index), "--out", out_dir, "--no-figures"]


def measure_processes(path: pathlib.Path, split_index: int, repeats: int) -> dict:
    commands = {
        "original pipeline": [sys.executable, "-c", ORIGINAL_PIPELINE, str(path), str(split_index)],
        "annotator-gui analyze": None,
    }
    results = {name: {"seconds": [], "peak": []} for name in commands}
    with tempfile.TemporaryDirectory(prefix="bench_pass_") as out_dir:
        commands["annotator-gui analyze"] = analyze_command(path, split_index, out_dir)
        for repeat in range(repeats + 1):  # the first round warms caches and is dropped
            for name, command in commands.items():
                seconds, peak, _ = run_child(command)
                if repeat:
                    results[name]["seconds"].append(seconds)
                    results[name]["peak"].append(peak)
            print(f"  round {repeat}: " + ", ".join(
                f"{name} {values['seconds'][-1]:.2f} s" for name, values in results.items() if values["seconds"]
            ), flush=True)
    return results


def measure_pass_memory(path: pathlib.Path, split_index: int, repeats: int) -> list[tuple[int, int]]:
    samples = []
    for _ in range(repeats):
        _, _, output = run_child([sys.executable, "-c", PASS_MEMORY, str(path), str(split_index)])
        before, peak = map(int, output.split())
        samples.append((before, peak))
    return samples


# -- responsiveness ---------------------------------------------------------------


def _max_within(moments: list[float], window: float) -> int:
    """Return the largest number of `moments` (sorted times) that lie within any `window` seconds."""
    largest, first = 0, 0
    for last, moment in enumerate(moments):
        while moment - moments[first] > window:
            first += 1
        largest = max(largest, last - first + 1)
    return largest


def measure_responsiveness(path: pathlib.Path, split_index: int, cancel_after: float | None) -> dict:
    """Run the pass through the app's BackgroundWorker under a 10 ms GUI-thread timer.

    The second run is cancelled `cancel_after` seconds in, by default halfway
    through the first run's time.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from annotator_gui.checkpoint import open_checkpoint
    from annotator_gui.gui.compare_worker import compare_job
    from annotator_gui.gui.worker import BackgroundWorker

    application = QCoreApplication.instance() or QCoreApplication([])
    checkpoint = open_checkpoint(path)
    split = checkpoint.split(split_index)
    worker = BackgroundWorker("bench-pass")

    def run(cancel_at: float | None) -> dict:
        ticks: list[float] = []
        progress: list[float] = []
        events: dict[str, float] = {}
        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

        def on_done(name: str) -> None:
            events[name] = time.perf_counter()
            loop.quit()

        def cancel() -> None:
            events["cancel requested"] = time.perf_counter()
            worker.cancel()

        slots = {
            worker.progressed: lambda _: progress.append(time.perf_counter()),
            worker.finished: lambda _: on_done("finished"),
            worker.cancelled: lambda: on_done("cancelled"),
            worker.failed: lambda error: on_done(f"failed: {error}"),
        }
        for signal, slot in slots.items():
            signal.connect(slot)
        timer.start()
        start = time.perf_counter()
        ticks.append(start)
        worker.start(compare_job(split))
        if cancel_at is not None:
            QTimer.singleShot(int(cancel_at * 1000), cancel)
        loop.exec()
        timer.stop()
        for signal, slot in slots.items():
            signal.disconnect(slot)
        end = max(events.values())
        gaps = np.diff(ticks + [end])
        return {
            "seconds": end - start,
            "max_stall": float(gaps.max()) - 0.010,
            "progress_updates": len(progress),
            "progress_rate": len(progress) / (end - start),
            "progress_max_per_second": _max_within(progress, 1.0),
            "min_progress_interval": float(np.diff(progress).min()) if len(progress) > 1 else None,
            "events": {name: moment - start for name, moment in events.items()},
        }

    full = run(None)
    if cancel_after is None:
        cancel_after = full["seconds"] / 2
    cancelled = run(cancel_after)
    worker.shutdown()
    checkpoint.close()
    del application
    latency = None
    if "cancelled" in cancelled["events"] and "cancel requested" in cancelled["events"]:
        latency = cancelled["events"]["cancelled"] - cancelled["events"]["cancel requested"]
    return {"full": full, "cancelled": cancelled, "cancel_after": cancel_after, "cancel_latency": latency}


# -- set-up and report ------------------------------------------------------------


def default_checkpoint() -> pathlib.Path:
    from make_checkpoint import write_checkpoint

    path = OUT / "pass_1split_460seq_2000235rows_legacy.pt"
    if not path.exists():
        print(f"writing {path} with make_checkpoint.py (about 1 GB) ...", flush=True)
        OUT.mkdir(parents=True, exist_ok=True)
        write_checkpoint(path, splits=1, epochs=2, sequences=460, frames=2_000_235)
    return path


def describe_machine() -> str:
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    from annotator_gui.checkpoint import npz

    return (
        f"{platform.platform()}, {model}, {os.cpu_count()} logical CPUs, {memory:.0f} GiB; "
        f"Python {platform.python_version()}, numpy {np.__version__}, inflater {npz.INFLATER}; "
        f"load average at start {load}"
    )


def median(values) -> float:
    return statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=pathlib.Path, help="checkpoint to measure (default: write the realistic one-split file)")
    parser.add_argument("--split", type=int, default=0, help="split to analyse (default 0)")
    parser.add_argument("--repeats", type=int, default=5, help="measured rounds of each comparison (default 5)")
    parser.add_argument("--cancel-after", type=float, help="seconds into the second GUI run to cancel (default: half the first run's time)")
    parser.add_argument("--skip", action="append", default=[], choices=["in-process", "processes", "memory", "gui"], help="leave out one measurement (repeatable)")
    arguments = parser.parse_args(argv)
    path = arguments.checkpoint or default_checkpoint()
    command = "python benchmarks/bench_pass.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"machine: {describe_machine()}")
    print(f"checkpoint: {path} ({path.stat().st_size / 2**20:.0f} MiB), split {arguments.split}")
    report = [f"command: `{command.strip()}`", f"checkpoint: {path.name}, split {arguments.split}"]

    if "in-process" not in arguments.skip:
        print("in-process contenders:")
        inside = measure_in_process(path, arguments.split, arguments.repeats)
        floor = median(inside["times"]["floor: zlib from memory"])
        report.append(
            f"\n{inside['blobs']} blobs, {inside['compressed_bytes'] / 1e6:.1f} MB of compressed logits; "
            f"app pass vs original loop: max relative difference {inside['max_relative_difference']:.1e}\n"
        )
        report.append("| in one process | median s | min s | vs zlib-from-memory floor |")
        report.append("| --- | ---: | ---: | ---: |")
        for name, values in inside["times"].items():
            report.append(f"| {name} | {median(values):.2f} | {min(values):.2f} | {median(values) / floor:.2f}x |")
        # Every blob must be turned from text into bytes and inflated, so even
        # a pass that spread that work over all cores perfectly and computed
        # nothing else would take at least this long.
        times = inside["times"]
        bound = (median(times["bound: text to bytes, one thread"]) + median(times["bound: libdeflate, one thread"])) / inside["workers"]
        report.append(
            f"\nlower bound of a pass on {inside['workers']} cores with these decoders: (text to bytes + libdeflate) / "
            f"{inside['workers']} = {bound:.2f} s, {bound / floor:.2f}x the zlib-from-memory floor"
        )

    if "processes" not in arguments.skip:
        print("whole processes:")
        processes = measure_processes(path, arguments.split, arguments.repeats)
        original = median(processes["original pipeline"]["seconds"])
        report.append("\n| whole process | median s | min s | share of original | median peak RSS MiB |")
        report.append("| --- | ---: | ---: | ---: | ---: |")
        for name, values in processes.items():
            seconds = values["seconds"]
            report.append(
                f"| {name} | {median(seconds):.2f} | {min(seconds):.2f} | {median(seconds) / original:.2f} | "
                f"{median(values['peak']) / 2**20:.0f} |"
            )

    if "memory" not in arguments.skip:
        print("peak memory of the pass alone:")
        samples = measure_pass_memory(path, arguments.split, max(1, arguments.repeats // 2))
        before, peak = (median(column) for column in zip(*samples))
        report.append(
            f"\npass alone: RSS {before / 2**20:.0f} MiB after opening, peak {peak / 2**20:.0f} MiB, "
            f"growth {(peak - before) / 2**20:.1f} MiB (medians of {len(samples)} runs)"
        )

    if "gui" not in arguments.skip:
        print("responsiveness probe:")
        probe = measure_responsiveness(path, arguments.split, arguments.cancel_after)
        full, cancelled = probe["full"], probe["cancelled"]
        latency = probe["cancel_latency"]
        report.append(
            f"\nGUI probe (app BackgroundWorker, 10 ms QTimer): pass {full['seconds']:.2f} s, "
            f"longest event-loop stall {full['max_stall'] * 1000:.1f} ms, "
            f"{full['progress_updates']} progress updates ({full['progress_rate']:.1f}/s, "
            f"at most {full['progress_max_per_second']} within any second, "
            f"shortest interval {1000 * (full['min_progress_interval'] or 0):.0f} ms); "
            f"cancel after {probe['cancel_after']:.2f} s: worker done "
            + (f"{latency * 1000:.0f} ms after the request" if latency is not None else f"without cancelling ({cancelled['events']})")
            + f", longest stall {cancelled['max_stall'] * 1000:.1f} ms"
        )
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
