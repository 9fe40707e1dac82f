"""Batched SMPLify-style optimization of SMPL labels against detected 2D keypoints (foot and hand stages).

Every sample of a batch is an independent problem; the batch is optimized together with Adam (whose
per-parameter step sizes keep samples independent). Per stage, a subset of joints is free; all other joints
stay exactly at their input values. The free joints are optimized in axis-angle (radians), the camera is the
weak-perspective camera of :mod:`.camera` (scale and translation, initialized by least squares).

Objective of a stage, per sample (r = reprojection residual in units of the label box side ``scale*200``)::

    sum_i w_i c_i GM(|r_i|^2; sigma)            keypoints i of the stage, confidence c_i >= min_confidence
    + prior_weight * sum_j |theta_j - theta_j^0|^2   free joints j: stay near the input label
    + limit_weight * hinge^2(theta_j outside JOINT_ANGLE_LIMITS)

``sigma`` is annealed from ``sigma_start`` to ``sigma`` over the first ``anneal_fraction`` of the iterations
(graduated non-convexity: far-off keypoints pull first, outliers are discounted at the end). A sample whose
final objective is not below its initial one keeps its input label (and is reported as not improved).

Stages (the paper's foot optimization and its two-stage hand optimization):

* ``foot``: knees, ankles and feet (SMPL_FOOT_CHAIN_JOINTS) + camera, to the ankle, toe and heel keypoints,
  with the other body keypoints (weight ``anchor_weight``) holding the camera;
* ``hand_body`` (stage 1): torso, collars, shoulders and elbows (SMPL_TORSO_JOINTS + SMPL_ARM_CHAIN_JOINTS)
  + camera, to the 17 body keypoints;
* ``hand`` (stage 2): wrists (SMPL_WRIST_JOINTS), camera and stage-1 result fixed, to the fingertips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch

from ..constants import (
    EVAL_BODY_JOINTS,
    EVAL_FOOT_JOINTS,
    EVAL_WRIST_JOINTS,
    NUM_SMPL_JOINTS,
    SMPL_ARM_CHAIN_JOINTS,
    SMPL_FOOT_CHAIN_JOINTS,
    SMPL_TORSO_JOINTS,
    SMPL_WRIST_JOINTS,
    SMPLX45_FINGERTIPS,
    SMPLX45_TO_BODY25,
)
from .camera import fit_weak_perspective, project
from .kinematics import PartialKeypoints, SMPLKeypointModel
from .priors import geman_mcclure, joint_limit_tensors, limit_violation
from .rotations import axis_angle_to_rotmat

# The fitting layout: 35 points = the 25 BODY_25 rows of keypoints_2d + the 10 fingertips.
FIT_MODEL_JOINTS = tuple(SMPLX45_TO_BODY25) + tuple(SMPLX45_FINGERTIPS)  # smplx-45 rows
NUM_FIT_POINTS = len(FIT_MODEL_JOINTS)
FIT_BODY = tuple(EVAL_BODY_JOINTS)  # 17 body keypoints (no neck/mid-hip midpoints, no feet)
FIT_ANKLES = (11, 14)  # BODY_25 right, left ankle
FIT_FOOT = FIT_ANKLES + tuple(EVAL_FOOT_JOINTS)  # ankles + toes + heels
FIT_FINGERTIPS = tuple(range(25, 35))
FIT_HAND = tuple(EVAL_WRIST_JOINTS) + FIT_FINGERTIPS  # wrists + fingertips
# Points that fix the camera for mining: body keypoints except the limbs' ends being judged.
FIT_CAMERA = tuple(i for i in FIT_BODY if i not in FIT_ANKLES + tuple(EVAL_WRIST_JOINTS))

STAGES = ("foot", "hand_body", "hand")


@dataclass(frozen=True)
class StageConfig:
    """Hyper-parameters of one optimization stage (defaults: see :data:`DEFAULT_STAGE_CONFIGS`)."""

    free_joints: tuple[int, ...]
    target_points: tuple[int, ...]  # fitting-layout rows with weight 1
    anchor_points: tuple[int, ...] = ()  # rows with weight anchor_weight
    anchor_weight: float = 1.0
    optimize_camera: bool = True
    iterations: int = 100
    learning_rate: float = 0.03
    sigma: float = 0.05
    sigma_start: float = 0.3
    anneal_fraction: float = 0.6
    prior_weight: float = 0.02
    limit_weight: float = 10.0
    min_confidence: float = 0.3


DEFAULT_STAGE_CONFIGS = {
    "foot": StageConfig(
        free_joints=tuple(SMPL_FOOT_CHAIN_JOINTS),
        target_points=FIT_FOOT,
        anchor_points=tuple(i for i in FIT_BODY if i not in FIT_ANKLES),
    ),
    "hand_body": StageConfig(
        free_joints=tuple(SMPL_TORSO_JOINTS) + tuple(SMPL_ARM_CHAIN_JOINTS),
        target_points=FIT_BODY,
    ),
    "hand": StageConfig(
        free_joints=tuple(SMPL_WRIST_JOINTS),
        target_points=FIT_FINGERTIPS,
        anchor_points=tuple(EVAL_WRIST_JOINTS),
        optimize_camera=False,
    ),
}


@dataclass
class FitBatch:
    """A batch of labels and their detections (torch, one device).

    pose: (B,72) axis-angle radians, global orientation first; betas: (B,10);
    keypoints: (B,35,3) px + confidence in the fitting layout (keypoints_2d rows 0-24, then fingertips);
    box_size: (B,) px, the label box side (``scale * 200``).
    """

    pose: torch.Tensor
    betas: torch.Tensor
    keypoints: torch.Tensor
    box_size: torch.Tensor

    def __len__(self) -> int:
        return self.pose.shape[0]


@dataclass
class StageResult:
    """Output of one stage: the new pose (B,72), camera (B,) px/m and (B,2) px, and per-sample numbers."""

    stage: str
    pose: torch.Tensor
    camera_scale: torch.Tensor
    camera_translation: torch.Tensor
    objective_before: torch.Tensor  # (B,)
    objective_after: torch.Tensor  # (B,)
    improved: torch.Tensor  # (B,) bool: the optimized label was kept
    valid: torch.Tensor  # (B,) bool: enough keypoints for a camera
    extras: dict = field(default_factory=dict)


class LabelFitter:
    """Runs optimization stages on batches (see module docstring).

    Args:
        keypoint_model: the SMPL keypoint model (CPU or GPU; batches are moved to its device).
        stage_configs: per-stage overrides of :data:`DEFAULT_STAGE_CONFIGS`.
    """

    def __init__(
        self, keypoint_model: SMPLKeypointModel, stage_configs: dict | None = None, partial: bool = True
    ):
        self.model = keypoint_model
        self.partial = partial  # recompute only the free joints' subtrees (exact; False: full forward)
        self.configs = dict(DEFAULT_STAGE_CONFIGS)
        self.configs.update(stage_configs or {})
        device = keypoint_model.joint_template.device
        self.device = device
        self.lower, self.upper = joint_limit_tensors(device=device)
        self.fit_index = torch.tensor(FIT_MODEL_JOINTS, device=device)

    # -- public API ------------------------------------------------------------------------------------
    def keypoints(self, pose: torch.Tensor, rest) -> torch.Tensor:
        """(B,72) pose -> (B,35,3) model points in the fitting layout, metres."""
        rotations = axis_angle_to_rotmat(pose.reshape(-1, NUM_SMPL_JOINTS, 3))
        return self.model(rotations, rest)[:, self.fit_index]

    def initial_camera(self, batch: FitBatch, rest=None, points=FIT_CAMERA, min_confidence=0.3):
        """Least-squares weak-perspective camera of each label from ``points`` (fitting-layout rows)."""
        rest = rest if rest is not None else self.model.rest(batch.betas)
        with torch.no_grad():
            model_points = self.keypoints(batch.pose, rest)
        index = list(points)
        conf = batch.keypoints[:, index, 2]
        weights = torch.where(conf >= min_confidence, conf, torch.zeros_like(conf))
        return fit_weak_perspective(model_points[:, index], batch.keypoints[:, index, :2], weights)

    def fit(self, batch: FitBatch, stage: str, camera=None) -> StageResult:
        """Optimize one stage. ``camera`` = (scale, translation, valid) to start from, e.g. the previous
        stage's; else a least-squares fit. Samples without a valid camera keep their input label."""
        if stage not in self.configs:
            raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(self.configs)}")
        cfg = self.configs[stage]
        batch = self.to_device(batch)
        rest = self.model.rest(batch.betas)
        if camera is None:
            scale0, trans0, valid = self.initial_camera(batch, rest, min_confidence=cfg.min_confidence)
        else:
            scale0, trans0, valid = (t.to(self.device) for t in camera)

        free = list(cfg.free_joints)
        pose0 = batch.pose.reshape(-1, NUM_SMPL_JOINTS, 3)
        theta = pose0[:, free].clone().requires_grad_(True)
        log_scale = torch.zeros_like(scale0, requires_grad=cfg.optimize_camera)
        shift = torch.zeros_like(trans0, requires_grad=cfg.optimize_camera)
        weights = self._weights(batch, cfg)
        params = [theta] + ([log_scale, shift] if cfg.optimize_camera else [])
        optimizer = _Adam(params, lr=cfg.learning_rate)
        partial = (
            PartialKeypoints(self.model, axis_angle_to_rotmat(pose0), rest, free) if self.partial else None
        )

        def objective(theta_, log_scale_, shift_, sigma):
            pose = pose0.clone()
            pose[:, free] = theta_
            scale = scale0 * torch.exp(log_scale_)
            translation = trans0 + shift_ * batch.box_size[:, None]
            if partial is not None:
                model_points = partial(axis_angle_to_rotmat(theta_))[:, self.fit_index]
            else:
                model_points = self.keypoints(pose.reshape(-1, 72), rest)
            points = project(model_points, scale, translation)
            residual = (points - batch.keypoints[..., :2]) / batch.box_size[:, None, None]
            data = (weights * geman_mcclure((residual**2).sum(-1), sigma)).sum(-1)
            prior = cfg.prior_weight * ((theta_ - pose0[:, free]) ** 2).sum((-1, -2))
            limits = cfg.limit_weight * limit_violation(theta_, self.lower[free], self.upper[free])
            return data + prior + limits, pose, scale, translation

        anneal_steps = max(1, int(cfg.anneal_fraction * cfg.iterations))
        with torch.no_grad():
            before, *_ = objective(theta, log_scale, shift, cfg.sigma)
        for step in range(cfg.iterations):
            progress = min(1.0, step / anneal_steps)
            sigma = math.exp((1 - progress) * math.log(cfg.sigma_start) + progress * math.log(cfg.sigma))
            loss, *_ = objective(theta, log_scale, shift, sigma)
            optimizer.step(torch.autograd.grad(loss.sum(), params))
        with torch.no_grad():
            after, pose, scale, translation = objective(theta, log_scale, shift, cfg.sigma)
            improved = valid & (after < before)
            pose = torch.where(improved[:, None, None], pose, pose0)
            scale = torch.where(improved, scale, scale0)
            translation = torch.where(improved[:, None], translation, trans0)
            after = torch.where(improved, after, before)
        return StageResult(
            stage,
            pose.reshape(-1, 72).detach(),
            scale.detach(),
            translation.detach(),
            before,
            after,
            improved,
            valid,
        )

    def fit_foot(self, batch: FitBatch) -> StageResult:
        return self.fit(batch, "foot")

    def fit_hand(self, batch: FitBatch, stages: tuple[str, ...] = ("hand_body", "hand")) -> list[StageResult]:
        """The two hand stages; stage 2 starts from stage 1's pose and camera (``stages`` selects a subset
        for ablations)."""
        results, camera = [], None
        for stage in stages:
            result = self.fit(batch, stage, camera=camera)
            results.append(result)
            batch = replace(batch, pose=result.pose)
            camera = (result.camera_scale, result.camera_translation, result.valid)
        return results

    # -- helpers ---------------------------------------------------------------------------------------
    def _weights(self, batch: FitBatch, cfg: StageConfig) -> torch.Tensor:
        conf = batch.keypoints[..., 2].clamp(0, 1)
        conf = torch.where(conf >= cfg.min_confidence, conf, torch.zeros_like(conf))
        mask = torch.zeros(NUM_FIT_POINTS, dtype=conf.dtype, device=conf.device)
        mask[list(cfg.anchor_points)] = cfg.anchor_weight
        mask[list(cfg.target_points)] = 1.0
        return conf * mask

    def to_device(self, batch: FitBatch) -> FitBatch:
        """The batch on the model's device and dtype."""
        dtype = self.model.joint_template.dtype
        return FitBatch(
            *(t.to(self.device, dtype) for t in (batch.pose, batch.betas, batch.keypoints, batch.box_size))
        )


