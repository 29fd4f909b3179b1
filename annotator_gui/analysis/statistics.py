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
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..checkpoint import BEHAVIORS, CheckpointError, Split
from .progress import TaskState


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

    `logits` holds one frames x behaviours array per annotator, all the same shape.
    """
    count = len(logits)
    behaviors = logits[0].shape[1]
    probabilities = [softmax(values) for values in logits]
    labels = [values.argmax(axis=1) for values in logits]
    squared = np.zeros((behaviors, count, count))
    cooccurrence = np.zeros((count, count, behaviors, behaviors), dtype=np.int64)
    for i in range(count):
        cooccurrence[i, i] = np.diag(np.bincount(labels[i], minlength=behaviors))
        for j in range(i + 1, count):
            # Summing squared differences directly, rather than expanding
            # |p_i|^2 + |p_j|^2 - 2 p_i.p_j, avoids cancellation when two
            # annotators predict almost alike.
            difference = probabilities[i] - probabilities[j]
            per_behavior = np.einsum("fk,fk->k", difference, difference)
            squared[:, i, j] = squared[:, j, i] = per_behavior
            pairs = np.bincount(labels[i] * behaviors + labels[j], minlength=behaviors * behaviors)
            cooccurrence[i, j] = pairs.reshape(behaviors, behaviors)
            cooccurrence[j, i] = cooccurrence[i, j].T
    return logits[0].shape[0], squared, cooccurrence


def _decode_sequence(split: Split, sequence_id: str, annotators: list[int]):
    logits = [split.logits(sequence_id, annotator) for annotator in annotators]
    shapes = {values.shape for values in logits}
    if len(shapes) != 1:
        described = ", ".join(f"annotator {a}: {v.shape[0]}" for a, v in zip(annotators, logits))
        raise CheckpointError(
            f"{split.where}, sequence {sequence_id}: annotators have different frame counts ({described})",
            split.path,
        )
    return logits


def collect_statistics(
    split: Split,
    state: TaskState | None = None,
    workers: int | None = None,
) -> SequenceStatistics:
    """Run the streaming pass over every test sequence of `split`.

    Sequences are decoded and reduced on a pool of threads (zlib and numpy
    release the GIL), at most `2 * workers` sequences ahead of the consumer,
    so memory stays flat in the number of sequences. Results are stored in
    sequence order, so a rerun gives bit-identical numbers.
    Raises `Cancelled` when `state` is cancelled and `CheckpointError` for bad data.
    """
    state = state or TaskState()
    annotators = list(split.annotators)
    sequence_ids = list(split.sequence_ids)
    if len(annotators) < 2:
        raise ValueError(f"{split.where}: need at least two annotators to compare, found {len(annotators)}")
    total = len(sequence_ids)
    count, behaviors = len(annotators), len(BEHAVIORS)
    frames = np.zeros(total, dtype=np.int64)
    squared = np.zeros((total, behaviors, count, count))
    cooccurrence = np.zeros((total, count, count, behaviors, behaviors), dtype=np.int64)
    workers = workers or min(8, os.cpu_count() or 1)

    def work(sequence_id: str):
        if state.is_cancelled:
            return None
        return sequence_statistics(_decode_sequence(split, sequence_id, annotators))

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
