"""Hostile checkpoints: files that try to run code or exhaust memory, time or the C stack.

Each `Case` builds a `TorchFile` that the tests write in both torch layouts.
A case marked `live` carries a payload that creates the sentinel file when
the file is loaded with `torch.load(weights_only=False)`, which a test
checks, so each rejection that the reader tests assert stops a working
attack. Payloads only ever create the sentinel file.
"""

from __future__ import annotations

import io
import shlex
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .assembler import (
    APPEND,
    BINBYTES8,
    BINUNICODE,
    BINUNICODE8,
    EMPTY_DICT,
    EMPTY_LIST,
    EMPTY_TUPLE,
    FROZENSET,
    GLOBAL,
    INST,
    MARK,
    NEXT_BUFFER,
    OBJ,
    SETITEM,
    TUPLE1,
    Build,
    Get,
    Global,
    NewObj,
    PersistentId,
    Put,
    Raw,
    Reduce,
    Then,
    assemble,
)
from .layouts import LAYOUTS, Storage, TorchFile, set_zip_member_size, write_torch_file

#: Levels of the deep-nesting cases: far past both the interpreter's MARK
#: limit and the depth at which CPython's C stack overflows.
DEEP = 300_000


@dataclass(frozen=True)
class CaseContext:
    folder: Path
    sentinel: Path
    layout: str

    @property
    def shell_command(self) -> str:
        return f"touch {shlex.quote(str(self.sentinel))}"

    @property
    def python_code(self) -> str:
        return f"open({str(self.sentinel)!r}, 'w').close()"


@dataclass(frozen=True)
class Case:
    """One hostile file.

    `expected` are fragments that the CheckpointError message must contain.
    `stage` is "open" when `open_checkpoint` must raise, or "read" when the
    file opens and reading the embedding or logits must raise.
    """

    name: str
    build: Callable[[CaseContext], TorchFile]
    expected: tuple[str, ...]
    stage: str = "open"
    live: bool = False
    layouts: tuple[str, ...] = LAYOUTS
    #: Changes the written file, for container-level cases: (context, path) -> None.
    patch: Callable[[CaseContext, Path], None] | None = None


def write_case(case: Case, layout: str, folder: Path) -> tuple[Path, Path]:
    """Write `case` into `folder` and return (checkpoint path, sentinel path)."""
    folder.mkdir(parents=True, exist_ok=True)
    context = CaseContext(folder=folder, sentinel=folder / "sentinel", layout=layout)
    path = write_torch_file(folder / f"{case.name}_{layout}.pt", case.build(context), layout)
    if case.patch is not None:
        case.patch(context, path)
    return path, context.sentinel


# -- building blocks ----------------------------------------------------------


def training_result(best_params=None, test_logits=None, config=None) -> object:
    """A `mabe.training.TrainingResult` as torch pickles it (NEWOBJ, then BUILD with the fields)."""
    state = {
        "config": config if config is not None else training_config({"split_idx": 0}),
        "best_params": best_params if best_params is not None else {},
        "test_logits": test_logits if test_logits is not None else {},
    }
    return Build(NewObj(Global("mabe.training", "TrainingResult")), state)


def training_config(fields: dict) -> object:
    return Build(NewObj(Global("mabe.training", "TrainingConfig")), fields)


def storage_pid(context: CaseContext, key: str, numel: int, storage_type: str = "FloatStorage") -> object:
    """A persistent id for a storage: legacy files add a sixth item (view metadata)."""
    pid = ("storage", Global("torch", storage_type), key, "cpu", numel)
    if context.layout == "legacy":
        pid += (None,)
    return PersistentId(pid)


def tensor(context: CaseContext, key: str, numel: int, size: tuple, stride: tuple, offset: int = 0) -> object:
    """`torch._utils._rebuild_tensor_v2` over a float32 storage, as torch pickles a tensor."""
    hooks = Reduce(Global("collections", "OrderedDict"), ())
    return Reduce(
        Global("torch._utils", "_rebuild_tensor_v2"),
        (storage_pid(context, key, numel), offset, size, stride, False, hooks),
    )


