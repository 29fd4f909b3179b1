"""Typed views of a MABe training-result checkpoint.

A checkpoint contains one `mabe.training.TrainingResult` per cross-validation
split. `Split` exposes what the analysis needs from one of them: the learned
annotator embedding of each task head and the per-sequence test logits of
every annotator. Both are read from the file only when asked for.
"""

from __future__ import annotations

import math
import pathlib
import reprlib
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from .allowlist import ArrayRecord, PickledObject
from .errors import CheckpointError, describe
from .npz import BlobError, read_npz_array, read_npz_shape
from .source import ByteRef
from .tensors import TensorRef
from .unpickler import LazyText

#: Behaviours of MABe Task 1, in the column order of the Task 1/2 head's logits.
BEHAVIORS = ("attack", "investigation", "mount", "other")

_RESULT_CLASS = "mabe.training.TrainingResult"
_CONFIG_CLASS = "mabe.training.TrainingConfig"

# NOTE: npz.py raises BlobError for most bad blobs, but some headers (a shape
# whose element count overflows int64, an unhashable descr) make it raise
# ValueError, OverflowError or TypeError instead. Those are turned into
# CheckpointError here too, so that a bad blob never escapes as another type.
_BLOB_ERRORS = (BlobError, ValueError, TypeError, OverflowError, struct.error, zlib.error)

#: Deepest nesting of lists, tuples and dicts accepted in a config field.
_MAX_CONFIG_DEPTH = 32

# Config fields that are not scalars are shown as a repr of about 200 characters.
_CONFIG_REPR = reprlib.Repr()
_CONFIG_REPR.maxlevel = _MAX_CONFIG_DEPTH
_CONFIG_REPR.maxstring = _CONFIG_REPR.maxother = 200
_CONFIG_REPR.maxlist = _CONFIG_REPR.maxtuple = _CONFIG_REPR.maxdict = 50
_CONFIG_REPR.maxset = _CONFIG_REPR.maxfrozenset = 50


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
        try:
            shape = tensor.shape
            if len(shape) != 2 or 0 in shape:
                raise CheckpointError(f"embedding has shape {shape}, expected annotators x dimensions")
            values = tensor.numpy().astype(np.float64)
        except CheckpointError as error:
            raise self._error(f"{self.where}, task {task}: embedding: {error.reason}") from None
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
        except CheckpointError as error:
            raise self._error(f"{where}: {error.reason}") from None
        except MemoryError:
            raise self._error(f"{where}: the logits need more memory than is free") from None
        except _BLOB_ERRORS as error:
            raise self._error(f"{where}: {_blob_error_message(error)}") from None
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
            try:
                prefix = blob.read_prefix(4096) if isinstance(blob, ByteRef) else blob[:4096]
                shape = read_npz_shape(prefix)
            except CheckpointError as error:
                raise self._error(f"{where}: {error.reason}") from None
            except _BLOB_ERRORS as error:
                raise self._error(f"{where}: {_blob_error_message(error)}") from None
            if len(shape) != 2:
                raise self._error(f"{where}: logits have shape {shape}, expected frames x behaviours")
            self._frames[sequence_id] = shape[0]
        return self._frames[sequence_id]

    def total_frames(self) -> int:
        return sum(self.frames(sequence_id) for sequence_id in self.sequence_ids)


def _blob_error_message(error: Exception) -> str:
    if isinstance(error, BlobError):
        return str(error)
    return f"invalid npz data ({type(error).__name__}: {error})"


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
        raise CheckpointError("the file contains an empty list of training results")
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
            raise CheckpointError(f"{where}: best_params[{describe(task)}] is not a (encoder, head) pair")
        if not isinstance(params[1], dict):
            raise CheckpointError(f"{where}: the head parameters of task {task} are not a state dict")
        heads[task] = params[1]
    return heads


def _index_logits(where: str, test_logits: dict) -> tuple[list[str], list[int]]:
    annotators: list[int] | None = None
    sequence_ids = []
    for sequence_id, per_annotator in test_logits.items():
        if not isinstance(sequence_id, (str, int)) or not isinstance(per_annotator, dict) or not per_annotator:
            raise CheckpointError(f"{where}: test_logits[{describe(sequence_id)}] is not a dict of annotators")
        for annotator, blob in per_annotator.items():
            if not isinstance(annotator, int) or not isinstance(blob, (bytes, ByteRef)):
                raise CheckpointError(
                    f"{where}, sequence {sequence_id}: entry {describe(annotator)} is not annotator -> npz bytes"
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


def _plain(key: str, value):
    """Convert pickled helper records into plain Python values for display."""
    if isinstance(value, LazyText):
        return value.text()
    if isinstance(value, ArrayRecord):
        return None if value.array is None else value.array.tolist()
    if isinstance(value, (pathlib.PurePath,)):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if _nesting_depth(value, _MAX_CONFIG_DEPTH) > _MAX_CONFIG_DEPTH:
        raise CheckpointError(f"config field {key} nests more than {_MAX_CONFIG_DEPTH} levels deep")
    return _CONFIG_REPR.repr(value)[:200]


def _nesting_depth(value, limit: int) -> int:
    """Return how deeply lists, tuples and dicts nest in `value`, counting at most to `limit` + 1."""
    deepest = 0
    pending = [(value, 1)]
    # The memo lets a pickle share one container many times, or make a cycle,
    # so each container is walked once per depth at which it is reached.
    seen = set()
    while pending:
        item, depth = pending.pop()
        if not isinstance(item, (list, tuple, dict)) or (id(item), depth) in seen:
            continue
        seen.add((id(item), depth))
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = list(item.keys()) + list(item.values()) if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children)
    return deepest


def _config(config) -> dict:
    if isinstance(config, PickledObject) and config.class_path == _CONFIG_CLASS:
        fields = config.state
    elif isinstance(config, dict):
        fields = config
    else:
        return {}
    plain = {}
    for key, value in fields.items():
        name = key if isinstance(key, str) else describe(key)
        plain[name] = _plain(describe(name), value)
    return plain


def _f1_scores(scores) -> dict[int, float]:
    """Return the finite scores by task; other entries are left out."""
    if not isinstance(scores, dict):
        return {}
    finite = {}
    for task, value in scores.items():
        if not isinstance(task, int) or not isinstance(value, (int, float)):
            continue
        try:
            score = float(value)
        except OverflowError:
            # An integer too large for a float is not a score.
            continue
        if math.isfinite(score):
            finite[task] = score
    return finite
