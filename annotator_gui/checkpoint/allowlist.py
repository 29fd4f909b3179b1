"""The exact (module, name) pairs a checkpoint pickle may name, and what each builds.

Every allowed global maps to a handler written here. A handler checks its
arguments and builds plain data (dicts, lists, numpy scalars, pure paths) or
one of this package's own record types. Any other global is rejected by name
before anything is called, so no code from the file can run.
"""

from __future__ import annotations

import collections
import pathlib
from collections.abc import Callable

import numpy as np

from .errors import CheckpointError, describe
from .source import ByteRef
from .tensors import STORAGE_DTYPES, StorageType, TensorRef

#: Simple numpy dtypes that a pickled numpy scalar or array may use.
_NUMPY_DTYPES = frozenset(
    prefix + code
    for prefix in ("", "<", ">", "=", "|")
    for code in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1", "?")
)


class PickledObject:
    """An instance of an allowlisted class: its class path and attribute dict."""

    __slots__ = ("class_path", "state")

    def __init__(self, class_path: str):
        self.class_path = class_path
        self.state: dict = {}

    def __repr__(self) -> str:
        return f"PickledObject({self.class_path})"


class _Global:
    """An allowlisted global; only its handlers are ever called."""

    __slots__ = ("path", "reduce", "newobj", "factory")

    def __init__(self, path: str, reduce=None, newobj=None, factory=None):
        self.path = path
        self.reduce: Callable | None = reduce
        self.newobj: Callable | None = newobj
        self.factory: type | None = factory

    def __repr__(self) -> str:
        return self.path


#: Maximum number of items, counted through nested tuples, in a dict key or set item.
MAX_KEY_ITEMS = 1000


def require_small_key(key: object, where: str) -> None:
    """Reject a tuple key with more than `MAX_KEY_ITEMS` items, counting nested tuples.

    Python hashes a tuple anew on every lookup by recursing through its items
    in C: a key nested 300,000 levels deep overflows the C stack and kills
    the process, and a wide one reused through the memo makes loading
    quadratic. Other hashable types that a pickle can build hash in constant
    time or cache their hash.
    """
    if type(key) is not tuple:
        return
    pending = [key]
    count = 0
    while pending:
        items = pending.pop()
        count += len(items)
        if count > MAX_KEY_ITEMS:
            raise CheckpointError(
                f"{where} is a tuple of more than {MAX_KEY_ITEMS} nested items, which is not supported"
            )
        pending.extend(item for item in items if type(item) is tuple)


# -- handlers ---------------------------------------------------------------


def _codecs_encode(text, encoding="utf-8", errors="strict"):
    from .unpickler import LazyText

    if encoding not in ("latin1", "latin-1", "iso-8859-1") or errors != "strict":
        raise CheckpointError(f"_codecs.encode with encoding {encoding!r:.40} is not allowed")
    if isinstance(text, LazyText):
        ref = text.ref
        return ByteRef(ref.file, ref.offset, ref.length, utf8_as_latin1=True)
    if not isinstance(text, str):
        raise CheckpointError(f"_codecs.encode of a {type(text).__name__}")
    return text.encode("latin-1")


def _ordered_dict(items=()):
    if isinstance(items, ByteRef) or not isinstance(items, (list, tuple)):
        raise CheckpointError("OrderedDict built from something other than a list of pairs")
    result = collections.OrderedDict()
    for key, value in items:
        require_small_key(key, "an OrderedDict key")
        result[key] = value
    return result


def _defaultdict(factory=None, *rest):
    if rest:
        raise CheckpointError("defaultdict with more than a factory argument")
    if factory is not None and not (isinstance(factory, _Global) and factory.factory is not None):
        raise CheckpointError(f"defaultdict with factory {factory!r:.60} is not allowed")
    return collections.defaultdict(None if factory is None else factory.factory)


