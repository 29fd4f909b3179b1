"""Byte ranges of a checkpoint file, read on demand.

A `FileRange` reads a window of the file through a small buffer, so that the
unpickler never needs the whole pickle in memory, and a `ByteRef` points at
bytes inside the file that are read only when a caller needs them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from .errors import CheckpointError

_CHUNK = 1 << 20
_HAS_PREAD = hasattr(os, "pread")


class SharedFile:
    """A file opened once and read from several threads at absolute offsets."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._file = open(self.path, "rb")
        self._lock = threading.Lock()
        self.size = os.fstat(self._file.fileno()).st_size

    def read_at(self, offset: int, length: int) -> bytes:
        """Read exactly `length` bytes at `offset`, or raise CheckpointError."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise CheckpointError(
                f"truncated file: {length} bytes at offset {offset} lie past its end "
                f"({self.size} bytes)"
            )
        if _HAS_PREAD:
            # pread needs no shared file position, so threads need no lock, and
            # it skips the buffered reader's read-ahead for small reads.
            data = os.pread(self._file.fileno(), length, offset)
            while len(data) < length:
                more = os.pread(self._file.fileno(), length - len(data), offset + len(data))
                if not more:
                    break
                data += more
        else:
            with self._lock:
                self._file.seek(offset)
                data = self._file.read(length)
        if len(data) != length:
            raise CheckpointError(f"file shrank while it was read (at offset {offset})")
        return data

    def close(self) -> None:
        self._file.close()


class ByteRef:
    """Bytes at `offset` in a file, read when `read()` is called.

    `utf8_as_latin1` marks a bytes object that protocol 2 pickles stored as a
    latin-1 string (`_codecs.encode(text, "latin1")`): the file contains its UTF-8
    encoding, which `read()` turns back into the original bytes.
    """

    __slots__ = ("file", "offset", "length", "utf8_as_latin1")

    def __init__(self, file: SharedFile, offset: int, length: int, utf8_as_latin1: bool = False):
        self.file = file
        self.offset = offset
        self.length = length
        self.utf8_as_latin1 = utf8_as_latin1

    def read(self) -> bytes:
        data = self.file.read_at(self.offset, self.length)
        if self.utf8_as_latin1:
            try:
                return data.decode("utf-8").encode("latin-1")
            except UnicodeError as error:
                raise CheckpointError(
                    f"invalid byte string at offset {self.offset}: {error}"
                ) from None
        return data

    def read_prefix(self, length: int) -> bytes:
        """Read about the first `length` decoded bytes, cheaply (used to peek at headers)."""
        if not self.utf8_as_latin1:
            return self.file.read_at(self.offset, min(length, self.length))
        # A latin-1 character takes at most two UTF-8 bytes.
        raw = self.file.read_at(self.offset, min(2 * length, self.length))
        text = raw.decode("utf-8", errors="ignore")
        return text.encode("latin-1", errors="replace")[:length]


class InMemoryFile:
    """A `SharedFile` look-alike over bytes, for pickles that are not stored plainly."""

    def __init__(self, data: bytes, path: str):
        self._data = data
        self.path = path
        self.size = len(data)

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise CheckpointError(f"truncated record: {length} bytes at offset {offset}")
        return self._data[offset:offset + length]

    def close(self) -> None:
        pass


class FileRange:
    """Sequential reader over `[start, end)` of a file with a read-ahead buffer."""

    def __init__(
        self,
        file: SharedFile | InMemoryFile,
        start: int,
        end: int,
        on_advance: Callable[[int], None] | None = None,
    ):
        self.file = file
        self.end = end
        # `buffer[cursor:]` has been read ahead but not consumed yet. The
        # unpickler's fast loop reads it and moves `cursor` itself.
        # `on_advance` is called with the absolute position each time the
        # buffer moves on, so that a caller can report progress or cancel (by
        # raising) while a large pickle is scanned.
        self.on_advance = on_advance
        self.buffer = b""
        self.buffer_start = start
        self.cursor = 0

    @property
    def position(self) -> int:
        return self.buffer_start + self.cursor

    def read(self, length: int) -> bytes:
        cursor = self.cursor
        if cursor + length <= len(self.buffer):
            self.cursor = cursor + length
            return self.buffer[cursor:cursor + length]
        return self._read_slow(length)

    def _read_slow(self, length: int) -> bytes:
        position = self.position
        if position + length > self.end:
            raise CheckpointError(
                f"truncated pickle: needs {length} bytes at offset {position}, "
                f"but its data ends at offset {self.end}"
            )
        if length > _CHUNK:
            self.buffer, self.buffer_start, self.cursor = b"", position + length, 0
            return self.file.read_at(position, length)
        if self.on_advance is not None:
            self.on_advance(position)
        fill = min(max(_CHUNK, length), self.end - position)
        self.buffer = self.file.read_at(position, fill)
        self.buffer_start = position
        self.cursor = length
        return self.buffer[:length]

    def skip(self, length: int) -> int:
        """Move past `length` bytes without reading them; return their offset."""
        position = self.position
        if position + length > self.end:
            raise CheckpointError(
                f"declared size {length} at offset {position} is larger than the rest "
                f"of the data ({self.end - position} bytes)"
            )
        if self.cursor + length <= len(self.buffer):
            self.cursor += length
        else:
            self.buffer, self.buffer_start, self.cursor = b"", position + length, 0
            if self.on_advance is not None:
                self.on_advance(position + length)
        return position

    def readline(self, limit: int = 256) -> bytes:
        """Read up to and including a newline (for the text-form GLOBAL opcode)."""
        line = bytearray()
        while True:
            char = self.read(1)
            line += char
            if char == b"\n":
                return bytes(line[:-1])
            if len(line) > limit:
                raise CheckpointError(f"line longer than {limit} bytes at offset {self.position}")
