"""Read ``.npz`` archives from outside without ``np.load(allow_pickle=True)``.

SPIN / 4D-Humans annotation files and MMHuman3D HumanData files are ``.npz`` archives whose object members
(``extra_info``, the ``smpl`` dict, ``meta``...) are pickles. :class:`NpzArchive` reads every member lazily:

* plain arrays in an uncompressed archive (``np.savez``) are memory-mapped, so reading rows ``a:b`` of a
  7M-row array does not load the rest;
* plain arrays in a compressed archive (``np.savez_compressed``) are decompressed: :meth:`NpzArchive.rows`
  streams them forward, so consecutive row ranges (the units of one task) cost one pass over the member and
  memory for one range (a range before the last one read starts the member again);
* object arrays go through :func:`hardmo_hf.safe_pickle.load_pickle` (numpy and builtins only) and are
  loaded whole, once.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np

from ..safe_pickle import PickleLoadError, load_pickle

__all__ = ["NpzArchive", "NpzError"]

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zip local file header (30 bytes)


class NpzError(ValueError):
    """An ``.npz`` archive or one of its members cannot be read; the message names the file and member."""


class NpzArchive:
    """Lazy, pickle-safe reader of an ``.npz`` archive.

    Args:
        path: the ``.npz`` file.
        source: the name used in error messages (defaults to ``path``).
    """

    def __init__(self, path: str | Path, source: str | None = None):
        self.path = Path(path)
        self.source = source or str(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise NpzError(f"{self.source}: not a readable .npz archive ({exc})") from exc
        self._members = {
            info.filename[: -len(".npy")]: info for info in self._zip.infolist() if info.filename.endswith(".npy")
        }
        self._headers: dict[str, tuple[tuple[int, ...], bool, np.dtype, int]] = {}
        self._streams: dict[str, tuple] = {}  # key -> (open member, next row) for forward reads
        self._objects: dict[str, np.ndarray] = {}

    # -- context manager ------------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for stream, _ in self._streams.values():
            stream.close()
        self._streams.clear()
        self._zip.close()

    # -- members --------------------------------------------------------------------------------------
    def keys(self) -> list[str]:
        return sorted(self._members)

    def __contains__(self, key: str) -> bool:
        return key in self._members

    def __iter__(self):
        return iter(self.keys())

    def _header(self, key: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
        """``(shape, fortran_order, dtype, header_bytes)`` of member ``key``."""
        if key not in self._headers:
            info = self._member(key)
            with self._zip.open(info) as fp:
                try:
                    version = np.lib.format.read_magic(fp)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
                    else:
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
                except (ValueError, OSError, zipfile.BadZipFile) as exc:
                    raise NpzError(f"{self.source}: member {key!r} is not a valid .npy array ({exc})") from exc
                header_bytes = fp.tell()
            self._headers[key] = (tuple(int(s) for s in shape), bool(fortran), dtype, header_bytes)
        return self._headers[key]

    def _member(self, key: str) -> zipfile.ZipInfo:
        try:
            return self._members[key]
        except KeyError:
            raise KeyError(f"{self.source}: no member {key!r} (has: {', '.join(self.keys())})") from None

    def shape(self, key: str) -> tuple[int, ...]:
        return self._header(key)[0]

    def dtype(self, key: str) -> np.dtype:
        return self._header(key)[2]

    def __getitem__(self, key: str) -> np.ndarray:
        return self.array(key)

    def array(self, key: str, mmap: bool = True) -> np.ndarray:
        """The member ``key`` as a numpy array (read-only; memory-mapped when stored uncompressed)."""
        shape, fortran, dtype, header_bytes = self._header(key)
        info = self._member(key)
        name = f"{self.source}::{info.filename}"
        order = "F" if fortran else "C"
        if dtype.hasobject:
            if key not in self._objects:
                with self._zip.open(info) as fp:
                    fp.seek(header_bytes)
                    try:
                        value = load_pickle(fp, source=name)
                    except PickleLoadError as exc:
                        raise NpzError(str(exc)) from exc
                if not isinstance(value, np.ndarray):
                    raise NpzError(f"{name}: object member does not hold an array (got {type(value).__name__})")
                self._objects[key] = value
            return self._objects[key]
        count = int(np.prod(shape, dtype=np.int64))
        expected = count * dtype.itemsize
        if info.file_size - header_bytes < expected:
            raise NpzError(f"{name}: truncated member ({info.file_size - header_bytes} of {expected} data bytes)")
        if mmap and info.compress_type == zipfile.ZIP_STORED and count > 0 and shape != ():
            with open(self.path, "rb") as raw:
                raw.seek(info.header_offset)
                fields = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
            if fields[0] != b"PK\x03\x04":
                raise NpzError(f"{name}: corrupt zip local header")
            name_len, extra_len = fields[-2], fields[-1]
            offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len + header_bytes
            return np.memmap(self.path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
        with self._zip.open(info) as fp:
            fp.seek(header_bytes)
            try:
                data = fp.read(expected)
            except (OSError, zipfile.BadZipFile, EOFError) as exc:
                raise NpzError(f"{name}: unreadable member ({exc})") from exc
        if len(data) < expected:
            raise NpzError(f"{name}: truncated member ({len(data)} of {expected} data bytes)")
        return np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order=order)

    def rows(self, key: str, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (first axis) of member ``key``, reading no more of the member than needed."""
        shape, fortran, dtype, header_bytes = self._header(key)
        info = self._member(key)
        if (dtype.hasobject or not shape or fortran or info.compress_type == zipfile.ZIP_STORED):
            return np.asarray(self.array(key)[start:stop])
        stop = min(stop, shape[0])
        start = min(start, stop)
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        stream, position = self._streams.get(key, (None, 0))
        if stream is None or start < position:
            if stream is not None:
                stream.close()
            stream = self._zip.open(info)
            stream.seek(header_bytes)
            position = 0
        name = f"{self.source}::{info.filename}"
        try:
            _skip(stream, (start - position) * row_bytes)
            data = stream.read((stop - start) * row_bytes)
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise NpzError(f"{name}: unreadable member ({exc})") from exc
        if len(data) < (stop - start) * row_bytes:
            raise NpzError(f"{name}: truncated member")
        self._streams[key] = (stream, stop)
        return np.frombuffer(data, dtype=dtype).reshape((stop - start,) + shape[1:])


def _skip(stream, count: int, block: int = 1 << 24) -> None:
    """Read and drop ``count`` bytes of a (decompressing) stream, in bounded blocks."""
    while count > 0:
        data = stream.read(min(block, count))
        if not data:
            raise EOFError("member ends early")
        count -= len(data)
