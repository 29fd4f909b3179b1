"""The tensor-record shortcut builds exactly what the general opcodes build.

Each pickle here is loaded twice: once as the reader loads it, and once with
`unpickler.REBUILD_TENSOR` replaced by a sentinel, so that only the general
opcodes run. The results (or error messages) must be equal, including which
objects are shared, and the memo entries of every record are exposed by GETs
after it. Pickles are written opcode by opcode; the torch tests compare with
what torch itself writes and reads.
"""

from __future__ import annotations

import collections
import re
import struct

import numpy as np
import pytest

from annotator_gui.checkpoint import CheckpointError, allowlist, containers, unpickler
from annotator_gui.checkpoint.opcodes import MAX_MARK_DEPTH
from annotator_gui.checkpoint.source import FileRange, InMemoryFile, SharedFile
from annotator_gui.checkpoint.tensor_record import RECORD_MAX_BYTES, read_tensor_record
from annotator_gui.checkpoint.tensors import StorageRef, TensorRef

from .conftest import torch_save

# Memo slots of the objects that every record refers to.
TAG, STORAGE_TYPE, LOCATION, HOOKS, REBUILD = 1, 2, 3, 4, 5

SETUP = (
    b"\x80\x02("  # PROTO 2, then the MARK of the list that the pickle returns
    + b"X\x07\x00\x00\x00storage" + b"q\x01"
    + b"ctorch\nFloatStorage\n" + b"q\x02"
    + b"X\x03\x00\x00\x00cpu" + b"q\x03"
    + b"ccollections\nOrderedDict\n" + b"q\x04"
    + b"ctorch._utils\n_rebuild_tensor_v2\n" + b"q\x05"
)
# Bytes after STOP that are never run, so that records lie far enough
# before the end of the read buffer for the shortcut to try them.
PADDING = b"\x00" * (2 * RECORD_MAX_BYTES)


def get(index: int) -> bytes:
    return b"h" + bytes([index]) if index < 256 else b"j" + struct.pack("<I", index)


def put(index: int) -> bytes:
    return b"q" + bytes([index]) if index < 256 else b"r" + struct.pack("<I", index)


def integer(value: int) -> bytes:
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if 0 <= value < 65536:
        return b"M" + struct.pack("<H", value)
    return b"J" + struct.pack("<i", value)


def extents(values: tuple, put_index: int | None) -> bytes:
    if not values:
        data = b")"
    elif len(values) <= 3:
        data = b"".join(integer(value) for value in values) + bytes([0x84 + len(values)])
    else:
        data = b"(" + b"".join(integer(value) for value in values) + b"t"
    return data if put_index is None else data + put(put_index)


def record(
    key: str = "94439752104048",
    numel: int = 6,
    size: tuple = (2, 3),
    stride: tuple = (3, 1),
    offset: int = 0,
    first_put: int = 10,
    view: bool = True,
    requires_grad: bool = False,
    location_slot: int = LOCATION,
    hooks_slot: int = HOOKS,
) -> tuple[bytes, list[int]]:
    """Return the opcodes torch writes for one tensor after the rebuild function, and the PUT slots."""
    slots = list(range(first_put, first_put + 7))
    key_bytes = key.encode("utf-8")
    data = (
        b"(("
        + get(TAG)
        + get(STORAGE_TYPE)
        + b"X" + struct.pack("<I", len(key_bytes)) + key_bytes + put(slots[0])
        + get(location_slot)
        + integer(numel)
        + (b"N" if view else b"")
        + b"t" + put(slots[1])
        + b"Q"
        + integer(offset)
        + extents(size, slots[2] if size else None)
        + extents(stride, slots[3] if stride else None)
        + (b"\x88" if requires_grad else b"\x89")
        + get(hooks_slot) + b")R" + put(slots[4])
        + b"t" + put(slots[5])
        + b"R" + put(slots[6])
    )
    if not size:
        slots.remove(slots[2])
    if not stride:
        slots.remove(slots[-4])
    return data, slots


