"""The training augmentations of HMR 2.0 / HardMo, on one person crop.

What is applied, with the authors' settings (HardMo's ``DATASETS.CONFIG``, as in 4D-Humans):

* box scale ``1 + 0.3 * clip(N(0,1), -1, 1)``;
* in-plane rotation ``30 deg * clip(N(0,1), -2, 2)`` with probability 0.6;
* box translation ``0.02 * clip(N(0,1), -1, 1)`` of the box size, in x and y;
* per-channel colour gain ``U(0.8, 1.2)``;
* horizontal flip with probability 0.5: keypoints mirrored and permuted with the left/right permutations of
  :mod:`hardmo_hf.constants`, SMPL rotations permuted with ``SMPL_FLIP_PERMUTATION`` and their axis-angle
  y and z components negated;
* "extreme crop" with probability 0.1: the box is shrunk to a body part found from the 2D keypoints (level 1,
  the aggressive variant HardMo trains with, or level 0).

Frames and units. Input keypoints are full-image pixels ``(x, y, conf)``; the box is a centre (px) and the side
of the square crop box (px, already expanded to the model's aspect ratio). Output keypoints are in the crop
frame ``[-0.5, 0.5]`` (``crop_px / crop_size - 0.5``, the HMR 2.0 label convention). SMPL parameters are
axis-angle radians; ``keypoints_3d`` are metres (camera-aligned axes: x right, y down).

One deliberate difference of order: 4D-Humans mirrors the image *before* cropping, we mirror the crop frame
*after* rotating. Rotation and translation are symmetric random variables, so both orders give the same
distribution of examples, and ours makes the flip an exact involution on labels (``u -> -u``) and on the warp
(the crop-frame mirror ``x -> S - x`` is its own inverse in exact arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..constants import (
    FINGERTIP_FLIP_PERMUTATION,
    LABEL44_FLIP_PERMUTATION,
    SMPL_FLIP_PERMUTATION,
    WHOLEBODY33_FLIP_PERMUTATION,
)
from ..models.geometry_hardmo import axis_angle_to_rotmat, rotmat_to_axis_angle


@dataclass(frozen=True)
class AugmentationConfig:
    """Augmentation strengths (defaults: HardMo's training config, ``DATASETS.CONFIG``)."""

    scale_factor: float = 0.3
    rotation_factor: float = 30.0  # degrees
    rotation_rate: float = 0.6
    translation_factor: float = 0.02  # fraction of the box size
    color_scale: float = 0.2
    flip_rate: float = 0.5
    extreme_crop_rate: float = 0.1
    extreme_crop_level: int = 1  # 0: hips/shoulders/head; 1: also torso, arms, legs (HardMo's setting)


NO_AUGMENTATION = AugmentationConfig(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0)


@dataclass(frozen=True)
class AugmentationParams:
    """One draw of the random augmentation."""

    scale: float = 1.0  # box size multiplier
    rotation: float = 0.0  # degrees, counter-clockwise on screen
    flip: bool = False
    extreme_crop: bool = False
    extreme_crop_draw: float = 0.0  # U(0,1) that picks the body part
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    tx: float = 0.0  # fraction of the box size
    ty: float = 0.0


def sample_params(config: AugmentationConfig, rng: np.random.Generator) -> AugmentationParams:
    """Draw augmentation parameters with the distributions of 4D-Humans' ``do_augmentation``."""
    tx = float(np.clip(rng.standard_normal(), -1.0, 1.0)) * config.translation_factor
    ty = float(np.clip(rng.standard_normal(), -1.0, 1.0)) * config.translation_factor
    scale = float(np.clip(rng.standard_normal(), -1.0, 1.0)) * config.scale_factor + 1.0
    rotation_draw = float(np.clip(rng.standard_normal(), -2.0, 2.0)) * config.rotation_factor
    rotation = rotation_draw if rng.random() < config.rotation_rate else 0.0
    flip = bool(rng.random() < config.flip_rate)
    extreme = bool(rng.random() < config.extreme_crop_rate)
    lo, hi = 1.0 - config.color_scale, 1.0 + config.color_scale
    color = tuple(float(c) for c in rng.uniform(lo, hi, size=3))
    return AugmentationParams(scale, rotation, flip, extreme, float(rng.random()), color, tx, ty)


# ----------------------------------------------------------------------------------------------------
# Extreme crop (label-44 keypoints decide which part of the body stays in the box)
# ----------------------------------------------------------------------------------------------------
def _j19(*idx: int) -> tuple[int, ...]:
    return tuple(25 + i for i in idx)


def _r(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b + 1))


