"""SMPL joints for evaluation: the 44-point label layout, the alignment root and the fingertips.

A body model is required for the 3D metrics: the ground truth 3D joints are the SMPL-neutral joints of the
label's SMPL parameters (the authors build their test sets exactly so), and predictions go through the same
layer. The licensed ``SMPL_NEUTRAL.pkl`` comes from the user (``--smpl`` or ``$HARDMO_SMPL_PATH``); the J19
regressor ``SMPL_to_J19.pkl`` (from the 4D-Humans data bundle) is optional: with it the joints and the
pelvis (label joint 39) are the paper's; without it the J19 rows are missing and 3D errors are measured
after centring on the SMPL pelvis instead, which the results mark as ``root: smpl_pelvis (non-paper)``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import metrics as M

logger = logging.getLogger(__name__)

J19_FILENAME = "SMPL_to_J19.pkl"
ROOT_PAPER = "label_joint_39"
ROOT_FALLBACK = "smpl_pelvis"


def load_j19_regressor(path: str | os.PathLike) -> np.ndarray:
    """Read ``SMPL_to_J19.pkl``: a (19, 6890) float array, unpickled without running code from the file."""
    from ..safe_pickle import load_pickle

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"J19 regressor not found at {path}. It ships with the 4D-Humans data bundle as "
            "data/SMPL_to_J19.pkl; without it, omit --j19 (3D errors then use the non-paper SMPL-pelvis root)."
        )
    regressor = np.asarray(load_pickle(path), dtype=np.float32)
    if regressor.ndim != 2 or regressor.shape[0] != 19:
        raise ValueError(f"{path}: expected a (19, 6890) J19 regressor, got shape {regressor.shape}")
    return regressor


@dataclass
class EvaluationJoints:
    """SMPL joints of one batch, metres, SMPL model frame (no camera translation).

    joints44: (B,44,3) label layout (J19 rows NaN without a regressor); root: (B,3);
    fingertips: (B,10,3) smplx fingertips (left thumb..pinky, right thumb..pinky); rotmat: (B,24,3,3).
    """

    joints44: torch.Tensor
    root: torch.Tensor
    fingertips: torch.Tensor
    rotmat: torch.Tensor


class EvaluationBodyModel(torch.nn.Module):
    """SMPL (neutral, 10 betas) -> :class:`EvaluationJoints`, for labels and predictions alike.

    Args:
        smpl_path: ``SMPL_NEUTRAL.pkl`` or its folder; ``None`` reads ``$HARDMO_SMPL_PATH``.
        j19_path: optional ``SMPL_to_J19.pkl``; by default the one beside the SMPL file, when there is one.
    """

    def __init__(self, smpl_path: str | os.PathLike | None = None, j19_path: str | os.PathLike | None = None):
        super().__init__()
        from ..models.body_model_hardmo import SMPLBodyModel, resolve_smpl_path

        smpl_file = resolve_smpl_path(smpl_path)
        if j19_path is None and (smpl_file.parent / J19_FILENAME).is_file():
            j19_path = smpl_file.parent / J19_FILENAME  # as the models' attach_body_model does
            logger.info("using the J19 regressor beside the SMPL model: %s", j19_path)
        regressor = load_j19_regressor(j19_path) if j19_path is not None else None
        self.smpl = SMPLBodyModel(smpl_file, j19_regressor=regressor)

    @property
    def has_j19(self) -> bool:
        return self.smpl.has_j19

    @property
    def root_name(self) -> str:
        return ROOT_PAPER if self.has_j19 else ROOT_FALLBACK

    @torch.no_grad()
    def forward(self, global_orient: torch.Tensor, body_pose: torch.Tensor, betas: torch.Tensor) -> EvaluationJoints:
        """Rotation matrices (B,1,3,3) + (B,23,3,3), or axis-angle (B,3) + (B,69) radians; betas (B,10)."""
        rotmat = M.smpl_rotmats(global_orient, body_pose)
        out = self.smpl(rotmat[:, :1], rotmat[:, 1:], betas)
        return self.joints_from_smpl(out.joints45, out.j19, rotmat)

    def joints_from_smpl(self, joints45: torch.Tensor, j19: torch.Tensor | None, rotmat: torch.Tensor) -> EvaluationJoints:
        """:class:`EvaluationJoints` from an SMPL forward already run (e.g. by a model with this layer attached).

        joints45: (B,45,3) m; j19: (B,19,3) m or None; rotmat: (B,24,3,3).
        """
        joints44 = M.label44_joints(joints45, j19 if self.has_j19 else None)
        return EvaluationJoints(
            joints44=joints44,
            root=M.root_joint(joints44, joints45, self.has_j19),
            fingertips=joints45[:, list(M.SMPLX45_FINGERTIPS)],
            rotmat=rotmat,
        )
