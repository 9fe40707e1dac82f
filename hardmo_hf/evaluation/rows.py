"""Reading one HardMo dataset row (as ``datasets`` streams it) into numpy labels and an image.

Column names follow :mod:`hardmo_hf.data.schema`. Units (those of the dataset card): keypoints in full-image pixels + confidence, ``center`` in px,
``scale`` = box side / 200 px, SMPL axis-angle in radians.
"""

from __future__ import annotations

import io

import numpy as np

from ..constants import BBOX_SCALE_UNIT, NUM_BETAS, NUM_FINGERTIPS, NUM_LABEL_KEYPOINTS

IMAGE_KEYS = ("image", "jpg", "img")


def _array(row: dict, key: str, shape: tuple[int, ...], sample_id: str) -> np.ndarray:
    value = row.get(key)
    if value is None:
        raise ValueError(f"dataset row {sample_id!r} has no {key!r} field")
    arr = np.asarray(value, dtype=np.float32)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"dataset row {sample_id!r}: {key!r} has shape {arr.shape}, expected {shape}")
    return arr.reshape(shape)


def _flag(row: dict, key: str) -> bool:
    value = row.get(key)
    return bool(np.asarray(value).reshape(-1)[0]) if value is not None else False


def row_labels(row: dict) -> dict:
    """The labels of one row as float32 numpy arrays (plus id, class, box and image size).

    Returns a dict with ``sample_id``, ``category``, ``keypoints_2d`` (44,3) px + conf, ``hand_keypoints_2d``
    (10,3), ``center`` (2,) px, ``scale`` (box / 200), ``box_size`` (px, ``scale * 200``), ``image_size``
    (2,) ``(width, height)`` px, ``global_orient`` (3,), ``body_pose`` (69,), ``betas`` (10,) and
    ``has_smpl`` (pose and betas both valid; zeros are returned for missing parameters).
    """
    sample_id = str(row.get("sample_id", "?"))
    labels = {
        "sample_id": sample_id,
        "category": str(row.get("category", "")),
        "keypoints_2d": _array(row, "keypoints_2d", (NUM_LABEL_KEYPOINTS, 3), sample_id),
        "hand_keypoints_2d": _array(row, "hand_keypoints_2d", (NUM_FINGERTIPS, 3), sample_id),
        "center": _array(row, "center", (2,), sample_id),
        "scale": float(np.asarray(row.get("scale")).reshape(-1)[0]),
    }
    labels["box_size"] = labels["scale"] * BBOX_SCALE_UNIT
    labels["image_size"] = np.array([float(row.get("image_width") or 0), float(row.get("image_height") or 0)],
                                    np.float32)
    has_pose = _flag(row, "has_body_pose") and row.get("body_pose") is not None
    has_betas = _flag(row, "has_betas") and row.get("betas") is not None
    labels["has_smpl"] = bool(has_pose and has_betas)
    if labels["has_smpl"]:
        labels["global_orient"] = _array(row, "global_orient", (3,), sample_id)
        labels["body_pose"] = _array(row, "body_pose", (69,), sample_id)
        labels["betas"] = _array(row, "betas", (NUM_BETAS,), sample_id)
    else:
        labels["global_orient"] = np.zeros(3, np.float32)
        labels["body_pose"] = np.zeros(69, np.float32)
        labels["betas"] = np.zeros(NUM_BETAS, np.float32)
    return labels


def row_image(row: dict) -> np.ndarray:
    """The row's image as an (H, W, 3) uint8 RGB array (decoded from its stored bytes)."""
    from PIL import Image

    for key in IMAGE_KEYS:
        if key in row and row[key] is not None:
            value = row[key]
            break
    else:
        raise ValueError(f"dataset row {row.get('sample_id', '?')!r} has no image field ({', '.join(IMAGE_KEYS)})")
    if isinstance(value, dict):  # datasets Image(decode=False) or raw {"bytes", "path"}
        value = value.get("bytes") or value.get("path")
    if isinstance(value, (bytes, bytearray)):
        value = Image.open(io.BytesIO(value))
    elif isinstance(value, str):
        value = Image.open(value)
    return np.asarray(value if value.mode == "RGB" else value.convert("RGB"))