@dataclass(frozen=True)
class _PartCrop:
    drop: tuple[int, ...]  # label-44 rows ignored when boxing the part
    factor: float  # box = factor * (1.2 x tight box of the remaining keypoints)


_PARTS = {
    "hips": _PartCrop((10, 11, 13, 14) + _r(19, 24) + _j19(0, 1, 4, 5), 1.1),
    "shoulders": _PartCrop((3, 4, 6, 7) + _r(8, 14) + _r(19, 24) + _j19(*_r(0, 7), 10, 11, 14, 15, 16), 1.2),
    "head": _PartCrop((3, 4, 6, 7) + _r(8, 14) + _r(19, 24) + _j19(*_r(0, 11), 14, 15, 16), 1.3),
    "torso": _PartCrop((0, 3, 4, 6, 7, 10, 11) + _r(13, 24) + _j19(0, 1, 4, 5, 6, 7, 10, 11, 13, 17, 18), 1.1),
    "right_arm": _PartCrop((0, 1) + _r(5, 24) + _j19(*_r(0, 5), *_r(9, 18)), 1.1),
    "left_arm": _PartCrop(_r(0, 4) + _r(8, 24) + _j19(*_r(0, 8), *_r(12, 18)), 1.1),
    "legs": _PartCrop(_r(0, 7) + _r(15, 18) + _j19(*_r(6, 13), *_r(15, 18)), 1.1),
    "right_leg": _PartCrop(_r(0, 8) + _r(12, 21) + _j19(*_r(3, 18)), 1.1),
    "left_leg": _PartCrop(_r(0, 11) + _r(15, 18) + (22, 23, 24) + _j19(0, 1, 2, *_r(6, 18)), 1.1),
}
# (cumulative probability upper bound, part) for full-body and upper-body people, per level.
_PART_CHOICES = {
    0: {"full": ((0.7, "hips"), (0.9, "shoulders"), (1.0, "head")),
        "upper": ((0.9, "shoulders"), (1.0, "head"))},
    1: {"full": ((0.2, "hips"), (0.3, "shoulders"), (0.4, "head"), (0.5, "torso"), (0.6, "right_arm"),
                 (0.7, "left_arm"), (0.8, "legs"), (0.9, "right_leg"), (1.0, "left_leg")),
        "upper": ((0.2, "shoulders"), (0.4, "head"), (0.6, "torso"), (0.8, "right_arm"), (1.0, "left_arm"))},
}
_FULL_BODY_PAIRS = tuple(zip((2, 3, 4, 5, 6, 7, 10, 11, 13, 14), _j19(8, 7, 6, 9, 10, 11, 1, 0, 4, 5)))
_LOWER_BODY = _j19(1, 0, 4, 5) + (10, 11, 13, 14)
_UPPER_BODY = _j19(8, 9, 12, 13, 17, 18) + (0, 1, 15, 16, 17, 18)
_MIN_CROP_PX = 4.0


def _is_full_body(conf: np.ndarray) -> bool:
    return all(max(conf[a], conf[b]) > 0 for a, b in _FULL_BODY_PAIRS)


def _is_upper_body(conf: np.ndarray) -> bool:
    return not (conf[list(_LOWER_BODY)] > 0).any() and int((conf[list(_UPPER_BODY)] > 0).sum()) >= 2


def extreme_crop_box(
    center: np.ndarray, size: float, keypoints_2d: np.ndarray, draw: float, level: int = 1
) -> tuple[np.ndarray, float, str | None]:
    """Shrink the box to a body part (EFT-style "extreme crop", as 4D-Humans applies it).

    Args:
        center: (2,) px; size: square box side, px; keypoints_2d: (44,3) full-image px + confidence.
        draw: a U(0,1) number choosing the part; level: 0 or 1 (see :class:`AugmentationConfig`).
    Returns:
        new centre (2,), new square side, and the part name (``None`` when the box is unchanged: the person
        is neither full-body nor upper-body visible, too few keypoints remain, or the part box is < 4 px).
    """
    conf = keypoints_2d[:, 2]
    kind = "full" if _is_full_body(conf) else "upper" if _is_upper_body(conf) else None
    if kind is None:
        return center, size, None
    part = next(name for bound, name in _PART_CHOICES[level][kind] if draw < bound)
    rule = _PARTS[part]
    kept = keypoints_2d.copy()
    kept[list(rule.drop)] = 0.0
    if kept[:, 2].sum() <= 1:
        return center, size, None
    valid = kept[kept[:, 2] > 0, :2]
    lo, hi = valid.min(axis=0), valid.max(axis=0)
    side = float(rule.factor * 1.2 * (hi - lo).max())
    if side < _MIN_CROP_PX:
        return center, size, None
    return (0.5 * (lo + hi)).astype(np.float64), side, part


