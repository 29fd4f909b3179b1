"""The analysis of one split and task, shared by the GUI and the command line.

The clustering module imports scipy, which takes longer to import than
numpy. It is imported when first needed, so that a caller can overlap that
import with the pass over the logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checkpoint import BEHAVIORS, Checkpoint, Split
from . import metrics
from .progress import TaskState
from .statistics import SequenceStatistics, collect_ensemble_statistics, collect_statistics

#: `PredictionComparison.split` of the comparison of all splits' averaged predictions.
ALL_SPLITS = -1


@dataclass
class EmbeddingClustering:
    """The learned annotator embedding of one task head and its hierarchical clustering."""

    split: int
    task: int
    embedding: np.ndarray  # (annotators, dimensions)
    linkage: np.ndarray
    leaf_order: list[int]
    method: str = "ward"
    optimal_ordering: bool = False

    @property
    def annotators(self) -> list[int]:
        return list(range(self.embedding.shape[0]))


@dataclass
class PredictionComparison:
    """Distances between annotators' predicted probabilities and their hierarchical clustering."""

    split: int  # the split compared, or ALL_SPLITS for the average of every split's predictions
    statistics: SequenceStatistics
    distances: np.ndarray  # (annotators, annotators)
    linkage: np.ndarray
    leaf_order: list[int]
    #: Splits whose predictions were compared (averaged, when there are several).
    source_splits: tuple[int, ...] = ()
    method: str = "ward"
    optimal_ordering: bool = False

    @property
    def annotators(self) -> list[int]:
        return self.statistics.annotators


def cluster_embedding(
    split: Split, task: int = 0, method: str = "ward", optimal_ordering: bool = False
) -> EmbeddingClustering:
    """Cluster the rows of a head's embedding on their euclidean distances."""
    from .clustering import euclidean_distances, leaf_order, linkage_of_distances

    embedding = split.embedding(task)
    linkage = linkage_of_distances(euclidean_distances(embedding), method, optimal_ordering)
    return EmbeddingClustering(split.index, task, embedding, linkage, leaf_order(linkage), method, optimal_ordering)


def compare_predictions(
    split: Split, state: TaskState | None = None, method: str = "ward", optimal_ordering: bool = False
) -> PredictionComparison:
    """Run the streaming pass over the split's test logits and cluster the distances.

    The test logits are those of the Task 1/2 head, so the result does not
    depend on the task whose embedding is shown.
    """
    statistics = collect_statistics(split, state)
    return comparison_from_statistics(split.index, statistics, (split.index,), method, optimal_ordering)


def compare_predictions_all_splits(
    checkpoint: Checkpoint, state: TaskState | None = None, method: str = "ward", optimal_ordering: bool = False
) -> PredictionComparison:
    """Compare annotators on the per-frame average of every split's predicted probabilities.

    This is the ensemble that the winning MABe solution submitted. The pass
    streams sequence by sequence through all splits at once. Raises
    CheckpointError when the splits do not share their test sequences,
    annotators and frame counts.
    """
    statistics = collect_ensemble_statistics(checkpoint.splits, state)
    sources = tuple(split.index for split in checkpoint.splits)
    return comparison_from_statistics(ALL_SPLITS, statistics, sources, method, optimal_ordering)


def comparison_from_statistics(
    split_index: int,
    statistics: SequenceStatistics,
    source_splits: tuple[int, ...] | None = None,
    method: str = "ward",
    optimal_ordering: bool = False,
) -> PredictionComparison:
    from .clustering import leaf_order, linkage_of_distances

    distances = metrics.prediction_distances(statistics)
    linkage = linkage_of_distances(distances, method, optimal_ordering)
    sources = (split_index,) if source_splits is None else tuple(source_splits)
    return PredictionComparison(
        split_index, statistics, distances, linkage, leaf_order(linkage), sources, method, optimal_ordering
    )


def assess_clusterings(
    checkpoint: Checkpoint, embedding: EmbeddingClustering, predictions: PredictionComparison
):
    """Compare the two trees and measure the support of their clusters (see `trust.assess_trust`)."""
    from .trust import assess_trust

    return assess_trust(
        checkpoint,
        embedding.task,
        embedding.embedding,
        embedding.linkage,
        embedding.leaf_order,
        predictions.statistics.squared_distances.sum(axis=1),
        predictions.distances,
        predictions.linkage,
        predictions.leaf_order,
        method=predictions.method,
    )


def analysis_record(
    checkpoint: Checkpoint,
    embedding: EmbeddingClustering,
    predictions: PredictionComparison,
    trust=None,
) -> dict:
    """Build the `analysis.json` document (plain lists and numbers only).

    `trust`, a `trust.TrustAssessment`, adds the tree comparison, bootstrap
    support and split consensus.
    """
    statistics = predictions.statistics
    annotators = predictions.annotators
    record = {
        "checkpoint": checkpoint.path,
        "format": checkpoint.format,
        "split": embedding.split,
        "task": embedding.task,
        "linkage_method": predictions.method,
        "optimal_leaf_ordering": predictions.optimal_ordering,
        "prediction_splits": list(predictions.source_splits),
        "annotators": annotators,
        "sequences": len(statistics.sequence_ids),
        "frames": statistics.total_frames,
        "embedding": embedding.embedding.tolist(),
        "embedding_linkage": embedding.linkage.tolist(),
        "embedding_leaf_order": embedding.leaf_order,
        "prediction_distances": predictions.distances.tolist(),
        "prediction_linkage": predictions.linkage.tolist(),
        "prediction_leaf_order": predictions.leaf_order,
        "per_behavior_distances": {
            behavior: matrix.tolist()
            for behavior, matrix in zip(BEHAVIORS, metrics.per_behavior_distances(statistics))
        },
        "label_disagreement": metrics.label_disagreement(statistics).tolist(),
        "cohen_kappa": metrics.cohen_kappa(statistics).tolist(),
        "prevalence": {
            str(annotator): dict(zip(BEHAVIORS, map(float, row)))
            for annotator, row in zip(annotators, metrics.prevalence(statistics))
        },
        "top_sequences": {
            f"{first}-{second}": [[sequence, share] for sequence, share in metrics.top_sequences(statistics, first, second)]
            for index, first in enumerate(annotators)
            for second in annotators[index + 1:]
        },
    }
    if trust is not None:
        record.update(trust.record())
    return record
