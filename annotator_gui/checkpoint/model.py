"""Typed views of a MABe training-result checkpoint.

A checkpoint holds one `mabe.training.TrainingResult` per cross-validation
split. `Split` exposes what the analysis needs from one of them: the learned
annotator embedding of each task head and the per-sequence test logits of
every annotator. Both are read from the file only when asked for.
"""

from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, field

import numpy as np

from .allowlist import ArrayRecord, PickledObject
from .errors import CheckpointError
from .npz import BlobError, read_npz_array, read_npz_shape
from .source import ByteRef
from .tensors import TensorRef
from .unpickler import LazyText

#: Behaviours of MABe Task 1, in the column order of the Task 1/2 head's logits.
BEHAVIORS = ("attack", "investigation", "mount", "other")

_RESULT_CLASS = "mabe.training.TrainingResult"
_CONFIG_CLASS = "mabe.training.TrainingConfig"


@dataclass
class Split:
    """One cross-validation split: one `TrainingResult` of the file."""

    index: int
    path: str
    where: str
    config: dict
    heads: dict[int, dict]
    test_logits: dict[str, dict[int, object]]
    sequence_ids: list[str]
    annotators: list[int]
    best_val_f1: dict[int, float]
    fields: list[str] = field(default_factory=list)
    _frames: dict[str, int] = field(default_factory=dict, repr=False)

    def _error(self, message: str) -> CheckpointError:
        return CheckpointError(message, self.path)

    @property
    def tasks(self) -> list[int]:
        return sorted(self.heads)

    def embedding(self, task: int = 0) -> np.ndarray:
        """Return the head's learned annotator embedding (rows are annotators), float64."""
        head = self.heads.get(task)
        if head is None:
            raise self._error(f"{self.where}: no parameters for task {task} (tasks: {self.tasks})")
        tensor = head.get("embedding")
        if not isinstance(tensor, TensorRef):
            raise self._error(f"{self.where}, task {task}: the head has no 'embedding' tensor")
        if len(tensor.shape) != 2 or 0 in tensor.shape:
            raise self._error(
                f"{self.where}, task {task}: embedding has shape {tensor.shape}, expected annotators x dimensions"
            )
        values = tensor.numpy().astype(np.float64)
        if not np.isfinite(values).all():
            raise self._error(f"{self.where}, task {task}: the embedding contains NaN or infinite values")
        return values

    def _blob(self, sequence_id: str, annotator: int) -> object:
        try:
            return self.test_logits[sequence_id][annotator]
        except KeyError:
            raise self._error(
                f"{self.where}: sequence {sequence_id} has no logits for annotator {annotator}"
            ) from None

    def logits(self, sequence_id: str, annotator: int) -> np.ndarray:
        """Decode one annotator's logits for one sequence: frames x behaviours, float32."""
        where = f"{self.where}, sequence {sequence_id}, annotator {annotator}"
        blob = self._blob(sequence_id, annotator)
        try:
            array = read_npz_array(blob.read() if isinstance(blob, ByteRef) else blob)
        except BlobError as error:
            raise self._error(f"{where}: {error}") from None
        if array.ndim != 2 or array.shape[1] != len(BEHAVIORS) or array.dtype.kind != "f":
            raise self._error(
                f"{where}: logits have shape {array.shape} and type {array.dtype}, "
                f"expected frames x {len(BEHAVIORS)} floats"
            )
        if not np.isfinite(array).all():
            row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
            raise self._error(f"{where}: logits contain NaN or infinite values (first at frame {row})")
        return array

    def frames(self, sequence_id: str) -> int:
        """Return the number of logit rows of a sequence, reading only a blob header."""
        if sequence_id not in self._frames:
            annotator = self.annotators[0]
            where = f"{self.where}, sequence {sequence_id}, annotator {annotator}"
            blob = self._blob(sequence_id, annotator)
            prefix = blob.read_prefix(4096) if isinstance(blob, ByteRef) else blob[:4096]
            try:
                shape = read_npz_shape(prefix)
            except BlobError as error:
                raise self._error(f"{where}: {error}") from None
            if len(shape) != 2:
                raise self._error(f"{where}: logits have shape {shape}, expected frames x behaviours")
            self._frames[sequence_id] = shape[0]
        return self._frames[sequence_id]

    def total_frames(self) -> int:
        return sum(self.frames(sequence_id) for sequence_id in self.sequence_ids)


