"""Storage headers of the legacy layout read through a window give the same offsets and errors.

`containers._locate_legacy_storages` reads the headers of small records
together. Setting `_HEADER_WINDOW` to 0 makes it read each header alone, as
before, and both ways must agree on good and on damaged files.
"""

from __future__ import annotations

import collections
import struct

import pytest

from annotator_gui.checkpoint import CheckpointError, containers
from annotator_gui.checkpoint.source import SharedFile

from .conftest import torch_save


@pytest.fixture(scope="module")
def legacy_file(tmp_path_factory):
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    state = collections.OrderedDict()
    for index in range(60):
        # Mostly small records, with a large one now and then, as in a model.
        shape = (70, 70) if index % 7 == 0 else (index % 5 + 1,)
        state[f"tensor{index}"] = torch.randn(shape, generator=generator)
    return torch_save(state, tmp_path_factory.mktemp("legacy") / "state.pt", "legacy")


def _locate(path, monkeypatch, window: int):
    with monkeypatch.context() as patch:
        patch.setattr(containers, "_HEADER_WINDOW", window)
        file = SharedFile(path)
        try:
            state = containers.load_legacy(file)
            return {name: tensor.storage.offset for name, tensor in state.items()}
        except CheckpointError as error:
            return str(error)
        finally:
            file.close()


def test_offsets_match_single_reads(legacy_file, monkeypatch):
    windowed = _locate(legacy_file, monkeypatch, containers._HEADER_WINDOW)
    single = _locate(legacy_file, monkeypatch, 0)
    assert isinstance(windowed, dict)
    assert windowed == single


def _headers_in_windows(legacy_file, monkeypatch) -> list[int]:
    """Return the offsets of the headers that follow a small record, which are read through a window.

    torch orders legacy records by the storages' keys, which are addresses,
    so the order changes from run to run.
    """
    offsets = sorted(_locate(legacy_file, monkeypatch, 0).values())
    headers = [offset - 8 for offset in offsets]
    return [headers[index] for index in range(1, len(headers)) if headers[index] - offsets[index - 1] < 1000]


@pytest.mark.parametrize("choice", [0, 1, -1])
def test_wrong_header_error_matches(legacy_file, monkeypatch, tmp_path, choice):
    header = _headers_in_windows(legacy_file, monkeypatch)[choice]
    data = bytearray(legacy_file.read_bytes())
    (numel,) = struct.unpack_from("<q", data, header)
    struct.pack_into("<q", data, header, numel + 1)
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(bytes(data))
    windowed = _locate(damaged, monkeypatch, containers._HEADER_WINDOW)
    assert windowed == _locate(damaged, monkeypatch, 0)
    assert f"contains {numel + 1} elements" in windowed


@pytest.mark.parametrize("cut", [4, 8, 9])
def test_truncated_file_error_matches(legacy_file, monkeypatch, tmp_path, cut):
    # The last such header, so that the file stays larger than every record
    # and the cut is found by the header reads, not by the pickle's sizes.
    # Records have at least one 4-byte element, so a cut at 9 is inside one.
    header = _headers_in_windows(legacy_file, monkeypatch)[-1]
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(legacy_file.read_bytes()[: header + cut])
    windowed = _locate(truncated, monkeypatch, containers._HEADER_WINDOW)
    assert windowed == _locate(truncated, monkeypatch, 0)
    assert "truncated file" in windowed
