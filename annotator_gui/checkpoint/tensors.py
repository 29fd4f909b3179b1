"""Tensors of a torch checkpoint, read from the file only when used."""

from __future__ import annotations

import math

import numpy as np

from .errors import CheckpointError
from .source import SharedFile

#: torch's legacy storage class names and the element type each one holds.
STORAGE_DTYPES = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
    # bfloat16 has no numpy type; its raw 16-bit words are widened on read.
    "BFloat16Storage": np.dtype("<u2"),
}


class StorageType:
    """A torch storage class named in a pickle, such as `torch.FloatStorage`."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


class StorageRef:
    """One storage record of the file; `offset` is set once its bytes are located."""

    __slots__ = ("key", "storage_type", "numel", "location", "file", "offset")

    def __init__(self, key: str, storage_type: StorageType, numel: int, location: str):
        self.key = key
        self.storage_type = storage_type
        self.numel = numel
        self.location = location
        self.file: SharedFile | None = None
        self.offset: int | None = None

    @property
    def nbytes(self) -> int:
        return self.numel * self.storage_type.dtype.itemsize


class TensorRef:
    """A strided view into a storage, as `torch._utils._rebuild_tensor_v2` describes it.

    Tensors saved on a GPU carry a location such as "cuda:0"; the location is
    ignored, so they read like any other on a CPU-only machine.
    """

    __slots__ = ("storage", "storage_offset", "shape", "stride")

    def __init__(self, storage: StorageRef, storage_offset: int, shape: tuple, stride: tuple):
        if not isinstance(storage, StorageRef):
            raise CheckpointError(f"tensor built on a {type(storage).__name__} instead of a storage")
        for name, values in (("size", shape), ("stride", stride)):
            if not isinstance(values, tuple) or not all(
                isinstance(value, int) and not isinstance(value, bool) and value >= 0 for value in values
            ):
                raise CheckpointError(f"invalid tensor {name} {values!r:.80}")
        if len(shape) != len(stride):
            raise CheckpointError(f"tensor size {shape} and stride {stride} differ in length")
        if not isinstance(storage_offset, int) or storage_offset < 0:
            raise CheckpointError(f"invalid tensor storage offset {storage_offset!r:.40}")
        if math.prod(shape) > 0:
            last = storage_offset + sum((size - 1) * step for size, step in zip(shape, stride))
            if last >= storage.numel:
                raise CheckpointError(
                    f"tensor of size {shape} reaches element {last} of storage {storage.key!r}, "
                    f"which has {storage.numel}"
                )
        self.storage = storage
        self.storage_offset = storage_offset
        self.shape = shape
        self.stride = stride

    def numpy(self) -> np.ndarray:
        """Read the tensor's elements into a new contiguous array."""
        storage = self.storage
        if storage.offset is None or storage.file is None:
            raise CheckpointError(f"storage {storage.key!r} has no data record in the file")
        dtype = storage.storage_type.dtype
        count = math.prod(self.shape)
        if count == 0:
            return np.zeros(self.shape, dtype=_result_dtype(storage.storage_type))
        span = 1 + sum((size - 1) * step for size, step in zip(self.shape, self.stride))
        data = storage.file.read_at(storage.offset + self.storage_offset * dtype.itemsize, span * dtype.itemsize)
        flat = np.frombuffer(data, dtype=dtype)
        strides = tuple(step * dtype.itemsize for step in self.stride)
        array = np.lib.stride_tricks.as_strided(flat, shape=self.shape, strides=strides, writeable=False)
        array = np.array(array)
        if storage.storage_type.name == "BFloat16Storage":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array.astype(array.dtype.newbyteorder("="), copy=False)


def _result_dtype(storage_type: StorageType) -> np.dtype:
    if storage_type.name == "BFloat16Storage":
        return np.dtype(np.float32)
    return storage_type.dtype.newbyteorder("=")
