"""Reader for SMPL pseudo-labels predicted by HMR 2.0 (or any model with the same outputs).

One file per clip, ``smpl.npz`` or ``smpl.pkl`` (pickles are read with the restricted unpickler: numpy arrays
and builtins only, never code). The content is either

* a dict of arrays stacked over the N predictions of the clip, or
* (pickle only) a list of N per-prediction dicts with the same keys, unstacked.

Keys (HMR 2.0 names):

``frame_index``  (N,) 0-based frame of each prediction (required);
``global_orient`` (N,1,3,3) | (N,3,3) | (N,3) and ``body_pose`` (N,23,3,3) | (N,23,3) | (N,69): rotation
    matrices or axis-angle (radians); they may sit under ``pred_smpl_params`` as in HMR 2.0's output dict.
    Without ``global_orient``, ``body_pose`` may hold all 24 joints ((N,24,3,3) or (N,72)), root first;
``betas`` (N,10);
where the person is: ``bbox`` (N,4) x1,y1,x2,y2 px (the detection box the prediction was made from; matched
    to tracks by IoU), or HMR 2.0's ``box_center`` (N,2) px (+ optional ``box_size``), the centre of its square
    crop (2.5x the detection box by default, so it is matched by centre distance, not IoU);
``track_id`` (N,) optional: when present, predictions are matched to tracks by id instead of box overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..constants import NUM_BETAS, NUM_SMPL_BODY_JOINTS, NUM_SMPL_JOINTS
from .rotations import as_axis_angle

SMPL_FILE_NAMES = ("smpl.npz", "smpl.pkl")


@dataclass
class SMPLPrediction:
    """One SMPL pseudo-label (axis-angle radians, global orientation in the camera frame)."""

    frame: int  # 0-based
    global_orient: np.ndarray  # (3,)
    body_pose: np.ndarray  # (69,)
    betas: np.ndarray  # (10,)
    box: np.ndarray | None  # (4,) x1, y1, x2, y2 px: the detection box, when given
    center: np.ndarray | None  # (2,) px: the crop centre, when only that is given
    track_id: int | None
    source: str


def find_smpl_file(clip_dir: Path) -> Path:
    found = [clip_dir / name for name in SMPL_FILE_NAMES if (clip_dir / name).is_file()]
    if len(found) > 1:
        raise ValueError(f"{clip_dir}: both {' and '.join(p.name for p in found)}: keep one")
    if found:
        return found[0]
    raise FileNotFoundError(
        f"{clip_dir}: no SMPL predictions found (expected {' or '.join(SMPL_FILE_NAMES)})"
    )


def read_hmr2_predictions(path: Path) -> list[SMPLPrediction]:
    """Read ``smpl.npz`` / ``smpl.pkl`` (see module docstring)."""
    path = Path(path)
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                content = {key: data[key] for key in data.files}
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: unreadable npz ({exc})") from exc
        return _from_stacked(content, str(path))
    from ..safe_pickle import load_pickle  # restricted unpickler: numpy arrays and builtins only

    content = load_pickle(path)
    if isinstance(content, dict):
        return _from_stacked(content, str(path))
    if isinstance(content, (list, tuple)):
        predictions = []
        for index, item in enumerate(content):
            where = f"{path}[{index}]"
            if not isinstance(item, dict):
                raise ValueError(f"{where}: expected a dict per prediction, got {type(item).__name__}")
            stacked = {k: np.asarray(v)[None] for k, v in _flatten(item, where).items()}
            predictions.extend(_from_stacked(stacked, where, single=True))
        return predictions
    raise ValueError(f"{path}: expected a dict of arrays or a list of dicts, got {type(content).__name__}")


def _flatten(content: dict, where: str) -> dict:
    flat = {k: v for k, v in content.items() if k != "pred_smpl_params"}
    nested = content.get("pred_smpl_params")
    if nested is not None:
        if not isinstance(nested, dict):
            raise ValueError(f"{where}: 'pred_smpl_params' must be a dict")
        flat.update(nested)
    return flat


def _from_stacked(content: dict, where: str, single: bool = False) -> list[SMPLPrediction]:
    content = _flatten(content, where)
    for key in ("frame_index", "body_pose", "betas"):
        if key not in content:
            raise ValueError(f"{where}: missing '{key}' (see the SMPL prediction format in docs/pipeline.md)")
    frames = np.asarray(content["frame_index"]).reshape(-1)
    count = frames.shape[0]
    if not np.all(np.equal(np.mod(frames, 1), 0)) or (count and frames.min() < 0):
        raise ValueError(f"{where}: 'frame_index' must hold non-negative integers")

    def per_item(key: str) -> np.ndarray:
        value = np.asarray(content[key])
        if value.shape[:1] != (count,):
            raise ValueError(f"{where}: '{key}' has {value.shape[:1]} rows, 'frame_index' has {count}")
        return value

    body_pose = per_item("body_pose")
    betas = per_item("betas").reshape(count, -1)
    if betas.shape[1] < NUM_BETAS:
        raise ValueError(f"{where}: 'betas' needs {NUM_BETAS} values per prediction, got {betas.shape[1]}")
    global_orient = per_item("global_orient") if "global_orient" in content else None
    boxes = centers = None
    if "bbox" in content:
        boxes = per_item("bbox").reshape(count, -1)[:, :4].astype(np.float64)
    elif "box_center" in content:
        centers = per_item("box_center").reshape(count, 2).astype(np.float64)
    track_ids = per_item("track_id").reshape(count) if "track_id" in content else None
    if boxes is None and centers is None and track_ids is None:
        raise ValueError(
            f"{where}: predictions need 'bbox', 'box_center' or 'track_id' to be matched to people"
        )

    predictions = []
    for i in range(count):
        item_where = where if single else f"{where}[{i}]"
        if global_orient is None:
            full = as_axis_angle(
                body_pose[i], NUM_SMPL_JOINTS, f"{item_where} body_pose (24 joints, no global_orient)"
            )
            root, pose = full[:3], full[3:]
        else:
            root = as_axis_angle(global_orient[i], 1, f"{item_where} global_orient")
            pose = as_axis_angle(body_pose[i], NUM_SMPL_BODY_JOINTS, f"{item_where} body_pose")
        beta = betas[i, :NUM_BETAS].astype(np.float32)
        box = None if boxes is None else boxes[i].astype(np.float32)
        center = None if centers is None else centers[i].astype(np.float32)
        values = [root, pose, beta] + [v for v in (box, center) if v is not None]
        if not all(np.all(np.isfinite(v)) for v in values):
            raise ValueError(f"{item_where}: non-finite SMPL parameters or box")
        track = None
        if track_ids is not None and np.isfinite(track_ids[i]) and track_ids[i] >= 0:
            track = int(track_ids[i])
        predictions.append(SMPLPrediction(int(frames[i]), root, pose, beta, box, center, track, item_where))
    return predictions
