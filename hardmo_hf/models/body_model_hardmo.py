"""The SMPL body layer used by the HardMo models, evaluation and label optimization (wraps ``smplx``).

SMPL files are licensed: they are read from the user's disk, never shipped, and never saved into a model
checkpoint (every buffer of this module is non-persistent, so its ``state_dict()`` is empty).

Inputs: rotation matrices ``global_orient`` (B,1,3,3), ``body_pose`` (B,23,3,3) and ``betas`` (B,10), or
axis-angle (B,3) / (B,69) in radians with ``pose2rot=True``. Outputs are in metres, in the SMPL model frame
(no translation applied unless ``transl`` is given).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .constants_hardmo import SMPLX45_TO_BODY25, SMPLX45_TO_WHOLEBODY33
from .geometry_hardmo import axis_angle_to_rotmat

SMPL_PATH_ENV = "HARDMO_SMPL_PATH"
SMPL_FILENAME = "SMPL_NEUTRAL.pkl"
SMPL_DOWNLOAD_HELP = (
    "Download the SMPL model (\"SMPL for Python\", v1.1.0, neutral model) from https://smpl.is.tue.mpg.de "
    "after accepting its licence, rename basicModel_neutral_lbs_10_207_0_v1.1.0.pkl to SMPL_NEUTRAL.pkl, and "
    f"pass its path (or its folder) as the SMPL path or set the environment variable {SMPL_PATH_ENV}."
)


def resolve_smpl_path(path: str | os.PathLike | None = None) -> Path:
    """The SMPL neutral ``.pkl``: ``path`` (a file or a folder holding SMPL_NEUTRAL.pkl), else $HARDMO_SMPL_PATH.

    Raises ``FileNotFoundError`` with download instructions when it cannot be found.
    """
    given = path if path is not None else os.environ.get(SMPL_PATH_ENV)
    if not given:
        raise FileNotFoundError(f"No SMPL body model given. {SMPL_DOWNLOAD_HELP}")
    candidate = Path(given).expanduser()
    if candidate.is_dir():
        candidate = candidate / SMPL_FILENAME
    if not candidate.is_file():
        raise FileNotFoundError(f"SMPL body model not found at {candidate}. {SMPL_DOWNLOAD_HELP}")
    return candidate


@dataclass
class BodyModelOutput:
    """SMPL forward results (metres, SMPL model frame).

    vertices: (B,6890,3); joints45: (B,45,3) smplx joints (24 SMPL + face, feet, fingertips);
    body25: (B,25,3) OpenPose BODY_25 rows of the 44-point label layout;
    j19: (B,19,3) the J19 rows, or None without a J19 regressor;
    wholebody33: (B,33,3) the 33-point COCO-WholeBody subset.
    """

    vertices: torch.Tensor
    joints45: torch.Tensor
    body25: torch.Tensor
    j19: torch.Tensor | None
    wholebody33: torch.Tensor

    @property
    def keypoints44(self) -> torch.Tensor:
        """(B,44,3) label layout; requires the J19 regressor."""
        if self.j19 is None:
            raise ValueError("The 44-point layout needs the J19 regressor (SMPL_to_J19.pkl); none was given.")
        return torch.cat([self.body25, self.j19], dim=1)


class SMPLBodyModel(nn.Module):
    """SMPL neutral (10 betas) via ``smplx.SMPLLayer``, with HardMo's joint layouts.

    Args:
        model_path: SMPL_NEUTRAL.pkl or its folder; defaults to $HARDMO_SMPL_PATH.
        j19_regressor: optional (19,6890) array or tensor (the J19 joints of the 44-point label layout).
    """

    def __init__(self, model_path: str | os.PathLike | None = None, j19_regressor=None):
        super().__init__()
        import smplx  # imported here: only needed when a body model is actually used

        self.model_path = resolve_smpl_path(model_path)
        self.smpl = smplx.SMPLLayer(model_path=str(self.model_path), num_betas=10)
        self.faces = np.asarray(self.smpl.faces, dtype=np.int64)  # (13776,3)
        self.register_buffer("body25_index", torch.tensor(SMPLX45_TO_BODY25, dtype=torch.long), persistent=False)
        self.register_buffer(
            "wholebody33_index", torch.tensor(SMPLX45_TO_WHOLEBODY33, dtype=torch.long), persistent=False
        )
        if j19_regressor is not None:
            regressor = torch.as_tensor(np.asarray(j19_regressor), dtype=torch.float32)
            if tuple(regressor.shape) != (19, self.smpl.v_template.shape[0]):
                raise ValueError(f"J19 regressor must be (19, 6890), got {tuple(regressor.shape)}")
            self.register_buffer("j19_regressor", regressor, persistent=False)
        else:
            self.j19_regressor = None
        _make_buffers_non_persistent(self.smpl)

    @property
    def has_j19(self) -> bool:
        return self.j19_regressor is not None

    def forward(
        self,
        global_orient: torch.Tensor,
        body_pose: torch.Tensor,
        betas: torch.Tensor,
        transl: torch.Tensor | None = None,
        pose2rot: bool = False,
    ) -> BodyModelOutput:
        """Rotation matrices (B,1,3,3), (B,23,3,3) by default; axis-angle (B,3), (B,69) with ``pose2rot``."""
        batch = betas.shape[0]
        if pose2rot:
            global_orient = axis_angle_to_rotmat(global_orient.reshape(batch, 1, 3))
            body_pose = axis_angle_to_rotmat(body_pose.reshape(batch, 23, 3))
        dtype = self.smpl.v_template.dtype
        out = self.smpl(
            global_orient=global_orient.reshape(batch, 1, 3, 3).to(dtype),
            body_pose=body_pose.reshape(batch, 23, 3, 3).to(dtype),
            betas=betas.to(dtype),
            transl=None if transl is None else transl.to(dtype),
            pose2rot=False,
        )
        joints45 = out.joints
        j19 = None
        if self.j19_regressor is not None:
            j19 = torch.einsum("jv,bvc->bjc", self.j19_regressor.to(out.vertices.dtype), out.vertices)
        return BodyModelOutput(
            vertices=out.vertices,
            joints45=joints45,
            body25=joints45[:, self.body25_index],
            j19=j19,
            wholebody33=joints45[:, self.wholebody33_index],
        )


def _make_buffers_non_persistent(module: nn.Module) -> None:
    """Keep licensed SMPL data out of every ``state_dict`` this layer is part of."""
    for sub in module.modules():
        for name in list(sub._buffers):
            sub._non_persistent_buffers_set.add(name)
        for name, param in list(sub._parameters.items()):
            if param is not None:  # SMPLLayer has none; guard against smplx versions that do
                del sub._parameters[name]
                sub.register_buffer(name, param.detach(), persistent=False)

