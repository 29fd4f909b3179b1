"""Damage the real checkpoint fixtures at random, for fuzzing with hypothesis.

A `Fixture` is one real file with the byte regions worth aiming at: the
data pickle, the npz blobs of the logits, the storage records and, for the
zip layout, the central directory. `mutated_checkpoints()` draws a fixture,
a region and one to three mutations (bit flips, overwrites, insertions,
deletions, truncation), and `check_case` runs the reader on the result the
way the application does, returning how it ended and how long it took.
"""

from __future__ import annotations

import pickletools
import struct
import time
import zipfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from hypothesis import strategies as st

from annotator_gui.checkpoint import CheckpointError, open_checkpoint

from . import read_everything

ROOT = Path(__file__).parent.parent.parent
LEGACY_FIXTURE = ROOT / "resources" / "sample_checkpoint.pt"
ZIP_FIXTURE = ROOT / "tests" / "data" / "mabe_1split_zip.pt"

#: Byte values that turn length and count fields into extreme values.
EXTREME_BYTES = [b"\xff" * 8, b"\x00" * 8, b"\x7f\xff\xff\xff", b"\xff\xff\xff\x7f", b"\x80", b"\x00\x00\x00\x80"]


@dataclass(frozen=True)
class Fixture:
    name: str
    data: bytes = field(repr=False)
    #: Region name -> list of (start, end) byte ranges.
    regions: dict[str, list[tuple[int, int]]] = field(repr=False)


@dataclass(frozen=True)
class Mutation:
    kind: str
    offset: int
    data: bytes = b""
    length: int = 0

    def apply(self, data: bytearray) -> None:
        offset = min(self.offset, len(data))
        if self.kind == "flip" and offset < len(data):
            data[offset] ^= self.data[0]
        elif self.kind == "overwrite":
            data[offset:offset + len(self.data)] = self.data
        elif self.kind == "insert":
            data[offset:offset] = self.data
        elif self.kind == "delete":
            del data[offset:offset + self.length]
        elif self.kind == "truncate":
            del data[offset:]

    def __repr__(self) -> str:
        detail = self.data.hex() if self.data else str(self.length or "")
        return f"{self.kind}@{self.offset}({detail})"


class MutatedCheckpoint:
    """A fixture with mutations applied in order (a plain class, so that hypothesis prints its repr)."""

    def __init__(self, fixture: Fixture, region: str, mutations: tuple[Mutation, ...]):
        self.fixture = fixture
        self.region = region
        self.mutations = mutations

    def build(self) -> bytes:
        data = bytearray(self.fixture.data)
        for mutation in self.mutations:
            mutation.apply(data)
        return bytes(data)

    def __repr__(self) -> str:
        return f"{self.fixture.name}[{self.region}] {list(self.mutations)}"


@dataclass(frozen=True)
class Outcome:
    """How one case ended: "loaded" or "rejected", the reader's time, and the message.

    `cpu_seconds` is the process's CPU time, which other programs running on
    the machine do not inflate; `seconds` is wall-clock time.
    """

    kind: str
    seconds: float
    cpu_seconds: float
    message: str = ""


def _npz_blobs(data: bytes) -> list[tuple[int, int]]:
    # torch pickles bytes with protocol 2 as _codecs.encode(text, "latin1"),
    # so each npz blob is a BINUNICODE string (opcode X, uint32 length) that
    # starts with the zip signature PK\x03\x04.
    blobs = []
    position = data.find(b"PK\x03\x04")
    while position >= 0:
        if position >= 5 and data[position - 5:position - 4] == b"X":
            (length,) = struct.unpack_from("<I", data, position - 4)
            blobs.append((position, position + length))
            position += length
        position = data.find(b"PK\x03\x04", position + 1)
    return blobs


def _pickle_end(data: bytes, start: int) -> int:
    """Return the offset after the STOP of the pickle at `start` (pickletools only parses)."""
    import io

    stream = io.BytesIO(data)
    stream.seek(start)
    for opcode, _argument, position in pickletools.genops(stream):
        if opcode.name == "STOP":
            return position + 1
    raise ValueError("pickle without STOP")


@cache
def legacy_fixture() -> Fixture:
    data = LEGACY_FIXTURE.read_bytes()
    # Magic number, protocol version and system info come first; then the data pickle.
    start = _pickle_end(data, _pickle_end(data, _pickle_end(data, 0)))
    end = _pickle_end(data, start)
    regions = {
        "whole": [(0, len(data))],
        "head": [(0, start + 4096)],
        "data_pickle": [(start, end)],
        "npz_blobs": _npz_blobs(data[:end]),
        "storages": [(end, len(data))],
    }
    return Fixture("legacy", data, regions)


@cache
def zip_fixture() -> Fixture:
    data = ZIP_FIXTURE.read_bytes()
    with zipfile.ZipFile(ZIP_FIXTURE) as archive:
        infos = archive.infolist()
    pickle_info = next(info for info in infos if info.filename.endswith("/data.pkl"))
    pickle_end = pickle_info.header_offset + 30 + len(pickle_info.filename) + 64 + pickle_info.file_size
    (directory_start,) = struct.unpack_from("<I", data, data.rfind(b"PK\x05\x06") + 16)
    regions = {
        "whole": [(0, len(data))],
        "head": [(0, 4096)],
        "data_pickle": [(pickle_info.header_offset, pickle_end)],
        "npz_blobs": _npz_blobs(data[:pickle_end]),
        "storages": [(pickle_end, directory_start)],
        "zip_directory": [(directory_start, len(data))],
    }
    return Fixture("zip", data, regions)


def fixtures() -> list[Fixture]:
    return [legacy_fixture(), zip_fixture()]


@st.composite
def _mutation(draw, start: int, end: int) -> Mutation:
    kind = draw(st.sampled_from(["flip", "overwrite", "overwrite", "insert", "delete", "truncate"]))
    offset = draw(st.integers(start, max(start, end - 1)))
    if kind == "flip":
        return Mutation(kind, offset, bytes([1 << draw(st.integers(0, 7))]))
    if kind in ("overwrite", "insert"):
        data = draw(st.one_of(st.sampled_from(EXTREME_BYTES), st.binary(min_size=1, max_size=8)))
        return Mutation(kind, offset, data)
    if kind == "delete":
        return Mutation(kind, offset, length=draw(st.integers(1, 64)))
    return Mutation(kind, offset)


@st.composite
def mutated_checkpoints(draw, fixture_names: tuple[str, ...] = ("legacy", "zip")) -> MutatedCheckpoint:
    fixture = draw(st.sampled_from([fixture for fixture in fixtures() if fixture.name in fixture_names]))
    region = draw(st.sampled_from(sorted(fixture.regions)))
    start, end = draw(st.sampled_from(fixture.regions[region]))
    mutations = tuple(draw(st.lists(_mutation(start, end), min_size=1, max_size=3)))
    return MutatedCheckpoint(fixture, region, mutations)


def check_case(path: Path, data: bytes) -> Outcome:
    """Write `data` to `path`, open it and read everything, timing the reader.

    Returns the outcome for a file that loads or raises CheckpointError; any
    other exception propagates to the caller.
    """
    path.write_bytes(data)
    started = time.perf_counter()
    cpu_started = time.process_time()
    kind, message = "loaded", ""
    try:
        with open_checkpoint(path) as checkpoint:
            read_everything(checkpoint)
    except CheckpointError as error:
        kind, message = "rejected", str(error)
    return Outcome(kind, time.perf_counter() - started, time.process_time() - cpu_started, message)