@dataclass
class Checkpoint:
    """An opened checkpoint file; `close()` releases its file handle."""

    path: str
    format: str
    file_size: int
    splits: list[Split]
    _file: object = field(default=None, repr=False)

    def split(self, index: int) -> Split:
        if not 0 <= index < len(self.splits):
            raise CheckpointError(f"split {index} does not exist (the file has {len(self.splits)})", self.path)
        return self.splits[index]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def build_splits(root: object, path: str) -> list[Split]:
    """Turn the unpickled object tree into validated `Split`s."""
    results = root if isinstance(root, list) else [root]
    if not results:
        raise CheckpointError("the file holds an empty list of training results")
    splits = []
    for index, result in enumerate(results):
        where = f"split {index}"
        if not isinstance(result, PickledObject) or result.class_path != _RESULT_CLASS:
            kind = result.class_path if isinstance(result, PickledObject) else type(result).__name__
            raise CheckpointError(f"{where} is a {kind}, expected {_RESULT_CLASS}")
        splits.append(_build_split(index, path, where, result.state))
    return splits


def _build_split(index: int, path: str, where: str, state: dict) -> Split:
    heads = _heads(where, state.get("best_params"))
    test_logits = state.get("test_logits")
    if test_logits is None:
        test_logits = {}
    if not isinstance(test_logits, dict):
        raise CheckpointError(f"{where}: test_logits is a {type(test_logits).__name__}, expected a dict")
    if not heads and not test_logits:
        raise CheckpointError(f"{where}: the training result has neither best_params nor test_logits")
    sequence_ids, annotators = _index_logits(where, test_logits)
    return Split(
        index=index,
        path=path,
        where=where,
        config=_config(state.get("config")),
        heads=heads,
        test_logits={str(key): value for key, value in test_logits.items()},
        sequence_ids=sequence_ids,
        annotators=annotators,
        best_val_f1=_f1_scores(state.get("best_val_f1")),
        fields=sorted(state),
    )


def _heads(where: str, best_params) -> dict[int, dict]:
    if best_params is None:
        return {}
    if not isinstance(best_params, dict):
        raise CheckpointError(f"{where}: best_params is a {type(best_params).__name__}, expected a dict")
    heads = {}
    for task, params in best_params.items():
        if not isinstance(task, int) or not isinstance(params, (tuple, list)) or len(params) != 2:
            raise CheckpointError(f"{where}: best_params[{task!r:.30}] is not a (encoder, head) pair")
        if not isinstance(params[1], dict):
            raise CheckpointError(f"{where}: the head parameters of task {task} are not a state dict")
        heads[task] = params[1]
    return heads


def _index_logits(where: str, test_logits: dict) -> tuple[list[str], list[int]]:
    annotators: list[int] | None = None
    sequence_ids = []
    for sequence_id, per_annotator in test_logits.items():
        if not isinstance(sequence_id, (str, int)) or not isinstance(per_annotator, dict) or not per_annotator:
            raise CheckpointError(f"{where}: test_logits[{sequence_id!r:.40}] is not a dict of annotators")
        for annotator, blob in per_annotator.items():
            if not isinstance(annotator, int) or not isinstance(blob, (bytes, ByteRef)):
                raise CheckpointError(
                    f"{where}, sequence {sequence_id}: entry {annotator!r:.30} is not annotator -> npz bytes"
                )
        keys = sorted(per_annotator)
        if annotators is None:
            annotators = keys
        elif keys != annotators:
            missing = sorted(set(annotators) - set(keys)) or sorted(set(keys) - set(annotators))
            raise CheckpointError(
                f"{where}, sequence {sequence_id}: annotators {keys} differ from the other sequences' "
                f"{annotators} (annotator {missing[0]} is missing or extra)"
            )
        sequence_ids.append(str(sequence_id))
    return sequence_ids, annotators or []


def _plain(value):
    """Convert pickled helper records into plain Python values for display."""
    if isinstance(value, LazyText):
        return value.text()
    if isinstance(value, ArrayRecord):
        return None if value.array is None else value.array.tolist()
    if isinstance(value, (pathlib.PurePath,)):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)[:200]


def _config(config) -> dict:
    if isinstance(config, PickledObject) and config.class_path == _CONFIG_CLASS:
        return {key: _plain(value) for key, value in config.state.items()}
    if isinstance(config, dict):
        return {str(key): _plain(value) for key, value in config.items()}
    return {}


def _f1_scores(scores) -> dict[int, float]:
    if not isinstance(scores, dict):
        return {}
    return {
        task: float(value)
        for task, value in scores.items()
        if isinstance(task, int) and isinstance(value, (int, float)) and math.isfinite(value)
    }
