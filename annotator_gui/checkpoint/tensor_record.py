"""A shortcut through the opcodes of one torch tensor record.

torch pickles each tensor as a call of `torch._utils._rebuild_tensor_v2`
with a persistent id for its storage, size and stride tuples and an empty
`OrderedDict` of backward hooks. That takes about 30 opcodes per tensor, and
a checkpoint with many parameter copies contains thousands of tensors.
`read_tensor_record` matches the opcodes that torch writes for one record
with one regular expression and builds the same objects and memo entries
that the general interpreter builds from them, calling the same handlers.
For any other bytes it returns 0 and changes nothing, so that the
interpreter runs the opcodes one by one.

The layout read here, from the MARK that follows the rebuild function:

    MARK MARK
      GET 'storage'  GET storage type  BINUNICODE key  PUT  GET location
      BININT1|BININT2|BININT numel  [NONE]  TUPLE  PUT
    BINPERSID
    BININT1|BININT2|BININT storage offset
    size tuple [PUT]  stride tuple [PUT]
    NEWFALSE|NEWTRUE
    GET OrderedDict  EMPTY_TUPLE  REDUCE  PUT
    TUPLE  PUT
    REDUCE  PUT

GET and PUT are the one-byte or four-byte forms. A size or stride tuple is
EMPTY_TUPLE, one to three integers and TUPLE1, TUPLE2 or TUPLE3, or MARK,
integers and TUPLE. torch writes no PUT after EMPTY_TUPLE.
"""

from __future__ import annotations

import functools
import re
import struct

from . import allowlist
from .opcodes import MAX_MARK_DEPTH
from .tensors import MAX_DIMENSIONS

#: The allowlisted globals whose calls a record contains. The interpreter
#: tries this shortcut only when `REBUILD_TENSOR` is on top of its stack.
REBUILD_TENSOR = allowlist.resolve_global("torch._utils", "_rebuild_tensor_v2")
_ORDERED_DICT = allowlist.resolve_global("collections", "OrderedDict")

#: MARKs that a record opens at once: the argument tuple and, inside it, the
#: persistent id or a size or stride tuple of more than three dimensions.
_MARKS_USED = 2

# Each group below contains an opcode and its argument, so that
# `int.from_bytes(group[1:], "little")` decodes either width of a memo index.
_GET = rb"(h.|j....)"
_PUT = rb"(q.|r....)"
_INTEGER = rb"(K.|M..|J....)"
_ITEM = rb"(?:K.|M..|J....)"
# A size or stride tuple: EMPTY_TUPLE, MARK and up to MAX_DIMENSIONS
# integers and TUPLE, or one to three integers and TUPLE1, TUPLE2 or TUPLE3.
# Whether the count matches TUPLE1 to TUPLE3 is checked in `_extents`.
_EXTENTS = (
    rb"(\)|\(" + _ITEM + rb"{0,%d}t|" % MAX_DIMENSIONS + _ITEM + rb"{1,3}[\x85-\x87])" + rb"(q.|r....)?"
)
# Storage keys longer than 64 characters or with other characters than
# these fall back here, and `containers._StorageTable` rejects them. The key's
# declared length is compared with the matched key afterwards.
_RECORD = re.compile(
    rb"\(\("
    + _GET  # 'storage'
    + _GET  # storage type
    + rb"X([\x01-\x40])\x00\x00\x00([0-9A-Za-z_]{1,64})"
    + _PUT
    + _GET  # location
    + _INTEGER  # numel
    + rb"(N?)t"
    + _PUT
    + rb"Q"
    + _INTEGER  # storage offset
    + _EXTENTS  # size
    + _EXTENTS  # stride
    + rb"([\x88\x89])"  # requires_grad
    + _GET  # OrderedDict
    + rb"\)R"
    + _PUT
    + rb"t"
    + _PUT
    + rb"R"
    + _PUT,
    re.DOTALL,
)
_ITEMS = re.compile(_ITEM, re.DOTALL)

#: An upper bound of the length of a record that `_RECORD` matches: fixed
#: opcodes, a key of 64 bytes, and two tuples of `MAX_DIMENSIONS` five-byte
#: integers. The caller's `limit` must leave this much room after the MARK,
#: so that the general interpreter would also run the whole record inline.
RECORD_MAX_BYTES = 2 * (MAX_DIMENSIONS * 5 + 7) + 64 + 128


