"""Damaged copies of the real fixtures load or fail with CheckpointError, within 2 s each.

hypothesis flips, overwrites, inserts and deletes bytes in the data pickle,
the npz blobs, the storage records and the zip directory of both fixtures,
and truncates them. After a successful open every embedding, frame count
and logit array is read, as the application would. The cases are drawn
with a fixed seed, so this suite is repeatable; `benchmarks/fuzz_checkpoint.py`
runs 10,000 or more random cases.

The second half checks that sizes declared larger than the file are
rejected before anything of that size is allocated.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from annotator_gui.checkpoint import CheckpointError, open_checkpoint

from .hostile import read_everything
from .hostile.corpus import CaseContext, benign_file, npz_blob_with_header, tensor
from .hostile.layouts import LAYOUTS, TorchFile, set_zip_member_size, write_torch_file
from .hostile.mutation import check_case, mutated_checkpoints, zip_fixture

#: Maximum CPU time that the reader may take on one damaged file.
MAX_SECONDS_PER_CASE = 2.0

_FUZZ_SETTINGS = settings(
    max_examples=120,
    deadline=None,  # the reader's own time is checked against MAX_SECONDS_PER_CASE below
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def slowest():
    record = {"seconds": 0.0, "case": None}
    yield record
    print(f"\nslowest fuzz case: {record['seconds']:.3f} s of CPU time for {record['case']}")


def _check(case, folder, slowest) -> None:
    # check_case lets any exception other than CheckpointError propagate,
    # and hypothesis then reports the smallest case that raises it.
    outcome = check_case(folder / f"{case.fixture.name}.pt", case.build())
    if outcome.cpu_seconds > slowest["seconds"]:
        slowest.update(seconds=outcome.cpu_seconds, case=repr(case))
    # CPU time grows far less than wall-clock time when other jobs share the machine.
    assert outcome.cpu_seconds < MAX_SECONDS_PER_CASE, f"{outcome.cpu_seconds:.2f} s of CPU time for {case!r}"
    if outcome.kind == "rejected":
        assert outcome.message.startswith(str(folder))


@_FUZZ_SETTINGS
@given(case=mutated_checkpoints(("legacy",)))
def test_fuzz_legacy_fixture(fuzz_folder, slowest, case):
    _check(case, fuzz_folder, slowest)


@settings(_FUZZ_SETTINGS, max_examples=200)
@given(case=mutated_checkpoints(("zip",)))
def test_fuzz_zip_fixture(fuzz_folder, slowest, case):
    _check(case, fuzz_folder, slowest)


def test_npz_regions_cover_the_logits():
    # The npz region must point at real blobs, or the fuzzer would miss them.
    fixture = zip_fixture()
    blobs = fixture.regions["npz_blobs"]
    assert len(blobs) >= 36
    for start, end in blobs[:3]:
        assert fixture.data[start:start + 4] == b"PK\x03\x04"
        assert b"arr_0.npy" in fixture.data[start:end]


# -- declared sizes larger than the file ------------------------------------------


@pytest.fixture
def address_space_limit():
    """Cap this process's address space at 2 GiB above current use while a test runs.

    An allocation of a declared size would then raise MemoryError instead of
    succeeding on a machine with much memory, so these tests show that the
    size is checked first.
    """
    resource = pytest.importorskip("resource")
    with open("/proc/self/statm") as statm:
        used = int(statm.read().split()[0]) * resource.getpagesize()
    previous = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (used + (2 << 30), previous[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, previous)


def _expect_rejection(path, *fragments, stage="open"):
    if stage == "open":
        with pytest.raises(CheckpointError) as caught:
            open_checkpoint(path)
    else:
        with open_checkpoint(path) as checkpoint, pytest.raises(CheckpointError) as caught:
            read_everything(checkpoint)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("opcode", [b"\x8d", b"\x8e"], ids=["BINUNICODE8", "BINBYTES8"])
def test_huge_declared_string_rejected(tmp_path, address_space_limit, layout, opcode):
    data_pickle = b"\x80\x04" + opcode + struct.pack("<Q", 1 << 60) + b"x" * 16 + b"."
    path = write_torch_file(tmp_path / "string.pt", TorchFile(data_pickle), layout)
    _expect_rejection(path, f"declared size {1 << 60}")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_huge_storage_numel_rejected(tmp_path, address_space_limit, layout):
    context = CaseContext(tmp_path, tmp_path / "sentinel", layout)
    torch_file = benign_file(context)
    # The persistent id names torch.FloatStorage, then the key, the location
    # and the element count, a BININT (J, int32) of 4; it becomes a LONG1.
    position = torch_file.data_pickle.index(b"FloatStorage\n")
    numel_at = torch_file.data_pickle.index(b"J\x04\x00\x00\x00", position)
    huge = b"\x8a\x08" + (1 << 60).to_bytes(8, "little")
    torch_file.data_pickle = torch_file.data_pickle[:numel_at] + huge + torch_file.data_pickle[numel_at + 5:]
    path = write_torch_file(tmp_path / "storage.pt", torch_file, layout)
    _expect_rejection(path, "storage '0'", str(1 << 60))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_npz_header_with_huge_shape_rejected(tmp_path, address_space_limit, layout):
    context = CaseContext(tmp_path, tmp_path / "sentinel", layout)
    shapes = ["(1152921504606846976, 4)", "(4611686018427387904, 4)", "(65536, 65536, 65536, 4)"]
    for index, shape in enumerate(shapes):
        header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
        torch_file = benign_file(context, logits_blob=npz_blob_with_header(header, b"\0" * 64))
        path = write_torch_file(tmp_path / f"npz{index}.pt", torch_file, layout)
        _expect_rejection(path, "seq-a", "annotator 1", stage="read")


def test_zip_member_declaring_huge_size_rejected(tmp_path, address_space_limit):
    context = CaseContext(tmp_path, tmp_path / "sentinel", "zip")
    torch_file = benign_file(context)
    torch_file.zip_compress_pickle = True
    path = write_torch_file(tmp_path / "member.pt", torch_file, "zip")
    set_zip_member_size(path, "data.pkl", 0xFFFFFFF0)
    _expect_rejection(path, "archive/data.pkl", str(0xFFFFFFF0))

    stored = write_torch_file(tmp_path / "stored.pt", benign_file(context), "zip")
    set_zip_member_size(stored, "data/0", 0xFFFFFFF0)
    _expect_rejection(stored, "archive/data/0", str(0xFFFFFFF0))


def test_stride_zero_tensor_larger_than_file_rejected(tmp_path, address_space_limit):
    context = CaseContext(tmp_path, tmp_path / "sentinel", "zip")
    embedding = tensor(context, "0", 4, (1 << 16, 1 << 16), (0, 0))
    path = write_torch_file(tmp_path / "stride.pt", benign_file(context, embedding=embedding), "zip")
    _expect_rejection(path, "embedding", str(1 << 32), stage="read")


def test_address_space_limit_catches_a_large_allocation(address_space_limit):
    # Control: the limit really stops an allocation of the sizes rejected above.
    with pytest.raises(MemoryError):
        np.ones(1 << 31, dtype=np.float64)


def test_deflate_bomb_rejected_before_inflating():
    # 64 MiB of zeros deflate to about 64 KiB. The header declares an
    # uncompressed size of 0, so the inflater must stop at the declared size
    # instead of producing the whole stream first.
    import struct
    import zlib

    from annotator_gui.checkpoint.npz import BlobError, read_npz_array

    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = b"".join([compressor.compress(bytes(1 << 20)) for _ in range(64)] + [compressor.flush()])
    name = b"arr_0.npy"
    header = struct.pack("<4sHHHHHLLLHH", b"PK\x03\x04", 20, 0, 8, 0, 0, 0, len(stream), 0, len(name), 0)
    with pytest.raises(BlobError, match="inflates to more than 0 bytes"):
        read_npz_array(header + name + stream)
