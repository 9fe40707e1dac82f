"""Reader of SPIN / 4D-Humans annotation ``.npz`` files plus an image root.

One row per person. Keys (``N`` rows; every key but ``imgname``, ``center``, ``scale`` is optional):

=========================  ============  ==============================================================
key                        shape         meaning
=========================  ============  ==============================================================
``imgname``                (N,)          image path relative to ``image_root``
``center``                 (N,2)         box centre, px
``scale``                  (N,) (N,1)    box size: **SPIN: box / 200; 4D-Humans: px** (see below);
                           (N,2)         per-axis sizes use the larger
``body_keypoints_2d``      (N,25,3)      OpenPose BODY_25 rows of the label layout (4D-Humans)
``extra_keypoints_2d``     (N,19,3)      J19 rows (4D-Humans)
``keypoints_2d``           (N,44,3)      the whole label layout at once
``openpose`` / ``part``    (N,25,3) /    SPIN: BODY_25, and the 24 SPIN joints whose first 19 are J19
                           (N,24,3)
``hand_keypoints_2d``      (N,10,3)      fingertips (HardMo)
``wholebody_keypoints_2d`` (N,133,3)     COCO-WholeBody (fills BODY_25 / fingertips when those are absent)
``body_keypoints_3d`` +    (N,25,4) +    3D keypoints (m + confidence); SPIN ``S`` (N,24,4) fills J19
``extra_keypoints_3d``     (N,19,4)
``body_pose`` | ``pose``   (N,72)        SMPL axis-angle, global orientation first
``betas`` | ``shape``      (N,10)
``has_body_pose``,         (N,)          validity flags (SPIN: ``has_smpl`` for both); default 1 when
``has_betas``                            the parameters are present
``extra_info``             (N,) object   per-row dicts (unpickled with the restricted unpickler)
``personid``               (N,)          person id; default: the row's occurrence index of its image
``gender``, ``maskname``,  (N,)          accepted, not used
``partname``
=========================  ============  ==============================================================

**Scale units.** SPIN stores ``scale = box / 200``; 4D-Humans' npz files store the box in pixels (its
loader divides by 200). ``scale_units="auto"`` (default) decides per file from the ratio of ``scale`` to the
extent of the confident 2D keypoints (about 1.2/200 for box/200, about 1.2 for px; the threshold is 0.1),
or from ``median(scale) < 20`` when no row has keypoints; ``"box200"`` / ``"px"`` force it.

Work units are row ranges ``"<file>[<start>:<stop>]"`` of ``chunk_size`` rows. Plain arrays are
memory-mapped (uncompressed archives), so a unit reads only its rows.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...constants import BBOX_SCALE_UNIT
from ..keypoint_convert import label44_from_wholebody133
from ..npz_io import NpzArchive, NpzError
from ..record import PersonRecord, Reject
from ._columns import records_from_columns
from ._common import (
    FlatSourceOptions,
    RecordError,
    SampleNamer,
    as_text,
    cached_subject_map,
    check_option,
    npz_row_units,
    occurrence_index,
    parse_index_unit,
    parse_options,
)

FORMAT = "npz"
SCALE_UNITS = ("auto", "box200", "px")
DEFAULT_CHUNK_SIZE = 5000
SCALE_RATIO_THRESHOLD = 0.1  # scale / keypoint extent: ~0.006 for box/200, ~1.2 for px
SCALE_PX_THRESHOLD = 20.0  # fallback without keypoints: median scale below this is box/200
_DETECTION_ROWS = 20000

# Per-row keys and their shape after the row axis.
ROW_KEYS = {
    "imgname": (), "center": (2,), "scale": None, "keypoints_2d": (44, 3),
    "body_keypoints_2d": (25, 3), "extra_keypoints_2d": (19, 3), "openpose": (25, 3), "part": (24, 3),
    "hand_keypoints_2d": (10, 3), "wholebody_keypoints_2d": (133, 3),
    "body_keypoints_3d": (25, 4), "extra_keypoints_3d": (19, 4), "S": (24, 4),
    "body_pose": (72,), "pose": (72,), "betas": (10,), "shape": (10,),
    "has_body_pose": (), "has_betas": (), "has_smpl": (), "extra_info": (), "personid": (),
    "gender": (), "maskname": (), "partname": (),
}

logger = logging.getLogger(__name__)

__all__ = ["FORMAT", "OPTIONS", "SCALE_UNITS", "detect_scale_units", "list_units", "read_unit"]


@dataclass(frozen=True)
class _Options(FlatSourceOptions):
    image_root: str | None = None
    scale_units: str = "auto"
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self):
        super().__post_init__()
        check_option("scale_units", self.scale_units, SCALE_UNITS)


OPTIONS = tuple(f.name for f in dataclasses.fields(_Options))  # the keyword options of both calls


def _options(options: dict) -> _Options:
    return parse_options(_Options, options, "npz")


def list_units(root, **options) -> list[str]:
    """Row ranges ``"<file>[<start>:<stop>]"`` of every ``.npz`` file of ``root`` (a file or a folder)."""
    return npz_row_units(root, "imgname", _options(options).chunk_size, "SPIN / 4D-Humans annotation")


def detect_scale_units(scale: np.ndarray, keypoints_2d: np.ndarray) -> str:
    """``"box200"`` or ``"px"`` for ``scale`` ``(N,)`` given the rows' 2D keypoints ``(N,K,3)``."""
    scale = np.asarray(scale, dtype=np.float64).reshape(len(scale), -1).max(axis=1)
    ratios = []
    for value, keypoints in zip(scale, np.asarray(keypoints_2d)):
        visible = keypoints[keypoints[:, 2] > 0, :2]
        if len(visible) >= 2 and np.isfinite(visible).all():
            extent = float((visible.max(0) - visible.min(0)).max())
            if extent > 1.0 and np.isfinite(value) and value > 0:
                ratios.append(value / extent)
    if ratios:
        return "box200" if float(np.median(ratios)) < SCALE_RATIO_THRESHOLD else "px"
    finite = scale[np.isfinite(scale)]
    if finite.size == 0:
        return "box200"
    return "box200" if float(np.median(finite)) < SCALE_PX_THRESHOLD else "px"


