"""The two file layouts of `torch.save`: legacy (a run of pickles) and zip.

Both return the unpickled object tree with every tensor as a `TensorRef` whose
storage records its byte offset in the file. No storage bytes are read here.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Callable

from . import allowlist
from .errors import CheckpointError, describe
from .source import FileRange, InMemoryFile, SharedFile
from .tensors import StorageRef
from .unpickler import load_pickle

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
ZIP_SIGNATURE = b"PK\x03\x04"
_ZIP_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")

ProgressCallback = Callable[[int, int], None]

# torch names storage records by decimal counters (zip) or integer ids
# (legacy). Anything else, such as "../x", is rejected: a key becomes part of
# a zip member name and of error messages.
_STORAGE_KEY = re.compile(r"[0-9A-Za-z_]{1,64}")
_MAX_BYTEORDER_SIZE = 16
_INT64 = struct.Struct("<q")
#: Largest read that fetches the headers of several small legacy storage
#: records at once.
_HEADER_WINDOW = 16 << 10


class _StorageTable:
    """Collects the storages that persistent ids name while a pickle loads."""

    def __init__(self, file_size: int):
        self.file_size = file_size
        self.storages: dict[str, StorageRef] = {}

    def persistent_load(self, pid) -> StorageRef:
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
            raise CheckpointError(f"unsupported persistent id {describe(pid)}")
        storage_type = allowlist.storage_type_of(pid[1])
        key, location, numel = pid[2], pid[3], pid[4]
        if not isinstance(key, str) or not isinstance(location, str) or not _STORAGE_KEY.fullmatch(key):
            raise CheckpointError(
                f"invalid storage record name {describe(key)} (location {describe(location)}): "
                "expected up to 64 letters, digits or underscores"
            )
        if len(pid) == 6 and pid[5] is not None:
            raise CheckpointError(f"storage {key!r} is a view of another storage, which is not supported")
        if not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise CheckpointError(f"storage {key!r} declares an invalid size {describe(numel)}")
        if numel * storage_type.itemsize > self.file_size:
            raise CheckpointError(
                f"storage {key!r} declares {numel} elements, more than the file's "
                f"{self.file_size} bytes can hold"
            )
        existing = self.storages.get(key)
        if existing is not None:
            if existing.numel != numel or existing.storage_type.name != storage_type.name:
                raise CheckpointError(f"storage {key!r} is declared twice with different types or sizes")
            return existing
        storage = StorageRef(key, storage_type, numel, location)
        self.storages[key] = storage
        return storage


def _advance_reporter(progress: ProgressCallback | None, total: int):
    if progress is None:
        return None
    last = [-(1 << 62)]

    def advance(position: int) -> None:
        # Report every 16 MiB at most; the callback may raise to cancel.
        if position - last[0] >= 16 << 20:
            last[0] = position
            progress(position, total)

    return advance


def detect_format(file: SharedFile) -> str:
    """Return "zip" or "legacy", or raise CheckpointError for anything else."""
    if file.size == 0:
        raise CheckpointError("the file is empty")
    head = file.read_at(0, min(file.size, 16))
    if head.startswith(ZIP_SIGNATURE):
        return "zip"
    if head[:2] == b"\x80\x02" and len(head) >= 14 and head[2:4] == b"\x8a\x0a":
        return "legacy"
    if head[:1] == b"\x80":
        raise CheckpointError("a plain pickle, not a torch checkpoint (no torch magic number)")
    raise CheckpointError("not a PyTorch checkpoint: it is neither a zip archive nor a legacy torch file")


def load_legacy(file: SharedFile, progress: ProgressCallback | None = None) -> object:
    """Load a file that `torch.save(..., _use_new_zipfile_serialization=False)` wrote."""
    source = FileRange(file, 0, file.size, _advance_reporter(progress, file.size))
    magic = load_pickle(source)
    if magic != LEGACY_MAGIC_NUMBER:
        raise CheckpointError("not a legacy torch file: wrong magic number")
    protocol = load_pickle(source)
    if protocol != 1001:
        raise CheckpointError(f"unsupported legacy torch protocol version {protocol!r:.40}")
    system_info = load_pickle(source)
    if isinstance(system_info, dict) and system_info.get("little_endian") is False:
        raise CheckpointError("the file was written on a big-endian machine, which is not supported")
    table = _StorageTable(file.size)
    root = load_pickle(source, table.persistent_load)
    if progress is not None:
        progress(source.position, file.size)
    keys = load_pickle(source)
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise CheckpointError("the list of storage records is malformed")
    _locate_legacy_storages(file, source.position, keys, table, progress)
    return root


def _locate_legacy_storages(file, offset: int, keys: list[str], table: _StorageTable, progress) -> None:
    # Each record is an int64 element count followed by the raw elements.
    # Most records are small, so after a small one the next header is read
    # along with this one, within a window of `_HEADER_WINDOW` bytes. This
    # reads the same bytes, so the numbers and errors stay the same.
    window, window_start = b"", offset
    for index, key in enumerate(keys):
        storage = table.storages.get(key)
        if storage is None:
            raise CheckpointError(f"storage record {key!r} is not used by any tensor, so its size is unknown")
        nbytes = storage.nbytes
        if offset + 8 > window_start + len(window):
            length = 8
            if nbytes + 16 <= _HEADER_WINDOW:
                length = max(8, min(_HEADER_WINDOW, file.size - offset))
            window, window_start = file.read_at(offset, length), offset
        (numel,) = _INT64.unpack_from(window, offset - window_start)
        if numel != storage.numel:
            raise CheckpointError(
                f"storage record {key!r} contains {numel} elements but the pickle declares {storage.numel}"
            )
        storage.file = file
        storage.offset = offset + 8
        offset += 8 + nbytes
        if offset > file.size:
            raise CheckpointError(
                f"truncated file: it has {file.size:,} bytes but its tensor data needs at least {offset:,} "
                f"(storage record {key!r}); it may be an incomplete copy or download"
            )
        if progress is not None and index % 256 == 0:
            progress(offset, file.size)
    missing = [key for key in table.storages if table.storages[key].offset is None]
    if missing:
        raise CheckpointError(f"storage record {missing[0]!r} is missing from the file")


def load_zip(file: SharedFile, progress: ProgressCallback | None = None) -> object:
    """Load a file in torch's zip layout (the default since torch 1.6)."""
    try:
        with open(file.path, "rb") as handle, zipfile.ZipFile(handle) as archive:
            members = {info.filename: info for info in archive.infolist()}
            pickles = [name for name in members if name.endswith("/data.pkl") and name.count("/") == 1]
            if len(pickles) != 1:
                raise CheckpointError("zip archive without exactly one <name>/data.pkl: not a torch checkpoint")
            prefix = pickles[0][: -len("data.pkl")]
            byteorder = members.get(prefix + "byteorder")
            if byteorder is not None:
                _check_byteorder(archive, byteorder)
            pickle_file, start, end = _member_range(file, archive, members[pickles[0]])
            table = _StorageTable(file.size)
            advance = _advance_reporter(progress, file.size) if pickle_file is file else None
            root = load_pickle(FileRange(pickle_file, start, end, advance), table.persistent_load)
            if progress is not None:
                progress(end, file.size)
            for key, storage in table.storages.items():
                info = members.get(f"{prefix}data/{key}")
                if info is None:
                    raise CheckpointError(f"storage record {prefix}data/{key} is missing from the archive")
                if info.file_size != storage.nbytes:
                    raise CheckpointError(
                        f"storage record {info.filename} contains {info.file_size} bytes but the pickle "
                        f"declares {storage.nbytes}"
                    )
                storage.file, storage.offset, _ = _member_range(file, archive, info)
    except zipfile.BadZipFile as error:
        raise CheckpointError(f"corrupt zip archive: {error}; the file may be truncated or damaged") from None
    except (EOFError, OSError, struct.error) as error:
        raise CheckpointError(f"truncated or unreadable zip archive: {error}") from None
    except (ValueError, NotImplementedError, RuntimeError, zlib.error) as error:
        # zipfile raises these for a member name that is not valid UTF-8, an
        # unsupported zip feature or a corrupt deflate stream.
        raise CheckpointError(f"corrupt or unsupported zip archive: {type(error).__name__}: {error}") from None
    return root


