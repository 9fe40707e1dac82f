"""The HardMo evaluation metrics, as the authors' evaluation code computes them (pure torch, batched).

Every function takes batched tensors (leading dimension ``B``) and returns one value per sample (or per
keypoint for PCK counts); averaging over a split is done by :class:`hardmo_hf.evaluation.accumulate.MetricAccumulator`.

Units at the boundaries:

* 3D joints: any length unit; MPJPE / PA-MPJPE come back in the same unit (the evaluator feeds metres and
  reports millimetres, ``x 1000``, like the authors' ``eval_pose``).
* 2D keypoints: pixels of the full image; PCK distances are divided by a per-sample normaliser in pixels
  (``scale * 200``, the longest side of the GT box, as in the authors' code; or the longest image side).
* Rotations: ``(..., 3, 3)`` rotation matrices; axis-angle inputs are radians; angle bias is in degrees.

The 44-joint label layout and the evaluation joint subsets come from :mod:`hardmo_hf.constants`.
"""

from __future__ import annotations

import torch

from ..constants import (
    EVAL_BODY_JOINTS,
    EVAL_FOOT_JOINTS,
    EVAL_WRIST_JOINTS,
    LABEL44_PELVIS,
    NUM_FINGERTIPS,
    SMPL_ANGLE_BIAS_JOINTS,
    SMPLX45_TO_BODY25,
)
from ..models.geometry_hardmo import axis_angle_to_rotmat

# GT keypoints count for PCK only when their confidence is above this (authors' EvaluatorPCK: ``conf > 0.5``).
PCK_CONFIDENCE_THRESHOLD = 0.5
# Thresholds: the paper's tables use 0.01 and 0.05; the authors' code also logs 0.1 for some test sets.
PCK_THRESHOLDS = (0.01, 0.05, 0.1)

# smplx-45 rows of the 10 fingertips (left thumb..pinky, right thumb..pinky): the last ten joints.
SMPLX45_FINGERTIPS = tuple(range(35, 45))
# Index of the SMPL pelvis (kinematic root) in smplx-45; the non-paper fallback root when J19 is missing.
SMPLX45_PELVIS = 0


# ----------------------------------------------------------------------------------------------------
# Joint sets
# ----------------------------------------------------------------------------------------------------
def label44_joints(joints45: torch.Tensor, j19: torch.Tensor | None = None) -> torch.Tensor:
    """SMPL joints in the 44-point label layout, as the authors' SMPL wrapper builds them.

    Args:
        joints45: ``(B, 45, 3)`` joints of ``smplx.SMPL`` (24 kinematic joints + 21 vertex joints), any unit
            (``BodyModelOutput.joints45`` of :class:`hardmo_hf.models.body_model_hardmo.SMPLBodyModel`).
        j19: ``(B, 19, 3)`` the ``SMPL_to_J19.pkl`` regressor applied to the vertices, same unit; ``None``
            when the user has no regressor, in which case rows 25-43 are NaN (so that any metric that
            silently used them would show it).

    Returns:
        ``(B, 44, 3)``: rows 0-24 OpenPose BODY_25 (``SMPLX45_TO_BODY25``), rows 25-43 J19.
    """
    body25 = joints45[:, list(SMPLX45_TO_BODY25)]
    if j19 is None:
        j19 = joints45.new_full((joints45.shape[0], 19, 3), float("nan"))
    return torch.cat([body25, j19], dim=1)


def root_joint(joints44: torch.Tensor, joints45: torch.Tensor, has_j19: bool) -> torch.Tensor:
    """The root both prediction and GT are centred on before the 3D metrics. Returns ``(B, 3)``.

    With J19 (paper protocol) this is label joint 39, the MPII pelvis the authors align on
    (``PELVIS_IND: 39``). Without the J19 regressor the paper's root does not exist; the documented,
    **non-paper** fallback is the SMPL kinematic pelvis (smplx joint 0).
    """
    if has_j19:
        return joints44[:, LABEL44_PELVIS]
    return joints45[:, SMPLX45_PELVIS]


