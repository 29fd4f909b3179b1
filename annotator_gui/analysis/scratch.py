"""Reusable arrays for the worker threads of the statistics pass."""

from __future__ import annotations

import math

import numpy as np


class Scratch:
    """Reusable arrays of one worker thread, grown on demand.

    Reusing them spares a fresh allocation, and the page faults that come
    with it, for every blob.
    """

    def __init__(self):
        self._buffers: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        size = math.prod(shape) * np.dtype(dtype).itemsize
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name] = np.empty(max(size, 1 << 16), dtype=np.uint8)
        return buffer[:size].view(dtype).reshape(shape)
