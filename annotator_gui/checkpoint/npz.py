"""Decode the `np.savez_compressed` blobs that hold per-sequence logits.

Each blob is a one-member zip archive (`arr_0.npy`, deflated). Parsing the
local zip header and inflating directly avoids building a `zipfile.ZipFile`
per blob, and lets a caller read only the .npy header when it needs no more
than the array's shape.

Members whose size the zip header declares are inflated with libdeflate (the
`deflate` package) when it is installed. On these nearly incompressible
float streams it inflates about 1.5 times as fast as zlib and computes CRC-32
about 4 times as fast (measured with benchmarks/bench_pass.py and by hand on
a 2-core AMD EPYC VM), and it releases the GIL. Without it, or for members of
unknown size, zlib does the work with the same checks.
"""

from __future__ import annotations

import ast
import math
import re
import struct
import zlib
from functools import lru_cache

import numpy as np

try:
    import deflate as _libdeflate
except ImportError:  # optional speed-up; zlib gives the same results
    _libdeflate = None

#: Name of the library that inflates blobs of known size ("libdeflate" or "zlib").
INFLATER = "zlib" if _libdeflate is None else "libdeflate"

_LOCAL_HEADER = struct.Struct("<4sHHHHHLLLHH")
_NPY_MAGIC = b"\x93NUMPY"
_ALLOWED_DESCR = {"<f4", "<f8", "<f2", "<i8", "<i4", "|u1", "|b1"}
# A deflate stream expands at most about 1032-fold (258-byte matches coded in
# 2 bits), so a declared size above this bound cannot be true. Such members
# take the streaming zlib path, which never allocates more than it inflates.
_MAX_DEFLATE_RATIO = 1032
_MAX_NPY_HEADER = 65536
# The header dictionary exactly as numpy's `np.lib.format` writes it, for
# example "{'descr': '<f4', 'fortran_order': False, 'shape': (4897, 4), }"
# padded with spaces and a newline. Matching this form took 4 ms for 460
# headers where `ast.literal_eval` took about 45 ms (2-core AMD EPYC VM).
# Any other form goes to `ast.literal_eval`, which gives the same result or
# error. A lone size must end with a comma, because "(5)" is no tuple, and a
# size has at most 19 digits (an int64), so that `int` never meets Python's
# limit on the digits of an integer.
_NPY_SIZE = r"(?:0|[1-9][0-9]{0,18})"
_NUMPY_WRITTEN_HEADER = re.compile(
    r"\{'descr': '([^'\\]*)', 'fortran_order': (False|True), "
    rf"'shape': \(((?:{_NPY_SIZE}, )*(?:{_NPY_SIZE},|(?<=, ){_NPY_SIZE})?)\), \}} *\n?"
)
# libdeflate's Python binding takes the output size as a C unsigned int.
_LIBDEFLATE_MAX_SIZE = 0xFFFFFFFF


class BlobError(ValueError):
    """A blob is not a valid one-array npz archive; the message gives the reason."""


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


def _inflate(blob, limit: int | None = None) -> bytes | bytearray | memoryview:
    """Return the member's uncompressed bytes; `blob` is any bytes-like object.

    With `limit`, return at most that many leading bytes and skip the size
    and CRC checks (for reading a header from a prefix of the blob).
    """
    blob = memoryview(blob).cast("B")
    method, start, compressed_size, size, crc = _locate_member(blob)
    end = len(blob) if compressed_size < 0 else start + compressed_size
    if limit is not None:
        end = min(end, len(blob))
    elif end > len(blob):
        raise BlobError(f"npz data is truncated: {end - len(blob)} bytes missing")
    if method == 0:
        data = blob[start:end]
    elif limit is None and _libdeflate is not None and _fits_libdeflate(size, end - start):
        try:
            data = _libdeflate.deflate_decompress(blob[start:end], size)
        except _libdeflate.DeflateError:
            raise BlobError("npz data is corrupt: the compressed stream is invalid or truncated") from None
    else:
        inflater = zlib.decompressobj(-15)
        # Deflate expands at most about 1032-fold, and a declared size bounds
        # the output too, so a small blob cannot inflate into gigabytes here.
        bound = _MAX_DEFLATE_RATIO * (end - start) + 64
        if size >= 0:
            bound = min(bound, size)
        try:
            if limit is not None:
                return inflater.decompress(blob[start:end], limit)
            data = inflater.decompress(blob[start:end], bound + 1)
        except zlib.error as error:
            raise BlobError(f"npz data is corrupt: {error}") from None
        if len(data) > bound:
            raise BlobError(
                f"npz member inflates to more than {bound} bytes, the most its header "
                "and compressed size allow"
            )
        if not inflater.eof:
            raise BlobError("npz data is truncated: the compressed stream does not end")
    if limit is not None:
        return data[:limit]
    if size >= 0 and len(data) != size:
        raise BlobError(f"npz member inflates to {len(data)} bytes instead of {size}")
    if size >= 0 and _crc32(data) != crc:
        raise BlobError("npz data is corrupt: CRC-32 check failed")
    return data


