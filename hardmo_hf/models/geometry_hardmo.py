"""Rotation and camera geometry shared by the HardMo models.

Everything here is plain ``torch`` code on float tensors; shapes are stated per function. Conventions:

* **Rotation matrices** act on column vectors (``x' = R @ x``), shape ``(..., 3, 3)``.
* **Axis-angle** vectors are ``(..., 3)`` in radians (direction = axis, norm = angle), as in SMPL's ``pose``.
* **6D rotations** are the first two columns of ``R`` (Zhou et al., CVPR 2019), in one of two memory layouts:

  - ``"hmr2"`` (4D-Humans, HardMo-HMR): the 6 numbers are the two columns one after the other,
    ``x6 = [R[:, 0], R[:, 1]]``. Implemented by :func:`rot6d_to_rotmat_hmr2` / :func:`rotmat_to_rot6d_hmr2`.
  - ``"spin"`` (SPIN, BEDLAM): the 6 numbers are the ``(3, 2)`` matrix ``R[:, :2]`` read row-major, so the
    columns are interleaved, ``x6 = [R00, R01, R10, R11, R20, R21]``. Implemented by
    :func:`rot6d_to_rotmat_spin` / :func:`rotmat_to_rot6d_spin`.

  Both decoders apply the same Gram-Schmidt step and return ``R = [b1 b2 b3]`` with the vectors as columns.

* **Weak-perspective camera** ``pred_cam = [s, tx, ty]`` (crop-normalised) and its perspective equivalent,
  the camera translation ``[tx, ty, 2 f / (S s + 1e-9)]`` in metres, for a crop of ``S`` pixels seen by a
  pinhole camera of focal length ``f`` pixels (f = 5000 for both released models).

The float behaviour follows the upstream code bit for bit where the parity fixtures showed it matters (see
``../shared/fixtures/upstream/README*.md``): the HMR2-layout decoder takes its two 3-vectors as strided views of
a contiguous ``(N, 3, 2)`` buffer, and the camera depth is either a true division (4D-Humans, HardMo-HMR) or
``reciprocal(.) * 2f`` (BEDLAM: a Python number divided by a tensor).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

ROT6D_LAYOUTS = ("hmr2", "spin")
NORMALIZE_EPS = 1e-12  # F.normalize's default, used by every upstream 6D decoder
CAM_DEPTH_EPS = 1e-9  # added to S * s before dividing, as upstream does


# ------------------------------------------------------------------------------------------------------
# 6D <-> rotation matrix
# ------------------------------------------------------------------------------------------------------
def _gram_schmidt(a1: torch.Tensor, a2: torch.Tensor) -> torch.Tensor:
    """Orthonormal frame from two 3-vectors ``(N, 3)`` -> rotation matrices ``(N, 3, 3)`` (vectors as columns)."""
    b1 = F.normalize(a1, dim=1, eps=NORMALIZE_EPS)
    b2 = F.normalize(a2 - torch.einsum("bi,bi->b", b1, a2).unsqueeze(-1) * b1, dim=1, eps=NORMALIZE_EPS)
    b3 = torch.linalg.cross(b1, b2, dim=1)
    return torch.stack((b1, b2, b3), dim=-1)


def rot6d_to_rotmat_hmr2(x: torch.Tensor) -> torch.Tensor:
    """HMR2-layout 6D -> rotation matrices.

    Args:
        x: ``(..., 6 * J)`` 6D rotations; for each joint the first 3 numbers are the first column of ``R`` and
            the next 3 the second column.
    Returns:
        ``(N, 3, 3)`` rotation matrices with ``N = x.numel() // 6`` (joint-major within each batch row).
    """
    # A contiguous (N, 3, 2) buffer whose columns are the two 3-vectors: reading them as strided views
    # reproduces upstream's rounding exactly (contiguous 3-vectors differ by 1 ulp in F.normalize).
    cols = x.reshape(-1, 2, 3).transpose(1, 2).contiguous()
    return _gram_schmidt(cols[:, :, 0], cols[:, :, 1])


def rot6d_to_rotmat_spin(x: torch.Tensor) -> torch.Tensor:
    """SPIN/BEDLAM-layout 6D -> rotation matrices.

    Args:
        x: ``(..., 6 * J)`` 6D rotations; for each joint the 6 numbers are ``R[:, :2]`` read row-major
            (``[R00, R01, R10, R11, R20, R21]``).
    Returns:
        ``(N, 3, 3)`` rotation matrices with ``N = x.numel() // 6``.
    """
    cols = x.reshape(-1, 3, 2)
    return _gram_schmidt(cols[:, :, 0], cols[:, :, 1])


def rotmat_to_rot6d_hmr2(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` -> HMR2-layout 6D ``(..., 6)`` = ``[R[:, 0], R[:, 1]]``."""
    return torch.cat([rotmat[..., :, 0], rotmat[..., :, 1]], dim=-1)


