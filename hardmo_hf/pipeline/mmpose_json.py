"""Reader for MMPose whole-body predictions (COCO-WholeBody, 133 points).

Two JSON forms are accepted (``keypoints.json`` in a clip folder):

* **inferencer** (``MMPoseInferencer(...)(video, pred_out_dir=...)``): a list of
  ``{"frame_id": k, "instances": [...]}`` with **0-based** frame ids;
* **demo** (``demo/topdown_demo_with_mmdet.py --save-predictions``, written with ``json_tricks``):
  ``{"meta_info": {...}, "instance_info": [{"frame_id": k, "instances": [...]}]}`` with **1-based** frame
  ids; arrays may be encoded as ``{"__ndarray__": [...] | "b64:...", "dtype": ..., "shape": ...}``.

An instance has ``keypoints`` (133,2) px, ``keypoint_scores`` (133,) raw scores (heatmap or SimCC maxima:
they can exceed 1 and are kept as they are), and optionally ``bbox`` (``[[x1,y1,x2,y2]]`` as MMPose writes
it, or ``[x1,y1,x2,y2]``) and ``bbox_score``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..constants import NUM_WHOLEBODY_KEYPOINTS

KEYPOINTS_FILE_NAME = "keypoints.json"


@dataclass
class KeypointInstance:
    """One person's whole-body keypoints on one frame."""

    frame: int  # 0-based frame index
    keypoints: np.ndarray  # (133,3) x px, y px, raw score
    box: np.ndarray | None  # (4,) x1, y1, x2, y2 px, or None when the file has no box
    box_score: float | None
    source: str


def _decode_ndarray(obj: dict):
    """``json_tricks`` array encoding -> numpy (list payload or ``b64:`` compact payload)."""
    if "__ndarray__" not in obj:
        return obj
    payload, dtype = obj["__ndarray__"], np.dtype(obj.get("dtype", "float64"))
    if isinstance(payload, str) and payload.startswith("b64:"):
        if obj.get("endian") in ("big", ">"):
            dtype = dtype.newbyteorder(">")
        elif obj.get("endian") in ("little", "<"):
            dtype = dtype.newbyteorder("<")
        array = np.frombuffer(base64.b64decode(payload[4:]), dtype=dtype)
        order = "C" if obj.get("Corder", True) else "F"
        return array.reshape(obj.get("shape", array.shape), order=order)
    return np.asarray(payload, dtype=dtype).reshape(obj.get("shape", np.shape(payload)))


def read_mmpose_json(path: Path) -> list[KeypointInstance]:
    """Read either MMPose form (see module docstring) into 0-based :class:`KeypointInstance` records."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(), object_hook=_decode_ndarray)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: malformed __ndarray__ entry ({exc})") from exc
    if isinstance(data, dict) and "instance_info" in data:
        frames, base, form = data["instance_info"], 1, "demo"
    elif isinstance(data, list):
        frames, base, form = data, 0, "inferencer"
    else:
        raise ValueError(
            f"{path}: not an MMPose prediction file (expected a list of frames or a dict with 'instance_info')"
        )
    if not isinstance(frames, list):
        raise ValueError(f"{path}: 'instance_info' must be a list of frames")
    instances: list[KeypointInstance] = []
    for position, frame_entry in enumerate(frames):
        if not isinstance(frame_entry, dict) or "instances" not in frame_entry:
            raise ValueError(
                f"{path}[{position}]: expected {{'frame_id': ..., 'instances': [...]}} ({form} form); an "
                "image-mode demo file has no frame ids and cannot be aligned with a video"
            )
        frame_id = frame_entry.get("frame_id", position + base)
        frame = int(frame_id) - base
        if frame < 0:
            raise ValueError(
                f"{path}[{position}]: frame_id {frame_id} is below the {form} form's first id {base}"
            )
        for index, item in enumerate(frame_entry["instances"] or []):
            instances.append(_instance(item, frame, f"{path}[frame_id {frame_id}, instance {index}]"))
    return instances


def _instance(item, frame: int, where: str) -> KeypointInstance:
    if not isinstance(item, dict) or "keypoints" not in item:
        raise ValueError(f"{where}: an instance needs 'keypoints' and 'keypoint_scores'")
    keypoints = np.asarray(item["keypoints"], dtype=np.float64)
    if keypoints.ndim == 3 and keypoints.shape[0] == 1:
        keypoints = keypoints[0]
    if keypoints.ndim != 2 or keypoints.shape[1] not in (2, 3):
        raise ValueError(f"{where}: keypoints must be (K,2) or (K,3), got {keypoints.shape}")
    if keypoints.shape[0] != NUM_WHOLEBODY_KEYPOINTS:
        raise ValueError(
            f"{where}: expected {NUM_WHOLEBODY_KEYPOINTS} COCO-WholeBody keypoints, got {keypoints.shape[0]} "
            "(run an MMPose whole-body model, e.g. an RTMPose/ViTPose 'wholebody' config)"
        )
    if keypoints.shape[1] == 3:
        scores = keypoints[:, 2]
    else:
        if "keypoint_scores" not in item:
            raise ValueError(f"{where}: (K,2) keypoints need 'keypoint_scores'")
        scores = np.asarray(item["keypoint_scores"], dtype=np.float64).reshape(-1)
        if scores.shape != (NUM_WHOLEBODY_KEYPOINTS,):
            raise ValueError(
                f"{where}: keypoint_scores must have {NUM_WHOLEBODY_KEYPOINTS} values, got {scores.shape}"
            )
    points = np.concatenate([keypoints[:, :2], scores[:, None]], axis=1).astype(np.float32)
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{where}: non-finite keypoints or scores")
    box = None
    if item.get("bbox") is not None:
        box = np.asarray(item["bbox"], dtype=np.float64).reshape(-1)
        if box.shape[0] < 4 or not np.all(np.isfinite(box[:4])):
            raise ValueError(f"{where}: bbox must be [[x1,y1,x2,y2]] or [x1,y1,x2,y2], got {item['bbox']}")
        box = box[:4].astype(np.float32)
    score = item.get("bbox_score")
    score = None if score is None else float(np.asarray(score).reshape(-1)[0])
    return KeypointInstance(frame, points, box, score, where)
