"""Rotation helpers of the pipeline: reading poses given either way, and rotation distances.

Axis-angle vectors are in radians; the conversions themselves are the package's one implementation in
:mod:`hardmo_hf.models.geometry_hardmo` (re-exported here).
"""

from __future__ import annotations

import numpy as np
import torch

from ..models.geometry_hardmo import axis_angle_to_rotmat, rotmat_to_axis_angle

__all__ = ["as_axis_angle", "axis_angle_to_rotmat", "geodesic_angle", "rotmat_to_axis_angle"]


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
        return rotmat_to_axis_angle(matrices).numpy().reshape(-1).astype(np.float32)
    if shape in ((num_joints * 3,), (num_joints, 3)):
        return array.reshape(-1).astype(np.float32)
    raise ValueError(
        f"{what}: expected {num_joints} rotations as axis-angle ({num_joints}*3) or matrices "
        f"({num_joints},3,3), got shape {tuple(np.shape(rotation))}"
    )
