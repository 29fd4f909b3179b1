"""The streaming pass agrees with slow, obvious implementations of the original analysis.

References here read blobs with `np.load` (on what `torch.load` returns for
the fixtures), compute softmax in float64 with scipy and sum squared
differences with `pdist` and a Python metric, as the original analysis did,
but in float64 throughout.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
import scipy.special
from scipy.spatial.distance import pdist, squareform

from annotator_gui.analysis import metrics
from annotator_gui.analysis.pipeline import ALL_SPLITS, compare_predictions, compare_predictions_all_splits
from annotator_gui.analysis.progress import Cancelled, TaskState
from annotator_gui.analysis.logits_reader import read_logits
from annotator_gui.analysis.statistics import (
    collect_ensemble_statistics,
    collect_statistics,
    first_max_index,
    sequence_statistics,
)
from annotator_gui.checkpoint import BEHAVIORS, CheckpointError, Split, npz, open_checkpoint
from annotator_gui.checkpoint.npz import BlobError, latin1_from_utf8_parts

from .conftest import LEGACY, ZIP, torch_load

FIXTURES = [(LEGACY, 0), (LEGACY, 1), (ZIP, 0)]
RELATIVE = 1e-9


# -- slow, obvious references ---------------------------------------------------------


def npz_array(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob))["arr_0"]


def reference_logits(path, split_index: int) -> dict[str, list[np.ndarray]]:
    """{sequence: [logits of each annotator, sorted]} read with torch.load and np.load."""
    result = torch_load(path)[split_index]
    return {
        str(sequence): [npz_array(per_annotator[a]) for a in sorted(per_annotator)]
        for sequence, per_annotator in result.test_logits.items()
    }


def original_squared_distances(sequences: list[list[np.ndarray]]) -> np.ndarray:
    """Sum over sequences of squared distances, the original loop in float64."""
    total = 0.0
    for logits in sequences:
        probabilities = np.stack([scipy.special.softmax(x.astype(np.float64), axis=1).ravel() for x in logits])
        total = total + squareform(pdist(probabilities, lambda u, v: np.sum((u - v) ** 2)))
    return total


def slow_sequence_statistics(logits: list[np.ndarray]):
    """Per-behaviour squared distances and label co-occurrence with plain loops over pairs."""
    count, behaviors = len(logits), logits[0].shape[1]
    probabilities = [scipy.special.softmax(x.astype(np.float64), axis=1) for x in logits]
    labels = [np.argmax(x, axis=1) for x in logits]
    squared = np.zeros((behaviors, count, count))
    cooccurrence = np.zeros((count, count, behaviors, behaviors), dtype=np.int64)
    for i, j in itertools.product(range(count), repeat=2):
        for k in range(behaviors):
            squared[k, i, j] = np.sum((probabilities[i][:, k] - probabilities[j][:, k]) ** 2)
        np.add.at(cooccurrence[i, j], (labels[i], labels[j]), 1)
    return squared, cooccurrence


def npz_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, array)
    return buffer.getvalue()


def in_memory_split(sequences: dict[str, list[np.ndarray]], index: int = 0) -> Split:
    """A Split whose blobs are plain npz bytes, as a checkpoint holding bytes objects has them."""
    annotators = list(range(len(next(iter(sequences.values())))))
    return Split(
        index=index,
        path="memory.pt",
        where=f"split {index}",
        config={},
        heads={},
        test_logits={sequence: {a: npz_bytes(x) for a, x in enumerate(logits)} for sequence, logits in sequences.items()},
        sequence_ids=list(sequences),
        annotators=annotators,
        best_val_f1={},
    )


def random_sequences(seed: int, annotators: int = 4, sequences: int = 5, scale: float = 3.0) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    result = {}
    for index in range(sequences):
        frames = int(rng.integers(1, 400))
        shared = rng.normal(0.0, scale, (frames, len(BEHAVIORS)))
        result[f"s{index}"] = [
            (shared + rng.normal(0.0, 1.0, shared.shape)).astype(np.float32) for _ in range(annotators)
        ]
    return result


# -- the original distance ----------------------------------------------------------


@pytest.mark.parametrize(("path", "split_index"), FIXTURES)
def test_distance_matches_float64_original(path, split_index):
    sequences = reference_logits(path, split_index)
    expected = np.sqrt(original_squared_distances(list(sequences.values())))
    with open_checkpoint(path) as checkpoint:
        statistics = collect_statistics(checkpoint.split(split_index))
    np.testing.assert_allclose(metrics.prediction_distances(statistics), expected, rtol=RELATIVE, atol=0)


@pytest.mark.parametrize(("path", "split_index"), FIXTURES)
def test_per_sequence_statistics_match_slow_loops(path, split_index):
    sequences = reference_logits(path, split_index)
    with open_checkpoint(path) as checkpoint:
        statistics = collect_statistics(checkpoint.split(split_index))
    assert statistics.sequence_ids == list(sequences)
    for index, logits in enumerate(sequences.values()):
        squared, cooccurrence = slow_sequence_statistics(logits)
        assert statistics.frames[index] == logits[0].shape[0]
        np.testing.assert_allclose(statistics.squared_distances[index], squared, rtol=RELATIVE, atol=1e-300)
        np.testing.assert_array_equal(statistics.cooccurrence[index], cooccurrence)


@pytest.mark.parametrize("seed", range(6))
def test_random_sequences_match_slow_loops(seed):
    rng = np.random.default_rng(100 + seed)
    annotators = int(rng.integers(2, 7))
    frames = int(rng.integers(1, 300))
    logits = [rng.normal(0.0, 4.0, (frames, 4)).astype(np.float32) for _ in range(annotators)]
    frame_count, squared, cooccurrence = sequence_statistics(logits)
    expected_squared, expected_cooccurrence = slow_sequence_statistics(logits)
    assert frame_count == frames
    np.testing.assert_allclose(squared, expected_squared, rtol=RELATIVE, atol=1e-300)
    np.testing.assert_array_equal(cooccurrence, expected_cooccurrence)


def test_many_annotators_count_pairs_separately():
    # Nine annotators give 4**9 label combinations, past the joint histogram's limit.
    rng = np.random.default_rng(7)
    logits = [rng.normal(0.0, 2.0, (120, 4)).astype(np.float32) for _ in range(9)]
    _, squared, cooccurrence = sequence_statistics(logits)
    expected_squared, expected_cooccurrence = slow_sequence_statistics(logits)
    np.testing.assert_allclose(squared, expected_squared, rtol=RELATIVE, atol=1e-300)
    np.testing.assert_array_equal(cooccurrence, expected_cooccurrence)


def test_tied_logits_take_first_behaviour():
    rows = np.array(
        [[1, 1, 0, 0], [0, 2, 2, 2], [3, 0, 3, 0], [0, 0, 0, 0], [-1, -1, -1, 5], [7, 7, 7, 7]],
        dtype=np.float32,
    )
    logits = [rows, rows[::-1].copy()]
    _, _, cooccurrence = sequence_statistics(logits)
    _, expected = slow_sequence_statistics(logits)
    np.testing.assert_array_equal(cooccurrence, expected)


def test_huge_logit_gaps_stay_finite():
    # The last behaviour's logit is far below the others, so shifting by it
    # would overflow exp; the max-shifted softmax takes over.
    rng = np.random.default_rng(3)
    logits = [rng.normal(0.0, 1.0, (50, 4)).astype(np.float32) for _ in range(3)]
    logits[1][:, 3] -= 5000.0
    logits[2][10, 0] += 3000.0
    _, squared, _ = sequence_statistics(logits)
    expected, _ = slow_sequence_statistics(logits)
    assert np.isfinite(squared).all()
    np.testing.assert_allclose(squared, expected, rtol=RELATIVE, atol=1e-300)


def test_identical_annotators_have_distance_zero():
    rng = np.random.default_rng(5)
    logits = rng.normal(0.0, 3.0, (200, 4)).astype(np.float32)
    _, squared, _ = sequence_statistics([logits, logits.copy(), logits + 1.0])
    assert np.all(squared[:, 0, 1] == 0.0)
    assert np.all(squared[:, 0, 2] > 0.0)


def test_first_max_index_equals_argmax():
    rng = np.random.default_rng(11)
    values = rng.integers(0, 3, (3, 4, 500)).astype(np.float64)
    np.testing.assert_array_equal(first_max_index(values), values.argmax(axis=1))


def test_in_memory_blobs_match_original():
    sequences = random_sequences(seed=21, annotators=5)
    statistics = collect_statistics(in_memory_split(sequences))
    expected = np.sqrt(original_squared_distances(list(sequences.values())))
    np.testing.assert_allclose(metrics.prediction_distances(statistics), expected, rtol=RELATIVE, atol=0)


def test_worker_count_does_not_change_results():
    sequences = random_sequences(seed=22, annotators=4, sequences=12)
    split = in_memory_split(sequences)
    one = collect_statistics(split, workers=1)
    three = collect_statistics(split, workers=3)
    np.testing.assert_array_equal(one.squared_distances, three.squared_distances)
    np.testing.assert_array_equal(one.cooccurrence, three.cooccurrence)


# -- reading ----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "split_index"), FIXTURES)
def test_read_logits_equals_split_logits(path, split_index):
    with open_checkpoint(path) as checkpoint:
        split = checkpoint.split(split_index)
        for sequence, annotator in itertools.product(split.sequence_ids, split.annotators):
            fast = read_logits(split, sequence, annotator)
            np.testing.assert_array_equal(fast, split.logits(sequence, annotator))
            assert fast.dtype == np.float32


def test_zlib_fallback_reads_the_same_logits(monkeypatch):
    with open_checkpoint(ZIP) as checkpoint:
        split = checkpoint.split(0)
        fast = {(s, a): read_logits(split, s, a) for s in split.sequence_ids for a in split.annotators}
        monkeypatch.setattr(npz, "_libdeflate", None)
        for (sequence, annotator), logits in fast.items():
            np.testing.assert_array_equal(read_logits(split, sequence, annotator), logits)


def latin1_from_utf8(encoded: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Decode one text with `latin1_from_utf8_parts`."""
    if out is None:
        out = np.empty(encoded.size, dtype=np.uint8)
    return latin1_from_utf8_parts(encoded, [encoded.size], out)[0]