def _container(kind: type):
    def build(items=()):
        if not isinstance(items, (list, tuple, set, frozenset)):
            raise CheckpointError(f"{kind.__name__} built from a {type(items).__name__}")
        if kind is dict:
            for pair in items:
                if isinstance(pair, (tuple, list)) and pair:
                    require_small_key(pair[0], "a dict key")
        elif kind in (set, frozenset):
            for item in items:
                require_small_key(item, f"a {kind.__name__} item")
        return kind(items)

    return build


def _path(kind: type):
    def build(*parts):
        if not all(isinstance(part, str) for part in parts):
            raise CheckpointError(f"{kind.__name__} built from something other than strings")
        return kind(*parts)

    return build


class DtypeRecord:
    """A pickled `numpy.dtype`, final once BUILD has given its byte order."""

    __slots__ = ("dtype",)

    def __init__(self, code):
        if not isinstance(code, str) or code not in _NUMPY_DTYPES:
            raise CheckpointError(f"numpy dtype {code!r:.40} is not allowed")
        self.dtype = np.dtype(code)

    def build(self, state) -> None:
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", ">", "|", "="):
            raise CheckpointError(f"invalid numpy dtype state {state!r:.80}")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


def _numpy_dtype(code, align=False, copy=False):
    return DtypeRecord(code)


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, DtypeRecord):
        raise CheckpointError("numpy scalar without a plain numeric dtype")
    if not isinstance(data, bytes) or len(data) != dtype.dtype.itemsize:
        raise CheckpointError(f"numpy scalar of type {dtype.dtype} with invalid data")
    return np.frombuffer(data, dtype=dtype.dtype)[0].astype(dtype.dtype.newbyteorder("=")).item()


class ArrayRecord:
    """A pickled numpy array of a plain numeric dtype, final once BUILD has run."""

    __slots__ = ("array",)

    def __init__(self):
        self.array: np.ndarray | None = None

    def build(self, state) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            raise CheckpointError("invalid numpy array state")
        _version, shape, dtype, fortran_order, data = state
        if not isinstance(dtype, DtypeRecord):
            raise CheckpointError("numpy array without a plain numeric dtype")
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise CheckpointError(f"invalid numpy array shape {shape!r:.80}")
        if isinstance(data, ByteRef):
            data = data.read()
        if not isinstance(data, bytes) or len(data) != int(np.prod(shape)) * dtype.dtype.itemsize:
            raise CheckpointError(f"numpy array of shape {shape} with data of the wrong size")
        array = np.frombuffer(data, dtype=dtype.dtype).reshape(shape, order="F" if fortran_order else "C")
        self.array = array.astype(dtype.dtype.newbyteorder("="))


def _numpy_reconstruct(cls, shape=(0,), marker=b"b"):
    if not (isinstance(cls, _Global) and cls.path.endswith(".ndarray")):
        raise CheckpointError(f"numpy _reconstruct of {cls!r:.60} is not allowed")
    return ArrayRecord()


def _rebuild_tensor(storage, storage_offset, size, stride, *ignored):
    # The remaining arguments (requires_grad, backward hooks, metadata) do not
    # change the values and are dropped.
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *ignored):
    if not isinstance(data, TensorRef):
        raise CheckpointError("parameter built from something other than a tensor")
    return data


def _training_class(path: str):
    def new(*args, **kwargs):
        if args or kwargs:
            raise CheckpointError(f"{path} created with arguments")
        return PickledObject(path)

    return new


# -- the table --------------------------------------------------------------

_GLOBALS: dict[tuple[str, str], _Global] = {}


def _allow(modules: tuple[str, ...], name: str, **handlers) -> None:
    for module in modules:
        _GLOBALS[module, name] = _Global(f"{module}.{name}", **handlers)


_BUILTINS = ("builtins", "__builtin__")
_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
_PATHLIB = ("pathlib", "pathlib._local")