class _Adam:
    """Adam (Kingma & Ba 2015, torch's defaults betas=(0.9, 0.999), eps=1e-8) on a few tensors.

    The same update as ``torch.optim.Adam``; written out because creating a ``torch.optim`` optimizer
    imports ``torch._dynamo`` (~4 s in every fresh worker process), which dominated short tasks.
    """

    def __init__(self, params: list[torch.Tensor], lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps, self.step_count = params, lr, betas, eps, 0
        self.first = [torch.zeros_like(p) for p in params]
        self.second = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, grads) -> None:
        self.step_count += 1
        beta1, beta2 = self.betas
        correction1 = 1 - beta1**self.step_count
        correction2 = 1 - beta2**self.step_count
        for param, grad, m, v in zip(self.params, grads, self.first, self.second):
            m.mul_(beta1).add_(grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denominator = (v / correction2).sqrt_().add_(self.eps)
            param.addcdiv_(m, denominator, value=-self.lr / correction1)


def keypoint_errors(
    model_points_px: torch.Tensor,
    keypoints: torch.Tensor,
    box_size: torch.Tensor,
    rows,
    min_confidence: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean distance / box side over confident keypoints of ``rows``: (B,) errors and (B,) counts.

    Samples without a confident keypoint in ``rows`` get NaN.
    """
    rows = list(rows)
    distance = (
        torch.linalg.norm(model_points_px[:, rows] - keypoints[:, rows, :2], dim=-1) / box_size[:, None]
    )
    mask = keypoints[:, rows, 2] >= min_confidence
    count = mask.sum(-1)
    total = torch.where(mask, distance, torch.zeros_like(distance)).sum(-1)
    error = torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, float("nan")))
    return error, count
