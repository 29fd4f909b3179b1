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
"""

from __future__ import annotations

import gc
import struct
from collections.abc import Callable

from . import allowlist
from .errors import CheckpointError, describe
from .source import ByteRef, FileRange

LAZY_THRESHOLD = 4096
MAX_MARK_DEPTH = 10_000
MAX_STACK = 10_000_000

_unpack_int32 = struct.Struct("<i").unpack
_unpack_uint32 = struct.Struct("<I").unpack
_unpack_uint16 = struct.Struct("<H").unpack
_unpack_uint64 = struct.Struct("<Q").unpack
_unpack_double = struct.Struct(">d").unpack


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


class _Mark:
    __slots__ = ()


_MARK = _Mark()


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
        a function call each; on the benchmark's 20-epoch checkpoint this cut
        the scan by about a third (benchmarks/README.md). Every other opcode, and any opcode whose argument may run
        past the buffer, goes to its handler in `_DISPATCH`.
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
                    stack.append(_unpack_double(buffer[cursor + 1:cursor + 9])[0])
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
                    handler = _DISPATCH_BY_CODE[code]
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
        handler = _DISPATCH.get(code)
        if handler is None:
            self._reject_opcode(code[0])
        handler(self)

    def _reject_opcode(self, code: int) -> None:
        opcode = bytes([code])
        name = _OPCODE_NAMES.get(opcode, f"0x{opcode.hex()}")
        raise CheckpointError(f"unsupported pickle opcode {name} at offset {self.source.position - 1}")


def _op(code: bytes):
    def register(function):
        _DISPATCH[code] = function
        return function

    return register


_DISPATCH: dict[bytes, Callable[[_Interpreter], None]] = {}
_OPCODE_NAMES = {
    b"P": "PERSID", b"p": "PUT", b"g": "GET", b"I": "INT",
    b"L": "LONG", b"F": "FLOAT", b"S": "STRING", b"V": "UNICODE", b"\x82": "EXT1",
    b"\x83": "EXT2", b"\x84": "EXT4", b"\x97": "NEXT_BUFFER", b"\x98": "READONLY_BUFFER",
}


@_op(b"\x80")
def _proto(vm):
    version = vm.source.read(1)[0]
    if version > 5:
        raise CheckpointError(f"unsupported pickle protocol {version}")


@_op(b"\x95")
def _frame(vm):
    vm.source.read(8)


@_op(b".")
def _stop(vm):
    if len(vm.stack) != 1 or vm.marks:
        raise CheckpointError(f"pickle ends with {len(vm.stack)} items on its stack instead of one")
    vm.result = vm.stack.pop()
    vm.finished = True


@_op(b"(")
def _mark(vm):
    if len(vm.marks) >= MAX_MARK_DEPTH:
        raise CheckpointError(f"pickle nests more than {MAX_MARK_DEPTH} levels deep")
    vm.marks.append(vm.stack)
    vm.stack = []


@_op(b"0")
def _pop(vm):
    if vm.stack:
        vm.stack.pop()
    else:
        vm.pop_mark()


@_op(b"1")
def _pop_mark(vm):
    vm.pop_mark()


@_op(b"2")
def _dup(vm):
    vm.push(vm.stack[-1])


@_op(b"N")
def _none(vm):
    vm.push(None)


@_op(b"\x88")
def _true(vm):
    vm.push(True)


@_op(b"\x89")
def _false(vm):
    vm.push(False)


@_op(b"J")
def _binint(vm):
    vm.push(_unpack_int32(vm.source.read(4))[0])


@_op(b"K")
def _binint1(vm):
    vm.push(vm.source.read(1)[0])


@_op(b"M")
def _binint2(vm):
    vm.push(_unpack_uint16(vm.source.read(2))[0])


@_op(b"\x8a")
def _long1(vm):
    length = vm.source.read(1)[0]
    vm.push(int.from_bytes(vm.source.read(length), "little", signed=True))


@_op(b"\x8b")
def _long4(vm):
    length = _unpack_int32(vm.source.read(4))[0]
    if not 0 <= length <= 64:
        raise CheckpointError(f"integer of {length} bytes at offset {vm.source.position} is not supported")
    vm.push(int.from_bytes(vm.source.read(length), "little", signed=True))


@_op(b"G")
def _binfloat(vm):
    vm.push(_unpack_double(vm.source.read(8))[0])


@_op(b"X")
def _binunicode(vm):
    vm.push(vm.string(_unpack_uint32(vm.source.read(4))[0]))


@_op(b"\x8c")
def _short_binunicode(vm):
    vm.push(vm.string(vm.source.read(1)[0]))


@_op(b"\x8d")
def _binunicode8(vm):
    vm.push(vm.string(_unpack_uint64(vm.source.read(8))[0]))


@_op(b"B")
def _binbytes(vm):
    vm.push(vm.raw_bytes(_unpack_uint32(vm.source.read(4))[0]))


@_op(b"C")
def _short_binbytes(vm):
    vm.push(vm.source.read(vm.source.read(1)[0]))


@_op(b"\x8e")
def _binbytes8(vm):
    vm.push(vm.raw_bytes(_unpack_uint64(vm.source.read(8))[0]))


@_op(b"T")
def _binstring(vm):
    # Python 2 str: kept as text, since pickles of Python 2 store names this way.
    length = _unpack_int32(vm.source.read(4))[0]
    if length < 0:
        raise CheckpointError(f"negative string length at offset {vm.source.position}")
    vm.push(vm.source.read(length).decode("latin-1"))


@_op(b"U")
def _short_binstring(vm):
    vm.push(vm.source.read(vm.source.read(1)[0]).decode("latin-1"))


@_op(b")")
def _empty_tuple(vm):
    vm.push(())


@_op(b"t")
def _tuple(vm):
    vm.push(tuple(vm.pop_mark()))


@_op(b"\x85")
def _tuple1(vm):
    vm.stack[-1] = (vm.stack[-1],)


@_op(b"\x86")
def _tuple2(vm):
    second = vm.stack.pop()
    vm.stack[-1] = (vm.stack[-1], second)


@_op(b"\x87")
def _tuple3(vm):
    third = vm.stack.pop()
    second = vm.stack.pop()
    vm.stack[-1] = (vm.stack[-1], second, third)


@_op(b"]")
def _empty_list(vm):
    vm.push([])


@_op(b"l")
def _list(vm):
    vm.push(vm.pop_mark())


@_op(b"a")
def _append(vm):
    value = vm.stack.pop()
    _require_list(vm.stack[-1], "APPEND").append(value)


@_op(b"e")
def _appends(vm):
    items = vm.pop_mark()
    _require_list(vm.stack[-1], "APPENDS").extend(items)


@_op(b"}")
def _empty_dict(vm):
    vm.push({})


@_op(b"d")
def _dict(vm):
    items = vm.pop_mark()
    vm.push(_pairs_to_dict(vm, {}, items))


@_op(b"s")
def _setitem(vm):
    value = vm.stack.pop()
    key = vm.stack.pop()
    target = _require_dict(vm.stack[-1], "SETITEM")
    _require_small_key(vm, key, "dict key")
    target[key] = value


@_op(b"u")
def _setitems(vm):
    items = vm.pop_mark()
    _pairs_to_dict(vm, _require_dict(vm.stack[-1], "SETITEMS"), items)


@_op(b"\x8f")
def _empty_set(vm):
    vm.push(set())


@_op(b"\x90")
def _additems(vm):
    items = vm.pop_mark()
    target = vm.stack[-1]
    if not isinstance(target, set):
        raise CheckpointError(f"ADDITEMS on a {type(target).__name__} at offset {vm.source.position}")
    for item in items:
        _require_small_key(vm, item, "set item")
    target.update(items)


@_op(b"\x91")
def _frozenset(vm):
    items = vm.pop_mark()
    for item in items:
        _require_small_key(vm, item, "frozenset item")
    vm.push(frozenset(items))


@_op(b"c")
def _global(vm):
    module = vm.source.readline().decode("utf-8", "replace")
    name = vm.source.readline().decode("utf-8", "replace")
    vm.push(allowlist.resolve_global(module, name))


@_op(b"\x93")
def _stack_global(vm):
    name = vm.stack.pop()
    module = vm.stack.pop()
    if not isinstance(module, str) or not isinstance(name, str):
        raise CheckpointError("STACK_GLOBAL with a module or name that is not a string")
    vm.push(allowlist.resolve_global(module, name))


@_op(b"i")
def _inst(vm):
    # INST calls module.name(*args) like REDUCE would; real checkpoints never
    # use it, so it is rejected outright, naming what it would have called.
    offset = vm.source.position - 1
    module = vm.source.readline().decode("utf-8", "replace")
    name = vm.source.readline().decode("utf-8", "replace")
    raise CheckpointError(
        f"unsupported INST opcode at offset {offset}: it would call {module}.{name}, and "
        "the object-creating opcodes of pickle protocol 0 are rejected"
    )


@_op(b"o")
def _obj(vm):
    offset = vm.source.position - 1
    items = vm.pop_mark()
    target = describe(items[0]) if items else "nothing"
    raise CheckpointError(
        f"unsupported OBJ opcode at offset {offset}: it would call {target}, and "
        "the object-creating opcodes of pickle protocol 1 are rejected"
    )


@_op(b"R")
def _reduce(vm):
    args = vm.stack.pop()
    function = vm.stack[-1]
    vm.stack[-1] = allowlist.call_reduce(function, args)


@_op(b"\x81")
def _newobj(vm):
    args = vm.stack.pop()
    cls = vm.stack[-1]
    vm.stack[-1] = allowlist.call_newobj(cls, args, {})


@_op(b"\x92")
def _newobj_ex(vm):
    kwargs = vm.stack.pop()
    args = vm.stack.pop()
    cls = vm.stack[-1]
    vm.stack[-1] = allowlist.call_newobj(cls, args, kwargs)


@_op(b"b")
def _build(vm):
    state = vm.stack.pop()
    allowlist.call_build(vm.stack[-1], state)


@_op(b"Q")
def _binpersid(vm):
    pid = vm.stack.pop()
    if vm.persistent_load is None:
        raise CheckpointError(f"unexpected persistent id {describe(pid)} in a pickle that may not have one")
    vm.push(vm.persistent_load(pid))


@_op(b"q")
def _binput(vm):
    vm.memo[vm.source.read(1)[0]] = vm.stack[-1]


@_op(b"r")
def _long_binput(vm):
    vm.memo[_unpack_uint32(vm.source.read(4))[0]] = vm.stack[-1]


@_op(b"\x94")
def _memoize(vm):
    vm.memo[len(vm.memo)] = vm.stack[-1]


@_op(b"h")
def _binget(vm):
    _get(vm, vm.source.read(1)[0])


@_op(b"j")
def _long_binget(vm):
    _get(vm, _unpack_uint32(vm.source.read(4))[0])


def _get(vm, index: int) -> None:
    try:
        vm.push(vm.memo[index])
    except KeyError:
        raise CheckpointError(f"pickle refers to memo entry {index}, which was never stored") from None


def _require_list(target, opcode: str) -> list:
    if not isinstance(target, list):
        raise CheckpointError(f"{opcode} on a {type(target).__name__}, expected a list")
    return target


def _require_dict(target, opcode: str) -> dict:
    if not isinstance(target, dict):
        raise CheckpointError(f"{opcode} on a {type(target).__name__}, expected a dict")
    return target


def _require_small_key(vm, key, kind: str) -> None:
    allowlist.require_small_key(key, f"{kind} at offset {vm.source.position}")


def _pairs_to_dict(vm, target: dict, items: list) -> dict:
    if len(items) % 2:
        raise CheckpointError(f"dictionary items come in an odd number at offset {vm.source.position}")
    for index in range(0, len(items), 2):
        _require_small_key(vm, items[index], "dict key")
        target[items[index]] = items[index + 1]
    return target


_DISPATCH_BY_CODE = [_DISPATCH.get(bytes([code])) for code in range(256)]
