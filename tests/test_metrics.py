"""Every metric derived from the per-sequence statistics agrees with a direct computation."""

from __future__ import annotations

import functools
import io

import numpy as np
import pytest

from annotator_gui.analysis import metrics
from annotator_gui.analysis.statistics import SequenceStatistics, collect_statistics, sequence_statistics
from annotator_gui.checkpoint import BEHAVIORS, open_checkpoint

from .conftest import LEGACY, ZIP, torch_load

FIXTURES = [(LEGACY, 0), (LEGACY, 1), (ZIP, 0)]


def fixture_labels(path, split_index: int) -> dict[str, np.ndarray]:
    """{sequence: (annotators, frames) argmax labels} read with torch.load and np.load."""
    result = torch_load(path)[split_index]
    return {
        str(sequence): np.stack(
            [np.load(io.BytesIO(per_annotator[a]))["arr_0"].argmax(axis=1) for a in sorted(per_annotator)]
        )
        for sequence, per_annotator in result.test_logits.items()
    }


def statistics_of(sequences: dict[str, list[np.ndarray]]) -> SequenceStatistics:
    """Build SequenceStatistics from logits with `sequence_statistics`, one sequence at a time."""
    parts = [sequence_statistics(logits) for logits in sequences.values()]
    count = len(next(iter(sequences.values())))
    return SequenceStatistics(
        sequence_ids=list(sequences),
        annotators=list(range(count)),
        frames=np.array([frames for frames, _, _ in parts], dtype=np.int64),
        squared_distances=np.stack([squared for _, squared, _ in parts]),
        cooccurrence=np.stack([cooccurrence for _, _, cooccurrence in parts]),
    )


def random_logits(seed: int, annotators: int = 5, sequences: int = 6) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    result = {}
    for index in range(sequences):
        frames = int(rng.integers(5, 300))
        shared = rng.normal(0.0, 2.0, (frames, len(BEHAVIORS)))
        result[f"s{index}"] = [(shared + rng.normal(0.0, 1.5, shared.shape)).astype(np.float32) for _ in range(annotators)]
    return result


def textbook_kappa(first: np.ndarray, second: np.ndarray, categories: int) -> float:
    """Cohen's kappa (p_o - p_e) / (1 - p_e) from a contingency table filled frame by frame."""
    table = np.zeros((categories, categories))
    for a, b in zip(first, second):
        table[a, b] += 1
    total = table.sum()
    observed = np.trace(table) / total
    expected = sum(table[c, :].sum() * table[:, c].sum() for c in range(categories)) / total**2
    if expected == 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def random_case(seed: int):
    logits = random_logits(seed)
    labels = np.concatenate([np.stack([x.argmax(axis=1) for x in sequence]) for sequence in logits.values()], axis=1)
    return statistics_of(logits), labels


@functools.lru_cache(maxsize=None)
def fixture_case(path, split_index: int):
    with open_checkpoint(path) as checkpoint:
        statistics = collect_statistics(checkpoint.split(split_index))
    per_sequence = fixture_labels(path, split_index)
    return statistics, np.concatenate(list(per_sequence.values()), axis=1)


CASES = [("fixture", path, split) for path, split in FIXTURES] + [("random", seed, None) for seed in range(3)]


@pytest.fixture(params=CASES, ids=["legacy-0", "legacy-1", "zip-0", "random-0", "random-1", "random-2"])
def case(request):
    kind, first, second = request.param
    if kind == "fixture":
        return fixture_case(first, second)
    return random_case(first)


def test_label_disagreement_matches_pair_loop(case):
    statistics, labels = case
    result = metrics.label_disagreement(statistics)
    count = labels.shape[0]
    for i in range(count):
        for j in range(count):
            assert result[i, j] == pytest.approx(np.mean(labels[i] != labels[j]), rel=1e-12, abs=1e-15)


def test_cohen_kappa_matches_textbook_formula(case):
    statistics, labels = case
    result = metrics.cohen_kappa(statistics)
    count = labels.shape[0]
    for i in range(count):
        for j in range(count):
            expected = textbook_kappa(labels[i], labels[j], len(BEHAVIORS))
            assert result[i, j] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_cohen_kappa_of_known_tables():
    # Two annotators on 10 frames: 7 agreements, chance agreement 0.5 -> kappa 0.4.
    first = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    second = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0])
    logits = [np.eye(4, dtype=np.float32)[labels] for labels in (first, second)]
    statistics = statistics_of({"s": logits})
    assert metrics.cohen_kappa(statistics)[0, 1] == pytest.approx(0.4, rel=1e-12)
    # One label everywhere for both: chance agreement is 1 and kappa is defined as 1.
    constant = [np.tile(np.array([0, 0, 0, 1], dtype=np.float32), (8, 1))] * 2
    assert metrics.cohen_kappa(statistics_of({"s": constant}))[0, 1] == 1.0


def test_prevalence_matches_label_counts(case):
    statistics, labels = case
    result = metrics.prevalence(statistics)
    for annotator in range(labels.shape[0]):
        counts = np.bincount(labels[annotator], minlength=len(BEHAVIORS))
        np.testing.assert_allclose(result[annotator], counts / counts.sum(), rtol=1e-12, atol=0)


def test_per_behavior_squares_add_to_original(case):
    statistics, _ = case
    per_behavior = metrics.per_behavior_distances(statistics)
    total = metrics.prediction_distances(statistics)
    np.testing.assert_allclose((per_behavior**2).sum(axis=0), total**2, rtol=1e-12, atol=1e-300)


def test_per_behavior_matches_sum_over_sequences(case):
    statistics, _ = case
    expected = np.zeros(statistics.squared_distances.shape[1:])
    for squared in statistics.squared_distances:
        expected += squared
    np.testing.assert_allclose(metrics.per_behavior_distances(statistics), np.sqrt(expected), rtol=1e-12, atol=0)


def test_sequence_shares_sum_to_one(case):
    statistics, _ = case
    shares = metrics.sequence_shares(statistics)
    count = len(statistics.annotators)
    off_diagonal = ~np.eye(count, dtype=bool)
    np.testing.assert_allclose(shares.sum(axis=0)[off_diagonal], 1.0, rtol=1e-12)
    assert np.all(shares[:, np.arange(count), np.arange(count)] == 0.0)
    assert np.all(shares >= 0.0)


def test_top_sequences_follow_shares(case):
    statistics, _ = case
    first, second = statistics.annotators[0], statistics.annotators[-1]
    top = metrics.top_sequences(statistics, first, second, count=3)
    per_sequence = statistics.squared_distances.sum(axis=1)[:, 0, -1]
    order = sorted(range(len(per_sequence)), key=lambda index: -per_sequence[index])[:3]
    assert [sequence for sequence, _ in top] == [statistics.sequence_ids[index] for index in order]
    for (_, share), index in zip(top, order):
        assert share == pytest.approx(per_sequence[index] / per_sequence.sum(), rel=1e-12)