def read_tensor_record(buffer: bytes, cursor: int, limit: int, interpreter) -> int:
    """Run the tensor record that starts with the MARK at `buffer[cursor]` and return the offset after it.

    `interpreter` is the `unpickler._Interpreter` whose stack has
    `REBUILD_TENSOR` on top. On success that entry is replaced by the
    tensor, and the memo gets the entries that the general opcodes would
    store. Returns 0, having changed nothing, unless the bytes match the
    layout in the module docstring, lie before `limit`, and refer only to
    memo entries that exist and that the record does not overwrite first.
    """
    persistent_load = interpreter.persistent_load
    if (
        cursor + RECORD_MAX_BYTES > limit
        or persistent_load is None
        or len(interpreter.marks) + _MARKS_USED > MAX_MARK_DEPTH
    ):
        return 0
    match = _RECORD.match(buffer, cursor)
    if match is None:
        return 0
    (
        tag_get, type_get, key_length, key, key_put, location_get, numel, view, pid_put, storage_offset,
        size, size_put, stride, stride_put, requires_grad, hooks_get, hooks_put, arguments_put, tensor_put,
    ) = match.groups()
    if len(key) != key_length[0]:
        return 0
    size = _extents(size)
    stride = _extents(stride)
    if size is None or stride is None:
        return 0
    tag_get, type_get, location_get, hooks_get = _memo_indices((tag_get, type_get, location_get, hooks_get))
    if size_put is not None and stride_put is not None:
        key_put, pid_put, size_put, stride_put, hooks_put, arguments_put, tensor_put = _memo_indices(
            (key_put, pid_put, size_put, stride_put, hooks_put, arguments_put, tensor_put)
        )
    else:
        key_put, pid_put, hooks_put, arguments_put, tensor_put = _memo_indices(
            (key_put, pid_put, hooks_put, arguments_put, tensor_put)
        )
        size_put = None if size_put is None else _memo_indices((size_put,))[0]
        stride_put = None if stride_put is None else _memo_indices((stride_put,))[0]
    # A GET that follows a PUT of the same index in this record would read
    # the new entry; the general interpreter handles that case.
    if location_get == key_put or hooks_get in (key_put, pid_put, size_put, stride_put):
        return 0
    memo = interpreter.memo
    try:
        if memo[hooks_get] is not _ORDERED_DICT:
            return 0
        tag = memo[tag_get]
        storage_type = memo[type_get]
        location = memo[location_get]
    except KeyError:
        return 0

    # Nothing has been changed up to here. From here on, the memo entries
    # and calls follow the order of the opcodes.
    # NOTE: if a call below raises, the interpreter's offset is the record's
    # MARK, not the BINPERSID or REDUCE that raised. These handlers raise only
    # CheckpointError, whose messages contain no offset. Only a MemoryError,
    # or a `persistent_load` other than `containers._StorageTable`'s, would
    # report another offset than the general opcodes do.
    key = key.decode("ascii")
    memo[key_put] = key
    numel = _integer(numel)
    pid = (tag, storage_type, key, location, numel, None) if view else (tag, storage_type, key, location, numel)
    memo[pid_put] = pid
    storage = persistent_load(pid)
    if size_put is not None:
        memo[size_put] = size
    if stride_put is not None:
        memo[stride_put] = stride
    hooks = _ORDERED_DICT.reduce()
    memo[hooks_put] = hooks
    arguments = (storage, _integer(storage_offset), size, stride, requires_grad == b"\x88", hooks)
    memo[arguments_put] = arguments
    tensor = REBUILD_TENSOR.reduce(*arguments)
    memo[tensor_put] = tensor
    interpreter.stack[-1] = tensor
    return match.end()


_LONG_INDICES = [struct.Struct("<" + "xI" * count) for count in range(8)]


def _memo_indices(groups: tuple) -> tuple:
    """Decode the indices of GET or PUT groups, each one opcode and a one- or four-byte index."""
    joined = b"".join(groups)
    if len(joined) == 5 * len(groups):
        return _LONG_INDICES[len(groups)].unpack(joined)
    if len(joined) == 2 * len(groups):
        return tuple(joined[1::2])
    return tuple(int.from_bytes(group[1:], "little") for group in groups)


# The caches return shared ints and tuples, which are immutable, so a value
# from the cache equals the one the opcodes would build. They are bounded,
# because a file can contain any number of different sizes.
@functools.lru_cache(maxsize=4096)
def _integer(group: bytes) -> int:
    """Decode a BININT1, BININT2 or BININT group."""
    return int.from_bytes(group[1:], "little", signed=group[0] == 0x4A)


@functools.lru_cache(maxsize=4096)
def _extents(data: bytes) -> tuple | None:
    """Decode a size or stride tuple that `_EXTENTS` matched; None if its count contradicts TUPLE1 to TUPLE3."""
    first = data[0]
    if first == 0x29:  # EMPTY_TUPLE
        return ()
    if first == 0x28:  # MARK ... TUPLE
        items = data[1:-1]
        count = -1
    else:
        items = data[:-1]
        count = data[-1] - 0x84
    values = tuple(_integer(item) for item in _ITEMS.findall(items))
    if count >= 0 and len(values) != count:
        return None
    return values
