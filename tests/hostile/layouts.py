"""Write a data pickle and its storages in the two layouts of `torch.save`.

Legacy (`_use_new_zipfile_serialization=False`): pickles of the magic number,
the protocol version 1001 and a system-info dict, then the data pickle, then
a pickled list of storage keys, then one record per key (an int64 element
count and the raw elements). Zip (torch 1.6 and later): `<name>/data.pkl`,
one stored member `<name>/data/<key>` per storage and a few small metadata
members. `torch.load` reads both (a test checks this).
"""

from __future__ import annotations

import pickle
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
ARCHIVE_NAME = "archive"
LAYOUTS = ("legacy", "zip")


@dataclass(frozen=True)
class Storage:
    """One storage record: `data` is written as is; `numel` is the element count in its header."""

    key: str
    numel: int
    data: bytes


@dataclass
class TorchFile:
    """What a case writes: the data pickle, storage records and layout-specific changes."""

    data_pickle: bytes
    storages: list[Storage] = field(default_factory=list)
    #: Storage keys listed after the legacy data pickle; None lists every storage.
    legacy_keys: list[str] | None = None
    #: Compress data.pkl with deflate (torch stores it uncompressed).
    zip_compress_pickle: bool = False
    #: Extra zip members as (name inside the archive folder, data, compression).
    zip_members: list[tuple[str, bytes, int]] = field(default_factory=list)
    #: Replaces the default `byteorder` member as (data, compression).
    zip_byteorder: tuple[bytes, int] = (b"little", zipfile.ZIP_STORED)


def write_legacy(path: Path, torch_file: TorchFile) -> Path:
    keys = [storage.key for storage in torch_file.storages]
    if torch_file.legacy_keys is not None:
        keys = torch_file.legacy_keys
    system_info = {
        "protocol_version": LEGACY_PROTOCOL_VERSION,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    parts = [
        pickle.dumps(LEGACY_MAGIC_NUMBER, protocol=2),
        pickle.dumps(LEGACY_PROTOCOL_VERSION, protocol=2),
        pickle.dumps(system_info, protocol=2),
        torch_file.data_pickle,
        pickle.dumps(keys, protocol=2),
    ]
    records = {storage.key: storage for storage in torch_file.storages}
    for key in keys:
        storage = records.get(key)
        if storage is not None:
            parts.append(struct.pack("<q", storage.numel) + storage.data)
    path.write_bytes(b"".join(parts))
    return path


def write_zip(path: Path, torch_file: TorchFile) -> Path:
    prefix = f"{ARCHIVE_NAME}/"
    pickle_compression = zipfile.ZIP_DEFLATED if torch_file.zip_compress_pickle else zipfile.ZIP_STORED
    byteorder, byteorder_compression = torch_file.zip_byteorder
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(prefix + "data.pkl", torch_file.data_pickle, compress_type=pickle_compression)
        archive.writestr(prefix + ".format_version", b"1")
        archive.writestr(prefix + ".storage_alignment", b"64")
        archive.writestr(prefix + "byteorder", byteorder, compress_type=byteorder_compression)
        for storage in torch_file.storages:
            archive.writestr(prefix + "data/" + storage.key, storage.data)
        for name, data, compression in torch_file.zip_members:
            archive.writestr(prefix + name, data, compress_type=compression)
        archive.writestr(prefix + "version", b"3\n")
        archive.writestr(prefix + ".data/serialization_id", b"0" * 40)
    return path


def write_torch_file(path: Path, torch_file: TorchFile, layout: str) -> Path:
    if layout == "legacy":
        return write_legacy(path, torch_file)
    if layout == "zip":
        return write_zip(path, torch_file)
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")


def set_zip_member_size(path: Path, member: str, size: int) -> None:
    """Overwrite the uncompressed size that the central directory declares for `member`.

    For a stored member the compressed size is set too, as a stored member's
    two sizes are equal. `size` must fit in 32 bits.
    """
    data = bytearray(path.read_bytes())
    name = f"{ARCHIVE_NAME}/{member}".encode()
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        (method,) = struct.unpack_from("<H", data, position + 10)
        (name_length, extra_length, comment_length) = struct.unpack_from("<3H", data, position + 28)
        if data[position + 46:position + 46 + name_length] == name:
            struct.pack_into("<I", data, position + 24, size)
            if method == zipfile.ZIP_STORED:
                struct.pack_into("<I", data, position + 20, size)
            path.write_bytes(bytes(data))
            return
        position = data.find(b"PK\x01\x02", position + 46 + name_length + extra_length + comment_length)
    raise ValueError(f"no central directory entry for {member!r} in {path}")
