"""A pickle interpreter that can only build plain data and allowlisted objects.

Python's own `pickle.Unpickler` calls whatever callable a file names once
`find_class` lets it through, and reads every byte string into memory. This
interpreter runs the binary opcodes itself instead:

- GLOBAL and STACK_GLOBAL resolve through `allowlist.resolve_global`, which
  returns our own handler objects. Nothing from the file is ever imported or
  called; REDUCE, NEWOBJ and BUILD only dispatch to those handlers.
- Opcodes of protocols 0 and 1 that create objects (INST, OBJ), the text
  forms of PERSID, PUT and GET, and extension registry opcodes are rejected.
- Dict keys and set items that are tuples are limited in size, because
  hashing a deeply nested tuple overflows the C stack.
- Every declared length is checked against the bytes left before anything is
  allocated, and strings longer than `LAZY_THRESHOLD` are not read at all:
  they become `ByteRef`s that point into the file.

The handlers of the rarer opcodes live in `opcodes`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from . import allowlist
from .errors import CheckpointError
from .opcodes import (
    DISPATCH,
    DISPATCH_BY_CODE,
    LAZY_THRESHOLD,
    MAX_MARK_DEPTH,
    MAX_STACK,
    OPCODE_NAMES,
    unpack_double,
)
from .source import ByteRef, FileRange
from .tensor_record import REBUILD_TENSOR, read_tensor_record


class LazyText:
    """A long pickled string that was left in the file (see `ByteRef`)."""

    __slots__ = ("ref",)

    def __init__(self, ref: ByteRef):
        self.ref = ref

    def text(self) -> str:
        try:
            return self.ref.file.read_at(self.ref.offset, self.ref.length).decode("utf-8")
        except UnicodeError:
            raise CheckpointError(f"invalid UTF-8 string at offset {self.ref.offset}") from None


def load_pickle(
    source: FileRange,
    persistent_load: Callable[[object], object] | None = None,
) -> object:
    """Interpret one pickle from `source` and return the object it describes.

    Raises CheckpointError for anything unsafe, unsupported or malformed. The
    message gives the offset and, for a refused global, its module and name.
    """
    # The cyclic garbage collector would rescan the growing object tree many
    # times while a large pickle loads, so it is paused for the load. Cycles
    # that a pickle can build (a list that contains itself) are collected
    # once it runs again.
    collector_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Interpreter(source, persistent_load).run()
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError("pickle nests too deeply") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as error:
        raise CheckpointError(
            f"malformed pickle near offset {source.position}: {type(error).__name__}: {error}"
        ) from None
    except MemoryError:
        raise CheckpointError(f"pickle near offset {source.position} needs more memory than is free") from None
    finally:
        if collector_was_enabled:
            gc.enable()


class _Interpreter:
    def __init__(self, source: FileRange, persistent_load):
        self.source = source
        self.persistent_load = persistent_load
        self.stack: list = []
        self.marks: list[list] = []
        self.memo: dict[int, object] = {}
        self.result = None
        self.finished = False

    # -- helpers -------------------------------------------------------------

    def pop_mark(self) -> list:
        items = self.stack
        if not self.marks:
            raise CheckpointError(f"pickle pops a MARK that was never set (offset {self.source.position})")
        self.stack = self.marks.pop()
        return items

    def string(self, length: int, *, lazy_ok: bool = True):
        if length < 0:
            raise CheckpointError(f"negative string length {length} at offset {self.source.position}")
        if lazy_ok and length > LAZY_THRESHOLD:
            offset = self.source.skip(length)
            return LazyText(ByteRef(self.source.file, offset, length))
        data = self.source.read(length)
        try:
            return data.decode("utf-8", "surrogatepass")
        except UnicodeError:
            raise CheckpointError(f"invalid UTF-8 string at offset {self.source.position - length}") from None

    def raw_bytes(self, length: int):
        if length < 0:
            raise CheckpointError(f"negative byte length {length} at offset {self.source.position}")
        if length > LAZY_THRESHOLD:
            offset = self.source.skip(length)
            return ByteRef(self.source.file, offset, length)
        return self.source.read(length)

    def push(self, value) -> None:
        self.stack.append(value)
        if len(self.stack) > MAX_STACK:
            raise CheckpointError(f"pickle stack exceeds {MAX_STACK} items")

    # -- main loop -----------------------------------------------------------

    def run(self):
        """Interpret opcodes until STOP.

        A torch state dict spends about 37 opcodes on each tensor, nearly all
        of them memo, small-integer, MARK, tuple, short-string and REDUCE
        opcodes. Those are handled here straight from the read buffer, without
        a function call each. On the benchmark's 20-epoch checkpoint this cut
        the scan by about a third (benchmarks/README.md). Every other opcode,
        and any opcode whose argument may run past the buffer, goes to its
        handler in `DISPATCH`. A MARK after the tensor rebuild function first
        tries `read_tensor_record`, which runs a whole tensor record at once.
        """
        source = self.source
        memo = self.memo
        marks = self.marks
        buffer, cursor, limit, stack = source.buffer, source.cursor, len(source.buffer) - 9, self.stack
        try:
            while not self.finished:
                if cursor >= limit:
                    # Checked once per buffer refill, so the stack overshoots the limit
                    # by at most one buffer's worth of opcodes.
                    if len(stack) > MAX_STACK:
                        raise CheckpointError(f"pickle stack exceeds {MAX_STACK} items")
                    source.cursor = cursor
                    self._dispatch(source.read(1))
                    buffer, cursor, limit, stack = source.buffer, source.cursor, len(source.buffer) - 9, self.stack
                    continue
                code = buffer[cursor]
                if code == 0x72:  # LONG_BINPUT
                    memo[int.from_bytes(buffer[cursor + 1:cursor + 5], "little")] = stack[-1]
                    cursor += 5
                elif code == 0x4B:  # BININT1
                    stack.append(buffer[cursor + 1])
                    cursor += 2
                elif code == 0x6A:  # LONG_BINGET
                    stack.append(memo[int.from_bytes(buffer[cursor + 1:cursor + 5], "little")])
                    cursor += 5
                elif code == 0x68:  # BINGET
                    stack.append(memo[buffer[cursor + 1]])
                    cursor += 2
                elif code == 0x58 and cursor + 5 + (
                    length := int.from_bytes(buffer[cursor + 1:cursor + 5], "little")
                ) <= len(buffer) and length <= LAZY_THRESHOLD:  # BINUNICODE, short and inside the buffer
                    start = cursor + 5
                    try:
                        stack.append(buffer[start:start + length].decode("utf-8", "surrogatepass"))
                    except UnicodeError:
                        raise CheckpointError(
                            f"invalid UTF-8 string at offset {source.buffer_start + start}"
                        ) from None
                    cursor = start + length
                elif code == 0x52:  # REDUCE
                    arguments = stack.pop()
                    stack[-1] = allowlist.call_reduce(stack[-1], arguments)
                    cursor += 1
                elif code == 0x86:  # TUPLE2
                    second = stack.pop()
                    stack[-1] = (stack[-1], second)
                    cursor += 1
                elif code == 0x28 and len(marks) < MAX_MARK_DEPTH:  # MARK
                    if stack and stack[-1] is REBUILD_TENSOR:
                        end = read_tensor_record(buffer, cursor, limit, self)
                        if end:
                            cursor = end
                            continue
                    marks.append(stack)
                    stack = self.stack = []
                    cursor += 1
                elif code == 0x74 and marks:  # TUPLE
                    items = tuple(stack)
                    stack = self.stack = marks.pop()
                    stack.append(items)
                    cursor += 1
                elif code == 0x4D:  # BININT2
                    stack.append(buffer[cursor + 1] | buffer[cursor + 2] << 8)
                    cursor += 3
                elif code == 0x85:  # TUPLE1
                    stack[-1] = (stack[-1],)
                    cursor += 1
                elif code == 0x89:  # NEWFALSE
                    stack.append(False)
                    cursor += 1
                elif code == 0x51 and self.persistent_load is not None:  # BINPERSID
                    stack[-1] = self.persistent_load(stack[-1])
                    cursor += 1
                elif code == 0x47:  # BINFLOAT
                    stack.append(unpack_double(buffer[cursor + 1:cursor + 9])[0])
                    cursor += 9
                elif code == 0x4E:  # NONE
                    stack.append(None)
                    cursor += 1
                elif code == 0x29:  # EMPTY_TUPLE
                    stack.append(())
                    cursor += 1
                elif code == 0x87:  # TUPLE3
                    third = stack.pop()
                    second = stack.pop()
                    stack[-1] = (stack[-1], second, third)
                    cursor += 1
                elif code == 0x71:  # BINPUT
                    memo[buffer[cursor + 1]] = stack[-1]
                    cursor += 2
                elif code == 0x88:  # NEWTRUE
                    stack.append(True)
                    cursor += 1
                else:
                    source.cursor = cursor + 1
                    handler = DISPATCH_BY_CODE[code]
                    if handler is None:
                        self._reject_opcode(code)
                    handler(self)
                    buffer, cursor, limit, stack = source.buffer, source.cursor, len(source.buffer) - 9, self.stack
                    continue
        except KeyError as error:
            raise CheckpointError(f"pickle refers to memo entry {error.args[0]}, which was never stored") from None
        finally:
            if source.buffer is buffer:
                source.cursor = cursor
        return self.result

    def _dispatch(self, code: bytes) -> None:
        handler = DISPATCH.get(code)
        if handler is None:
            self._reject_opcode(code[0])
        handler(self)

    def _reject_opcode(self, code: int) -> None:
        opcode = bytes([code])
        name = OPCODE_NAMES.get(opcode, f"0x{opcode.hex()}")
        raise CheckpointError(f"unsupported pickle opcode {name} at offset {self.source.position - 1}")