def wrap(records: list[tuple[bytes, list[int]]]) -> bytes:
    """Return a pickle of a list: the shared objects, each tensor, then every memo entry a record stored."""
    body = b"".join(get(REBUILD) + data for data, _ in records)
    exposed = b"".join(get(slot) for _, slots in records for slot in slots)
    return SETUP + body + exposed + b"l." + PADDING


def plain(value, seen: dict | None = None):
    """Describe a loaded value as nested tuples, noting which mutable objects are the same object."""
    if seen is None:
        seen = {}
    if isinstance(value, (TensorRef, StorageRef, list, dict, allowlist._Global)):
        if id(value) in seen:
            return ("same object as", seen[id(value)])
        seen[id(value)] = len(seen)
    if isinstance(value, TensorRef):
        return ("tensor", plain(value.storage, seen), value.storage_offset, value._shape, value.stride)
    if isinstance(value, StorageRef):
        return ("storage", value.key, value.storage_type.name, value.numel, value.location)
    if isinstance(value, dict):
        kind = type(value).__name__
        return (kind, [(plain(key, seen), plain(item, seen)) for key, item in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [plain(item, seen) for item in value])
    if isinstance(value, allowlist._Global):
        return ("global", value.path)
    return (type(value).__name__, value)


class Counter:
    def __init__(self):
        self.tried = 0
        self.read = 0

    def wrap(self, function):
        def counting(*args):
            self.tried += 1
            end = function(*args)
            self.read += bool(end)
            return end

        return counting


def load_both(monkeypatch, data: bytes, file_size: int = 1 << 30) -> tuple[object, object, Counter]:
    """Load `data` with the shortcut and with the general opcodes alone; return both outcomes."""
    outcomes = []
    counter = Counter()
    for shortcut in (True, False):
        table = containers._StorageTable(file_size)
        with monkeypatch.context() as patch:
            if shortcut:
                patch.setattr(unpickler, "read_tensor_record", counter.wrap(read_tensor_record))
            else:
                patch.setattr(unpickler, "REBUILD_TENSOR", object())
            source = FileRange(InMemoryFile(data, "test.pkl"), 0, len(data))
            try:
                value = unpickler.load_pickle(source, table.persistent_load)
            except CheckpointError as error:
                # Messages show some objects by repr, which contains their address.
                outcomes.append(("error", re.sub(r" at 0x[0-9a-f]+", "", str(error))))
                continue
        outcomes.append((plain(value), plain(table.storages)))
    return outcomes[0], outcomes[1], counter


RECORDS = {
    "matrix": {},
    "scalar": dict(numel=1, size=(), stride=()),
    "vector with offset": dict(numel=300, size=(100,), stride=(2,), offset=100),
    "three dimensions": dict(numel=8, size=(2, 2, 2), stride=(4, 2, 1)),
    "four dimensions": dict(numel=16, size=(2, 2, 2, 2), stride=(8, 4, 2, 1)),
    "numel as BININT2": dict(numel=70000 // 2, size=(35000,), stride=(1,)),
    "numel as BININT": dict(numel=70000, size=(70000,), stride=(1,), offset=0),
    "offset as BININT": dict(numel=200000, size=(10,), stride=(1,), offset=100000),
    "size of zero": dict(numel=0, size=(0, 4), stride=(4, 1)),
    "without view entry": dict(view=False),
    "requires grad": dict(requires_grad=True),
    "four-byte memo slots": dict(first_put=300),
    "short key": dict(key="0"),
    "key of 64 characters": dict(key="k" * 64),
}


@pytest.mark.parametrize("fields", RECORDS.values(), ids=RECORDS.keys())
def test_record_matches_general_opcodes(monkeypatch, fields):
    data = wrap([record(**fields)])
    fast, general, counter = load_both(monkeypatch, data)
    assert counter.read == 1
    assert fast == general
    assert fast[0] != "error"


def test_records_in_a_row_match(monkeypatch):
    records = [record(key=str(index), first_put=10 + 7 * index) for index in range(40)]
    fast, general, counter = load_both(monkeypatch, wrap(records))
    assert counter.read == 40
    assert fast == general


def test_shared_storage_is_one_object(monkeypatch):
    records = [record(key="7", first_put=10), record(key="7", first_put=20, size=(3,), stride=(1,), offset=3)]
    fast, general, counter = load_both(monkeypatch, wrap(records))
    assert counter.read == 2
    assert fast == general


def test_storage_errors_match(monkeypatch):
    # 70000 float32 elements need more bytes than this "file" has.
    data = wrap([record(numel=70000, size=(70000,), stride=(1,))])
    fast, general, counter = load_both(monkeypatch, data, file_size=1000)
    assert counter.read == 0
    assert fast == general
    assert fast[0] == "error"
    assert "more than the file's 1000 bytes" in fast[1]


def test_negative_numel_error_matches(monkeypatch):
    fast, general, _ = load_both(monkeypatch, wrap([record(numel=-5, size=(1,), stride=(1,))]))
    assert fast == general
    assert fast[0] == "error"


NEAR_MISSES = {
    "location read from the slot of the key's PUT": dict(location_slot=10),
    "hooks read from the slot of the persistent id's PUT": dict(hooks_slot=11),
    # The record's PUTs overwrite slots that it reads later, so the general
    # opcodes read the new entries: the key as location, a tuple as hooks.
    "location slot overwritten by the key's PUT": dict(first_put=LOCATION),
    "hooks slot overwritten by the size's PUT": dict(first_put=HOOKS - 2),
    "hooks slot holds another global": dict(hooks_slot=REBUILD),
    "hooks slot never stored": dict(hooks_slot=99),
    "location slot never stored": dict(location_slot=98),
    "key of 65 characters": dict(key="k" * 65),
    "key with a character storage keys never contain": dict(key="a-b"),
    "key that is not ASCII": dict(key="tensor\u00e9"),
}


@pytest.mark.parametrize("fields", NEAR_MISSES.values(), ids=NEAR_MISSES.keys())
def test_near_miss_falls_back(monkeypatch, fields):
    fast, general, counter = load_both(monkeypatch, wrap([record(**fields)]))
    assert counter.tried == 1
    assert counter.read == 0
    assert fast == general


def test_tuple_count_contradicting_opcode_falls_back(monkeypatch):
    data, slots = record(size=(2, 3), stride=(3, 1))
    # Three integers closed by TUPLE2: the general opcodes leave one integer on the stack.
    data = data.replace(b"K\x02K\x03\x86", b"K\x01K\x02K\x03\x86", 1)
    fast, general, counter = load_both(monkeypatch, wrap([(data, slots)]))
    assert counter.read == 0
    assert fast == general


def _interpreter_at_record(data: bytes, persistent_load):
    """Run the setup opcodes and the GET of the rebuild function; return the interpreter and the MARK's offset."""
    source = FileRange(InMemoryFile(data, "test.pkl"), 0, len(data))
    interpreter = unpickler._Interpreter(source, persistent_load)
    mark = len(SETUP) + len(get(REBUILD))
    while source.position < mark:
        interpreter._dispatch(source.read(1))
    return interpreter, mark


def _state(interpreter) -> tuple:
    return dict(interpreter.memo), list(interpreter.stack), [list(marks) for marks in interpreter.marks]


def test_read_tensor_record_changes_nothing_on_fallback():
    data = wrap([record(hooks_slot=11)])
    interpreter, mark = _interpreter_at_record(data, containers._StorageTable(1 << 30).persistent_load)
    before = _state(interpreter)
    assert read_tensor_record(interpreter.source.buffer, mark, len(data) - 9, interpreter) == 0
    assert _state(interpreter) == before


def test_record_near_buffer_end_falls_back():
    data = wrap([record()])
    interpreter, mark = _interpreter_at_record(data, containers._StorageTable(1 << 30).persistent_load)
    assert read_tensor_record(interpreter.source.buffer, mark, mark + RECORD_MAX_BYTES - 1, interpreter) == 0
    assert read_tensor_record(interpreter.source.buffer, mark, mark + RECORD_MAX_BYTES, interpreter) > mark


def test_record_at_mark_depth_limit_falls_back():
    data = wrap([record()])
    interpreter, mark = _interpreter_at_record(data, containers._StorageTable(1 << 30).persistent_load)
    interpreter.marks.extend([] for _ in range(MAX_MARK_DEPTH - 3))
    limit = len(data) - 9
    assert len(interpreter.marks) + 2 == MAX_MARK_DEPTH
    # The general opcodes open two more MARKs, which is still allowed here.
    assert read_tensor_record(interpreter.source.buffer, mark, limit, interpreter) > mark
    interpreter, mark = _interpreter_at_record(data, containers._StorageTable(1 << 30).persistent_load)
    interpreter.marks.extend([] for _ in range(MAX_MARK_DEPTH - 2))
    assert read_tensor_record(interpreter.source.buffer, mark, limit, interpreter) == 0


def test_record_without_persistent_load_falls_back():
    data = wrap([record()])
    interpreter, mark = _interpreter_at_record(data, None)
    assert read_tensor_record(interpreter.source.buffer, mark, len(data) - 9, interpreter) == 0


@pytest.mark.parametrize("first_put", [10, 300], ids=["one-byte slots", "four-byte slots"])
def test_damaged_record_matches_general_opcodes(monkeypatch, first_put):
    """Every single-byte change of a record gives the same result or error both ways."""
    data, slots = record(first_put=first_put, numel=70000, size=(70000,), stride=(1,), offset=5)
    replacements = (0x00, 0x01, 0x05, 0x0A, 0x28, 0x29, 0x4A, 0x4B, 0x4D, 0x4E, 0x68, 0x71, 0x74, 0x85, 0x86, 0xFF)
    start = len(SETUP) + len(get(REBUILD))
    original = wrap([(data, slots)])
    compared = 0
    for position in range(start, start + len(data)):
        for value in replacements:
            if original[position] == value:
                continue
            damaged = original[:position] + bytes([value]) + original[position + 1:]
            fast, general, _ = load_both(monkeypatch, damaged)
            assert fast == general, f"byte {position - start} of the record set to {value:#04x}"
            compared += 1
    assert compared > 500


def test_torch_state_dict_matches_general_opcodes(monkeypatch, tmp_path):
    """Tensors that torch writes: every dtype, shape and view kind loads the same both ways and as torch."""
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(1000, generator=generator)

    state = collections.OrderedDict()
    for index in range(300):
        state[f"layer{index}.weight"] = torch.randn((4, 3, 2), generator=generator)
        state[f"layer{index}.bias"] = torch.randn(3, generator=generator)
    state["scalar"] = torch.tensor(2.5)
    state["steps"] = torch.tensor(7, dtype=torch.int64)
    state["mask"] = torch.tensor([True, False, True])
    state["half"] = torch.randn(5, generator=generator).half()
    state["conv2d"] = torch.randn((2, 3, 4, 5), generator=generator)
    state["slice"] = base[10:20]
    state["transposed"] = base[:600].view(20, 30).t()
    state["empty"] = torch.zeros((0, 3))
    state["parameter"] = torch.nn.Parameter(torch.randn(4, generator=generator))

    for layout in ("legacy", "zip"):
        path = torch_save(state, tmp_path / f"state_{layout}.pt", layout)
        load = containers.load_legacy if layout == "legacy" else containers.load_zip
        outcomes = []
        counter = Counter()
        for shortcut in (True, False):
            with monkeypatch.context() as patch:
                if shortcut:
                    patch.setattr(unpickler, "read_tensor_record", counter.wrap(read_tensor_record))
                else:
                    patch.setattr(unpickler, "REBUILD_TENSOR", object())
                file = SharedFile(path)
                loaded = load(file)
                outcomes.append(plain(loaded))
                if shortcut:
                    for name, expected in state.items():
                        np.testing.assert_array_equal(loaded[name].numpy(), expected.detach().numpy(), err_msg=name)
                file.close()

        assert outcomes[0] == outcomes[1], layout
        assert counter.read > 590, layout
