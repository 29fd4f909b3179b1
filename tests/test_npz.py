"""Parsing the .npy headers inside the logits blobs."""

from __future__ import annotations

import ast
import io
import struct

import numpy as np
import pytest

from annotator_gui.checkpoint import npz


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_with_header(header: str) -> bytes:
    encoded = header.encode("latin-1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(encoded)) + encoded


def parse_slowly(data: bytes) -> tuple:
    """Parse the header dictionary with ast.literal_eval alone."""
    (length,) = struct.unpack_from("<H", data, 8)
    header = ast.literal_eval(data[10:10 + length].decode("latin-1"))
    return np.dtype(header["descr"]), header["shape"], header["fortran_order"], 10 + length


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((4897, 4), np.float32),
        np.zeros((0, 4), np.float32),
        np.zeros(7, np.int64),
        np.zeros((), np.float64),
        np.zeros((2, 3, 5), np.uint8),
        np.asfortranarray(np.zeros((3, 4), np.float32)),
        np.zeros((10, 1), np.bool_),
    ],
    ids=["logits", "empty", "vector", "scalar", "three-d", "fortran", "bool"],
)
def test_written_header_matches_literal_eval(array):
    data = npy_bytes(array)
    assert npz._NUMPY_WRITTEN_HEADER.fullmatch(data[10:10 + data[8]].decode("latin-1")) is not None
    assert npz._parse_npy_header(data) == parse_slowly(data)


@pytest.mark.parametrize(
    "header",
    [
        '{"descr": "<f4", "fortran_order": False, "shape": (3, 4)}\n',
        "{'shape': (3, 4), 'fortran_order': False, 'descr': '<f4'}\n",
        "{'descr':'<f4','fortran_order':False,'shape':(3,4)}\n",
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (3, 4), }\n",
    ],
    ids=["double-quotes", "key-order", "no-spaces", "integer-flag"],
)
def test_other_header_forms_take_general_path(header):
    data = npy_with_header(header)
    assert npz._NUMPY_WRITTEN_HEADER.fullmatch(header) is None
    dtype, shape, fortran_order, offset = npz._parse_npy_header(data)
    assert (dtype, shape, fortran_order, offset) == (np.dtype("<f4"), (3, 4), False, len(data))


@pytest.mark.parametrize(
    "header, reason",
    [
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (007, 4), }\n", "not a valid dictionary"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4), }\n", "invalid shape"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (5), }\n", "invalid shape"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (0), }\n", "invalid shape"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "9" * 4301 + ", 4), }\n", "not a valid dictionary"),
        ("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }\n", "unsupported element type"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), \n", "not a valid dictionary"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1, }\n", "lacks descr"),
    ],
    ids=[
        "leading-zero", "negative-size", "bare-size", "bare-zero", "huge-size", "object-dtype",
        "missing-brace", "extra-key",
    ],
)
def test_bad_headers_rejected(header, reason):
    data = npy_with_header(header)
    with pytest.raises(npz.BlobError, match=reason):
        npz._parse_npy_header(data)
