"""Annotator comparisons derived from per-sequence statistics, without another pass."""

from __future__ import annotations

import numpy as np

from .statistics import SequenceStatistics


def prediction_distances(statistics: SequenceStatistics) -> np.ndarray:
    """Return the original distance: sqrt of the squared probability differences summed over all frames."""
    return np.sqrt(statistics.squared_distances.sum(axis=(0, 1)))


def per_behavior_distances(statistics: SequenceStatistics) -> np.ndarray:
    """Distances restricted to each behaviour, shape (behaviours, annotators, annotators).

    Their squares add up to the square of `prediction_distances`.
    """
    return np.sqrt(statistics.squared_distances.sum(axis=0))


def _pair_counts(statistics: SequenceStatistics) -> np.ndarray:
    return statistics.cooccurrence.sum(axis=0).astype(np.float64)


def label_disagreement(statistics: SequenceStatistics) -> np.ndarray:
    """Share of frames on which two annotators' predicted labels differ."""
    counts = _pair_counts(statistics)
    total = counts.sum(axis=(2, 3))
    agree = np.trace(counts, axis1=2, axis2=3)
    return 1.0 - agree / total


def cohen_kappa(statistics: SequenceStatistics) -> np.ndarray:
    """Cohen's kappa between every pair of annotators' predicted labels.

    Where chance agreement is already 1 (both annotators predict one and the
    same label on every frame), kappa is undefined and set to 1.
    """
    counts = _pair_counts(statistics)
    total = counts.sum(axis=(2, 3))
    observed = np.trace(counts, axis1=2, axis2=3) / total
    rows = counts.sum(axis=3) / total[:, :, None]
    columns = counts.sum(axis=2) / total[:, :, None]
    expected = (rows * columns).sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (observed - expected) / (1.0 - expected)
    return np.where(np.isclose(expected, 1.0, rtol=0, atol=1e-15), 1.0, kappa)


def prevalence(statistics: SequenceStatistics) -> np.ndarray:
    """Share of frames each annotator's prediction assigns to each behaviour, (annotators, behaviours)."""
    counts = np.einsum("siikk->ik", statistics.cooccurrence).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def sequence_shares(statistics: SequenceStatistics) -> np.ndarray:
    """Return each sequence's share of each pair's squared distance, (sequences, annotators, annotators).

    The diagonal, where the distance is zero, is set to 0.
    """
    per_sequence = statistics.squared_distances.sum(axis=1)
    total = per_sequence.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = per_sequence / total
    return np.nan_to_num(shares, nan=0.0)


def top_sequences(statistics: SequenceStatistics, first: int, second: int, count: int = 10) -> list[tuple[str, float]]:
    """Return the `count` sequences that contribute most to the distance between two annotators."""
    i = statistics.annotators.index(first)
    j = statistics.annotators.index(second)
    shares = sequence_shares(statistics)[:, i, j]
    order = np.argsort(-shares, kind="stable")[:count]
    return [(statistics.sequence_ids[index], float(shares[index])) for index in order]
