"""Everything that measures how far to trust the two clusterings, in one place.

The GUI's trust panel and `analyze` both call `assess_trust`, so they show
the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checkpoint import Checkpoint
from .clustering import euclidean_distances, linkage_of_distances
from .progress import TaskState
from .support import (
    DEFAULT_PERMUTATIONS,
    DEFAULT_REPLICATES,
    DEFAULT_SEED,
    TreeComparison,
    bootstrap_support,
    compare_trees,
    majority_clusters,
    split_consensus,
)


@dataclass
class TrustAssessment:
    """Tree comparison, bootstrap support of the prediction tree and split consensus of the embedding tree."""

    method: str
    comparison: TreeComparison
    bootstrap_support: np.ndarray  # one share per row of the prediction linkage
    split_consensus: np.ndarray  # one share per row of the embedding linkage
    consensus_clusters: list[tuple[frozenset[int], float]]
    replicates: int
    splits: int

    def record(self) -> dict:
        return {
            "tree_comparison": self.comparison.record(),
            "bootstrap_support": [None if np.isnan(share) else float(share) for share in self.bootstrap_support],
            # null where a share is undefined (one split, or no bootstrap for the metric).
            "split_consensus": [None if np.isnan(share) else float(share) for share in self.split_consensus],
        }


def embedding_trees_of_splits(checkpoint: Checkpoint, task: int, method: str) -> list[np.ndarray]:
    """Each split's own embedding tree, built with the same linkage method."""
    return [
        linkage_of_distances(euclidean_distances(split.embedding(task)), method)
        for split in checkpoint.splits
    ]


def assess_trust(
    checkpoint: Checkpoint,
    task: int,
    embedding: np.ndarray,
    embedding_linkage: np.ndarray,
    embedding_order: list[int],
    squared_per_sequence: np.ndarray,
    prediction_distances: np.ndarray,
    prediction_linkage: np.ndarray,
    prediction_order: list[int],
    method: str = "ward",
    permutations: int = DEFAULT_PERMUTATIONS,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = DEFAULT_SEED,
    state: TaskState | None = None,
) -> TrustAssessment:
    """Compare the trees and measure the support of every cluster.

    `squared_per_sequence` is each test sequence's contribution to the squared
    prediction distance, (sequences, annotators, annotators); the bootstrap
    resamples it instead of reading the logits again.
    """
    comparison = compare_trees(
        embedding_linkage,
        euclidean_distances(embedding),
        embedding_order,
        prediction_linkage,
        prediction_distances,
        prediction_order,
        permutations=permutations,
        seed=seed,
    )
    support = bootstrap_support(
        squared_per_sequence, prediction_linkage, method, replicates=replicates, seed=seed, state=state
    )
    split_trees = embedding_trees_of_splits(checkpoint, task, method)
    return TrustAssessment(
        method=method,
        comparison=comparison,
        bootstrap_support=support,
        split_consensus=split_consensus(split_trees, embedding_linkage),
        consensus_clusters=majority_clusters(split_trees),
        replicates=replicates,
        splits=len(split_trees),
    )