def test_latin1_from_utf8_matches_python_codec():
    rng = np.random.default_rng(9)
    for length in (1, 2, 3, 17, 4096, 100_003):
        data = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
        stored = np.frombuffer(bytearray(data.decode("latin-1").encode("utf-8")), dtype=np.uint8)
        out = np.empty(length + 8, dtype=np.uint8)
        assert latin1_from_utf8(stored.copy(), out).tobytes() == data
        assert latin1_from_utf8(stored.copy()).tobytes() == data


def test_latin1_from_utf8_rejects_what_python_rejects():
    # Every string of up to four bytes over lead, continuation, ASCII and
    # out-of-range bytes: accepted exactly when Python's strict codecs accept it.
    alphabet = [0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xE0, 0xFF]
    for length in range(1, 5):
        for combination in itertools.product(alphabet, repeat=length):
            stored = bytes(combination)
            try:
                expected = stored.decode("utf-8").encode("latin-1")
            except UnicodeError:
                expected = None
            try:
                actual = latin1_from_utf8(np.frombuffer(bytearray(stored), dtype=np.uint8)).tobytes()
            except BlobError:
                actual = None
            assert actual == expected, stored


def test_latin1_parts_match_each_part():
    # A part that is invalid alone must be rejected even where the joined
    # bytes are valid, such as a lead byte at the end of one part.
    alphabet = [0x41, 0x80, 0xC2, 0xC3, 0xC4]
    for length in range(2, 6):
        for combination in itertools.product(alphabet, repeat=length):
            stored = bytes(combination)
            for cuts in itertools.chain.from_iterable(
                itertools.combinations(range(1, length), count) for count in (1, 2)
            ):
                bounds = [0, *cuts, length]
                parts = [stored[start:end] for start, end in zip(bounds, bounds[1:])]
                try:
                    expected = [part.decode("utf-8").encode("latin-1") for part in parts]
                except UnicodeError:
                    expected = None
                encoded = np.frombuffer(bytearray(stored), dtype=np.uint8)
                lengths = [len(part) for part in parts]
                try:
                    decoded = latin1_from_utf8_parts(encoded, lengths, np.empty(length, dtype=np.uint8))
                    actual = [part.tobytes() for part in decoded]
                except BlobError:
                    actual = None
                assert actual == expected, (stored, cuts)