@dataclass
class _FileData:
    archive: NpzArchive
    rows: int
    person_ids: np.ndarray
    scale_factor: float  # multiply stored scale by this to get box / 200


@lru_cache(maxsize=4)
def _open(path: str, mtime_ns: int, size: int, source: str, scale_units: str, strict_keys: bool) -> _FileData:
    archive = NpzArchive(path, source=source)
    unknown = sorted(set(archive.keys()) - set(ROW_KEYS))
    if unknown and strict_keys:
        raise RecordError("unknown_keys", f"{source}: unknown arrays {unknown}")
    for key in ("imgname", "center", "scale"):
        if key not in archive:
            raise RecordError("missing_key", f"{source}: no {key!r} array")
    rows = archive.shape("imgname")[0]
    for key in ROW_KEYS:
        if key in archive and (not archive.shape(key) or archive.shape(key)[0] != rows):
            raise RecordError("wrong_shape", f"{source}: {key} has shape {archive.shape(key)}, expected {rows} rows")
    if "personid" in archive:
        person_ids = np.asarray(archive.array("personid"), dtype=np.int64).reshape(-1)
    else:
        person_ids = occurrence_index([as_text(n) for n in archive.array("imgname")])
    if scale_units == "auto":
        stop = min(rows, _DETECTION_ROWS)
        sample = _columns(archive, 0, stop)
        scale_units = detect_scale_units(sample["scale"], sample["keypoints_2d"])
        logger.info("%s: scale read as %s (scale_units='auto')", source, "box / 200" if scale_units == "box200" else "px")
    return _FileData(archive, rows, person_ids, 1.0 if scale_units == "box200" else 1.0 / BBOX_SCALE_UNIT)


def _rows(archive: NpzArchive, key: str, start: int, stop: int):
    """Rows ``start:stop`` of ``key`` with their expected per-row shape, or ``None`` when absent."""
    if key not in archive:
        return None
    values = archive.rows(key, start, stop)
    tail = ROW_KEYS[key]
    if tail is None or values.shape[1:] == tail:
        return values
    if values.dtype != object and int(np.prod(values.shape[1:])) == int(np.prod(tail)):
        return values.reshape((len(values),) + tail)
    raise RecordError("wrong_shape", f"{key} has rows of shape {values.shape[1:]}, expected {tail}")