# ----------------------------------------------------------------------------------------------------
# The crop transform
# ----------------------------------------------------------------------------------------------------
def crop_matrix(center, box_size: float, crop_size: int, rotation: float = 0.0, flip: bool = False) -> np.ndarray:
    """3x3 affine from full-image px to crop px (pixel centres at integer coordinates, as OpenCV).

    The box (centre, side ``box_size``) maps onto the ``crop_size`` square, rotated by ``rotation`` degrees
    (the crop turns counter-clockwise, so the person turns clockwise in it, as in 4D-Humans); ``flip`` mirrors
    the crop about its centre (``x -> crop_size - x``).
    """
    theta = np.deg2rad(rotation)
    c, s = np.cos(theta), np.sin(theta)
    k = crop_size / box_size
    # q = S/2 + k * R(-rot) (p - centre)
    lin = k * np.array([[c, s], [-s, c]])
    m = np.eye(3)
    m[:2, :2] = lin
    m[:2, 2] = crop_size / 2.0 - lin @ np.asarray(center, dtype=np.float64)
    if flip:
        m = mirror_matrix(crop_size) @ m
    return m


def mirror_matrix(crop_size: int) -> np.ndarray:
    """The crop-frame mirror ``x -> crop_size - x`` (its own inverse)."""
    return np.array([[-1.0, 0.0, float(crop_size)], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def warp_image(image: np.ndarray, matrix: np.ndarray, crop_size: int) -> np.ndarray:
    """Bilinear warp with a zero border: crop pixel ``q`` samples the image at ``matrix^-1 q``.

    Sampling positions are computed in float64, so a crop aligned with the pixel grid copies pixels exactly.
    NumPy gathers from the (uint8) image directly: only the ``4 S^2`` samples are converted to float, and no
    intra-op thread pool competes with the DataLoader workers.

    Args:
        image: (H, W, C) uint8 or float array in [0, 255].
        matrix: 3x3 full-image px -> crop px (see :func:`crop_matrix`).
    Returns:
        (C, crop_size, crop_size) float32 array in [0, 255].
    """
    image = np.asarray(image)
    h, w, channels = image.shape
    inv = np.linalg.inv(matrix)
    grid = np.arange(crop_size, dtype=np.float64)
    src_x = inv[0, 0] * grid[None, :] + inv[0, 1] * grid[:, None] + inv[0, 2]
    src_y = inv[1, 0] * grid[None, :] + inv[1, 1] * grid[:, None] + inv[1, 2]
    x0, y0 = np.floor(src_x), np.floor(src_y)
    fx, fy = (src_x - x0).astype(np.float32), (src_y - y0).astype(np.float32)
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    flat = image.reshape(h * w, channels)
    out = np.zeros((crop_size, crop_size, channels), dtype=np.float32)
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            weight = np.where((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h), wx * wy, np.float32(0.0))
            index = np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1)
            out += flat[index].astype(np.float32) * weight[..., None]
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def image_to_crop_frame(points: np.ndarray, matrix: np.ndarray, crop_size: int) -> np.ndarray:
    """(N, 2+) full-image px (+ extra columns kept) -> crop frame ``[-0.5, 0.5]``."""
    out = np.array(points, dtype=np.float64, copy=True)
    xy = out[:, :2] @ matrix[:2, :2].T + matrix[:2, 2]
    out[:, :2] = xy / crop_size - 0.5
    return out


# ----------------------------------------------------------------------------------------------------
# Label transforms in the crop frame
# ----------------------------------------------------------------------------------------------------
# Keypoint label fields and their left/right permutations.
KEYPOINT_FLIPS = {
    "keypoints_2d": LABEL44_FLIP_PERMUTATION,
    "keypoints_3d": LABEL44_FLIP_PERMUTATION,
    "hand_keypoints_2d": FINGERTIP_FLIP_PERMUTATION,
    "wholebody33_2d": WHOLEBODY33_FLIP_PERMUTATION,
}


def rotation_z(degrees: float) -> np.ndarray:
    """3x3 rotation by ``degrees`` about the camera z axis (x right, y down)."""
    t = np.deg2rad(degrees)
    return np.array([[np.cos(t), -np.sin(t), 0.0], [np.sin(t), np.cos(t), 0.0], [0.0, 0.0, 1.0]])


def rotate_global_orient(global_orient: np.ndarray, rotation: float) -> np.ndarray:
    """Global orientation (3,) axis-angle after turning the crop by ``rotation`` degrees: ``Rz(-rot) G``.

    Without rotation the input comes back unchanged (no axis-angle round trip, which near 180 degrees may
    return the other, equivalent axis-angle vector).
    """
    if rotation == 0.0:
        return np.array(global_orient, copy=True)
    g = axis_angle_to_rotmat(torch.as_tensor(np.asarray(global_orient, dtype=np.float64)))
    rotated = torch.as_tensor(rotation_z(-rotation)) @ g
    return rotmat_to_axis_angle(rotated).numpy()


def flip_smpl_pose(global_orient: np.ndarray, body_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror SMPL pose (x -> -x): swap left/right joints, negate the y and z axis-angle components.

    ``global_orient`` (3,), ``body_pose`` (69,) axis-angle; exact (permutation and sign changes only).
    """
    pose = np.concatenate([np.asarray(global_orient), np.asarray(body_pose)]).reshape(24, 3)
    pose = pose[list(SMPL_FLIP_PERMUTATION)] * np.array([1.0, -1.0, -1.0], dtype=pose.dtype)
    return pose[0].copy(), pose[1:].reshape(-1).copy()


def flip_labels(labels: dict) -> dict:
    """The left/right mirror of crop-frame labels; applying it twice returns the input exactly.

    Keypoint fields (see ``KEYPOINT_FLIPS``) have x negated and rows permuted; ``global_orient`` /
    ``body_pose`` go through :func:`flip_smpl_pose`; everything else (betas, flags, ids) is unchanged.
    """
    out = dict(labels)
    for name, perm in KEYPOINT_FLIPS.items():
        if labels.get(name) is not None:
            kp = np.array(labels[name], copy=True)
            kp[:, 0] = -kp[:, 0]
            out[name] = kp[list(perm)]
    if labels.get("global_orient") is not None:
        out["global_orient"], out["body_pose"] = flip_smpl_pose(labels["global_orient"], labels["body_pose"])
    return out


def augment_example(
    image: np.ndarray,
    center: np.ndarray,
    box_size: float,
    crop_size: int,
    labels: dict,
    params: AugmentationParams,
    extreme_crop_level: int = 1,
) -> tuple[np.ndarray, dict]:
    """Crop one person with augmentation.

    Args:
        image: (H, W, 3) uint8 RGB.
        center: (2,) px, box_size: px, the square crop box (already expanded to the model's aspect ratio).
        crop_size: output side in px.
        labels: full-image labels: any of ``keypoints_2d`` (44,3), ``hand_keypoints_2d`` (10,3),
            ``wholebody33_2d`` (33,3) in px + confidence; ``keypoints_3d`` (44,4) m + confidence;
            ``global_orient`` (3,), ``body_pose`` (69,) axis-angle; other entries are passed through.
        params: one draw of :func:`sample_params` (``AugmentationParams()`` for none).
    Returns:
        the crop (3, crop_size, crop_size) float32 array in [0, 255] (colour gain applied, not normalised), and the
        labels in the crop frame (keypoints ``[-0.5, 0.5]``), rotated and flipped like the crop.
    """
    center = np.asarray(center, dtype=np.float64)
    if params.extreme_crop and labels.get("keypoints_2d") is not None:
        center, box_size, _ = extreme_crop_box(center, box_size, np.asarray(labels["keypoints_2d"]),
                                               params.extreme_crop_draw, extreme_crop_level)
    center = center + box_size * np.array([params.tx, params.ty])
    unflipped = crop_matrix(center, box_size * params.scale, crop_size, params.rotation, flip=False)
    matrix = mirror_matrix(crop_size) @ unflipped if params.flip else unflipped

    pixels = warp_image(image, matrix, crop_size)
    if params.color != (1.0, 1.0, 1.0):
        pixels *= np.asarray(params.color, dtype=np.float32)[:, None, None]
        np.clip(pixels, 0.0, 255.0, out=pixels)

    out = dict(labels)
    for name in ("keypoints_2d", "hand_keypoints_2d", "wholebody33_2d"):
        if labels.get(name) is not None:
            out[name] = image_to_crop_frame(labels[name], unflipped, crop_size).astype(np.float32)
    if labels.get("keypoints_3d") is not None:
        kp3d = np.array(labels["keypoints_3d"], dtype=np.float64, copy=True)
        kp3d[:, :3] = kp3d[:, :3] @ rotation_z(-params.rotation).T
        out["keypoints_3d"] = kp3d.astype(np.float32)
    if labels.get("global_orient") is not None:
        out["global_orient"] = rotate_global_orient(labels["global_orient"], params.rotation).astype(np.float32)
    if params.flip:
        out = flip_labels(out)
    return pixels, out