_allow(("_codecs",), "encode", reduce=_codecs_encode)
_allow(("collections",), "OrderedDict", reduce=_ordered_dict)
_allow(("collections",), "defaultdict", reduce=_defaultdict)
for _kind in (list, dict, set, frozenset, tuple):
    _allow(_BUILTINS, _kind.__name__, reduce=_container(_kind), factory=_kind)
for _kind in (int, float, str):
    _allow(_BUILTINS, _kind.__name__, factory=_kind)
for _name, _kind in (
    ("PosixPath", pathlib.PurePosixPath),
    ("PurePosixPath", pathlib.PurePosixPath),
    ("WindowsPath", pathlib.PureWindowsPath),
    ("PureWindowsPath", pathlib.PureWindowsPath),
):
    _allow(_PATHLIB, _name, reduce=_path(_kind))
_allow(("numpy",), "dtype", reduce=_numpy_dtype)
_allow(("numpy",), "ndarray")
_allow(_NUMPY_CORE, "scalar", reduce=_numpy_scalar)
_allow(_NUMPY_CORE, "_reconstruct", reduce=_numpy_reconstruct)
_allow(("torch._utils",), "_rebuild_tensor_v2", reduce=_rebuild_tensor)
_allow(("torch._utils",), "_rebuild_tensor", reduce=_rebuild_tensor)
_allow(("torch._utils",), "_rebuild_parameter", reduce=_rebuild_parameter)
for _name in STORAGE_DTYPES:
    _allow(("torch",), _name)
for _name in ("TrainingResult", "TrainingConfig"):
    _allow(("mabe.training",), _name, newobj=_training_class(f"mabe.training.{_name}"))


def allowed_globals() -> list[str]:
    """List every allowed global as "module.name", for documentation and tests."""
    return sorted(entry.path for entry in _GLOBALS.values())


def resolve_global(module: str, name: str) -> _Global:
    entry = _GLOBALS.get((module, name))
    if entry is None:
        raise CheckpointError(
            f"refused to load class or function {module}.{name}: it is not on the list of "
            "types a checkpoint may contain, so the file may try to run code"
        )
    return entry


_STORAGE_TYPES = {f"torch.{name}": StorageType(name) for name in STORAGE_DTYPES}


def storage_type_of(entry) -> StorageType:
    """Return the storage type an allowlisted `torch.*Storage` global stands for."""
    storage_type = _STORAGE_TYPES.get(entry.path) if isinstance(entry, _Global) else None
    if storage_type is not None:
        return storage_type
    raise CheckpointError(f"persistent id names {entry!r:.60} instead of a torch storage type")


def call_reduce(function, args):
    if not isinstance(function, _Global) or function.reduce is None:
        raise CheckpointError(
            f"rejected a call to {describe(function)}: only allowlisted constructors may be called"
        )
    if not isinstance(args, tuple):
        raise CheckpointError(f"arguments for {function.path} are not a tuple")
    return function.reduce(*args)


def call_newobj(cls, args, kwargs):
    if not isinstance(cls, _Global) or cls.newobj is None:
        raise CheckpointError(f"rejected creating an instance of {describe(cls)}: it is not an allowlisted class")
    if not isinstance(args, tuple) or not isinstance(kwargs, dict):
        raise CheckpointError(f"invalid arguments for {cls.path}")
    return cls.newobj(*args, **kwargs)


def call_build(target, state) -> None:
    if isinstance(target, PickledObject):
        if isinstance(state, tuple) and len(state) == 2 and state[1] is None:
            state = state[0]
        if not isinstance(state, dict) or not all(isinstance(key, str) for key in state):
            raise CheckpointError(f"{target.class_path} has a state that is not a dict of attributes")
        target.state.update(state)
    elif isinstance(target, (DtypeRecord, ArrayRecord)):
        target.build(state)
    else:
        raise CheckpointError(f"refused to set the state of a {type(target).__name__}")
