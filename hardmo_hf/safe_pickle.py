"""A restricted unpickler for pickles that come from outside (labels, webdataset members, npz object arrays).

HardMo labels are pickles (``.pyd``): a dict (or a list of dicts) of numpy arrays and numbers. A plain
``pickle.load`` on such a file runs whatever the file asks for (``os.system`` through ``__reduce__``, ...).
:func:`load_pickle` only resolves the globals that are needed to rebuild numpy arrays, numpy scalars and
dtypes (numpy 1.x and 2.x pickles, protocols 0-5) and builtin containers; every other global is refused
with a :class:`UnsafePickleError` naming the file and the global. Nothing is imported and nothing is called
outside the allow-list.

>>> load_pickle(pickle.dumps({"betas": np.zeros(10)}), source="label.pyd")["betas"].shape
(10,)
"""

from __future__ import annotations

import collections
import io
import os
import pickle
from typing import Any, BinaryIO

import numpy as np

__all__ = ["ALLOWED_GLOBALS", "PickleLoadError", "UnsafePickleError", "load_pickle"]


class PickleLoadError(ValueError):
    """A pickle that cannot be read (truncated, corrupt, or refused). ``source`` names the file."""

    def __init__(self, source: str, message: str):
        super().__init__(f"{source}: {message}")
        self.source = source


class UnsafePickleError(PickleLoadError):
    """The pickle asks for a global outside the allow-list; it was not resolved or called."""

    def __init__(self, source: str, module: str, name: str):
        super().__init__(
            source,
            f"refused to unpickle global '{module}.{name}': only numpy arrays/scalars/dtypes and builtin "
            "containers are allowed in label pickles",
        )
        self.module = module
        self.name = name


def _numpy_core_attr(submodule: str, name: str):
    """``numpy._core.<submodule>.<name>`` on numpy 2, ``numpy.core.<submodule>.<name>`` on numpy 1."""
    core = getattr(np, "_core", None)
    if core is None or not hasattr(core, submodule):  # numpy 1.x
        core = np.core
    return getattr(getattr(core, submodule), name)


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """Stand-in for ``_codecs.encode``: protocol 0-2 pickles store ``bytes`` as ``encode(str, 'latin1')``."""
    if not isinstance(text, str) or encoding.lower().replace("_", "-") not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    reconstruct = _numpy_core_attr("multiarray", "_reconstruct")
    scalar = _numpy_core_attr("multiarray", "scalar")
    frombuffer = _numpy_core_attr("numeric", "_frombuffer")
    table: dict[tuple[str, str], Any] = {}
    # numpy: the same callables under the numpy 1.x (numpy.core) and 2.x (numpy._core) module names.
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        table[(f"{core}.multiarray", "scalar")] = scalar
        table[(f"{core}.numeric", "_frombuffer")] = frombuffer  # protocol 5 contiguous arrays
    table[("numpy", "ndarray")] = np.ndarray
    table[("numpy", "dtype")] = np.dtype
    # builtins (Python 3 names and the Python 2 names of protocol 0-2 pickles)
    for module in ("builtins", "__builtin__"):
        for name, obj in (
            ("dict", dict), ("list", list), ("tuple", tuple), ("set", set), ("frozenset", frozenset),
            ("bytearray", bytearray), ("complex", complex), ("slice", slice),
        ):
            table[(module, name)] = obj
    table[("collections", "OrderedDict")] = collections.OrderedDict
    table[("_codecs", "encode")] = _latin1_encode
    return table


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = _allowed_globals()
"""``(module, name) -> object`` for every global a label pickle may reference."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, source: str):
        super().__init__(file, fix_imports=False, encoding="latin1")
        self._source = source

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(self._source, module, name) from None

    def persistent_load(self, pid):
        raise PickleLoadError(self._source, "refused persistent id in pickle")


def load_pickle(data: str | os.PathLike | bytes | bytearray | memoryview | BinaryIO, source: str | None = None):
    """Unpickle ``data`` (a path, the pickle bytes, or a binary file object) with the restricted unpickler.

    Args:
        data: where the pickle is.
        source: the name used in error messages (defaults to the path, or ``"<bytes>"``).

    Returns:
        The unpickled object (dicts, lists, numpy arrays, numbers, strings...).

    Raises:
        UnsafePickleError: the pickle references a global outside :data:`ALLOWED_GLOBALS`.
        PickleLoadError: the pickle is truncated or corrupt (also a ``ValueError``).
        FileNotFoundError: ``data`` is a path that does not exist.
    """
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        source = source or path
        with open(path, "rb", buffering=0) as handle:  # one read of the whole file, then unpickle in memory:
            data = handle.read()  # ~2x faster than unpickling through a buffered file for small label files
    if isinstance(data, (bytes, bytearray, memoryview)):
        return _load(io.BytesIO(data), source or "<bytes>")
    return _load(data, source or getattr(data, "name", "<stream>"))


def _load(handle: BinaryIO, source: str):
    try:
        return _RestrictedUnpickler(handle, source).load()
    except PickleLoadError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, OverflowError, UnicodeDecodeError) as exc:
        raise PickleLoadError(source, f"unreadable pickle ({type(exc).__name__}: {exc})") from exc