def _fits_libdeflate(size: int, compressed_size: int) -> bool:
    return 0 < size <= min(_LIBDEFLATE_MAX_SIZE, _MAX_DEFLATE_RATIO * compressed_size + 64)


def _crc32(data) -> int:
    if _libdeflate is not None:
        return _libdeflate.crc32(data)
    return zlib.crc32(data)


def _parse_npy_header(data) -> tuple[np.dtype, tuple[int, ...], bool, int]:
    view = memoryview(data)
    return _parse_npy_header_cached(bytes(view[:_npy_header_end(view)]))


def _npy_header_end(view: memoryview) -> int:
    """Return the offset just past the .npy header.

    A header declared longer than the parser accepts is cut one byte past
    that limit, so the parser rejects it without the whole array being copied.
    """
    if len(view) >= 10 and view[6] == 1:
        return 10 + int.from_bytes(view[8:10], "little")
    if len(view) >= 12 and view[6] in (2, 3):
        return 12 + min(int.from_bytes(view[8:12], "little"), _MAX_NPY_HEADER + 1)
    return 12


# The blobs of one checkpoint share a handful of distinct headers, so parsing
# each once saves an `ast.literal_eval` per blob.
@lru_cache(maxsize=256)
def _parse_npy_header_cached(data: bytes) -> tuple[np.dtype, tuple[int, ...], bool, int]:
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
    if length > _MAX_NPY_HEADER or start + length > len(data):
        raise BlobError(".npy header is truncated or too long")
    text = data[start:start + length].decode("latin-1")
    written = _NUMPY_WRITTEN_HEADER.fullmatch(text)
    if written:
        descr, fortran, dimensions = written.groups()
        shape = tuple(int(size) for size in dimensions.split(",") if size.strip())
        header = {"descr": descr, "fortran_order": fortran == "True", "shape": shape}
    else:
        try:
            header = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise BlobError(".npy header is not a valid dictionary") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise BlobError(".npy header lacks descr, fortran_order or shape")
    descr, fortran_order, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(descr, str) or descr not in _ALLOWED_DESCR:
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
    count = math.prod(shape)
    if len(data) - offset != count * dtype.itemsize:
        raise BlobError(
            f".npy array of shape {shape} needs {count * dtype.itemsize} bytes, has {len(data) - offset}"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran_order else "C")


def latin1_from_utf8_parts(encoded: np.ndarray, lengths: np.ndarray, out: np.ndarray) -> list[np.ndarray]:
    """Decode UTF-8 texts stored one after another, whose characters all lie below U+0100, to latin-1 bytes.

    Protocol-2 pickles store a `bytes` value as such a text, so this turns
    the stored form of blobs back into the blobs, as
    `part.decode("utf-8").encode("latin-1")` does for each part, but in a
    fixed number of vectorised passes that release the GIL. `encoded` is a
    writable 1-D uint8 array, and this function modifies it. `lengths`
    (positive) are the parts' sizes in `encoded`, in order. Each part must
    be valid on its own, so no character may span two parts. Returns one
    view of `out` (1-D uint8, at least as long as the result) per part.
    Raises BlobError for anything that is not valid UTF-8 of such text.
    """
    lengths = np.asarray(lengths, dtype=np.intp)
    if lengths.sum() != encoded.size or (lengths <= 0).any():
        raise ValueError(f"part lengths {lengths.tolist()} do not split {encoded.size} bytes")
    starts = np.zeros(lengths.size, dtype=np.intp)
    np.cumsum(lengths[:-1], out=starts[1:])
    # Characters U+0080..U+00FF are the pairs C2 80..BF and C3 80..BF; every
    # other byte is ASCII. Continuation bytes (80..BF) are exactly those below
    # -64 as int8.
    kept = encoded < 0xC0
    continuation = encoded.view(np.int8) < -64
    # Valid when every continuation byte directly follows a lead byte and
    # every lead byte is followed by one: a kept byte before a continuation
    # byte, or a lead byte before anything else, is an error. No part may
    # start with a continuation byte or end with a lead byte.
    misplaced = (
        continuation[starts].any()
        or not kept[starts + lengths - 1].all()
        or np.count_nonzero(np.equal(kept[:-1], continuation[1:]))
    )
    leads_per_part = lengths - np.add.reduceat(kept, starts, dtype=np.intp)
    leads = int(leads_per_part.sum())
    if misplaced or encoded.max() > 0xC3 or np.count_nonzero(encoded >= 0xC2) != leads:
        raise BlobError("stored npz bytes are not valid UTF-8 of latin-1 text")
    # C3 xx decodes to xx + 0x40, C2 xx to xx: set bit 6 of every byte that
    # follows a C3, then drop the lead bytes.
    after_c3 = (encoded[:-1] == 0xC3).view(np.uint8)
    np.multiply(after_c3, 0x40, out=after_c3)
    encoded[1:] |= after_c3
    decoded = np.compress(kept, encoded, out=out[:encoded.size - leads])
    decoded_lengths = (lengths - leads_per_part).tolist()
    decoded_starts = np.cumsum([0, *decoded_lengths[:-1]]).tolist()
    return [decoded[start:start + length] for start, length in zip(decoded_starts, decoded_lengths)]