def npz_blob(array: np.ndarray) -> bytes:
    """What MABe stores per sequence and annotator: `np.savez_compressed` output."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, array)
    return buffer.getvalue()


def npz_blob_with_header(header: str, data: bytes) -> bytes:
    """A deflated one-member npz whose .npy header text is `header` (not checked here)."""
    text = header.encode("latin-1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("arr_0.npy", npy)
    return buffer.getvalue()


EMBEDDING = np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32)
LOGITS = np.arange(20, dtype=np.float32).reshape(5, 4) / 7


def benign_file(context: CaseContext, logits_blob: bytes | None = None, embedding=None) -> TorchFile:
    """A small valid checkpoint: a 2 x 2 embedding and 2 sequences x 2 annotators of logits."""
    blob = npz_blob(LOGITS) if logits_blob is None else logits_blob
    if embedding is None:
        embedding = tensor(context, "0", 4, (2, 2), (2, 1))
    result = training_result(
        best_params={0: ({}, {"embedding": embedding})},
        test_logits={"seq-a": {0: npz_blob(LOGITS), 1: blob}, "seq-b": {0: npz_blob(LOGITS), 1: npz_blob(LOGITS)}},
    )
    return TorchFile(assemble([result]), [Storage("0", 4, EMBEDDING.tobytes())])


def payload_file(payload: object, protocol: int = 2) -> TorchFile:
    """A file whose data pickle is `payload` inside a list, as a list of results would be."""
    return TorchFile(assemble([payload], protocol))


def raw_file(body: bytes, protocol: int = 2) -> TorchFile:
    """A file whose data pickle is PROTO, `body` and STOP."""
    return TorchFile(bytes([0x80, protocol]) + body + b".")


def benign_with_storage(context: CaseContext, pid_key: str, numel: int, records: list[Storage], keys=None) -> TorchFile:
    embedding = tensor(context, pid_key, numel, (1, 1), (1, 1))
    result = training_result(best_params={0: ({}, {"embedding": embedding})})
    return TorchFile(assemble([result]), records, legacy_keys=keys)


def _unicode_header(opcode: bytes, length: int) -> Raw:
    packer = "<Q" if opcode in (BINUNICODE8, BINBYTES8) else "<I"
    return Raw(opcode + struct.pack(packer, length))


# -- code execution -----------------------------------------------------------


def _os_system(context):
    return payload_file(Reduce(Global("os", "system"), (context.shell_command,)))


def _posix_system(context):
    return payload_file(Reduce(Global("posix", "system"), (context.shell_command,)))


def _subprocess_popen(context):
    return payload_file(Reduce(Global("subprocess", "Popen"), (["touch", str(context.sentinel)],)))


def _builtins(name):
    def build(context):
        return payload_file(Reduce(Global("builtins", name), (context.python_code,)))

    return build


def _builtins_getattr(context):
    # getattr(PosixPath(sentinel), "touch")() uses only one rejected global.
    path = Reduce(Global("pathlib", "PosixPath"), (str(context.sentinel),))
    method = Reduce(Global("builtins", "getattr"), (path, "touch"))
    return payload_file(Reduce(method, ()))


def _builtins_import(context):
    # __import__ comes first in the stream; its module is kept in memo slot 200.
    module = Put(200, Reduce(Global("builtins", "__import__"), ("os",)))
    system = Reduce(Global("builtins", "getattr"), (Get(200), "system"))
    return payload_file(Then(module, Reduce(system, (context.shell_command,))))


def _dotted(module, name, *calls, protocol=4):
    """STACK_GLOBAL of a dotted attribute path, then one REDUCE per argument tuple in `calls`."""

    def build(context):
        value = Global(module, name)
        for args in calls:
            value = Reduce(value, tuple(context.python_code if arg is _CODE else arg for arg in args))
        return payload_file(value, protocol)

    return build


_CODE = object()


def _torch_load(context):
    inner = write_torch_file(context.folder / "inner.pt", _builtins("exec")(context), "legacy")
    return payload_file(Reduce(Global("torch", "load"), (str(inner),)))


def _torch_load_from_bytes(context):
    inner = write_torch_file(context.folder / "inner.pt", _builtins("exec")(context), "legacy")
    return payload_file(Reduce(Global("torch.storage", "_load_from_bytes"), (inner.read_bytes(),)))


def _copyreg_reconstructor(context):
    # _reconstructor(cls, base, state) calls base.__init__(obj, state), here Popen(["touch", ...]).
    popen = Global("subprocess", "Popen")
    args = (popen, popen, ["touch", str(context.sentinel)])
    return payload_file(Reduce(Global("copyreg", "_reconstructor"), args))


def _allowed_class_method(context):
    path = Reduce(Global("pathlib", "PosixPath"), (str(context.sentinel),))
    return payload_file(Reduce(Global("pathlib", "PosixPath.write_text"), (path, "written")), protocol=4)


def _reduce_on_instance(context):
    # REDUCE whose callable is an allowed object that was already built.
    built = Reduce(Global("collections", "OrderedDict"), ())
    return payload_file(Reduce(built, ()))


def _reduce_on_type_only_global(context):
    return payload_file(Reduce(Global("numpy", "ndarray"), ((2, 2),)))


def _newobj_on_container(context):
    return payload_file(NewObj(Global("builtins", "list"), ()))


def _inst(context):
    # INST reads the module and name as text lines and calls module.name(*args from MARK).
    command = context.shell_command.encode()
    return raw_file(MARK + BINUNICODE + struct.pack("<I", len(command)) + command + INST + b"os\nsystem\n")


def _obj_os_system(context):
    command = context.shell_command.encode()
    body = MARK + GLOBAL + b"os\nsystem\n" + BINUNICODE + struct.pack("<I", len(command)) + command + OBJ
    return raw_file(body)


def _obj_allowed_class(context):
    return raw_file(MARK + GLOBAL + b"collections\nOrderedDict\n" + OBJ)


def _proto5_newobj_ex(module, name, make_args, kwargs):
    def build(context):
        return payload_file(NewObj(Global(module, name), make_args(context), kwargs), protocol=5)

    return build


def _proto5_next_buffer(context):
    return raw_file(NEXT_BUFFER, protocol=5)


# -- storages -----------------------------------------------------------------


def _storage_without_record(context):
    return benign_with_storage(context, "orphan1", 1, [])


def _storage_named(key):
    def build(context):
        return benign_with_storage(context, key, 1, [Storage(key, 1, b"\0\0\0\0")])

    return build


def _storage_numel(numel):
    def build(context):
        return benign_with_storage(context, "0", numel, [Storage("0", numel, b"\0\0\0\0")])

    return build


def _legacy_record_numel(context):
    return benign_with_storage(context, "0", 1, [Storage("0", 1 << 62, b"\0\0\0\0")])


def _tensor_size(size, stride):
    def build(context):
        embedding = tensor(context, "0", 4, size, stride)
        return benign_file(context, embedding=embedding)

    return build


# -- sizes and nesting ----------------------------------------------------------


def _declared_length(opcode, length, protocol=4):
    def build(context):
        return payload_file(training_config({"name": _unicode_header(opcode, length)}), protocol)

    return build


def _deep_marks(context):
    return raw_file(MARK * DEEP)


def _deep_list_in_config(context):
    nested = Raw(EMPTY_LIST * DEEP + APPEND * (DEEP - 1))
    config = training_config({"layers": nested})
    result = training_result(config=config, test_logits={"seq-a": {0: npz_blob(LOGITS)}})
    return TorchFile(assemble([result]))


def _deep_tuple_as_key(context):
    # {key: {}} where the key is DEEP nested 1-tuples: hashing it recurses once per level in C.
    key = EMPTY_TUPLE + TUPLE1 * DEEP
    test_logits = Raw(EMPTY_DICT + key + EMPTY_DICT + SETITEM)
    return TorchFile(assemble([training_result(test_logits=test_logits)]))


def _deep_tuple_in_set(context):
    return raw_file(MARK + EMPTY_TUPLE + TUPLE1 * DEEP + FROZENSET, protocol=4)


# -- npz blobs ------------------------------------------------------------------


def _logits_blob(make_blob):
    def build(context):
        return benign_file(context, logits_blob=make_blob())

    return build


# -- zip members ----------------------------------------------------------------


def _zip_compressed_pickle(context):
    torch_file = benign_file(context)
    torch_file.zip_compress_pickle = True
    return torch_file


def _patch_member_size(member, size):
    def patch(context, path):
        if context.layout == "zip":
            set_zip_member_size(path, member, size)

    return patch


def _zip_byteorder_bomb(context):
    torch_file = benign_file(context)
    torch_file.zip_byteorder = (b" " * (16 << 20) + b"little", zipfile.ZIP_DEFLATED)
    return torch_file


# -- the corpus -------------------------------------------------------------------

CASES: list[Case] = [
    Case("os_system", _os_system, ("os.system",), live=True),
    Case("posix_system", _posix_system, ("posix.system",), live=True),
    Case("subprocess_popen", _subprocess_popen, ("subprocess.Popen",), live=True),
    Case("builtins_eval", _builtins("eval"), ("builtins.eval",), live=True),
    Case("builtins_exec", _builtins("exec"), ("builtins.exec",), live=True),
    Case("builtins_getattr", _builtins_getattr, ("builtins.getattr",), live=True),
    Case("builtins_import", _builtins_import, ("builtins.__import__",), live=True),
    Case(
        "dotted_ordereddict_globals",
        _dotted("collections", "OrderedDict.__init__.__globals__"),
        ("collections.OrderedDict.__init__.__globals__",),
    ),
    Case(
        "dotted_counter_builtins",
        _dotted("collections", "Counter.__init__.__builtins__.get", ("exec",), (_CODE,)),
        ("collections.Counter.__init__.__builtins__.get",),
        live=True,
    ),
    Case(
        "dotted_numpy_dtype",
        _dotted("numpy", "dtype.__class__.__subclasses__", ()),
        ("numpy.dtype.__class__.__subclasses__",),
    ),
    Case(
        "dotted_numpy_builtins",
        _dotted("numpy", "load.__builtins__.get", ("exec",), (_CODE,)),
        ("numpy.load.__builtins__.get",),
        live=True,
    ),
    Case(
        "dotted_name_protocol2",
        _dotted("collections", "OrderedDict.fromkeys", (["a"],), protocol=2),
        ("collections.OrderedDict.fromkeys",),
    ),
    Case("nested_torch_load", _torch_load, ("torch.load",), live=True),
    Case("nested_torch_load_from_bytes", _torch_load_from_bytes, ("torch.storage._load_from_bytes",), live=True),
    Case("copyreg_reconstructor", _copyreg_reconstructor, ("copyreg._reconstructor",), live=True),
    Case("allowed_class_method", _allowed_class_method, ("pathlib.PosixPath.write_text",), live=True),
    Case("reduce_on_instance", _reduce_on_instance, ("rejected a call to", "OrderedDict")),
    Case("reduce_on_type_only_global", _reduce_on_type_only_global, ("rejected a call to", "numpy.ndarray")),
    Case("newobj_on_container", _newobj_on_container, ("builtins.list",)),
    Case("inst_os_system", _inst, ("INST", "os.system"), live=True),
    Case("obj_os_system", _obj_os_system, ("os.system",), live=True),
    Case("obj_allowed_class", _obj_allowed_class, ("OBJ", "collections.OrderedDict")),
    Case("proto5_framed_exec", _dotted("builtins", "exec", (_CODE,), protocol=5), ("builtins.exec",), live=True),
    Case(
        "proto5_newobj_ex_popen",
        _proto5_newobj_ex("subprocess", "Popen", lambda context: (["touch", str(context.sentinel)],), {}),
        ("subprocess.Popen",),
    ),
    Case(
        "proto5_newobj_ex_kwargs",
        _proto5_newobj_ex("mabe.training", "TrainingResult", lambda context: (), {"config": None}),
        ("mabe.training.TrainingResult",),
    ),
    Case("proto5_next_buffer", _proto5_next_buffer, ("NEXT_BUFFER",)),
    Case("storage_without_record", _storage_without_record, ("orphan1", "missing")),
    Case("storage_key_traversal", _storage_named("../../etc/passwd"), ("invalid storage record name", "../../etc/passwd")),
    Case("storage_key_absolute", _storage_named("/etc/passwd"), ("invalid storage record name", "/etc/passwd")),
    Case("storage_numel_huge", _storage_numel(1 << 60), ("'0'", str(1 << 60))),
    Case("storage_numel_past_end", _storage_numel(10_000_000), ("'0'", "10000000")),
    Case(
        "legacy_record_numel",
        _legacy_record_numel,
        ("'0'", str(1 << 62)),
        layouts=("legacy",),
    ),
    Case(
        "tensor_stride_zero_huge",
        _tensor_size((1 << 20, 1 << 20), (0, 0)),
        ("embedding", str(1 << 40)),
        stage="read",
    ),
    Case(
        "tensor_size_huge_integers",
        _tensor_size((1 << 2000,) * 2000, (1,) * 2000),
        ("invalid tensor size", "storage '0'"),
        # Sizes are checked when a tensor is first used, so the embedding read rejects it.
        stage="read",
    ),
    Case("binunicode8_huge", _declared_length(BINUNICODE8, 1 << 60), (str(1 << 60),)),
    Case("binbytes8_huge", _declared_length(BINBYTES8, 1 << 60), (str(1 << 60),)),
    Case("binunicode_past_end", _declared_length(BINUNICODE, 0xFFFFFFFF, protocol=2), (str(0xFFFFFFFF),)),
    Case("deep_marks", _deep_marks, ("nests",)),
    Case("deep_list_in_config", _deep_list_in_config, ("layers", "nests more than")),
    Case("deep_tuple_as_key", _deep_tuple_as_key, ("dict key", "tuple of more than")),
    Case("deep_tuple_in_frozenset", _deep_tuple_in_set, ("frozenset item", "tuple of more than")),
    Case(
        "npz_shape_huge",
        _logits_blob(lambda: npz_blob_with_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", b""
        )),
        ("seq-a", "annotator 1", "4611686018427387904"),
        stage="read",
    ),
    Case(
        "zip_pickle_member_huge",
        _zip_compressed_pickle,
        ("archive/data.pkl", str(0xFFFFFFF0)),
        layouts=("zip",),
        patch=_patch_member_size("data.pkl", 0xFFFFFFF0),
    ),
    Case(
        "zip_storage_member_huge",
        lambda context: benign_file(context),
        ("archive/data/0",),
        layouts=("zip",),
        patch=_patch_member_size("data/0", 0xFFFFFFF0),
    ),
    Case("zip_byteorder_bomb", _zip_byteorder_bomb, ("byteorder",), layouts=("zip",)),
]

CASES_BY_NAME = {case.name: case for case in CASES}


def case_parameters() -> list[tuple[Case, str]]:
    """Every (case, layout) pair, for `pytest.mark.parametrize`."""
    return [(case, layout) for case in CASES for layout in case.layouts]
