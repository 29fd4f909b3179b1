"""Write pickle opcodes by hand, so a test can state exactly which opcodes a file contains.

`assemble(value, protocol)` encodes a tree of plain values (None, bool, int,
float, str, bytes, tuple, list, dict) and the node types below. Nothing here
imports or calls what a node names: a `Global` is written as text, so a test
can describe `os.system` without touching it. The opcode bytes and their
meaning are those that `pickletools` documents for protocols 2 to 5.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PROTO = b"\x80"
FRAME = b"\x95"
STOP = b"."
MARK = b"("
POP = b"0"
NONE = b"N"
NEWTRUE = b"\x88"
NEWFALSE = b"\x89"
BININT = b"J"
LONG1 = b"\x8a"
BINFLOAT = b"G"
BINUNICODE = b"X"
SHORT_BINUNICODE = b"\x8c"
BINUNICODE8 = b"\x8d"
BINBYTES = b"B"
BINBYTES8 = b"\x8e"
EMPTY_TUPLE = b")"
TUPLE = b"t"
TUPLE1 = b"\x85"
EMPTY_LIST = b"]"
APPEND = b"a"
APPENDS = b"e"
EMPTY_DICT = b"}"
FROZENSET = b"\x91"
SETITEM = b"s"
SETITEMS = b"u"
GLOBAL = b"c"
STACK_GLOBAL = b"\x93"
REDUCE = b"R"
BUILD = b"b"
NEWOBJ = b"\x81"
NEWOBJ_EX = b"\x92"
INST = b"i"
OBJ = b"o"
BINPERSID = b"Q"
BINPUT = b"q"
BINGET = b"h"
MEMOIZE = b"\x94"
NEXT_BUFFER = b"\x97"

#: Frames of protocol 4 and later announce at most this many bytes each.
FRAME_SIZE = 64 * 1024


@dataclass(frozen=True)
class Global:
    """A module attribute named by GLOBAL (protocol 2) or STACK_GLOBAL (protocol 4 and later)."""

    module: str
    name: str


@dataclass(frozen=True)
class Reduce:
    """`function(*args)`: the function, the argument tuple, then REDUCE."""

    function: object
    args: tuple


@dataclass(frozen=True)
class NewObj:
    """`cls.__new__(cls, *args, **kwargs)` through NEWOBJ, or NEWOBJ_EX when `kwargs` is given."""

    cls: object
    args: tuple = ()
    kwargs: dict | None = None


@dataclass(frozen=True)
class Build:
    """An object followed by its state and BUILD (what `__setstate__` receives)."""

    target: object
    state: object


@dataclass(frozen=True)
class PersistentId:
    """A BINPERSID record; torch uses it for ("storage", type, key, location, numel)."""

    pid: object


@dataclass(frozen=True)
class Put:
    """`value`, then BINPUT to memo slot `slot`."""

    slot: int
    value: object


@dataclass(frozen=True)
class Get:
    """BINGET of memo slot `slot`."""

    slot: int


@dataclass(frozen=True)
class Then:
    """`first` evaluated and popped (for its side effect), then `value`."""

    first: object
    value: object


@dataclass(frozen=True)
class Raw:
    """Opcodes written verbatim."""

    data: bytes


def assemble(value: object, protocol: int = 2, frame: bool | None = None) -> bytes:
    """Return a complete pickle (PROTO, body, STOP) for `value`.

    With protocol 4 or later, globals use STACK_GLOBAL followed by MEMOIZE,
    and the body is cut into FRAMEs unless `frame` is False.
    """
    writer = _Writer(protocol)
    writer.write(value)
    body = bytes(writer.out) + STOP
    if frame is None:
        frame = protocol >= 4
    if frame:
        body = b"".join(
            FRAME + struct.pack("<Q", len(chunk)) + chunk
            for chunk in (body[start:start + FRAME_SIZE] for start in range(0, len(body), FRAME_SIZE))
        )
    return PROTO + bytes([protocol]) + body


class _Writer:
    def __init__(self, protocol: int):
        self.protocol = protocol
        self.out = bytearray()
        self.memo_count = 0

    def memoize(self) -> None:
        # MEMOIZE stores the top of the stack in the next free memo slot.
        if self.protocol >= 4:
            self.out += MEMOIZE
            self.memo_count += 1

    def write(self, value: object) -> None:
        out = self.out
        if value is None:
            out += NONE
        elif value is True:
            out += NEWTRUE
        elif value is False:
            out += NEWFALSE
        elif isinstance(value, int):
            self.write_int(value)
        elif isinstance(value, float):
            out += BINFLOAT + struct.pack(">d", value)
        elif isinstance(value, str):
            self.write_str(value)
        elif isinstance(value, bytes):
            out += BINBYTES + struct.pack("<I", len(value)) + value
        elif isinstance(value, tuple):
            self.write_tuple(value)
        elif isinstance(value, list):
            out += EMPTY_LIST
            if value:
                out += MARK
                for item in value:
                    self.write(item)
                out += APPENDS
        elif isinstance(value, dict):
            out += EMPTY_DICT
            if value:
                out += MARK
                for key, item in value.items():
                    self.write(key)
                    self.write(item)
                out += SETITEMS
        else:
            self.write_node(value)

    def write_int(self, value: int) -> None:
        if -(1 << 31) <= value < (1 << 31):
            self.out += BININT + struct.pack("<i", value)
        else:
            data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
            self.out += LONG1 + bytes([len(data)]) + data

    def write_str(self, value: str) -> None:
        data = value.encode("utf-8", "surrogatepass")
        if self.protocol >= 4 and len(data) < 256:
            self.out += SHORT_BINUNICODE + bytes([len(data)]) + data
        else:
            self.out += BINUNICODE + struct.pack("<I", len(data)) + data

    def write_tuple(self, value: tuple) -> None:
        if not value:
            self.out += EMPTY_TUPLE
            return
        self.out += MARK
        for item in value:
            self.write(item)
        self.out += TUPLE

    def write_node(self, node: object) -> None:
        out = self.out
        if isinstance(node, Global):
            if self.protocol >= 4:
                self.write_str(node.module)
                self.write_str(node.name)
                out += STACK_GLOBAL
            else:
                out += GLOBAL + f"{node.module}\n{node.name}\n".encode("utf-8")
            self.memoize()
        elif isinstance(node, Reduce):
            self.write(node.function)
            self.write_tuple(node.args)
            out += REDUCE
        elif isinstance(node, NewObj):
            self.write(node.cls)
            self.write_tuple(node.args)
            if node.kwargs is None:
                out += NEWOBJ
            else:
                self.write(node.kwargs)
                out += NEWOBJ_EX
        elif isinstance(node, Build):
            self.write(node.target)
            self.write(node.state)
            out += BUILD
        elif isinstance(node, PersistentId):
            self.write(node.pid)
            out += BINPERSID
        elif isinstance(node, Put):
            self.write(node.value)
            out += BINPUT + bytes([node.slot])
        elif isinstance(node, Get):
            out += BINGET + bytes([node.slot])
        elif isinstance(node, Then):
            self.write(node.first)
            out += POP
            self.write(node.value)
        elif isinstance(node, Raw):
            out += node.data
        else:
            raise TypeError(f"cannot assemble a {type(node).__name__}")
