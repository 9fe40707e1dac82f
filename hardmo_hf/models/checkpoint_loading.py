"""Read the tensors of a checkpoint without executing anything it contains.

Accepted files:

* ``.safetensors`` state dicts;
* PyTorch zip-format pickles (``torch.save`` since 1.6): PyTorch-Lightning ``.ckpt`` files (the model weights are
  under ``"state_dict"``) and ``.pt`` / ``.pth`` state dicts (also a ``"state_dict"`` or ``"model"`` entry).

Pickles are read by a restricted unpickler: tensors are rebuilt from the zip's storage records (lazily, so
optimizer states and other large entries we do not use are never materialised), a handful of plain
containers and torch value types are allowed, and **every other global** (omegaconf configs, Lightning
callbacks, numpy arrays, arbitrary classes and functions) becomes an inert :class:`InertObject` that only
records its name and arguments. No pickled callable is ever invoked.
"""

from __future__ import annotations

import collections
import logging
import pickle
import zipfile
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

STATE_DICT_ENTRIES = ("state_dict", "model", "model_state_dict")

_STORAGE_DTYPES = {
    "DoubleStorage": torch.float64,
    "FloatStorage": torch.float32,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "ComplexFloatStorage": torch.complex64,
    "ComplexDoubleStorage": torch.complex128,
}
_TORCH_DTYPES = {
    name: getattr(torch, name)
    for name in (
        "float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
        "complex64", "complex128", "double", "float", "half", "long", "int", "short",
    )
}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read; the message names the file and the problem."""


class InertObject:
    """Stand-in for any pickled object we do not trust: it records what it was and does nothing.

    ``source`` is the ``module.name`` of the original global; ``args``/``kwargs`` the constructor arguments,
    ``state`` what ``__setstate__`` received, ``items``/``list_items`` what dict/list opcodes added.
    """

    source = "?"

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        self.state = None
        self.items = {}
        self.list_items = []

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.items[key] = value

    def append(self, value):
        self.list_items.append(value)

    def extend(self, values):
        self.list_items.extend(values)

    def __repr__(self) -> str:
        return f"<inert {self.source}>"


class _StorageType:
    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype


class LazyStorage:
    """A storage record of the zip archive, read on demand."""

    def __init__(self, key: str, dtype: torch.dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel


class LazyTensor:
    """A tensor described by the pickle (storage, offset, size, stride), materialised by :func:`_materialize`."""

    def __init__(self, storage: LazyStorage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.size

    @property
    def dtype(self) -> torch.dtype:
        return self.storage.dtype


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    if not isinstance(storage, LazyStorage):
        raise pickle.UnpicklingError("tensor rebuilt from something that is not a storage record")
    return LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *unused):
    return data


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, records: dict[str, int]):
        super().__init__(file, encoding="utf-8")
        self._records = records
        self._inert_classes: dict[tuple[str, str], type] = {}

    def find_class(self, module: str, name: str):
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is not None:
            return allowed
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch" and name in _TORCH_DTYPES:
            return _TORCH_DTYPES[name]
        key = (module, name)
        if key not in self._inert_classes:
            self._inert_classes[key] = type(name, (InertObject,), {"source": f"{module}.{name}", "__module__": __name__})
        return self._inert_classes[key]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel = pid
        if isinstance(storage_type, _StorageType):
            dtype = storage_type.dtype
        elif isinstance(storage_type, torch.dtype):
            dtype = storage_type
        else:
            raise pickle.UnpicklingError(f"storage {key} has an unsupported type {storage_type!r:.80}")
        if str(key) not in self._records:
            raise pickle.UnpicklingError(f"storage record {key} is missing from the archive")
        return LazyStorage(str(key), dtype, int(numel))


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The model weights of a checkpoint as ``{key: tensor}`` (CPU), exactly as stored.

    Lightning checkpoints give their ``"state_dict"`` entry (keys unchanged); plain state dicts are returned
    as they are. Raises :class:`CheckpointError` (naming the file) for unreadable or unexpected content.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path}: not a zip-format PyTorch checkpoint (legacy torch.save files are not supported; "
            "re-save it with a current torch.save, or convert it to .safetensors)"
        )
    with zipfile.ZipFile(path) as archive:
        obj, prefix = _unpickle(archive, path)
        state = _select_state_dict(obj, path)
        storages: dict[str, torch.Tensor] = {}
        tensors = {}
        for key, value in state.items():
            tensors[key] = _materialize(value, archive, prefix, storages, path)
    logger.info("read %d tensors from %s", len(tensors), path)
    return tensors


def _unpickle(archive: zipfile.ZipFile, path: Path):
    pickles = [name for name in archive.namelist() if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointError(f"{path}: expected one '<archive>/data.pkl' record, found {len(pickles)}")
    prefix = pickles[0][: -len("data.pkl")]
    byteorder_record = prefix + "byteorder"
    if byteorder_record in archive.namelist() and archive.read(byteorder_record).decode().strip() != "little":
        raise CheckpointError(f"{path}: big-endian checkpoints are not supported")
    records = {
        name[len(prefix) + len("data/"):]: 1
        for name in archive.namelist()
        if name.startswith(prefix + "data/")
    }
    with archive.open(pickles[0]) as handle:
        try:
            return _RestrictedUnpickler(handle, records).load(), prefix
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: cannot read its pickle safely ({exc})") from exc


def _select_state_dict(obj, path: Path) -> dict:
    if isinstance(obj, dict) and obj and all(isinstance(v, LazyTensor) for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for entry in STATE_DICT_ENTRIES:
            candidate = obj.get(entry)
            if isinstance(candidate, dict) and candidate and all(isinstance(v, LazyTensor) for v in candidate.values()):
                return candidate
        top = sorted(str(k) for k in obj)[:12]
        raise CheckpointError(
            f"{path}: no state dict found (looked for a dict of tensors at the top level or under "
            f"{list(STATE_DICT_ENTRIES)}; top-level keys: {top})"
        )
    raise CheckpointError(f"{path}: the checkpoint holds a {type(obj).__name__}, not a dict of tensors")


def _materialize(value: LazyTensor, archive, prefix: str, storages: dict, path: Path) -> torch.Tensor:
    storage = value.storage
    if storage.key not in storages:
        raw = archive.read(f"{prefix}data/{storage.key}")
        itemsize = torch.empty((), dtype=storage.dtype).element_size()
        if len(raw) != storage.numel * itemsize:
            raise CheckpointError(
                f"{path}: storage record {storage.key} has {len(raw)} bytes, expected {storage.numel * itemsize}"
            )
        flat = torch.frombuffer(bytearray(raw), dtype=storage.dtype) if raw else torch.empty(0, dtype=storage.dtype)
        storages[storage.key] = flat
    flat = storages[storage.key]
    needed = value.offset + sum((s - 1) * st for s, st in zip(value.size, value.stride)) + 1 if all(value.size) else 0
    if needed > flat.numel():
        raise CheckpointError(f"{path}: a tensor of shape {value.size} reads past its storage record {storage.key}")
    return torch.as_strided(flat, value.size, value.stride, value.offset).clone()
