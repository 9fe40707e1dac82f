"""Synthetic ground truth for the annotation pipeline: poses, cameras, detections and corrupted labels.

Used by the pipeline tests, the benchmark and the sample-data script. Everything is generated from the
synthetic SMPL stand-in (:mod:`hardmo_hf.testing.smpl`) through the pipeline's own keypoint model, so the
"detections" are exactly what an ideal detector would see plus controlled noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..constants import NUM_SMPL_JOINTS
from ..pipeline.camera import project
from ..pipeline.fitting import FIT_MODEL_JOINTS, FitBatch
from ..pipeline.kinematics import SMPLKeypointModel
from ..pipeline.priors import JOINT_ANGLE_LIMITS
from ..pipeline.rotations import axis_angle_to_matrix, matrix_to_axis_angle

# Joints perturbed by each corruption, with the range of the perturbation angle in degrees.
CORRUPTIONS = {
    "foot": {4: (5, 15), 5: (5, 15), 7: (20, 45), 8: (20, 45), 10: (10, 30), 11: (10, 30)},
    "hand": {
        3: (3, 8),
        6: (3, 8),
        9: (3, 8),
        13: (5, 12),
        14: (5, 12),
        16: (8, 20),
        17: (8, 20),
        18: (8, 20),
        19: (8, 20),
        20: (25, 50),
        21: (25, 50),
    },
}
LABEL_NOISE_DEG = 2.0  # every joint of a label is off by about this much (HMR-style residual error)


def sample_poses(rng: np.random.Generator, count: int) -> np.ndarray:
    """(count,72) axis-angle poses: upright people turned up to +-100 deg from the camera (camera frame: x
    right, y down), each limited joint uniform in the middle half of its :data:`JOINT_ANGLE_LIMITS` box."""
    pose = np.zeros((count, NUM_SMPL_JOINTS, 3))
    for joint, (lo, hi) in JOINT_ANGLE_LIMITS.items():
        pose[:, joint] = rng.uniform(0.5 * np.asarray(lo), 0.5 * np.asarray(hi), size=(count, 3))
    yaw = rng.uniform(-100, 100, size=count) * math.pi / 180
    tilt = rng.normal(scale=0.08, size=(count, 3))
    upright = axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0], dtype=torch.float64))
    turn = axis_angle_to_matrix(torch.from_numpy(np.stack([np.zeros(count), yaw, np.zeros(count)], -1)))
    root = axis_angle_to_matrix(torch.from_numpy(tilt)) @ upright @ turn
    pose[:, 0] = matrix_to_axis_angle(root).numpy()
    return pose.reshape(count, -1).astype(np.float32)


def perturb_joints(
    rng: np.random.Generator, pose: np.ndarray, joints_deg: dict[int, tuple[float, float]]
) -> np.ndarray:
    """Rotate each listed joint by a random axis and an angle drawn uniformly in its (low, high) degrees."""
    pose = pose.reshape(len(pose), NUM_SMPL_JOINTS, 3).copy()
    joints = list(joints_deg)
    axis = rng.normal(size=(len(pose), len(joints), 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    lows = np.array([joints_deg[j][0] for j in joints])
    highs = np.array([joints_deg[j][1] for j in joints])
    angle = rng.uniform(lows, highs, size=(len(pose), len(joints))) * math.pi / 180
    delta = axis_angle_to_matrix(torch.from_numpy(axis * angle[..., None]))
    current = axis_angle_to_matrix(torch.from_numpy(pose[:, joints].astype(np.float64)))
    pose[:, joints] = matrix_to_axis_angle(current @ delta).numpy()
    return pose.reshape(len(pose), -1).astype(np.float32)


def add_label_noise(
    rng: np.random.Generator, pose: np.ndarray, degrees: float = LABEL_NOISE_DEG
) -> np.ndarray:
    """Small rotation noise on every body joint (not the root), as a stand-in for a good regressor's error."""
    joints = {j: (0.5 * degrees, 1.5 * degrees) for j in range(1, NUM_SMPL_JOINTS)}
    return perturb_joints(rng, pose, joints)


