"""Handlers for the pickle opcodes that `unpickler` does not run inline.

Each handler takes the interpreter (`unpickler._Interpreter`), reads its
argument from the interpreter's source and changes its stack or memo.
Globals, REDUCE, NEWOBJ and BUILD go through `allowlist`, so no handler ever
imports or calls anything that a file names.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from . import allowlist
from .errors import CheckpointError, describe

#: Strings and byte strings longer than this stay in the file as `ByteRef`s.
LAZY_THRESHOLD = 4096
MAX_MARK_DEPTH = 10_000
MAX_STACK = 10_000_000

_unpack_int32 = struct.Struct("<i").unpack
_unpack_uint32 = struct.Struct("<I").unpack
_unpack_uint16 = struct.Struct("<H").unpack
_unpack_uint64 = struct.Struct("<Q").unpack
unpack_double = struct.Struct(">d").unpack


def _op(code: bytes):
    def register(function):
        DISPATCH[code] = function
        return function

    return register


DISPATCH: dict[bytes, Callable[[object], None]] = {}
OPCODE_NAMES = {
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
    vm.push(unpack_double(vm.source.read(8))[0])


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
    # Only a tuple can be too large to hash (see `allowlist.require_small_key`),
    # so the message, which formats the offset, is built only for tuples.
    if type(key) is tuple:
        allowlist.require_small_key(key, f"{kind} at offset {vm.source.position}")


def _pairs_to_dict(vm, target: dict, items: list) -> dict:
    if len(items) % 2:
        raise CheckpointError(f"dictionary items come in an odd number at offset {vm.source.position}")
    for index in range(0, len(items), 2):
        key = items[index]
        if type(key) is tuple:
            _require_small_key(vm, key, "dict key")
        target[key] = items[index + 1]
    return target


DISPATCH_BY_CODE = [DISPATCH.get(bytes([code])) for code in range(256)]
