"""Training losses of HMR 2.0 / HardMo-HMR, and the ``labels`` dict the models accept.

``labels`` (all tensors, batch first; every entry optional, each term is computed only when its labels are
present; keypoint terms need an attached body model):

==========================  ===================  ==========================================================
key                         shape                meaning
==========================  ===================  ==========================================================
``keypoints_2d``            (B, 44, 3)           label-44 layout (BODY_25 + J19), crop-normalised ``x, y``
                                                 in [-0.5, 0.5] (``px_in_crop / S - 0.5``) + confidence
``keypoints_3d``            (B, 44, 4)           label-44 joints in metres (any frame; pelvis-aligned on
                                                 joint 39 before comparing) + confidence
``hand_keypoints_2d``       (B, 10, 3)           fingertips (left thumb..pinky, right thumb..pinky),
                                                 crop-normalised + confidence (HardMo-Hand)
``global_orient``           (B, 3) or (B,1,3,3)  axis-angle (radians) or rotation matrix
``body_pose``               (B, 3J') / (B,J',3)  axis-angle, or (B, J', 3, 3) rotation matrices
                            / (B, J', 3, 3)      (J' = num_joints - 1: 23 for SMPL)
``betas``                   (B, num_betas)       shape coefficients
``has_global_orient``,      (B,)                 1 where the parameter label is valid; default all ones
``has_body_pose``,
``has_betas``
==========================  ===================  ==========================================================

Axis-angle and rotation-matrix parameters are told apart by their size per sample (3 vs 9 numbers per joint).

The total is HMR 2.0's weighted sum (summed over the batch, not averaged, as upstream)::

    w_2d * L1_conf(kp2d) + w_3d * L1_conf(kp3d - pelvis) + w_go * MSE(R_go) + w_bp * MSE(R_bp)
    + w_betas * MSE(betas) + w_hand * L1_conf([wrists, fingertips] in 2D)

with the weights in the config (``*_loss_weight``; HMR 2.0: 0.01, 0.05, 0.001, 0.001, 0.0005; the hand term,
on BODY_25 wrists 4 and 7 plus the 10 smplx fingertip joints, is HardMo-HMR's).
"""

from __future__ import annotations

import torch

from .constants_hardmo import EVAL_WRIST_JOINTS, LABEL44_PELVIS, NUM_FINGERTIPS, SMPLX45_TO_BODY25
from .geometry_hardmo import axis_angle_to_rotmat

SMPL_PARAM_KEYS = ("global_orient", "body_pose", "betas")


def keypoint_2d_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Confidence-weighted L1, summed over batch, keypoints and coordinates.

    pred ``(B, N, 2)``; target ``(B, N, 3)`` = coordinates + confidence.
    """
    conf = target[..., -1:]
    return (conf * (pred - target[..., :-1]).abs()).sum()


def keypoint_3d_l1(pred: torch.Tensor, target: torch.Tensor, pelvis: int = LABEL44_PELVIS) -> torch.Tensor:
    """Confidence-weighted L1 after aligning both sets on joint ``pelvis``; summed.

    pred ``(B, N, 3)`` metres; target ``(B, N, 4)`` metres + confidence.
    """
    pred = pred - pred[:, pelvis : pelvis + 1]
    coords = target[..., :-1] - target[:, pelvis : pelvis + 1, :-1]
    conf = target[..., -1:]
    return (conf * (pred - coords).abs()).sum()


def parameter_mse(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Masked squared error, summed. pred/target ``(B, ...)``; valid ``(B,)`` (bool or 0/1)."""
    mask = valid.to(pred.dtype).reshape(-1, *([1] * (pred.dim() - 1)))
    return (mask * (pred - target) ** 2).sum()


def smpl_parameter_target(name: str, value: torch.Tensor, num_joints: int) -> torch.Tensor:
    """A ``labels`` SMPL parameter in the prediction's form: rotation matrices ``(B, num_joints, 3, 3)`` for
    poses (from axis-angle or matrices), ``(B, num_betas)`` for betas."""
    batch = value.shape[0]
    if name == "betas":
        return value.reshape(batch, -1)
    per_sample = value[0].numel() if batch else 0
    if per_sample == 9 * num_joints:
        return value.reshape(batch, num_joints, 3, 3)
    if per_sample == 3 * num_joints:
        return axis_angle_to_rotmat(value.reshape(batch, num_joints, 3))
    raise ValueError(
        f"labels[{name!r}] has shape {tuple(value.shape)}: expected {num_joints} joints as axis-angle "
        f"({3 * num_joints} numbers per sample) or rotation matrices ({9 * num_joints} per sample)"
    )