@dataclass
class FittingProblem:
    """Ground truth, a corrupted label, and the detections an optimizer sees (numpy, float32).

    gt_pose / label_pose (N,72) axis-angle; betas (N,10); keypoints (N,35,3) detected px + confidence in the
    fitting layout; clean_keypoints (N,35,2) noise-free projections of the ground truth; box_size (N,) px;
    camera_scale (N,) px/m and camera_translation (N,2) px of the ground-truth camera.
    """

    gt_pose: np.ndarray
    label_pose: np.ndarray
    betas: np.ndarray
    keypoints: np.ndarray
    clean_keypoints: np.ndarray
    box_size: np.ndarray
    camera_scale: np.ndarray
    camera_translation: np.ndarray

    def batch(self, pose: np.ndarray | None = None) -> FitBatch:
        return FitBatch(
            torch.from_numpy(self.label_pose if pose is None else pose),
            torch.from_numpy(self.betas),
            torch.from_numpy(self.keypoints),
            torch.from_numpy(self.box_size),
        )


def render_keypoints(
    model: SMPLKeypointModel, pose: np.ndarray, betas: np.ndarray, scale: np.ndarray, translation: np.ndarray
) -> np.ndarray:
    """(N,45,2) px: the smplx-45 joints of ``pose`` seen through a weak-perspective camera."""
    with torch.no_grad():
        rotations = axis_angle_to_matrix(torch.from_numpy(pose).reshape(-1, NUM_SMPL_JOINTS, 3))
        joints = model(rotations, model.rest(torch.from_numpy(betas)))
        return project(joints, torch.from_numpy(scale), torch.from_numpy(translation)).numpy()


def make_fitting_problem(
    model: SMPLKeypointModel,
    count: int,
    corruption: str,
    seed: int = 0,
    noise: float = 0.004,
    outlier_fraction: float = 0.1,
    image_size: tuple[int, int] = (640, 480),
) -> FittingProblem:
    """Sample ground truth, project it, and corrupt the label at the ankles (``foot``) or the arms and
    wrists (``hand``) per :data:`CORRUPTIONS`, on top of small noise on every joint.

    Detections: the ground-truth projection + Gaussian noise (``noise`` x box side) with confidence in
    [0.6, 1]; an ``outlier_fraction`` of points is moved far away and given confidence < 0.2.
    """
    rng = np.random.default_rng(seed)
    gt_pose = sample_poses(rng, count)
    betas = rng.normal(scale=0.8, size=(count, 10)).astype(np.float32)
    label_pose = perturb_joints(rng, add_label_noise(rng, gt_pose), CORRUPTIONS[corruption])
    scale = rng.uniform(150, 250, size=count).astype(np.float32)
    joints = render_keypoints(model, gt_pose, betas, scale, np.zeros((count, 2), np.float32))
    centre = 0.5 * (joints.min(1) + joints.max(1))
    target = np.array(image_size, dtype=np.float32) / 2 + rng.uniform(-40, 40, size=(count, 2))
    translation = (target - centre).astype(np.float32)
    clean = joints[:, list(FIT_MODEL_JOINTS)] + translation[:, None]
    extent = clean.max(1) - clean.min(1)
    box_size = (1.2 * extent.max(-1)).astype(np.float32)
    detected = clean + rng.normal(scale=noise, size=clean.shape) * box_size[:, None, None]
    confidence = rng.uniform(0.6, 1.0, size=clean.shape[:2])
    outliers = rng.random(clean.shape[:2]) < outlier_fraction
    detected[outliers] += (
        rng.uniform(-0.3, 0.3, size=(int(outliers.sum()), 2)) * np.repeat(box_size, outliers.sum(1))[:, None]
    )
    confidence[outliers] = rng.uniform(0.0, 0.2, size=int(outliers.sum()))
    keypoints = np.concatenate([detected, confidence[..., None]], -1).astype(np.float32)
    return FittingProblem(
        gt_pose, label_pose, betas, keypoints, clean.astype(np.float32), box_size, scale, translation
    )
