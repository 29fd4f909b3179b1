"""Decode the `np.savez_compressed` blobs that hold per-sequence logits.

Each blob is a one-member zip archive (`arr_0.npy`, deflated). Parsing the
local zip header and inflating with zlib directly avoids building a
`zipfile.ZipFile` per blob, and lets a caller read only the .npy header when
it needs no more than the array's shape.
"""

from __future__ import annotations

import ast
import struct
import zlib

import numpy as np

_LOCAL_HEADER = struct.Struct("<4sHHHHHLLLHH")
_NPY_MAGIC = b"\x93NUMPY"
_ALLOWED_DESCR = {"<f4", "<f8", "<f2", "<i8", "<i4", "|u1", "|b1"}


class BlobError(ValueError):
    """A blob is not a valid one-array npz archive; the message says why."""


def _locate_member(blob: bytes) -> tuple[int, int, int, int, int]:
    """Return (method, data offset, compressed size or -1, size or -1, crc)."""
    if len(blob) < _LOCAL_HEADER.size:
        raise BlobError(f"npz data of {len(blob)} bytes is too short to be an archive")
    (signature, _version, flags, method, _time, _date, crc, compressed_size, size,
     name_length, extra_length) = _LOCAL_HEADER.unpack_from(blob)
    if signature != b"PK\x03\x04":
        raise BlobError("npz data does not start with a zip header")
    if method not in (0, 8):
        raise BlobError(f"npz member uses unsupported compression method {method}")
    start = _LOCAL_HEADER.size + name_length + extra_length
    if start > len(blob):
        raise BlobError("npz header is truncated")
    extra = blob[_LOCAL_HEADER.size + name_length:start]
    if 0xFFFFFFFF in (compressed_size, size):
        size, compressed_size = _zip64_sizes(extra, size, compressed_size)
    if flags & 0x08:
        # Sizes and CRC follow the data in a descriptor; inflate until the stream ends.
        return method, start, -1, -1, 0
    return method, start, compressed_size, size, crc


def _zip64_sizes(extra: bytes, size: int, compressed_size: int) -> tuple[int, int]:
    position = 0
    while position + 4 <= len(extra):
        header_id, length = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4:position + 4 + length]
        if header_id == 0x0001:
            values = [struct.unpack_from("<Q", body, index)[0] for index in range(0, len(body) - 7, 8)]
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if compressed_size == 0xFFFFFFFF and values:
                compressed_size = values.pop(0)
            return size, compressed_size
        position += 4 + length
    raise BlobError("npz header declares zip64 sizes but has no zip64 field")


def _inflate(blob: bytes, limit: int | None = None) -> bytes:
    method, start, compressed_size, size, crc = _locate_member(blob)
    end = len(blob) if compressed_size < 0 else start + compressed_size
    if limit is not None:
        end = min(end, len(blob))
    elif end > len(blob):
        raise BlobError(f"npz data is truncated: {end - len(blob)} bytes missing")
    if method == 0:
        data = blob[start:end]
    else:
        inflater = zlib.decompressobj(-15)
        try:
            if limit is not None:
                return inflater.decompress(blob[start:end], limit)
            data = inflater.decompress(blob[start:end])
        except zlib.error as error:
            raise BlobError(f"npz data is corrupt: {error}") from None
        if not inflater.eof:
            raise BlobError("npz data is truncated: the compressed stream does not end")
    if limit is not None:
        return data[:limit]
    if size >= 0 and len(data) != size:
        raise BlobError(f"npz member inflates to {len(data)} bytes instead of {size}")
    if size >= 0 and zlib.crc32(data) != crc:
        raise BlobError("npz data is corrupt: CRC-32 check failed")
    return data


def _parse_npy_header(data: bytes) -> tuple[np.dtype, tuple[int, ...], bool, int]:
    if not data.startswith(_NPY_MAGIC) or len(data) < 10:
        raise BlobError("npz member is not a .npy array")
    major = data[6]
    if major == 1:
        (length,) = struct.unpack_from("<H", data, 8)
        start = 10
    elif major in (2, 3):
        if len(data) < 12:
            raise BlobError(".npy header is truncated")
        (length,) = struct.unpack_from("<I", data, 8)
        start = 12
    else:
        raise BlobError(f"unsupported .npy format version {major}")
    if length > 65536 or start + length > len(data):
        raise BlobError(".npy header is truncated or too long")
    try:
        header = ast.literal_eval(data[start:start + length].decode("latin-1"))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise BlobError(".npy header is not a valid dictionary") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise BlobError(".npy header lacks descr, fortran_order or shape")
    descr, fortran_order, shape = header["descr"], header["fortran_order"], header["shape"]
    if descr not in _ALLOWED_DESCR:
        raise BlobError(f".npy array has unsupported element type {descr!r:.40}")
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise BlobError(f".npy array has invalid shape {shape!r:.60}")
    return np.dtype(descr), shape, bool(fortran_order), start + length


def read_npz_shape(prefix: bytes) -> tuple[int, ...]:
    """Return the array shape from the first few hundred bytes of an npz blob."""
    _dtype, shape, _fortran, _offset = _parse_npy_header(_inflate(prefix, limit=4096))
    return shape


def read_npz_array(blob: bytes) -> np.ndarray:
    """Decode the single array of an npz blob, checking sizes and CRC."""
    data = _inflate(blob)
    dtype, shape, fortran_order, offset = _parse_npy_header(data)
    count = int(np.prod(shape, dtype=np.int64))
    if len(data) - offset != count * dtype.itemsize:
        raise BlobError(
            f".npy array of shape {shape} needs {count * dtype.itemsize} bytes, has {len(data) - offset}"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran_order else "C")