def rotmat_to_rot6d_spin(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` -> SPIN-layout 6D ``(..., 6)`` = ``R[:, :2]`` flattened row-major."""
    return rotmat[..., :, :2].reshape(*rotmat.shape[:-2], 6)


def rot6d_to_rotmat(x: torch.Tensor, layout: str) -> torch.Tensor:
    """Dispatch on ``layout`` (``"hmr2"`` or ``"spin"``); see the layout-specific functions."""
    if layout == "hmr2":
        return rot6d_to_rotmat_hmr2(x)
    if layout == "spin":
        return rot6d_to_rotmat_spin(x)
    raise ValueError(f"unknown 6D layout {layout!r}; expected one of {ROT6D_LAYOUTS}")


def rotmat_to_rot6d(rotmat: torch.Tensor, layout: str) -> torch.Tensor:
    """Dispatch on ``layout`` (``"hmr2"`` or ``"spin"``); see the layout-specific functions."""
    if layout == "hmr2":
        return rotmat_to_rot6d_hmr2(rotmat)
    if layout == "spin":
        return rotmat_to_rot6d_spin(rotmat)
    raise ValueError(f"unknown 6D layout {layout!r}; expected one of {ROT6D_LAYOUTS}")


# ------------------------------------------------------------------------------------------------------
# Axis-angle <-> rotation matrix
# ------------------------------------------------------------------------------------------------------
def axis_angle_to_rotmat(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: axis-angle ``(..., 3)`` radians -> rotation matrices ``(..., 3, 3)``.

    Exact at zero (identity) and smooth near it: the ``sin(t)/t`` and ``(1 - cos t)/t^2`` factors use their
    Taylor series below 1e-4 rad.
    """
    angle_sq = (axis_angle * axis_angle).sum(-1, keepdim=True)  # (..., 1)
    angle = angle_sq.clamp_min(0).sqrt()
    small = angle < 1e-4
    safe = torch.where(small, torch.ones_like(angle), angle)
    sin_over = torch.where(small, 1.0 - angle_sq / 6.0, torch.sin(safe) / safe)
    one_minus_cos_over = torch.where(small, 0.5 - angle_sq / 24.0, (1.0 - torch.cos(safe)) / (safe * safe))
    x, y, z = axis_angle.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*axis_angle.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(skew)
    return eye + sin_over.unsqueeze(-1) * skew + one_minus_cos_over.unsqueeze(-1) * (skew @ skew)


def rotmat_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` -> axis-angle ``(..., 3)`` radians, angle in ``[0, pi]``.

    Goes through a unit quaternion chosen by the largest-diagonal rule (robust at every angle, including
    180 degrees). The input should be a proper rotation (det +1); it is not re-orthonormalised.
    """
    m = rotmat
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    trace = m00 + m11 + m22
    # Four candidate (unnormalised) quaternions (w, x, y, z); each is accurate where its pivot is large.
    cand = torch.stack(
        [
            torch.stack([1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
            torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
        ],
        dim=-2,
    )  # (..., 4, 4)
    pivots = torch.stack([trace, m00, m11, m22], dim=-1)
    best = pivots.argmax(dim=-1, keepdim=True)
    quat = torch.gather(cand, -2, best.unsqueeze(-1).expand(*best.shape[:-1], 1, 4)).squeeze(-2)
    quat = F.normalize(quat, dim=-1)
    quat = torch.where(quat[..., :1] < 0, -quat, quat)  # w >= 0 -> angle in [0, pi]
    return quaternion_to_axis_angle(quat)


def quaternion_to_axis_angle(quat: torch.Tensor) -> torch.Tensor:
    """Unit quaternions ``(..., 4)`` as ``(w, x, y, z)`` -> axis-angle ``(..., 3)`` radians."""
    xyz = quat[..., 1:]
    sin_half = xyz.norm(dim=-1, keepdim=True)
    half = torch.atan2(sin_half, quat[..., :1])
    angle = 2.0 * half
    small = sin_half < 1e-6
    # angle / sin(angle / 2), with its limit 2 (1 + angle^2 / 24) at zero.
    factor = torch.where(small, 2.0 + angle * angle / 12.0, angle / torch.where(small, torch.ones_like(sin_half), sin_half))
    return xyz * factor


# ------------------------------------------------------------------------------------------------------
# Cameras
# ------------------------------------------------------------------------------------------------------
def weak_perspective_to_translation(
    pred_cam: torch.Tensor,
    focal_length: torch.Tensor | float,
    crop_size: int,
    reciprocal_division: bool = False,
) -> torch.Tensor:
    """Weak-perspective camera -> perspective camera translation in the crop frame.

    Args:
        pred_cam: ``(B, 3)`` ``[s, tx, ty]``; ``s`` scales the body to the crop-normalised image
            (crop width = 1), ``tx, ty`` translate it (body units, i.e. metres).
        focal_length: ``(B, 2)`` tensor or a number, in pixels of the ``crop_size`` crop; only the first
            column is used for the depth.
        crop_size: side ``S`` of the square crop in pixels (256 for HMR2, 224 for HardMo-HMR and BEDLAM).
        reciprocal_division: ``False`` (4D-Humans, HardMo-HMR) computes ``2 f / (S s + 1e-9)`` as a true
            division by a float tensor ``2 f``; ``True`` (BEDLAM) computes ``reciprocal(S s + 1e-9) * 2 f``,
            which is what PyTorch does for ``python_number / tensor``. Both agree to 1 ulp.
    Returns:
        ``(B, 3)`` translation ``[tx, ty, tz]`` in metres, camera looking down +z.
    """
    s, tx, ty = pred_cam[:, 0], pred_cam[:, 1], pred_cam[:, 2]
    denominator = crop_size * s + CAM_DEPTH_EPS
    if reciprocal_division:
        if isinstance(focal_length, torch.Tensor):
            raise ValueError("reciprocal_division reproduces a Python-number numerator; pass focal_length as a number")
        tz = torch.reciprocal(denominator) * (2.0 * focal_length)
    else:
        if not isinstance(focal_length, torch.Tensor):
            focal_length = torch.full((pred_cam.shape[0], 2), float(focal_length), dtype=pred_cam.dtype, device=pred_cam.device)
        tz = 2 * focal_length[:, 0] / denominator
    return torch.stack([tx, ty, tz], dim=-1)


def perspective_projection(
    points: torch.Tensor,
    translation: torch.Tensor,
    focal_length: torch.Tensor,
    camera_center: torch.Tensor | None = None,
    rotation: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pinhole projection of 3D points.

    Args:
        points: ``(B, N, 3)`` points in the body frame (metres).
        translation: ``(B, 3)`` camera translation (metres), added after ``rotation``.
        focal_length: ``(B, 2)`` ``(fx, fy)`` in the output unit per metre-of-depth ratio (pixels, or crop
            units when the focal length is divided by the crop size).
        camera_center: ``(B, 2)`` principal point in the output unit; zeros if ``None``.
        rotation: ``(B, 3, 3)`` camera rotation; identity if ``None``.
    Returns:
        ``(B, N, 2)`` projected points ``f * (X / Z) + c``.
    """
    if rotation is not None:
        points = torch.einsum("bij,bkj->bki", rotation, points)
    points = points + translation.unsqueeze(1)
    projected = points[..., :2] / points[..., 2:3]
    projected = projected * focal_length.unsqueeze(1)
    if camera_center is not None:
        projected = projected + camera_center.unsqueeze(1)
    return projected