def test_latin1_parts_reject_wrong_lengths():
    encoded = np.frombuffer(bytearray(b"abcd"), dtype=np.uint8)
    with pytest.raises(ValueError, match="do not split"):
        latin1_from_utf8_parts(encoded, [1, 2], np.empty(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="do not split"):
        latin1_from_utf8_parts(encoded, [4, 0], np.empty(4, dtype=np.uint8))


# -- cancellation and progress -----------------------------------------------------------


class CancelAfter(TaskState):
    """A TaskState that records every step and requests a cancel once `limit` sequences are done."""

    def __init__(self, limit: int | None):
        super().__init__(min_interval=0.0)
        self.limit = limit
        self.steps: list[tuple[int, int, int]] = []

    def step(self, done: int, total: int, frames: int) -> None:
        super().step(done, total, frames)
        self.steps.append((done, total, frames))
        if self.limit is not None and done >= self.limit:
            self.cancel()


@pytest.mark.parametrize("limit", [0, 1, 4])
def test_cancel_then_restart_is_bit_identical(limit):
    with open_checkpoint(LEGACY) as checkpoint:
        split = checkpoint.split(0)
        uninterrupted = collect_statistics(split, CancelAfter(None))
        state = CancelAfter(limit)
        with pytest.raises(Cancelled):
            collect_statistics(split, state)
        # The cancel takes effect at the next sequence.
        assert state.steps[-1][0] == limit
        restarted = collect_statistics(split, CancelAfter(None))
    np.testing.assert_array_equal(restarted.frames, uninterrupted.frames)
    np.testing.assert_array_equal(restarted.squared_distances, uninterrupted.squared_distances)
    np.testing.assert_array_equal(restarted.cooccurrence, uninterrupted.cooccurrence)


def test_progress_reports_every_sequence_in_order():
    with open_checkpoint(ZIP) as checkpoint:
        split = checkpoint.split(0)
        state = CancelAfter(None)
        statistics = collect_statistics(split, state)
    total = len(split.sequence_ids)
    assert [done for done, _, _ in state.steps] == list(range(total + 1))
    assert all(reported_total == total for _, reported_total, _ in state.steps)
    assert state.steps[-1][2] == statistics.total_frames


# -- all-splits mode --------------------------------------------------------------------------


def test_all_splits_matches_direct_average():
    per_split = [reference_logits(LEGACY, index) for index in (0, 1)]
    sequences = list(per_split[0])
    count = len(per_split[0][sequences[0]])
    expected_squared = np.zeros((len(BEHAVIORS), count, count))
    expected_cooccurrence = np.zeros((count, count, len(BEHAVIORS), len(BEHAVIORS)), dtype=np.int64)
    for sequence in sequences:
        mean = [
            np.mean([scipy.special.softmax(split[sequence][a].astype(np.float64), axis=1) for split in per_split], axis=0)
            for a in range(count)
        ]
        labels = [np.argmax(p, axis=1) for p in mean]
        for i, j in itertools.product(range(count), repeat=2):
            expected_squared[:, i, j] += np.sum((mean[i] - mean[j]) ** 2, axis=0)
            np.add.at(expected_cooccurrence[i, j], (labels[i], labels[j]), 1)
    with open_checkpoint(LEGACY) as checkpoint:
        comparison = compare_predictions_all_splits(checkpoint)
    statistics = comparison.statistics
    assert comparison.split == ALL_SPLITS
    assert comparison.source_splits == (0, 1)
    np.testing.assert_allclose(statistics.squared_distances.sum(axis=0), expected_squared, rtol=RELATIVE, atol=1e-300)
    np.testing.assert_array_equal(statistics.cooccurrence.sum(axis=0), expected_cooccurrence)
    np.testing.assert_allclose(comparison.distances, np.sqrt(expected_squared.sum(axis=0)), rtol=RELATIVE, atol=0)


def test_all_splits_of_one_split_equals_that_split():
    with open_checkpoint(ZIP) as checkpoint:
        single = compare_predictions(checkpoint.split(0))
        ensemble = compare_predictions_all_splits(checkpoint)
    np.testing.assert_allclose(ensemble.distances, single.distances, rtol=1e-12, atol=0)


def test_all_splits_rejects_different_sequences():
    first = random_sequences(seed=30, sequences=3)
    second = dict(first)
    second["other"] = second.pop("s1")
    with pytest.raises(CheckpointError, match="split 1 lacks sequence s1 of split 0.*same test sequences"):
        collect_ensemble_statistics([in_memory_split(first, 0), in_memory_split(second, 1)])


def test_all_splits_rejects_different_frame_counts():
    first = random_sequences(seed=31, sequences=3)
    second = {sequence: [x[:-1] for x in logits] if sequence == "s2" else logits for sequence, logits in first.items()}
    with pytest.raises(CheckpointError, match="sequence s2 has .* frames in split 0 but .* in split 1"):
        collect_ensemble_statistics([in_memory_split(first, 0), in_memory_split(second, 1)])


def test_all_splits_rejects_different_annotators():
    first = random_sequences(seed=32, annotators=4, sequences=2)
    second = {sequence: logits[:3] for sequence, logits in first.items()}
    with pytest.raises(CheckpointError, match="split 1 has annotators"):
        collect_ensemble_statistics([in_memory_split(first, 0), in_memory_split(second, 1)])


def test_analyze_all_splits_writes_ensemble(tmp_path):
    import json

    from annotator_gui.cli import main

    assert main(["analyze", str(LEGACY), "--all-splits", "--out", str(tmp_path), "--no-figures"]) == 0
    record = json.loads((tmp_path / "analysis.json").read_text())
    with open_checkpoint(LEGACY) as checkpoint:
        expected = compare_predictions_all_splits(checkpoint)
    assert record["prediction_splits"] == [0, 1]
    assert record["split"] == 0
    np.testing.assert_array_equal(np.array(record["prediction_distances"]), expected.distances)