def hand_keypoints(label44: torch.Tensor, fingertips: torch.Tensor) -> torch.Tensor:
    """The 12 hand evaluation points: right wrist, left wrist (BODY_25 4 and 7), then the 10 fingertips.

    Args:
        label44: ``(B, 44, D)`` keypoints in the label layout (D = 2 or 3, with or without confidence).
        fingertips: ``(B, 10, D)`` fingertips, left thumb..pinky then right thumb..pinky.
    Returns:
        ``(B, 12, D)``, in the order of the authors' ``EvaluatorPCK_hand``.
    """
    if fingertips.shape[1] != NUM_FINGERTIPS:
        raise ValueError(f"expected {NUM_FINGERTIPS} fingertips, got shape {tuple(fingertips.shape)}")
    return torch.cat([label44[:, list(EVAL_WRIST_JOINTS)], fingertips], dim=1)


# ----------------------------------------------------------------------------------------------------
# 3D joint errors
# ----------------------------------------------------------------------------------------------------
def center_on(joints: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
    """``joints (B, N, 3) - root (B, 3)``: root-relative joints."""
    return joints - root[:, None, :]


def mpjpe(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error: mean over joints of the L2 distance. ``(B, N, 3)`` x2 -> ``(B,)``.

    The inputs are compared as given (centre them first with :func:`center_on`); the result is in their unit.
    """
    _check_same_shape(pred, gt, "mpjpe")
    return torch.linalg.vector_norm(pred - gt, dim=-1).mean(dim=-1)


def similarity_transform(source: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched least-squares similarity (Umeyama / orthogonal Procrustes with scale) mapping source to target.

    Solves ``min_{s,R,t} sum_i || s R x_i + t - y_i ||^2`` with ``R`` a proper rotation (``det R = +1``):
    the reflection that an unconstrained SVD solution can produce is removed by flipping the sign of the
    last singular direction, as in the authors' ``compute_similarity_transform``. Computed in float64.

    Args:
        source, target: ``(B, N, 3)``.
    Returns:
        ``scale (B,)``, ``rotation (B, 3, 3)``, ``translation (B, 3)`` such that
        ``aligned = scale * source @ rotation.T + translation``.
    """
    _check_same_shape(source, target, "similarity_transform")
    x = source.double()
    y = target.double()
    mu_x = x.mean(dim=1, keepdim=True)
    mu_y = y.mean(dim=1, keepdim=True)
    x0 = x - mu_x
    y0 = y - mu_y
    var_x = (x0**2).sum(dim=(1, 2))
    # Cross-covariance K = X0^T Y0 (3x3); R maximising trace(R K) is V diag(1,1,d) U^T with K = U S V^T.
    k = x0.transpose(1, 2) @ y0
    u, _, vh = torch.linalg.svd(k)
    v = vh.transpose(1, 2)
    d = torch.linalg.det(v @ u.transpose(1, 2))
    z = torch.diag_embed(torch.ones_like(k[:, 0]))
    z[:, 2, 2] = torch.where(d < 0, -1.0, 1.0).to(z.dtype)
    rotation = v @ z @ u.transpose(1, 2)
    trace = (rotation @ k).diagonal(dim1=-2, dim2=-1).sum(dim=-1)
    # A degenerate source (all points equal) has no defined scale; use 0 rather than dividing by 0.
    scale = torch.where(var_x > 0, trace / var_x.clamp_min(torch.finfo(var_x.dtype).tiny), torch.zeros_like(var_x))
    translation = mu_y[:, 0] - scale[:, None] * _apply(rotation, mu_x)[:, 0]
    return scale.to(source.dtype), rotation.to(source.dtype), translation.to(source.dtype)


def _apply(rotation: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``(B,3,3) x (B,N,3) -> (B,N,3)``: rotate row-vector points."""
    return points @ rotation.transpose(1, 2)


def procrustes_align(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``source (B, N, 3)`` after the best similarity transform onto ``target``; see :func:`similarity_transform`."""
    scale, rotation, translation = similarity_transform(source, target)
    return scale[:, None, None] * _apply(rotation, source) + translation[:, None, :]


def pa_mpjpe(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Procrustes-aligned MPJPE (the authors' ``reconstruction_error``): ``(B, N, 3)`` x2 -> ``(B,)``.

    The similarity transform is fitted on exactly the joints passed in (so Foot PA-MPJPE, given the six
    foot joints, fits on the feet alone, as the authors do).
    """
    return mpjpe(procrustes_align(pred, gt), gt)


# ----------------------------------------------------------------------------------------------------
# 2D keypoints: PCK
# ----------------------------------------------------------------------------------------------------
def pck_hits(
    pred: torch.Tensor,
    gt: torch.Tensor,
    normalizer: torch.Tensor,
    thresholds: tuple[float, ...] = PCK_THRESHOLDS,
    confidence_threshold: float = PCK_CONFIDENCE_THRESHOLD,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which keypoints count for PCK and which of them are correct, per threshold.

    A GT keypoint counts when its confidence is ``> confidence_threshold`` and the sample's normaliser is
    positive (the authors' ``_calc_distances`` drops samples whose normaliser is 0). It is correct at
    threshold ``t`` when ``||pred - gt|| / normalizer < t`` (strict, as in ``_distance_acc``).

    Args:
        pred: ``(B, K, 2)`` predicted keypoints, px.
        gt: ``(B, K, 3)`` GT keypoints, px + confidence.
        normalizer: ``(B,)`` px; ``scale * 200`` (longest side of the GT box) for the paper's PCK.
        thresholds: fractions of the normaliser.
    Returns:
        ``correct (T, B, K)`` bool and ``valid (B, K)`` bool (``correct`` implies ``valid``).
    """
    if pred.shape[:2] != gt.shape[:2] or pred.shape[-1] != 2 or gt.shape[-1] != 3:
        raise ValueError(f"pck_hits: pred (B,K,2) and gt (B,K,3) expected, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    normalizer = normalizer.to(pred.dtype).reshape(-1)
    valid = (gt[..., 2] > confidence_threshold) & (normalizer > 0)[:, None]
    distance = torch.linalg.vector_norm(pred - gt[..., :2], dim=-1) / torch.where(
        normalizer > 0, normalizer, torch.ones_like(normalizer)
    )[:, None]
    # NaN predictions compare False: a keypoint the model could not place is counted as wrong, not dropped.
    thr = torch.as_tensor(thresholds, dtype=distance.dtype, device=distance.device)
    correct = (distance[None] < thr[:, None, None]) & valid[None]
    return correct, valid


def pck_from_counts(correct: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """PCK from per-keypoint counts summed over samples (the authors' ``keypoint_pck_accuracy``).

    Args:
        correct: ``(T, K)`` number of correct keypoints per threshold and keypoint.
        valid: ``(K,)`` number of counted keypoints.
    Returns:
        ``per_keypoint (T, K)`` accuracy (NaN where a keypoint never counted) and ``average (T,)``: the mean
        over keypoints that counted at least once (NaN when none did; the authors' code returns 0 there).
    """
    valid = valid.to(torch.float64)
    per_keypoint = correct.to(torch.float64) / valid[None]
    per_keypoint = torch.where(valid[None] > 0, per_keypoint, torch.full_like(per_keypoint, float("nan")))
    average = torch.nanmean(per_keypoint, dim=1)
    return per_keypoint, average


def full_image_to_crop(points: torch.Tensor, box_center: torch.Tensor, box_size: torch.Tensor) -> torch.Tensor:
    """Pixel coordinates ``(B, K, 2)`` to the crop frame ``[-0.5, 0.5]`` of a square box (centre px, side px)."""
    return (points - box_center[:, None, :]) / box_size.reshape(-1, 1, 1)


def crop_to_full_image(points: torch.Tensor, box_center: torch.Tensor, box_size: torch.Tensor) -> torch.Tensor:
    """Crop-frame coordinates ``[-0.5, 0.5]`` ``(B, K, 2)`` back to full-image pixels."""
    return points * box_size.reshape(-1, 1, 1) + box_center[:, None, :]


def keypoint_l2(pred_crop: torch.Tensor, gt_crop: torch.Tensor) -> torch.Tensor:
    """The authors' ``mode_kpl2``: confidence-weighted squared 2D error in the crop frame, mean over keypoints.

    Args:
        pred_crop: ``(B, K, 2)`` crop-frame coordinates (``[-0.5, 0.5]``).
        gt_crop: ``(B, K, 3)`` crop-frame coordinates + confidence.
    Returns:
        ``(B,)`` (unitless: squared fractions of the crop side).
    """
    conf = gt_crop[..., 2]
    err = ((pred_crop - gt_crop[..., :2]) ** 2).sum(dim=-1)
    # A keypoint with confidence 0 contributes 0 even when its prediction is undefined (J19 rows without
    # a J19 regressor are NaN).
    return torch.where(conf > 0, conf * err, torch.zeros_like(err)).mean(dim=-1)


# ----------------------------------------------------------------------------------------------------
# Rotations
# ----------------------------------------------------------------------------------------------------
def geodesic_angle(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Angle of the relative rotation ``pred^T gt`` in radians, ``(..., 3, 3)`` x2 -> ``(...)``, in ``[0, pi]``.

    The authors compute ``acos((trace - 1) / 2)``, which is NaN when float rounding pushes the argument past
    +-1 (identical rotations often do) and loses precision near 0. We compute the same angle as
    ``atan2(|sin|, cos)`` with ``cos = (trace - 1) / 2`` and ``sin`` from the antisymmetric part, in float64:
    equal where ``acos`` is defined, never NaN, and exactly 0 for identical rotations.
    """
    relative = pred.double().transpose(-1, -2) @ gt.double()
    cos = (relative.diagonal(dim1=-2, dim2=-1).sum(dim=-1) - 1.0) / 2.0
    axis = torch.stack([relative[..., 2, 1] - relative[..., 1, 2], relative[..., 0, 2] - relative[..., 2, 0],
                        relative[..., 1, 0] - relative[..., 0, 1]], dim=-1)
    sin = 0.5 * torch.linalg.vector_norm(axis, dim=-1)
    return torch.atan2(sin, cos).to(pred.dtype)


def angle_bias(
    pred_rotmat: torch.Tensor, gt_rotmat: torch.Tensor, joints: tuple[int, ...] = SMPL_ANGLE_BIAS_JOINTS
) -> torch.Tensor:
    """The paper's angle bias: mean geodesic angle, in degrees, over SMPL joints 18-21 (elbows, wrists).

    These are the *local* (parent-relative) rotations, as in the authors' ``mode_angle_bias``.

    Args:
        pred_rotmat, gt_rotmat: ``(B, 24, 3, 3)`` SMPL rotations, global orientation first.
    Returns:
        ``(B,)`` degrees.
    """
    idx = list(joints)
    return torch.rad2deg(geodesic_angle(pred_rotmat[:, idx], gt_rotmat[:, idx])).mean(dim=-1)


def smpl_rotmats(global_orient: torch.Tensor, body_pose: torch.Tensor) -> torch.Tensor:
    """Stack SMPL rotations ``(B,1,3,3)`` + ``(B,23,3,3)`` (or axis-angle ``(B,3)`` + ``(B,69)``) to ``(B,24,3,3)``."""
    if global_orient.shape[-1] == 3 and global_orient.dim() == 2:
        b = global_orient.shape[0]
        aa = torch.cat([global_orient.reshape(b, 1, 3), body_pose.reshape(b, -1, 3)], dim=1)
        return axis_angle_to_rotmat(aa)
    return torch.cat([global_orient.reshape(global_orient.shape[0], -1, 3, 3),
                      body_pose.reshape(body_pose.shape[0], -1, 3, 3)], dim=1)


def _check_same_shape(a: torch.Tensor, b: torch.Tensor, name: str) -> None:
    if a.shape != b.shape or a.dim() != 3 or a.shape[-1] != 3:
        raise ValueError(f"{name}: expected two (B, N, 3) tensors of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


__all__ = [
    "EVAL_BODY_JOINTS",
    "EVAL_FOOT_JOINTS",
    "PCK_CONFIDENCE_THRESHOLD",
    "PCK_THRESHOLDS",
    "SMPLX45_FINGERTIPS",
    "angle_bias",
    "center_on",
    "crop_to_full_image",
    "full_image_to_crop",
    "geodesic_angle",
    "hand_keypoints",
    "keypoint_l2",
    "label44_joints",
    "mpjpe",
    "pa_mpjpe",
    "pck_from_counts",
    "pck_hits",
    "procrustes_align",
    "root_joint",
    "similarity_transform",
    "smpl_rotmats",
]
