"""Robust reprojection and pose priors for label optimization.

* Geman-McClure on the squared reprojection residual ``e = |r|^2`` (r in units of the label's box side):
  ``rho(e) = e / (sigma^2 + e)``, 0 for a perfect fit and saturating at 1 for outliers, so a single wrong
  keypoint cannot drag the label (SMPLify's choice, normalized so each keypoint weighs at most 1).
* Joint limits: a squared hinge on each axis-angle component of the local rotation outside a loose
  anatomical box (:data:`JOINT_ANGLE_LIMITS`). SMPL joint frames at rest (T-pose): x to the body's left,
  y up, z forward. The boxes are wide on purpose: they rule out impossible configurations (knees and elbows
  bending backwards, feet and hands folded through the limb) without pulling plausible labels.
* Initial-label prior: the squared distance of each optimized joint's axis-angle to its initial value, so a
  joint moves only as far as the keypoints ask.
"""

from __future__ import annotations

import math

import torch

from ..constants import NUM_SMPL_JOINTS

_DEG = math.pi / 180.0

# (x, y, z) lower and upper bounds in radians of the local axis-angle, per SMPL joint (global orientation,
# joint 0, is free). Sources: typical active ranges of motion (knee flexion ~150 deg, ankle plantarflexion
# ~50 deg / dorsiflexion ~20 deg, wrist flexion/extension ~80 deg, elbow flexion ~150 deg), widened by
# 10-20 deg for label noise. Axes: knee/ankle/toe flexion is about x; elbow flexion about y (negative on
# the left arm, positive on the right); wrist flexion about z, radial/ulnar deviation about y.
JOINT_ANGLE_LIMITS: dict[int, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    1: ((-150 * _DEG, -50 * _DEG, -40 * _DEG), (50 * _DEG, 50 * _DEG, 80 * _DEG)),  # left hip
    2: ((-150 * _DEG, -50 * _DEG, -80 * _DEG), (50 * _DEG, 50 * _DEG, 40 * _DEG)),  # right hip
    3: ((-60 * _DEG, -45 * _DEG, -45 * _DEG), (60 * _DEG, 45 * _DEG, 45 * _DEG)),  # spine1
    4: ((-10 * _DEG, -25 * _DEG, -25 * _DEG), (160 * _DEG, 25 * _DEG, 25 * _DEG)),  # left knee
    5: ((-10 * _DEG, -25 * _DEG, -25 * _DEG), (160 * _DEG, 25 * _DEG, 25 * _DEG)),  # right knee
    6: ((-45 * _DEG, -40 * _DEG, -40 * _DEG), (45 * _DEG, 40 * _DEG, 40 * _DEG)),  # spine2
    7: ((-35 * _DEG, -35 * _DEG, -35 * _DEG), (65 * _DEG, 35 * _DEG, 35 * _DEG)),  # left ankle
    8: ((-35 * _DEG, -35 * _DEG, -35 * _DEG), (65 * _DEG, 35 * _DEG, 35 * _DEG)),  # right ankle
    9: ((-45 * _DEG, -40 * _DEG, -40 * _DEG), (45 * _DEG, 40 * _DEG, 40 * _DEG)),  # spine3
    10: ((-60 * _DEG, -20 * _DEG, -20 * _DEG), (45 * _DEG, 20 * _DEG, 20 * _DEG)),  # left foot (toes)
    11: ((-60 * _DEG, -20 * _DEG, -20 * _DEG), (45 * _DEG, 20 * _DEG, 20 * _DEG)),  # right foot (toes)
    12: ((-60 * _DEG, -60 * _DEG, -50 * _DEG), (60 * _DEG, 60 * _DEG, 50 * _DEG)),  # neck
    13: ((-40 * _DEG, -40 * _DEG, -40 * _DEG), (40 * _DEG, 40 * _DEG, 40 * _DEG)),  # left collar
    14: ((-40 * _DEG, -40 * _DEG, -40 * _DEG), (40 * _DEG, 40 * _DEG, 40 * _DEG)),  # right collar
    15: ((-60 * _DEG, -60 * _DEG, -50 * _DEG), (60 * _DEG, 60 * _DEG, 50 * _DEG)),  # head
    16: ((-120 * _DEG, -120 * _DEG, -100 * _DEG), (120 * _DEG, 120 * _DEG, 100 * _DEG)),  # left shoulder
    17: ((-120 * _DEG, -120 * _DEG, -100 * _DEG), (120 * _DEG, 120 * _DEG, 100 * _DEG)),  # right shoulder
    18: ((-90 * _DEG, -160 * _DEG, -40 * _DEG), (90 * _DEG, 10 * _DEG, 40 * _DEG)),  # left elbow
    19: ((-90 * _DEG, -10 * _DEG, -40 * _DEG), (90 * _DEG, 160 * _DEG, 40 * _DEG)),  # right elbow
    20: ((-60 * _DEG, -40 * _DEG, -90 * _DEG), (60 * _DEG, 40 * _DEG, 90 * _DEG)),  # left wrist
    21: ((-60 * _DEG, -40 * _DEG, -90 * _DEG), (60 * _DEG, 40 * _DEG, 90 * _DEG)),  # right wrist
    22: ((-30 * _DEG, -30 * _DEG, -30 * _DEG), (30 * _DEG, 30 * _DEG, 30 * _DEG)),  # left hand
    23: ((-30 * _DEG, -30 * _DEG, -30 * _DEG), (30 * _DEG, 30 * _DEG, 30 * _DEG)),  # right hand
}


def joint_limit_tensors(dtype=torch.float32, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(24,3) lower and upper bounds (radians); the unbounded global orientation gets -inf / +inf."""
    lower = torch.full((NUM_SMPL_JOINTS, 3), -math.inf, dtype=dtype, device=device)
    upper = torch.full((NUM_SMPL_JOINTS, 3), math.inf, dtype=dtype, device=device)
    for joint, (lo, hi) in JOINT_ANGLE_LIMITS.items():
        lower[joint] = torch.tensor(lo, dtype=dtype)
        upper[joint] = torch.tensor(hi, dtype=dtype)
    return lower, upper


def geman_mcclure(squared_residual: torch.Tensor, sigma: float) -> torch.Tensor:
    """Normalized Geman-McClure ``e / (sigma^2 + e)`` of squared residuals (same shape, in [0,1))."""
    return squared_residual / (sigma**2 + squared_residual)


def limit_violation(pose: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Squared hinge of (...,J,3) axis-angle outside [lower, upper] (J,3), summed over the last two dims."""
    below = torch.clamp(lower - pose, min=0)
    above = torch.clamp(pose - upper, min=0)
    return (below**2 + above**2).sum((-1, -2))
