"""The job that assesses how far to trust both trees, on a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..analysis.clustering import euclidean_distances
from ..analysis.progress import TaskState
from ..analysis.support import compare_trees, majority_clusters, split_consensus
from ..analysis.trust import TrustAssessment, assess_trust, embedding_trees_of_splits
from ..checkpoint import CheckpointError
from .metric_choice import squared_per_sequence
from .session import Session
from .worker import SessionComputation

Assess = Callable[..., TrustAssessment]


class _SplitEmbedding:
    """One split's embedding of one task, read on the GUI thread before the job starts."""

    def __init__(self, task: int, embedding: np.ndarray):
        self._task = task
        self._embedding = embedding

    def embedding(self, task: int) -> np.ndarray:
        if task != self._task:
            raise ValueError(f"only the embedding of task {self._task} was read, not task {task}")
        return self._embedding


class SplitEmbeddings:
    """Stands in for a `Checkpoint` in `assess_trust`, which reads `checkpoint.splits[i].embedding(task)`.

    The embeddings are copied on the GUI thread, so the job never reads the
    file while another worker may be reading it.
    """

    def __init__(self, task: int, embeddings: list[np.ndarray]):
        self.splits = [_SplitEmbedding(task, embedding) for embedding in embeddings]


@dataclass(frozen=True)
class TrustInputs:
    """Everything the assessment needs, copied from the session on the GUI thread."""

    key: tuple
    task: int
    split_embeddings: SplitEmbeddings
    embedding: np.ndarray
    embedding_linkage: np.ndarray
    embedding_order: list[int]
    squared_per_sequence: np.ndarray | None  # None: the metric has no bootstrap
    prediction_distances: np.ndarray
    prediction_linkage: np.ndarray
    prediction_order: list[int]
    method: str


@dataclass(frozen=True)
class TrustResult:
    key: tuple
    assessment: TrustAssessment


def assess_without_bootstrap(inputs: TrustInputs) -> TrustAssessment:
    """Assess trees whose metric is no sum over sequences: everything but the bootstrap, which is NaN."""
    comparison = compare_trees(
        inputs.embedding_linkage,
        euclidean_distances(inputs.embedding),
        inputs.embedding_order,
        inputs.prediction_linkage,
        inputs.prediction_distances,
        inputs.prediction_order,
    )
    split_trees = embedding_trees_of_splits(inputs.split_embeddings, inputs.task, inputs.method)
    return TrustAssessment(
        method=inputs.method,
        comparison=comparison,
        bootstrap_support=np.full(len(inputs.prediction_linkage), np.nan),
        split_consensus=split_consensus(split_trees, inputs.embedding_linkage),
        consensus_clusters=majority_clusters(split_trees),
        replicates=0,
        splits=len(split_trees),
    )


def trust_job(inputs: TrustInputs, assess: Assess = assess_trust):
    """Build the job for `BackgroundWorker.start`; a cancel request stops the bootstrap between replicates."""

    def run(cancel_event: threading.Event, report: Callable[[object], None]) -> TrustResult:
        state = TaskState(report, cancel_event=cancel_event)
        if inputs.squared_per_sequence is None:
            assessment = assess_without_bootstrap(inputs)
            state.check()
        else:
            assessment = assess(
                inputs.split_embeddings,
                inputs.task,
                inputs.embedding,
                inputs.embedding_linkage,
                inputs.embedding_order,
                inputs.squared_per_sequence,
                inputs.prediction_distances,
                inputs.prediction_linkage,
                inputs.prediction_order,
                method=inputs.method,
                state=state,
            )
        return TrustResult(inputs.key, assessment)

    return run


def trust_inputs(session: Session) -> TrustInputs | None:
    """Copy what the assessment of the trees on screen needs, or return None without two comparable trees.

    Raises CheckpointError or ValueError when another split's embedding cannot be read.
    """
    view = session.metric_view()
    if view is None or not session.trees_comparable or session.checkpoint is None:
        return None
    embedding = session.embedding
    task = embedding.task
    return TrustInputs(
        key=session.trees_key,
        task=task,
        split_embeddings=SplitEmbeddings(task, [split.embedding(task) for split in session.checkpoint.splits]),
        embedding=embedding.embedding,
        embedding_linkage=embedding.linkage,
        embedding_order=list(embedding.leaf_order),
        squared_per_sequence=squared_per_sequence(session.comparison, session.metric),
        prediction_distances=view.distances,
        prediction_linkage=view.linkage,
        prediction_order=list(view.leaf_order),
        method=session.method,
    )


class TrustComputation(SessionComputation):
    """Assesses the session's current trees in the background and stores the result in the session.

    A new request cancels the running one, and a result for trees that are no
    longer on screen is dropped.
    """

    # `progressed` reports the bootstrap replicates; `finished` carries the TrustAssessment.
    started = Signal()

    def __init__(self, session: Session, assess: Assess = assess_trust, parent: QObject | None = None):
        super().__init__("assess-trust", parent)
        self._session = session
        self.assess = assess

    def start(self) -> bool:
        """Assess the trees on screen, cancelling a run in progress; False when there is nothing to assess."""
        try:
            inputs = trust_inputs(self._session)
        except (CheckpointError, ValueError) as error:
            self.worker.cancel()
            self.failed.emit(error)
            return False
        if inputs is None:
            self.worker.cancel()
            return False
        self.worker.start(trust_job(inputs, self.assess))
        self.started.emit()
        return True

    def request(self) -> None:
        """Start unless the trees on screen already have their assessment."""
        if self._session.trust is None:
            self.start()
        elif self.is_running:
            self.worker.cancel()

    def _on_worker_finished(self, result: TrustResult) -> None:
        self._session.set_trust(result.key, result.assessment)
        if result.key == self._session.trees_key:
            self.finished.emit(result.assessment)
        else:
            self.cancelled.emit()