def _columns(archive: NpzArchive, start: int, stop: int) -> dict:
    """The per-row fields of rows ``start:stop`` in the label layout (scale in stored units)."""
    n = stop - start
    get = lambda key: _rows(archive, key, start, stop)
    scale = get("scale")
    if scale.dtype == object or scale.ndim > 2 or (scale.ndim == 2 and scale.shape[1] not in (1, 2)):
        raise RecordError("wrong_shape", f"scale has rows of shape {scale.shape[1:]}, expected (), (1,) or (2,)")
    wholebody = get("wholebody_keypoints_2d")
    keypoints = get("keypoints_2d")
    if keypoints is None:
        body = get("body_keypoints_2d")
        if body is None:
            body = get("openpose")
        if body is None and wholebody is not None:
            body = label44_from_wholebody133(wholebody)[:, :25]
        extra = get("extra_keypoints_2d")
        if extra is None and "part" in archive:
            extra = get("part")[:, :19]
        if body is None and extra is None:
            raise RecordError("missing_key", "no 2D keypoints (keypoints_2d, body_keypoints_2d, openpose, part or "
                                             "wholebody_keypoints_2d)")
        body = np.zeros((n, 25, 3)) if body is None else body
        extra = np.zeros((n, 19, 3)) if extra is None else extra
        keypoints = np.concatenate([body, extra], axis=1)
    keypoints_3d = None
    body3d, extra3d = get("body_keypoints_3d"), get("extra_keypoints_3d")
    if extra3d is None and "S" in archive:
        extra3d = get("S")[:, :19]
    if body3d is not None or extra3d is not None:
        keypoints_3d = np.concatenate([np.zeros((n, 25, 4)) if body3d is None else body3d,
                                       np.zeros((n, 19, 4)) if extra3d is None else extra3d], axis=1)
    pose = get("body_pose") if "body_pose" in archive else get("pose")
    betas = get("betas") if "betas" in archive else get("shape")
    has_smpl = get("has_smpl")
    return {
        "imgname": get("imgname"), "center": get("center"), "scale": scale, "keypoints_2d": keypoints,
        "hand_keypoints_2d": get("hand_keypoints_2d"), "wholebody_keypoints_2d": wholebody,
        "keypoints_3d": keypoints_3d, "body_pose": pose, "betas": betas,
        "has_body_pose": get("has_body_pose") if "has_body_pose" in archive else has_smpl,
        "has_betas": get("has_betas") if "has_betas" in archive else has_smpl,
        "extra_info": get("extra_info"),
    }


def read_unit(root, unit: str, **options) -> Iterator[PersonRecord | Reject]:
    """Records and rejects of rows ``start:stop`` of one file, in row order.

    Options (the same for :func:`list_units`): ``image_root`` (default: the npz file's folder),
    ``scale_units`` (``"auto"`` | ``"box200"`` | ``"px"``), ``chunk_size``, ``name_pattern`` / ``category``
    (how ``imgname`` names the sample; default ``<category>/<clip_id>/<frame>.<ext>``), ``subset``,
    ``subject_map``, ``image_check``, ``strict_keys``.
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
        data = _open(str(path), stat.st_mtime_ns, stat.st_size, name, opts.scale_units, opts.strict_keys)
        if stop > data.rows:
            raise ValueError(f"{unit}: {name} has only {data.rows} rows")
        columns = _columns(data.archive, start, stop)
    except RecordError as exc:
        for row in range(start, stop):
            yield exc.reject(f"{name}[{row}]")
        return
    except NpzError as exc:
        for row in range(start, stop):
            yield Reject(f"{name}[{row}]", "unreadable_npz", str(exc))
        return
    yield from records_from_columns(
        columns, person_ids=data.person_ids, scale_factor=data.scale_factor, name=name, start=start, stop=stop,
        image_root=image_root, namer=namer, subjects=subjects, opts=opts, source_format=FORMAT)
