"""Reader of MMHuman3D HumanData ``.npz`` files plus an image root.

HumanData keys used (``N`` rows; MMHuman3D ``HumanData.dump`` writes them with ``np.savez_compressed``):

* ``image_path`` (N,): image path relative to ``image_root``;
* ``bbox_xywh`` (N,4) or (N,5): box corner and size in px, 5th column a box score (rows with score <= 0 are
  rejected as ``invalid_bbox``). ``center`` = box centre, ``scale`` = ``max(w, h) / 200`` (MMHuman3D's
  converters store the already expanded box, as its own loader assumes);
* ``keypoints2d`` (N,190,3) in the 190-point ``human_data`` convention with ``keypoints2d_mask`` (190,);
  when ``__keypoints_compressed__`` is set, ``keypoints2d`` holds only the ``mask == 1`` columns and is
  re-padded through the mask;
* ``keypoints3d`` (N,190,4) + ``keypoints3d_mask`` (same compression), used for ``keypoints_3d``;
* ``smpl``: a dict with ``global_orient`` (N,3), ``body_pose`` (N,23,3) or (N,69), ``betas`` (N,10)
  (``transl`` ignored), and ``has_smpl`` (N,) (default: all 1 when ``smpl`` exists);
* accepted and not used: ``config``, ``meta``, ``misc``, ``image_id``, ``smplh``, ``smplx``, ``vertices``,
  ``keypoints2d_convention`` / ``keypoints3d_convention`` (must be ``human_data``), ``__data_len__``,
  ``__key_strict__``.

Keypoints map to the label layout through ``HUMANDATA_LABEL44_NAMES`` (OpenPose BODY_25 points, falling
back to the COCO-WholeBody points where the mask disables them, then the SMPL-49 J19 points), fingertips
through the COCO-WholeBody tip names, and ``wholebody_133`` is filled when the mask enables all 133
COCO-WholeBody points (the hand root is the body wrist; HumanData has no separate hand root).

Work units are row ranges ``"<file>[<start>:<stop>]"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...constants import (
    BBOX_SCALE_UNIT,
    HUMANDATA_INDEX,
    HUMANDATA_LABEL44_NAMES,
    HUMANDATA_WHOLEBODY133_NAMES,
    NUM_HUMANDATA_KEYPOINTS,
    WHOLEBODY_FINGERTIPS,
)
from ..keypoint_convert import humandata_to_label44, humandata_to_wholebody133
from ..npz_io import NpzArchive, NpzError
from ..record import PersonRecord, Reject
from ._columns import records_from_columns
from ._common import (
    FlatSourceOptions,
    RecordError,
    SampleNamer,
    cached_subject_map,
    npz_row_units,
    occurrence_index,
    parse_index_unit,
    parse_options,
)
from .spin_npz import DEFAULT_CHUNK_SIZE

FORMAT = "humandata"
KNOWN_KEYS = frozenset({
    "image_path", "image_id", "bbox_xywh", "config", "keypoints2d", "keypoints2d_mask", "keypoints2d_convention",
    "keypoints3d", "keypoints3d_mask", "keypoints3d_convention", "smpl", "smplh", "smplx", "has_smpl", "meta",
    "misc", "vertices", "__data_len__", "__key_strict__", "__keypoints_compressed__",
})
SMPL_KEYS = frozenset({"global_orient", "body_pose", "betas", "transl"})
_FINGERTIP_NAMES = tuple(HUMANDATA_WHOLEBODY133_NAMES[i] for i in WHOLEBODY_FINGERTIPS)
_FINGERTIPS = np.array([HUMANDATA_INDEX[name] for name in _FINGERTIP_NAMES])
_WHOLEBODY = np.array(sorted({HUMANDATA_INDEX[name] for name in HUMANDATA_WHOLEBODY133_NAMES}))
_LABEL44 = np.array([HUMANDATA_INDEX[name] for name in HUMANDATA_LABEL44_NAMES])

__all__ = ["FORMAT", "OPTIONS", "list_units", "read_unit"]


@dataclass(frozen=True)
class _Options(FlatSourceOptions):
    image_root: str | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE


OPTIONS = tuple(f.name for f in dataclasses.fields(_Options))  # the keyword options of both calls


def _options(options: dict) -> _Options:
    return parse_options(_Options, options, "humandata")


def list_units(root, **options) -> list[str]:
    """Row ranges ``"<file>[<start>:<stop>]"`` of every HumanData ``.npz`` of ``root`` (a file or a folder)."""
    return npz_row_units(root, "image_path", _options(options).chunk_size, "HumanData")


def _scalar(archive: NpzArchive, key: str, default):
    if key not in archive:
        return default
    value = np.asarray(archive.array(key))
    return value.item() if value.shape == () else value


@dataclass
class _FileData:
    archive: NpzArchive
    rows: int
    person_ids: np.ndarray
    mask2d: np.ndarray
    mask3d: np.ndarray | None
    compressed: bool
    smpl: dict | None


@lru_cache(maxsize=4)
def _open(path: str, mtime_ns: int, size: int, source: str, strict_keys: bool) -> _FileData:
    archive = NpzArchive(path, source=source)
    unknown = sorted(set(archive.keys()) - KNOWN_KEYS)
    if unknown and strict_keys:
        raise RecordError("unknown_keys", f"{source}: unknown arrays {unknown}")
    for key in ("image_path", "bbox_xywh", "keypoints2d"):
        if key not in archive:
            raise RecordError("missing_key", f"{source}: no {key!r} array")
    for key in ("keypoints2d_convention", "keypoints3d_convention"):
        convention = _scalar(archive, key, "human_data")
        if str(convention) != "human_data":
            raise RecordError("unsupported_convention", f"{source}: {key} is {convention!r}; only the 190-point "
                                                        "human_data convention is supported")
    rows = archive.shape("image_path")[0]
    compressed = bool(_scalar(archive, "__keypoints_compressed__", False))
    mask2d = _mask(archive, "keypoints2d", compressed, source)
    mask3d = _mask(archive, "keypoints3d", compressed, source) if "keypoints3d" in archive else None
    smpl = None
    if "smpl" in archive:
        smpl = _scalar(archive, "smpl", None)
        if not isinstance(smpl, dict):
            raise RecordError("wrong_type", f"{source}: smpl is a {type(smpl).__name__}, expected a dict")
        extra = sorted(set(smpl) - SMPL_KEYS)
        if extra and strict_keys:
            raise RecordError("unknown_keys", f"{source}: unknown smpl keys {extra}")
        for key, value in smpl.items():
            if key in SMPL_KEYS and (not isinstance(value, np.ndarray) or len(value) != rows):
                raise RecordError("wrong_shape", f"{source}: smpl[{key!r}] has shape {np.shape(value)}, "
                                                 f"expected {rows} rows")
    for key in ("bbox_xywh", "keypoints2d", "keypoints3d", "has_smpl"):
        if key in archive and archive.shape(key)[:1] != (rows,):
            raise RecordError("wrong_shape", f"{source}: {key} has shape {archive.shape(key)}, expected {rows} rows")
    names = [str(n) for n in np.asarray(archive.array("image_path"))]
    return _FileData(archive, rows, occurrence_index(names), mask2d, mask3d, compressed, smpl)


def _mask(archive: NpzArchive, key: str, compressed: bool, source: str) -> np.ndarray:
    shape = archive.shape(key)
    if f"{key}_mask" in archive:
        mask = (np.asarray(archive.array(f"{key}_mask")).reshape(-1) != 0).astype(np.uint8)
        if mask.shape != (NUM_HUMANDATA_KEYPOINTS,):
            raise RecordError("wrong_shape", f"{source}: {key}_mask has shape {mask.shape}, expected (190,)")
    elif compressed:
        raise RecordError("missing_key", f"{source}: compressed {key} without {key}_mask")
    else:
        mask = np.ones(NUM_HUMANDATA_KEYPOINTS, dtype=np.uint8)
    columns = int(mask.sum()) if compressed else NUM_HUMANDATA_KEYPOINTS
    if len(shape) != 3 or shape[1] != columns:
        raise RecordError("wrong_shape", f"{source}: {key} has shape {shape}, expected (N, {columns}, ...) "
                                         f"({'compressed through the mask' if compressed else '190 points'})")
    return mask


def _padded(archive: NpzArchive, key: str, mask: np.ndarray, compressed: bool, start: int, stop: int) -> np.ndarray:
    values = np.asarray(archive.rows(key, start, stop), dtype=np.float32)
    if not compressed:
        return values
    full = np.zeros((len(values), NUM_HUMANDATA_KEYPOINTS, values.shape[2]), dtype=np.float32)
    full[:, mask == 1] = values
    return full


def _columns(data: _FileData, start: int, stop: int) -> dict:
    archive = data.archive
    n = stop - start
    kp190 = _padded(archive, "keypoints2d", data.mask2d, data.compressed, start, stop)
    if kp190.shape[2] != 3:
        raise RecordError("wrong_shape", f"keypoints2d has {kp190.shape[2]} columns, expected 3")
    hand = kp190[:, _FINGERTIPS].copy()
    hand[:, data.mask2d[_FINGERTIPS] == 0] = 0.0
    wholebody = humandata_to_wholebody133(kp190, data.mask2d) if data.mask2d[_WHOLEBODY].all() else None
    keypoints_3d = None
    if data.mask3d is not None:
        kp3d = _padded(archive, "keypoints3d", data.mask3d, data.compressed, start, stop)
        if kp3d.shape[2] != 4:
            raise RecordError("wrong_shape", f"keypoints3d has {kp3d.shape[2]} columns, expected 4")
        keypoints_3d = kp3d[:, _LABEL44].copy()
        keypoints_3d[:, data.mask3d[_LABEL44] == 0] = 0.0
    bbox = np.asarray(archive.rows("bbox_xywh", start, stop), dtype=np.float64)
    if bbox.ndim != 2 or bbox.shape[1] not in (4, 5):
        raise RecordError("wrong_shape", f"bbox_xywh has rows of shape {bbox.shape[1:]}, expected (4,) or (5,)")
    columns = {
        "imgname": archive.rows("image_path", start, stop),
        "center": bbox[:, :2] + bbox[:, 2:4] / 2,
        "scale": np.where(bbox[:, 2:4].min(axis=1) > 0, bbox[:, 2:4].max(axis=1) / BBOX_SCALE_UNIT, 0.0),
        "keypoints_2d": humandata_to_label44(kp190, data.mask2d), "hand_keypoints_2d": hand,
        "wholebody_keypoints_2d": wholebody, "keypoints_3d": keypoints_3d,
        "body_pose": None, "betas": None, "has_body_pose": None, "has_betas": None, "extra_info": None,
        "bbox_score": bbox[:, 4] if bbox.shape[1] == 5 else np.ones(n),
    }
    if data.smpl is not None and {"global_orient", "body_pose"} <= set(data.smpl):
        orient = np.asarray(data.smpl["global_orient"][start:stop], dtype=np.float64).reshape(n, -1)
        pose = np.asarray(data.smpl["body_pose"][start:stop], dtype=np.float64).reshape(n, -1)
        columns["body_pose"] = np.concatenate([orient, pose], axis=1)
    if data.smpl is not None and "betas" in data.smpl:
        columns["betas"] = np.asarray(data.smpl["betas"][start:stop], dtype=np.float64).reshape(n, -1)
    if data.smpl is not None:
        has = archive.rows("has_smpl", start, stop).reshape(n) if "has_smpl" in archive else np.ones(n)
        columns["has_body_pose"] = columns["has_betas"] = has
    return columns


def read_unit(root, unit: str, **options) -> Iterator[PersonRecord | Reject]:
    """Records and rejects of rows ``start:stop`` of one HumanData file, in row order.

    Options (the same for :func:`list_units`): ``image_root`` (default: the npz file's folder), ``chunk_size``,
    ``name_pattern`` / ``category`` (how ``image_path`` names the sample), ``subset``, ``subject_map``,
    ``image_check``, ``strict_keys``.
    """
    opts = _options(options)
    root = Path(root)
    base = root.parent if root.is_file() else root
    name, start, stop = parse_index_unit(unit)
    path = base / name
    stat = path.stat()
    image_root = Path(opts.image_root) if opts.image_root else path.parent
    namer = SampleNamer(opts.name_pattern, opts.category)
    subjects = cached_subject_map(opts.subject_map)
    try:
        data = _open(str(path), stat.st_mtime_ns, stat.st_size, name, opts.strict_keys)
        if stop > data.rows:
            raise ValueError(f"{unit}: {name} has only {data.rows} rows")
        columns = _columns(data, start, stop)
    except RecordError as exc:
        for row in range(start, stop):
            yield exc.reject(f"{name}[{row}]")
        return
    except NpzError as exc:
        for row in range(start, stop):
            yield Reject(f"{name}[{row}]", "unreadable_npz", str(exc))
        return
    row_errors = [RecordError("invalid_bbox", f"bbox_xywh score {score:g} <= 0") if score <= 0 else None
                  for score in columns["bbox_score"]]
    yield from records_from_columns(
        columns, person_ids=data.person_ids, scale_factor=1.0, name=name, start=start, stop=stop,
        image_root=image_root, namer=namer, subjects=subjects, opts=opts, source_format=FORMAT,
        row_errors=row_errors)