def compute_mesh_recovery_loss(config, outputs, labels: dict, body_output=None) -> tuple[torch.Tensor, dict]:
    """Total loss and its named terms.

    Args:
        config: a HardMo config (loss weights, ``num_joints``).
        outputs: the model output (``global_orient``, ``body_pose``, ``betas``; with a body model also
            ``keypoints_2d`` (B,44,2) or ``None``, ``keypoints_3d`` (B,44,3) or ``None``, ``joints_2d``
            (B,45,2) projected smplx joints, crop-normalised).
        labels: see the module docstring.
        body_output: ``True`` when a body model produced the keypoint outputs.
    Returns:
        ``(loss, terms)``; ``terms`` maps ``loss_<name>`` to the unweighted, detached term.
    """
    unknown = set(labels) - {
        "keypoints_2d", "keypoints_3d", "hand_keypoints_2d", *SMPL_PARAM_KEYS,
        *(f"has_{k}" for k in SMPL_PARAM_KEYS),
    }
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)}; see hardmo_hf.models.loss_hardmo for the format")
    weighted = []
    terms = {}
    needs_body = [k for k in ("keypoints_2d", "keypoints_3d", "hand_keypoints_2d") if k in labels]
    if needs_body and not body_output:
        raise ValueError(
            f"labels {needs_body} need the SMPL body model: call model.attach_body_model(path) first "
            "(or drop the keypoint labels to train on SMPL parameters only)"
        )

    if "keypoints_2d" in labels:
        target = labels["keypoints_2d"].float()
        pred = outputs.keypoints_2d
        if pred is None:
            # No J19 regressor: the BODY_25 rows are enough when the J19 rows carry no confidence (HardMo labels).
            if bool((target[:, 25:, -1] != 0).any()):
                raise ValueError(
                    "labels['keypoints_2d'] has confident J19 rows (25-43) but the body model has no J19 "
                    "regressor: attach one (SMPL_to_J19.pkl) to train on them"
                )
            pred, target = outputs.joints_2d[:, list(SMPLX45_TO_BODY25)], target[:, :25]
        term = keypoint_2d_l1(pred, target)
        terms["loss_keypoints_2d"] = term
        weighted.append(config.keypoints_2d_loss_weight * term)

    if "keypoints_3d" in labels:
        if outputs.keypoints_3d is None:
            raise ValueError(
                "labels['keypoints_3d'] needs the label-44 joints (pelvis = J19 joint 39): attach a body model "
                "with a J19 regressor (SMPL_to_J19.pkl)"
            )
        term = keypoint_3d_l1(outputs.keypoints_3d, labels["keypoints_3d"].float())
        terms["loss_keypoints_3d"] = term
        weighted.append(config.keypoints_3d_loss_weight * term)

    if "hand_keypoints_2d" in labels:
        kp2d = labels.get("keypoints_2d")
        if kp2d is None:
            raise ValueError("labels['hand_keypoints_2d'] needs labels['keypoints_2d'] (its wrists are part of the term)")
        wrists = list(EVAL_WRIST_JOINTS)
        target = torch.cat([kp2d[:, wrists].float(), labels["hand_keypoints_2d"].float()], dim=1)
        body25 = outputs.joints_2d[:, list(SMPLX45_TO_BODY25)]
        pred = torch.cat([body25[:, wrists], outputs.joints_2d[:, -NUM_FINGERTIPS:]], dim=1)
        term = keypoint_2d_l1(pred, target)
        terms["loss_hand_keypoints_2d"] = term
        weighted.append(config.hand_keypoints_2d_loss_weight * term)

    for name in SMPL_PARAM_KEYS:
        if name not in labels:
            continue
        pred = getattr(outputs, name)
        joints = pred.shape[1] if name != "betas" else None
        target = smpl_parameter_target(name, labels[name].to(pred.dtype), joints)
        valid = labels.get(f"has_{name}")
        if valid is None:
            valid = torch.ones(pred.shape[0], device=pred.device)
        term = parameter_mse(pred.reshape(pred.shape[0], -1), target.reshape(pred.shape[0], -1), valid)
        terms[f"loss_{name}"] = term
        weighted.append(getattr(config, f"{name}_loss_weight") * term)

    if not weighted:
        raise ValueError("labels is empty: give at least one of keypoints_2d, keypoints_3d, global_orient, body_pose, betas")
    loss = torch.stack(weighted).sum()
    return loss, {k: v.detach() for k, v in terms.items()}
