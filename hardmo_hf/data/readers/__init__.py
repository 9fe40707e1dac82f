"""Input readers: one module per source format, all yielding :class:`~hardmo_hf.data.record.PersonRecord` or
:class:`~hardmo_hf.data.record.Reject`.

Every reader module has the same interface, so the builder can run its work units as independent,
deterministic datatrove tasks::

    FORMAT: str
    list_units(root, **options) -> list[str]                          # sorted, stable work units
    read_unit(root, unit, **options) -> Iterator[PersonRecord | Reject]
    read_units_chunks(root, units, **options) -> Iterator[(int, RecordChunk)]  # optional, see below

``options`` are the same keyword arguments for every call (unknown ones raise ``TypeError``). A build task reads
its units through ``read_units_chunks`` where a reader has it: the same records and rejects, in the same order, as
``(units finished, RecordChunk)`` (:class:`~hardmo_hf.data.block.RecordChunk`: records column by column, rejects
with their place), in chunks that may span units; otherwise it groups ``read_unit``'s items into chunks. Units:

=================  ==============  ============================================================
format             root            unit
=================  ==============  ============================================================
``label_tree``     folder          ``"<subset>/<category>/<clip_id>"``
``webdataset``     folder or .tar  shard path relative to the folder
``npz``            .npz or folder  ``"<file>[<start>:<stop>]"`` row range (``chunk_size`` rows)
``humandata``      .npz or folder  ``"<file>[<start>:<stop>]"``
=================  ==============  ============================================================

>>> from hardmo_hf.data.readers import detect_format, get_reader, iter_records
>>> fmt = detect_format("PIPELINE_OUTPUT")                               # doctest: +SKIP
>>> for item in iter_records("PIPELINE_OUTPUT"): ...                     # doctest: +SKIP
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from ..record import PersonRecord, Reject
from . import humandata, label_tree, spin_npz, webdataset

READERS: dict[str, ModuleType] = {
    label_tree.FORMAT: label_tree,
    webdataset.FORMAT: webdataset,
    spin_npz.FORMAT: spin_npz,
    humandata.FORMAT: humandata,
}

__all__ = ["READERS", "detect_format", "get_reader", "iter_records"]


def get_reader(name: str) -> ModuleType:
    """The reader module of format ``name`` (one of :data:`READERS`)."""
    try:
        return READERS[name]
    except KeyError:
        raise ValueError(f"unknown input format {name!r} (known: {', '.join(READERS)})") from None


def _npz_format(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name[: -len(".npy")] for name in archive.namelist() if name.endswith(".npy")}
    except (OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc})") from None
    if "image_path" in members or "__keypoints_compressed__" in members or "keypoints2d" in members:
        return humandata.FORMAT
    if "imgname" in members:
        return spin_npz.FORMAT
    raise ValueError(f"{path}: an .npz with neither 'imgname' (SPIN / 4D-Humans) nor 'image_path' (HumanData)")


def detect_format(path) -> str:
    """The input format of ``path``, from its layout (no label is unpickled).

    * a ``.tar`` file, or a folder with ``.tar`` files and no label tree: ``webdataset``;
    * an ``.npz`` file, or a folder of them: ``humandata`` if it has ``image_path`` / ``keypoints2d``,
      ``npz`` if it has ``imgname``;
    * a folder with ``normal/``, or ``<category>/<clip_id>/`` folders holding ``.pyd`` labels: ``label_tree``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input {path} does not exist")
    if path.is_file():
        name = path.name.lower()
        if name.endswith(webdataset.TAR_SUFFIXES):
            return webdataset.FORMAT
        if name.endswith(".npz"):
            return _npz_format(path)
        raise ValueError(f"{path}: cannot tell the input format of this file (expected .tar or .npz)")
    if (path / "normal").is_dir():
        return label_tree.FORMAT
    for category in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for clip in sorted(p for p in category.iterdir() if p.is_dir()):
            if any(f.suffix == ".pyd" for f in clip.iterdir()):
                return label_tree.FORMAT
    tars = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(webdataset.TAR_SUFFIXES))
    if tars:
        return webdataset.FORMAT
    npzs = sorted(p for p in path.rglob("*.npz") if p.is_file())
    if npzs:
        formats = {_npz_format(p) for p in npzs}
        if len(formats) > 1:
            raise ValueError(f"{path} mixes SPIN / 4D-Humans and HumanData .npz files: read them separately")
        return formats.pop()
    raise ValueError(f"{path}: no label tree (normal/ or <category>/<clip_id>/*.pyd), .tar shards or .npz files")


def iter_records(root, format: str | None = None, **options) -> Iterator[PersonRecord | Reject]:
    """Every record and reject of ``root``, unit after unit (single process; the builder parallelises units)."""
    reader = get_reader(format or detect_format(root))
    for unit in reader.list_units(root, **options):
        yield from reader.read_unit(root, unit, **options)