def _check_byteorder(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    # The size is checked first because a compressed member could inflate to
    # gigabytes; zipfile stops inflating at the declared size.
    _check_member_method(info)
    if info.file_size > _MAX_BYTEORDER_SIZE:
        raise CheckpointError(
            f"record {info.filename} declares {info.file_size} bytes; expected the word little or big"
        )
    value = archive.read(info).strip()
    if value == b"big":
        raise CheckpointError("the file was written on a big-endian machine, which is not supported")
    if value not in (b"little", b""):
        raise CheckpointError(f"record {info.filename} contains {describe(value)}; expected little or big")


def _check_member_method(info: zipfile.ZipInfo) -> None:
    if info.flag_bits & 0x1:
        raise CheckpointError(f"record {info.filename} is encrypted, which is not supported")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise CheckpointError(
            f"record {info.filename} uses compression method {info.compress_type}; "
            "only stored and deflated records are supported"
        )


def _member_range(file: SharedFile, archive: zipfile.ZipFile, info: zipfile.ZipInfo):
    """Return (file, start, end) of a member's bytes; stored members stay on disk."""
    _check_member_method(info)
    if info.compress_type != zipfile.ZIP_STORED:
        if info.file_size > 4 * file.size + (1 << 20):
            raise CheckpointError(f"record {info.filename} declares an implausible size {info.file_size}")
        data = archive.read(info)
        return InMemoryFile(data, file.path), 0, len(data)
    header = file.read_at(info.header_offset, _ZIP_LOCAL_HEADER.size)
    fields = _ZIP_LOCAL_HEADER.unpack(header)
    if fields[0] != ZIP_SIGNATURE:
        raise CheckpointError(f"corrupt zip archive: bad local header for {info.filename}")
    name_length, extra_length = fields[-2], fields[-1]
    start = info.header_offset + _ZIP_LOCAL_HEADER.size + name_length + extra_length
    end = start + info.file_size
    if end > file.size:
        raise CheckpointError(
            f"truncated file: it has {file.size:,} bytes but record {info.filename} needs {end:,}; "
            "it may be an incomplete copy or download"
        )
    return file, start, end
