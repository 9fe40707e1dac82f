"""Rotation conversions and distances used by the pipeline (torch; batched over leading dimensions).

Conventions: axis-angle vectors are in radians, rotation matrices act on column vectors, and every function
accepts any number of leading batch dimensions. ``axis_angle_to_matrix`` is the body layer's (one Rodrigues
for the whole package); its inverse lives here.
"""

from __future__ import annotations

import numpy as np
import torch

from ..models.body_model_hardmo import axis_angle_to_matrix

__all__ = [
    "as_axis_angle",
    "axis_angle_to_matrix",
    "geodesic_angle",
    "matrix_to_axis_angle",
]


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """(...,3,3) rotation matrices -> (...,3) axis-angle in radians, angle in [0, pi].

    Goes through a unit quaternion chosen by Shepperd's rule (the numerically best of the four candidate
    formulas for each matrix), so it is stable for angles near 0 and near pi.
    """
    if matrix.shape[-2:] != (3, 3):
        raise ValueError(f"expected (...,3,3) rotation matrices, got {tuple(matrix.shape)}")
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    trace = m00 + m11 + m22
    # Four candidate (unnormalized) quaternions (w, x, y, z), each accurate when its pivot is large.
    candidates = torch.stack(
        [
            torch.stack(
                [
                    1 + trace,
                    m[..., 2, 1] - m[..., 1, 2],
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 1, 0] - m[..., 0, 1],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 2, 1] - m[..., 1, 2],
                    1 + m00 - m11 - m22,
                    m[..., 0, 1] + m[..., 1, 0],
                    m[..., 0, 2] + m[..., 2, 0],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 0, 1] + m[..., 1, 0],
                    1 - m00 + m11 - m22,
                    m[..., 1, 2] + m[..., 2, 1],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 1, 0] - m[..., 0, 1],
                    m[..., 0, 2] + m[..., 2, 0],
                    m[..., 1, 2] + m[..., 2, 1],
                    1 - m00 - m11 + m22,
                ],
                -1,
            ),
        ],
        dim=-2,
    )  # (...,4,4): row k is the candidate pivoting on component k
    pivots = torch.stack([1 + trace, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = pivots.argmax(dim=-1, keepdim=True)
    quat = torch.gather(candidates, -2, best[..., None].expand(*best.shape[:-1], 1, 4)).squeeze(-2)
    quat = quat / torch.linalg.norm(quat, dim=-1, keepdim=True)
    quat = torch.where(quat[..., :1] < 0, -quat, quat)  # w >= 0: angle in [0, pi]
    w, xyz = quat[..., 0], quat[..., 1:]
    sin_half = torch.linalg.norm(xyz, dim=-1)
    angle = 2 * torch.atan2(sin_half, w)
    # angle / sin(angle/2), with its limit 2 at zero
    factor = torch.where(sin_half > 1e-6, angle / sin_half.clamp_min(1e-12), 2.0 + angle**2 / 12.0)
    return xyz * factor[..., None]


def geodesic_angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle in radians of the relative rotation between (...,3,3) matrices ``a`` and ``b``."""
    relative = a.transpose(-1, -2) @ b
    cos = (relative.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.acos(cos.clamp(-1.0, 1.0))


def as_axis_angle(rotation: np.ndarray, num_joints: int, what: str) -> np.ndarray:
    """A pose of ``num_joints`` rotations given as axis-angle or matrices -> (num_joints*3,) float32 radians.

    Accepted shapes: (num_joints*3,), (num_joints,3), (num_joints,3,3), each with an optional leading 1.
    Raises ``ValueError`` naming ``what`` for anything else (the caller's file and field).
    """
    array = np.asarray(rotation, dtype=np.float64)
    shape = tuple(array.shape)
    while len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]  # leading singleton batch axes, e.g. HMR 2.0's (1,3,3) global orientation
    if shape in ((num_joints, 3, 3),) or (num_joints == 1 and shape == (3, 3)):
        matrices = torch.from_numpy(array.reshape(num_joints, 3, 3))
        return matrix_to_axis_angle(matrices).numpy().reshape(-1).astype(np.float32)
    if shape in ((num_joints * 3,), (num_joints, 3)):
        return array.reshape(-1).astype(np.float32)
    raise ValueError(
        f"{what}: expected {num_joints} rotations as axis-angle ({num_joints}*3) or matrices "
        f"({num_joints},3,3), got shape {tuple(np.shape(rotation))}"
    )
