"""One streaming pass over the test logits that keeps only small per-sequence statistics.

For each test sequence the pass decodes every annotator's logits, turns them
into per-frame behaviour probabilities (softmax) and predicted labels
(argmax), and keeps:

- `squared_distances[s, k, i, j]`: the sum over the sequence's frames of
  (p_i,k - p_j,k)^2, the squared euclidean distance between annotators i and
  j restricted to behaviour k;
- `cooccurrence[s, i, j, a, b]`: the number of frames that annotator i's
  prediction labels a and annotator j's labels b;
- `frames[s]`: the number of frames.

Everything the app derives (the original distance, per-behaviour distances,
label agreement, prevalence, per-sequence shares, bootstrap replicates) is a
sum of these over sequences, so no second pass over the logits is needed.

The all-splits mode averages the probabilities of every split's model per
frame, which is the ensemble that the winning MABe solution submitted. It
derives the same statistics from that average, and its labels are the
argmax of the averaged probabilities.

Speed: sequences are processed on a thread pool, and `logits_reader`
decodes their blobs in calls that release the GIL. Probabilities are
float64 throughout, so the distances match a float64 reference to about
1e-13 relative.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..checkpoint import BEHAVIORS, CheckpointError, Split
from .logits_reader import read_sequence
from .progress import TaskState
from .scratch import Scratch

_LOG2_E = 1.0 / np.log(2.0)


@dataclass
class SequenceStatistics:
    """Per-sequence sufficient statistics of one split and one set of annotators."""

    sequence_ids: list[str]
    annotators: list[int]
    frames: np.ndarray  # (sequences,) int64
    squared_distances: np.ndarray  # (sequences, behaviours, annotators, annotators) float64
    cooccurrence: np.ndarray  # (sequences, annotators, annotators, behaviours, behaviours) int64

    @property
    def total_frames(self) -> int:
        return int(self.frames.sum())


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=-1, keepdims=True)
    return shifted


def sequence_statistics(logits: list[np.ndarray]) -> tuple[int, np.ndarray, np.ndarray]:
    """Compute (frames, squared distances, co-occurrence) for one sequence.

    `logits` contains one frames x behaviours array per annotator, all the same shape.
    """
    scratch = Scratch()
    probabilities, labels = _probabilities_and_labels(logits, scratch)
    squared, cooccurrence = _pair_statistics(probabilities, labels, scratch)
    return logits[0].shape[0], squared, cooccurrence


# -- per-sequence numerics --------------------------------------------------------
#
# One sequence is held as an (annotators, behaviours, frames) float64 array,
# so that every behaviour's column is a contiguous row and the numpy passes
# below run over contiguous memory.


def _probabilities_and_labels(
    logits: Sequence[np.ndarray], scratch: Scratch, name: str = "values"
) -> tuple[np.ndarray, np.ndarray]:
    """Return softmax probabilities (annotators, behaviours, frames) and argmax labels (annotators, frames).

    The probabilities are a view of a scratch array, valid until the next
    call with the same `name`.

    The softmax is shifted by the last behaviour's logit instead of each
    frame's maximum, which saves one exp per frame because that behaviour's
    term is exactly 1. The differences of float32 logits are exact in
    float64, so the labels taken from them equal `argmax` of the logits,
    ties included. exp(d) is computed as exp2(d * log2(e)), which numpy
    evaluates faster than exp and which is as accurate here to about
    |d| * 1e-16 relative. Where a difference overflows (a logit exceeds the
    last one by about 710), the max-shifted softmax is used instead.
    """
    frames, behaviors = logits[0].shape
    values = scratch.array(name, (len(logits), behaviors, frames), np.float64)
    others = values[:, :-1]
    for index, array in enumerate(logits):
        np.subtract(array[:, :-1].T, array[:, -1], out=others[index], dtype=np.float64)
    labels = _first_max_index(others)
    others *= _LOG2_E
    with np.errstate(over="ignore"):
        np.exp2(others, out=others)
        total = others.sum(axis=1)
        total += 1.0
    if not np.isfinite(total).all():
        for index, array in enumerate(logits):
            values[index] = softmax(array).T
        return values, labels
    np.divide(1.0, total, out=values[:, -1])
    others *= values[:, -1:]
    return values, labels


def _first_max_index(differences: np.ndarray) -> np.ndarray:
    """Return argmax over behaviours of (differences[:, 0], ..., differences[:, -1], 0), first index on ties."""
    count, columns, frames = differences.shape
    best = np.zeros((count, frames))
    for behavior in range(columns):
        np.maximum(best, differences[:, behavior], out=best)
    return _first_index_of(differences, best, last_is_zero=True)


def first_max_index(values: np.ndarray) -> np.ndarray:
    """Return the index of the first maximum along axis 1 of an (annotators, behaviours, frames) array.

    It equals `values.argmax(axis=1)`, without the copy that numpy makes to
    reduce over a middle axis.
    """
    best = values[:, 0].copy()
    for behavior in range(1, values.shape[1]):
        np.maximum(best, values[:, behavior], out=best)
    return _first_index_of(values, best, last_is_zero=False)


def _first_index_of(values: np.ndarray, best: np.ndarray, last_is_zero: bool) -> np.ndarray:
    """Return the first index along axis 1 at which `values` equals `best` (an implicit 0 column may follow).

    With m_k = 1 where column k misses the maximum and 0 where it reaches it,
    the first index is m_0 * (1 + m_1 * (1 + m_2 * (...))). Evaluating that
    with small-integer array arithmetic is about twice as fast on real logits
    as masked assignments, whose cost depends on how often the label changes.
    """
    columns = values.shape[1]
    nested = np.zeros(best.shape, dtype=np.uint8 if columns < 255 else np.intp)
    missed = np.empty(best.shape, dtype=np.bool_)
    # The implicit zero column, or else the last column, is the maximum
    # wherever no earlier column is, so its own miss flag is never needed.
    last_explicit = columns - 1 if last_is_zero else columns - 2
    for behavior in range(last_explicit, -1, -1):
        np.add(nested, 1, out=nested)
        np.not_equal(values[:, behavior], best, out=missed)
        np.multiply(nested, missed, out=nested, casting="unsafe")
    return nested


def _pair_statistics(
    probabilities: np.ndarray, labels: np.ndarray, scratch: Scratch
) -> tuple[np.ndarray, np.ndarray]:
    """Return squared distances (behaviours, A, A) and co-occurrence (A, A, behaviours, behaviours)."""
    count, behaviors, frames = probabilities.shape
    squared = np.zeros((behaviors, count, count))
    for first in range(count - 1):
        # Summing squared differences directly, rather than expanding
        # |p_i|^2 + |p_j|^2 - 2 p_i.p_j, avoids cancellation when two
        # annotators predict almost alike.
        difference = scratch.array("difference", (count - first - 1, behaviors, frames), np.float64)
        np.subtract(probabilities[first + 1:], probabilities[first], out=difference)
        per_pair = _row_dots(difference).T
        squared[:, first, first + 1:] = per_pair
        squared[:, first + 1:, first] = per_pair
    return squared, _cooccurrence(labels, behaviors)


def _row_dots(values: np.ndarray) -> np.ndarray:
    """Return the dot product of every last-axis row of `values` with itself."""
    if hasattr(np, "vecdot"):  # numpy 2.0 and later: a BLAS dot per row
        return np.vecdot(values, values)
    return np.einsum("...f,...f->...", values, values)


# Above this many label combinations the joint histogram costs more than
# counting each annotator pair separately.
_MAX_JOINT_CODES = 1 << 16


def _cooccurrence(labels: np.ndarray, behaviors: int) -> np.ndarray:
    """Count, for every annotator pair (i, j), the frames on which i predicts a and j predicts b."""
    count = labels.shape[0]
    if behaviors**count > _MAX_JOINT_CODES:
        return _cooccurrence_by_pairs(labels, behaviors)
    # Histogram each frame's combination of all annotators' labels, then
    # marginalise: with one-hot rows O of the combinations that occur and
    # their counts h, O^T diag(h) O contains every pair's table at once.
    code = labels[0].astype(np.intp)
    for row in labels[1:]:
        code *= behaviors
        code += row
    histogram = np.bincount(code, minlength=behaviors**count)
    present = np.flatnonzero(histogram)
    place_values = behaviors ** np.arange(count - 1, -1, -1)
    digits = present[:, None] // place_values % behaviors
    one_hot = np.zeros((present.size, count, behaviors))
    one_hot[np.arange(present.size)[:, None], np.arange(count), digits] = 1.0
    one_hot = one_hot.reshape(present.size, count * behaviors)
    # Every product and sum is an integer below 2**53, so float64 is exact.
    tables = (one_hot.T * histogram[present]) @ one_hot
    tables = np.rint(tables).astype(np.int64).reshape(count, behaviors, count, behaviors)
    return np.ascontiguousarray(tables.transpose(0, 2, 1, 3))


def _cooccurrence_by_pairs(labels: np.ndarray, behaviors: int) -> np.ndarray:
    labels = labels.astype(np.intp)
    count = labels.shape[0]
    first, second = np.triu_indices(count)
    cells = behaviors * behaviors
    codes = labels[first] * behaviors
    codes += labels[second]
    codes += (np.arange(first.size) * cells)[:, None]
    counts = np.bincount(codes.ravel(), minlength=first.size * cells).reshape(first.size, behaviors, behaviors)
    cooccurrence = np.empty((count, count, behaviors, behaviors), dtype=np.int64)
    cooccurrence[first, second] = counts
    cooccurrence[second, first] = counts.transpose(0, 2, 1)
    return cooccurrence


# -- the passes -------------------------------------------------------------------


def collect_statistics(
    split: Split,
    state: TaskState | None = None,
    workers: int | None = None,
) -> SequenceStatistics:
    """Run the streaming pass over every test sequence of `split`.

    Labels are the argmax of each annotator's logits.
    Raises `Cancelled` when `state` is cancelled and `CheckpointError` for bad data.
    """
    annotators = _annotators_to_compare(split)

    def compute(sequence_id: str, scratch: Scratch, state: TaskState):
        logits = read_sequence(split, sequence_id, annotators, scratch, state)
        if logits is None:
            return None
        probabilities, labels = _probabilities_and_labels(logits, scratch)
        return (logits[0].shape[0], *_pair_statistics(probabilities, labels, scratch))

    return _run_pass(list(split.sequence_ids), annotators, compute, state, workers)


def collect_ensemble_statistics(
    splits: Sequence[Split],
    state: TaskState | None = None,
    workers: int | None = None,
) -> SequenceStatistics:
    """Run the streaming pass on the per-frame mean of every split's probabilities.

    The splits must share their test sequences, annotators and frame counts
    (cross-validation splits of one training run do). Sequences are taken in
    the first split's order. Labels are the argmax of the averaged
    probabilities. Raises `Cancelled` and `CheckpointError` like
    `collect_statistics`.
    """
    if not splits:
        raise ValueError("need at least one split to average")
    annotators = _annotators_to_compare(splits[0])
    _check_same_test_data(splits)

    def compute(sequence_id: str, scratch: Scratch, state: TaskState):
        mean = None
        for split in splits:
            logits = read_sequence(split, sequence_id, annotators, scratch, state)
            if logits is None:
                return None
            if mean is not None and logits[0].shape[0] != mean.shape[2]:
                raise CheckpointError(
                    f"sequence {sequence_id} has {mean.shape[2]} frames in {splits[0].where} "
                    f"but {logits[0].shape[0]} in {split.where}; all-splits mode needs the same test data in every split",
                    split.path,
                )
            values, _labels = _probabilities_and_labels(logits, scratch)
            if mean is None:
                mean = scratch.array("mean", values.shape, np.float64)
                mean[...] = values
            else:
                mean += values
        mean /= len(splits)
        labels = first_max_index(mean)
        return (mean.shape[2], *_pair_statistics(mean, labels, scratch))

    return _run_pass(list(splits[0].sequence_ids), annotators, compute, state, workers)


def _annotators_to_compare(split: Split) -> list[int]:
    annotators = list(split.annotators)
    if len(annotators) < 2:
        raise ValueError(f"{split.where}: need at least two annotators to compare, found {len(annotators)}")
    return annotators


def _check_same_test_data(splits: Sequence[Split]) -> None:
    first = splits[0]
    expected = set(first.sequence_ids)
    for split in splits[1:]:
        if list(split.annotators) != list(first.annotators):
            raise CheckpointError(
                f"{split.where} has annotators {split.annotators} but {first.where} has {first.annotators}; "
                "all-splits mode needs the same annotators in every split",
                split.path,
            )
        present = set(split.sequence_ids)
        if present != expected:
            missing = sorted(expected - present)
            extra = sorted(present - expected)
            detail = f"lacks sequence {missing[0]}" if missing else f"has the extra sequence {extra[0]}"
            raise CheckpointError(
                f"{split.where} {detail} of {first.where} ({len(missing)} missing, {len(extra)} extra); "
                "all-splits mode needs the same test sequences in every split",
                split.path,
            )


_Compute = Callable[[str, Scratch, TaskState], "tuple[int, np.ndarray, np.ndarray] | None"]


def _run_pass(
    sequence_ids: list[str],
    annotators: list[int],
    compute: _Compute,
    state: TaskState | None,
    workers: int | None,
) -> SequenceStatistics:
    """Apply `compute` to every sequence on a thread pool and gather the results in order.

    At most `2 * workers` sequences are in flight ahead of the consumer, so
    memory stays flat in the number of sequences. Results are stored in
    sequence order and each is computed by one thread alone, so a rerun
    gives bit-identical numbers. Workers stop starting sequences, and stop
    between blobs, once `state` is cancelled.
    """
    state = state or TaskState()
    total = len(sequence_ids)
    count, behaviors = len(annotators), len(BEHAVIORS)
    frames = np.zeros(total, dtype=np.int64)
    squared = np.zeros((total, behaviors, count, count))
    cooccurrence = np.zeros((total, count, count, behaviors, behaviors), dtype=np.int64)
    workers = workers or min(8, os.cpu_count() or 1)
    local = threading.local()

    def work(sequence_id: str):
        if state.is_cancelled:
            return None
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = Scratch()
        return compute(sequence_id, scratch, state)

    state.step(0, total, 0)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="statistics") as pool:
        window = 2 * workers
        pending = {}
        next_to_submit = 0
        frames_done = 0
        try:
            for index in range(total):
                while next_to_submit < total and next_to_submit < index + window:
                    pending[next_to_submit] = pool.submit(work, sequence_ids[next_to_submit])
                    next_to_submit += 1
                result = pending.pop(index).result()
                state.check()
                frames[index], squared[index], cooccurrence[index] = result
                frames_done += int(frames[index])
                state.step(index + 1, total, frames_done)
        finally:
            for future in pending.values():
                future.cancel()
    return SequenceStatistics(sequence_ids, annotators, frames, squared, cooccurrence)
