"""Decode the per-sequence logits blobs of a split for the statistics pass.

`read_logits` and `read_sequence` return what `Split.logits` returns, with
the same checks and errors, but faster. Blobs are read into reused buffers
with `os.preadv`. Their stored UTF-8 form is turned back into bytes with
vectorised numpy passes, all blobs of a sequence at once, and they are
inflated by libdeflate where installed. All of these release the GIL, so
several worker threads can decode at the same time.
"""

from __future__ import annotations

import os

import numpy as np

from ..checkpoint import BEHAVIORS, CheckpointError, Split
from ..checkpoint.npz import latin1_from_utf8_parts, read_npz_array
from ..checkpoint.source import ByteRef
from .progress import TaskState
from .scratch import Scratch


def _file_descriptor(blob: ByteRef) -> int | None:
    # NOTE: `SharedFile` offers no positional read into a caller's buffer, so
    # the pass uses its descriptor with os.preadv, which leaves the file
    # position that `read_at` relies on untouched. Any other source is read
    # through `read_at`.
    handle = getattr(blob.file, "_file", None)
    if handle is None or not hasattr(os, "preadv"):
        return None
    try:
        return handle.fileno()
    except (OSError, ValueError):
        return None


def _read_stored(blob: ByteRef, target: np.ndarray) -> None:
    """Fill `target` (blob.length bytes) with the blob as stored in the file."""
    descriptor = _file_descriptor(blob)
    if descriptor is not None and blob.offset + blob.length <= blob.file.size:
        if os.preadv(descriptor, [target], blob.offset) == blob.length:
            return
    # read_at raises the CheckpointError for a short or failed read.
    target[:] = np.frombuffer(blob.file.read_at(blob.offset, blob.length), dtype=np.uint8)


def _decode_byte_refs(blobs: list[ByteRef], scratch: Scratch) -> list[np.ndarray]:
    """Read blobs into one scratch buffer and decode them.

    The blobs are either all protocol-2 text, turned back into bytes
    together, or a single blob of raw bytes. Raises an exception for
    anything invalid, which callers turn into a fallback or an error.
    """
    lengths = [blob.length for blob in blobs]
    stored = scratch.array("stored", (sum(lengths),), np.uint8)
    start = 0
    for blob in blobs:
        _read_stored(blob, stored[start:start + blob.length])
        start += blob.length
    if all(blob.utf8_as_latin1 for blob in blobs):
        decoded = scratch.array("blob", (stored.size,), np.uint8)
        parts = latin1_from_utf8_parts(stored, lengths, decoded)
    elif len(blobs) == 1:
        decoded = stored
        parts = [stored]
    else:
        raise ValueError("the blobs mix protocol-2 text and raw bytes")
    arrays = [read_npz_array(part) for part in parts]
    # An uncompressed member is a view of the scratch buffer, which the next read overwrites.
    return [array.copy() if np.may_share_memory(array, decoded) else array for array in arrays]


def _decode_blob(blob: object, scratch: Scratch) -> np.ndarray:
    if not isinstance(blob, ByteRef):
        return read_npz_array(blob)
    return _decode_byte_refs([blob], scratch)[0]


def _checked_logits(array: np.ndarray) -> bool:
    return array.ndim == 2 and array.shape[1] == len(BEHAVIORS) and array.dtype.kind == "f" and bool(np.isfinite(array).all())


def _decode_sequence(split: Split, sequence_id: str, annotators: list[int], scratch: Scratch) -> list[np.ndarray] | None:
    """Decode every annotator's logits of one sequence at once, or return None.

    The usual blobs, protocol-2 text in the checkpoint file, are read into
    one buffer and turned back into bytes together. That takes a fixed
    number of numpy calls per sequence instead of that number per blob, so
    the worker threads hand the GIL to each other less often (about 10 %
    faster on the benchmark's 460-sequence file). Returns None for any
    other blob, and for any blob that fails to decode or a check, so that
    `read_logits` decodes the blobs one by one and reports the problem in
    its usual words.
    """
    try:
        blobs = [split.test_logits[sequence_id][annotator] for annotator in annotators]
    except (KeyError, TypeError):
        return None
    if not all(isinstance(blob, ByteRef) and blob.utf8_as_latin1 and blob.length > 0 for blob in blobs):
        return None
    try:
        arrays = _decode_byte_refs(blobs, scratch)
    except Exception:  # noqa: BLE001 - read_logits reports the problem blob by blob
        return None
    if not all(_checked_logits(array) for array in arrays):
        return None
    return arrays


def read_logits(split: Split, sequence_id: str, annotator: int, scratch: Scratch | None = None) -> np.ndarray:
    """Decode one annotator's logits like `Split.logits`, faster, with the same checks and errors.

    Any blob that the fast path cannot decode or that fails a check is
    decoded again by `Split.logits`, which raises the CheckpointError that
    names the problem (or returns the array, for a layout the fast path
    does not take).
    """
    try:
        array = _decode_blob(split.test_logits[sequence_id][annotator], scratch or Scratch())
    except Exception:  # noqa: BLE001 - Split.logits reports the problem in its own words
        return split.logits(sequence_id, annotator)
    if not _checked_logits(array):
        return split.logits(sequence_id, annotator)
    return array


def read_sequence(
    split: Split, sequence_id: str, annotators: list[int], scratch: Scratch, state: TaskState
) -> list[np.ndarray] | None:
    """Decode every annotator's logits of one sequence; None once `state` is cancelled.

    Raises CheckpointError for a bad blob or when the annotators' frame counts differ.
    """
    if state.is_cancelled:
        return None
    logits = _decode_sequence(split, sequence_id, annotators, scratch)
    if logits is None:
        logits = []
        for annotator in annotators:
            if state.is_cancelled:
                return None
            logits.append(read_logits(split, sequence_id, annotator, scratch))
    lengths = {values.shape[0] for values in logits}
    if len(lengths) != 1:
        described = ", ".join(f"annotator {a}: {v.shape[0]}" for a, v in zip(annotators, logits))
        raise CheckpointError(
            f"{split.where}, sequence {sequence_id}: annotators have different frame counts ({described})",
            split.path,
        )
    return logits
