"""Building and writing HardMo labels (the authors' per-person ``.pyd`` pickles).

A label is a dict (see HARDMO_FACTS and ``docs/pipeline_output_format.md``):

``keypoints_2d`` (44,3) float32: full-image px + confidence in [0,1]; rows 0-24 OpenPose BODY_25 (from the
    COCO-WholeBody 133 points, neck and mid-hip as midpoints), rows 25-43 (J19) zeros;
``hand_keypoints_2d`` (10,3) float32: fingertips, left thumb..pinky then right thumb..pinky;
``wholebody_keypoints_2d`` (133,3) float32: the COCO-WholeBody points with MMPose's raw scores;
``body_pose`` (72,) float32: SMPL axis-angle, radians, global orientation first; ``betas`` (10,) float32;
``center`` (2,) float32 px and ``scale`` float (box side / 200) of the square person box;
``has_body_pose``, ``has_betas`` (1.0 / 0.0);
``extra_info`` dict: ``track_box`` (4,) px (the tight detector box),
    ``track_confidence``, and for optimized labels the optimization record (stage, losses).

Confidences in the label layouts are the raw MMPose scores clipped to [0, 1] (scores above 1 are just
"certain"); the unclipped scores stay in ``wholebody_keypoints_2d``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..constants import BBOX_SCALE_UNIT
from ..data.keypoint_convert import fingertips_from_wholebody133, label44_from_wholebody133
from .config import DEFAULT_BOX_SCALE_FACTOR


def label_keypoints(wholebody: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(133,3) px + raw score -> ``keypoints_2d`` (44,3) and ``hand_keypoints_2d`` (10,3), confidences
    clipped to [0,1] (the conversions themselves are :mod:`hardmo_hf.data.keypoint_convert`'s)."""
    keypoints = label44_from_wholebody133(wholebody)
    fingertips = fingertips_from_wholebody133(wholebody)
    for array in (keypoints, fingertips):
        array[:, 2] = np.clip(array[:, 2], 0.0, 1.0)
    return keypoints, fingertips


def box_center_scale(box: np.ndarray, factor: float = DEFAULT_BOX_SCALE_FACTOR) -> tuple[np.ndarray, float]:
    """Tight box x1,y1,x2,y2 px -> square label box: center (2,) px and scale = factor * longest side / 200."""
    box = np.asarray(box, dtype=np.float64)
    center = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float32)
    side = max(box[2] - box[0], box[3] - box[1])
    return center, float(factor * side / BBOX_SCALE_UNIT)


def make_label(
    wholebody: np.ndarray,
    global_orient: np.ndarray,
    body_pose: np.ndarray,
    betas: np.ndarray,
    track_box: np.ndarray,
    track_confidence: float,
    box_scale_factor: float = DEFAULT_BOX_SCALE_FACTOR,
) -> dict:
    """A label dict in the authors' format from the matched pipeline outputs of one person."""
    center, scale = box_center_scale(track_box, box_scale_factor)
    keypoints, fingertips = label_keypoints(wholebody)
    return {
        "keypoints_2d": keypoints,
        "hand_keypoints_2d": fingertips,
        "wholebody_keypoints_2d": np.asarray(wholebody, dtype=np.float32),
        "body_pose": np.concatenate([global_orient, body_pose]).astype(np.float32),
        "betas": np.asarray(betas, dtype=np.float32).reshape(-1),
        "center": center,
        "scale": scale,
        "has_body_pose": 1.0,
        "has_betas": 1.0,
        "extra_info": {
            "track_box": np.asarray(track_box, dtype=np.float32),
            "track_confidence": float(track_confidence),
        },
    }


def place_image(source: Path, target: Path, mode: str) -> None:
    """Put a frame image at ``target``: ``link`` (hard link, copy across file systems), ``symlink`` or ``copy``."""
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    if mode == "link":
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
    elif mode == "symlink":
        os.symlink(os.path.abspath(source), tmp)
    elif mode == "copy":
        shutil.copyfile(source, tmp)
    else:
        raise ValueError(f"unknown image mode {mode!r} (link, symlink or copy)")
    os.replace(tmp, target)
