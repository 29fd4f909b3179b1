"""Tensors of a torch checkpoint, read from the file only when used."""

from __future__ import annotations

import math

import numpy as np

from .errors import CheckpointError, describe
from .source import SharedFile

#: torch sizes and strides are int64; numpy arrays have at most 64 dimensions
#: (32 before numpy 2.0). Larger values are rejected before any arithmetic on
#: them, since the product of thousands of huge integers takes minutes.
MAX_DIMENSIONS = 64
MAX_EXTENT = (1 << 63) - 1

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

    __slots__ = ("name", "dtype", "itemsize")

    def __init__(self, name: str):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]
        self.itemsize = self.dtype.itemsize


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
        return self.numel * self.storage_type.itemsize


def _valid_extents(values) -> bool:
    """Check a size or stride: a tuple of at most MAX_DIMENSIONS ints (not bools) in [0, MAX_EXTENT]."""
    if type(values) is not tuple or len(values) > MAX_DIMENSIONS:
        return False
    for value in values:
        if type(value) is not int or value < 0 or value > MAX_EXTENT:
            return False
    return True


class TensorRef:
    """A strided view into a storage, as `torch._utils._rebuild_tensor_v2` describes it.

    Tensors saved on a GPU carry a location such as "cuda:0"; the location is
    ignored, so they read like any other on a CPU-only machine.
    """

    __slots__ = ("storage", "storage_offset", "_shape", "stride", "_checked")

    def __init__(self, storage: StorageRef, storage_offset: int, shape: tuple, stride: tuple):
        if not isinstance(storage, StorageRef):
            raise CheckpointError(f"tensor built on a {type(storage).__name__} instead of a storage")
        # Size, stride and offset are checked on first use (`validate`), not
        # here: a checkpoint contains thousands of parameter tensors that the app
        # never reads, and checking each made opening 20-epoch files markedly
        # slower than 2-epoch ones.
        self.storage = storage
        self.storage_offset = storage_offset
        self._shape = shape
        self.stride = stride
        self._checked = False

    @property
    def shape(self) -> tuple:
        self.validate()
        return self._shape

    def validate(self) -> None:
        """Raise CheckpointError unless size, stride and offset describe elements inside the storage."""
        if self._checked:
            return
        for name, values in (("size", self._shape), ("stride", self.stride)):
            if not _valid_extents(values):
                raise CheckpointError(
                    f"invalid tensor {name} {describe(values)} for storage {self.storage.key!r}: expected "
                    f"at most {MAX_DIMENSIONS} integers between 0 and 2**63 - 1"
                )
        if len(self._shape) != len(self.stride):
            raise CheckpointError(f"tensor size {self._shape} and stride {self.stride} differ in length")
        if type(self.storage_offset) is not int or not 0 <= self.storage_offset <= MAX_EXTENT:
            raise CheckpointError(f"invalid tensor storage offset {describe(self.storage_offset)}")
        if 0 not in self._shape:
            last = self.storage_offset
            for size, step in zip(self._shape, self.stride):
                last += (size - 1) * step
            if last >= self.storage.numel:
                raise CheckpointError(
                    f"tensor of size {self._shape} reaches element {last} of storage {self.storage.key!r}, "
                    f"which has {self.storage.numel}"
                )
        self._checked = True

    def numpy(self) -> np.ndarray:
        """Read the tensor's elements into a new contiguous array."""
        storage = self.storage
        if storage.offset is None or storage.file is None:
            raise CheckpointError(f"storage {storage.key!r} has no data record in the file")
        dtype = storage.storage_type.dtype
        count = math.prod(self.shape)
        # Zero or overlapping strides repeat elements, so a storage of one
        # element can describe a tensor of terabytes. Only tensors no larger
        # than the file are read.
        if count * dtype.itemsize > storage.file.size:
            raise CheckpointError(
                f"tensor of size {self.shape} has {count} elements ({count * dtype.itemsize} bytes), "
                f"more than the file's {storage.file.size} bytes: its strides {self.stride} repeat "
                f"elements of storage {storage.key!r}, which is not supported for a tensor this large"
            )
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
