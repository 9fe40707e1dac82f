"""Conversions between the keypoint layouts of :mod:`hardmo_hf.constants` (all arrays ``(K, 3)``: px + confidence).

* COCO-WholeBody 133 -> label-44 (BODY_25 rows; the J19 rows stay zero, as in HardMo labels),
  fingertips-10 and the model-facing WholeBody-33 subset;
* label-44 + fingertips-10 -> WholeBody-33 (for sources that have no 133-point keypoints);
* MMHuman3D HumanData 190 -> COCO-WholeBody 133, label-44 and fingertips-10.

A point built from two source points (BODY_25 neck and mid-hip) is their midpoint with the smaller of the
two confidences, and confidence 0 when either is missing (confidence <= 0).
"""

from __future__ import annotations

import numpy as np

from ..constants import (
    BODY25_FROM_WHOLEBODY133,
    HUMANDATA_INDEX,
    HUMANDATA_LABEL44_NAMES,
    HUMANDATA_WHOLEBODY133_NAMES,
    NUM_FINGERTIPS,
    NUM_LABEL_KEYPOINTS,
    WHOLEBODY33_FROM_WHOLEBODY133,
    WHOLEBODY_FINGERTIPS,
)

__all__ = [
    "fingertips_from_wholebody133",
    "humandata_to_label44",
    "humandata_to_wholebody133",
    "label44_from_wholebody133",
    "wholebody33_from_label44",
    "wholebody33_from_wholebody133",
]

_NUM_BODY25 = 25


def _combine(points: np.ndarray) -> np.ndarray:
    """Midpoint of ``(..., n, 3)`` points with the smallest confidence (0 if any is missing)."""
    xy = points[..., :2].mean(axis=-2)
    conf = points[..., 2].min(axis=-1)
    conf = np.where((points[..., 2] > 0).all(axis=-1), conf, 0.0)
    return np.concatenate([xy, conf[..., None]], axis=-1)


def label44_from_wholebody133(kp133: np.ndarray) -> np.ndarray:
    """``(..., 133, 3)`` COCO-WholeBody -> ``(..., 44, 3)`` label layout (J19 rows zero)."""
    kp133 = np.asarray(kp133, dtype=np.float32)
    out = np.zeros(kp133.shape[:-2] + (NUM_LABEL_KEYPOINTS, 3), dtype=np.float32)
    for row, sources in enumerate(BODY25_FROM_WHOLEBODY133):
        if len(sources) == 1:
            out[..., row, :] = kp133[..., sources[0], :]
        else:
            out[..., row, :] = _combine(kp133[..., list(sources), :])
    return out


def fingertips_from_wholebody133(kp133: np.ndarray) -> np.ndarray:
    """``(..., 133, 3)`` -> ``(..., 10, 3)`` fingertips (left thumb..pinky, right thumb..pinky)."""
    return np.asarray(kp133, dtype=np.float32)[..., list(WHOLEBODY_FINGERTIPS), :].copy()


def wholebody33_from_wholebody133(kp133: np.ndarray) -> np.ndarray:
    """``(..., 133, 3)`` -> ``(..., 33, 3)``: COCO-WholeBody 0..22 plus the 10 fingertips."""
    return np.asarray(kp133, dtype=np.float32)[..., list(WHOLEBODY33_FROM_WHOLEBODY133), :].copy()


# BODY_25 row holding each of COCO-WholeBody points 0..22 (inverse of the single-source rows of
# BODY25_FROM_WHOLEBODY133).
_BODY25_ROW_OF_WHOLEBODY = {
    sources[0]: row for row, sources in enumerate(BODY25_FROM_WHOLEBODY133) if len(sources) == 1
}
WHOLEBODY23_BODY25_ROWS = tuple(_BODY25_ROW_OF_WHOLEBODY[i] for i in range(23))


def wholebody33_from_label44(kp44: np.ndarray, fingertips: np.ndarray) -> np.ndarray:
    """``(..., 44, 3)`` label keypoints + ``(..., 10, 3)`` fingertips -> ``(..., 33, 3)`` WholeBody-33.

    The 17 COCO body points and 6 foot points are BODY_25 rows; the fingertips are appended.
    """
    kp44 = np.asarray(kp44, dtype=np.float32)
    tips = np.asarray(fingertips, dtype=np.float32)
    if tips.shape[-2] != NUM_FINGERTIPS:
        raise ValueError(f"fingertips must have {NUM_FINGERTIPS} rows, got shape {tips.shape}")
    return np.concatenate([kp44[..., list(WHOLEBODY23_BODY25_ROWS), :], tips], axis=-2)


_HD_WHOLEBODY = np.array([HUMANDATA_INDEX[name] for name in HUMANDATA_WHOLEBODY133_NAMES])
_HD_LABEL44 = np.array([HUMANDATA_INDEX[name] for name in HUMANDATA_LABEL44_NAMES])


def humandata_to_wholebody133(kp190: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """``(..., 190, 3)`` HumanData -> ``(..., 133, 3)`` COCO-WholeBody (masked-out points get confidence 0)."""
    kp190 = np.asarray(kp190, dtype=np.float32)
    out = kp190[..., _HD_WHOLEBODY, :].copy()
    if mask is not None:
        out[..., np.asarray(mask)[_HD_WHOLEBODY] == 0, :] = 0.0
    return out


def humandata_to_label44(kp190: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(..., 190, 3)`` HumanData -> ``(..., 44, 3)`` label layout.

    A BODY_25 row uses its ``*_openpose`` point where ``mask`` enables it, and otherwise is built from the
    COCO-WholeBody points (the HardMo recipe: neck and mid-hip are midpoints of shoulders and hips). The
    J19 rows use the SMPL-49 extra points (``right_hip_extra``, ``headtop``, ``pelvis_extra``...) and stay
    zero where ``mask`` disables them.
    """
    kp190 = np.asarray(kp190, dtype=np.float32)
    mask = np.asarray(mask)
    direct = kp190[..., _HD_LABEL44, :].copy()
    direct[..., mask[_HD_LABEL44] == 0, :] = 0.0
    from_wholebody = label44_from_wholebody133(humandata_to_wholebody133(kp190, mask))
    use_direct = mask[_HD_LABEL44[:_NUM_BODY25]] != 0
    direct[..., :_NUM_BODY25, :] = np.where(
        use_direct[:, None], direct[..., :_NUM_BODY25, :], from_wholebody[..., :_NUM_BODY25, :]
    )
    return direct
