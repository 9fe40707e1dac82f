"""SMPL keypoints without the mesh: the 45 smplx joints at a fraction of the cost of a full forward.

Mining and label optimization need only SMPL's keypoints: the 24 kinematic joints and the 21 vertices
``smplx`` selects as extra joints (nose, eyes, ears, toes, heels, fingertips). The kinematic joints do not
depend on the pose blend shapes, and each selected vertex needs only its own rows of the blend shapes and
skinning weights. :class:`SMPLKeypointModel` keeps exactly those rows, so its output equals
``smplx.SMPLLayer(...).joints`` (tested) while touching 45 points instead of 6890 vertices. Shape is fixed
during optimization, so the shaped rest joints are computed once per sample (:meth:`rest`) and reused.

Units: metres, SMPL model frame (no translation). Rotations: (B,24,3,3) matrices, global orientation first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from ..constants import NUM_BETAS, NUM_SMPL_JOINTS
from ..models.body_model_hardmo import SMPLBodyModel

NUM_SMPLX45_JOINTS = 45


@dataclass
class RestShape:
    """The shaped rest pose of a batch: joints (B,24,3) m and the 21 selected vertices (B,21,3) m."""

    joints: torch.Tensor
    vertices: torch.Tensor


class SMPLKeypointModel(nn.Module):
    """The smplx-45 joints of SMPL for rotation matrices and betas (see module docstring).

    Args:
        body_model: an :class:`SMPLBodyModel`, or a path to SMPL_NEUTRAL.pkl / its folder (defaults to
            ``$HARDMO_SMPL_PATH``).
    """

    def __init__(self, body_model: SMPLBodyModel | str | os.PathLike | None = None):
        super().__init__()
        if not isinstance(body_model, SMPLBodyModel):
            body_model = SMPLBodyModel(body_model)
        smpl = body_model.smpl
        selected = smpl.vertex_joint_selector.extra_joints_idxs.long()  # (21,) vertex ids
        num_vertices = smpl.v_template.shape[0]
        regressor = smpl.J_regressor  # (24,V)
        shapedirs = smpl.shapedirs[..., :NUM_BETAS]  # (V,3,10)
        posedirs = smpl.posedirs.reshape(-1, num_vertices, 3)[:, selected]  # (207,21,3)
        # Buffers are non-persistent: SMPL data never reaches a state_dict.
        self.register_buffer("joint_template", regressor @ smpl.v_template, persistent=False)  # (24,3)
        self.register_buffer(
            "joint_shapedirs", torch.einsum("jv,vck->jck", regressor, shapedirs), persistent=False
        )  # (24,3,10)
        self.register_buffer("vertex_template", smpl.v_template[selected], persistent=False)  # (21,3)
        self.register_buffer("vertex_shapedirs", shapedirs[selected], persistent=False)  # (21,3,10)
        self.register_buffer("vertex_posedirs", posedirs.reshape(posedirs.shape[0], -1), persistent=False)
        self.register_buffer("vertex_weights", smpl.lbs_weights[selected], persistent=False)  # (21,24)
        self.register_buffer("parents", smpl.parents.long().clone(), persistent=False)
        self.source_path = body_model.model_path

    @property
    def num_selected_vertices(self) -> int:
        return self.vertex_template.shape[0]

    def rest(self, betas: torch.Tensor) -> RestShape:
        """Shaped rest pose for (B,10) betas."""
        betas = betas.to(self.joint_template.dtype)
        joints = self.joint_template + torch.einsum("bk,jck->bjc", betas, self.joint_shapedirs)
        vertices = self.vertex_template + torch.einsum("bk,vck->bvc", betas, self.vertex_shapedirs)
        return RestShape(joints, vertices)

    def forward(self, rotations: torch.Tensor, rest: RestShape) -> torch.Tensor:
        """(B,24,3,3) local rotation matrices + the batch's rest shape -> (B,45,3) smplx joints, metres."""
        batch = rotations.shape[0]
        if rotations.shape[1:] != (NUM_SMPL_JOINTS, 3, 3):
            raise ValueError(f"rotations must be (B,24,3,3), got {tuple(rotations.shape)}")
        dtype = self.joint_template.dtype
        rotations = rotations.to(dtype)
        global_rot, global_pos = self._chain(rotations, rest.joints)
        # Skinning transforms: x -> G_R x + (G_t - G_R J_rest), blended with the selected rows' weights.
        offset = global_pos - _matvec(global_rot, rest.joints)
        transforms = torch.cat([global_rot.reshape(batch, NUM_SMPL_JOINTS, 9), offset], dim=-1)  # (B,24,12)
        blended = self.vertex_weights @ transforms.transpose(0, 1).reshape(NUM_SMPL_JOINTS, -1)
        blended = blended.reshape(-1, batch, 12).transpose(0, 1)  # (B,21,12)
        eye = torch.eye(3, dtype=dtype, device=rotations.device)
        pose_feature = (rotations[:, 1:] - eye).reshape(batch, -1)  # (B,207)
        vertices = rest.vertices + (pose_feature @ self.vertex_posedirs).reshape(batch, -1, 3)
        vertices = _matvec(blended[..., :9].reshape(batch, -1, 3, 3), vertices) + blended[..., 9:]
        return torch.cat([global_pos, vertices], dim=1)

    def _chain(self, rotations: torch.Tensor, rest_joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Global rotations (B,24,3,3) and positions (B,24,3) along the kinematic tree, one tree level at a
        time (a handful of broadcast products instead of 23 tiny batched matmuls)."""
        parents = self.parents.tolist()
        global_rot: list[torch.Tensor | None] = [None] * NUM_SMPL_JOINTS
        global_pos: list[torch.Tensor | None] = [None] * NUM_SMPL_JOINTS
        global_rot[0], global_pos[0] = rotations[:, 0], rest_joints[:, 0]
        for level in self._levels():
            index = torch.tensor(level, device=rotations.device)
            parent_index = [parents[j] for j in level]
            parent_rot = torch.stack([global_rot[p] for p in parent_index], dim=1)  # (B,k,3,3)
            parent_pos = torch.stack([global_pos[p] for p in parent_index], dim=1)
            bone = rest_joints[:, index] - rest_joints[:, parent_index]
            rot = _matmul(parent_rot, rotations[:, index])
            pos = parent_pos + _matvec(parent_rot, bone)
            for k, j in enumerate(level):
                global_rot[j], global_pos[j] = rot[:, k], pos[:, k]
        return torch.stack(global_rot, dim=1), torch.stack(global_pos, dim=1)

    def _levels(self) -> list[list[int]]:
        """Joints grouped by depth in the tree (root excluded), each level after its parents."""
        if not hasattr(self, "_level_cache"):
            parents = self.parents.tolist()
            depth = [0] * NUM_SMPL_JOINTS
            for j in range(1, NUM_SMPL_JOINTS):
                depth[j] = depth[parents[j]] + 1
            self._level_cache = [
                [j for j in range(NUM_SMPL_JOINTS) if depth[j] == d] for d in range(1, max(depth) + 1)
            ]
        return self._level_cache


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(...,3,3) @ (...,3,3) by broadcasting (much faster than bmm for millions of tiny matrices on CPU)."""
    return (a[..., :, :, None] * b[..., None, :, :]).sum(-2)


def _matvec(a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(...,3,3) @ (...,3)."""
    return (a * v[..., None, :]).sum(-1)


class PartialKeypoints:
    """The smplx-45 joints as a function of a few *free* joints' rotations, all other joints held fixed.

    Optimization stages move a handful of joints (the legs below the hips, the wrists). Everything that does
    not depend on them (the kinematic chain outside their subtrees, the pose blend shapes of the fixed
    joints, the rotations of the fixed joints) is computed once here; each call recomputes only the free
    subtrees and the 21 selected vertices. The result equals ``model(rotations, rest)`` with the free rotations replaced (tested).

    Args:
        model: the keypoint model.
        rotations: (B,24,3,3) the initial local rotations (the fixed joints keep these).
        rest: the batch's rest shape.
        free: SMPL joint indices whose rotations are given at each call.
    """

    def __init__(self, model: SMPLKeypointModel, rotations: torch.Tensor, rest: RestShape, free):
        self.model, self.free = model, list(free)
        parents = model.parents.tolist()
        with torch.no_grad():
            rotations = rotations.detach().to(model.joint_template.dtype)
            self.rotations0 = rotations
            self.global_rot0, self.global_pos0 = model._chain(rotations, rest.joints)
            self.joints0 = model(rotations, rest)
        affected = set(self.free)
        for j in range(1, NUM_SMPL_JOINTS):  # parents come before children in SMPL's joint order
            if parents[j] in affected:
                affected.add(j)
        self.order = [j for j in range(NUM_SMPL_JOINTS) if j in affected]
        self.rest_joints = rest.joints
        # Every selected vertex can move: through skinning by a moved joint, or through the pose blend
        # shapes of the free joints (in SMPL those touch every vertex). Skinning needs only the joints with
        # a non-zero weight on one of the selected vertices.
        weights = model.vertex_weights  # (21,24)
        self.vertex_joints = [int(j) for j in torch.nonzero(weights.abs().sum(0)).flatten()]
        self.vertex_weights = weights[:, self.vertex_joints]
        eye = torch.eye(3, dtype=rotations.dtype, device=rotations.device)
        self.posedirs = model.vertex_posedirs.reshape(NUM_SMPL_JOINTS - 1, 9, -1, 3)  # (23,9,21,3)
        with torch.no_grad():
            feature = (rotations[:, 1:] - eye).reshape(rotations.shape[0], NUM_SMPL_JOINTS - 1, 9)
            self.vertices_posed0 = rest.vertices + torch.einsum("bjk,jkvc->bvc", feature, self.posedirs)
        vertex_rows = range(NUM_SMPL_JOINTS, NUM_SMPL_JOINTS + weights.shape[0])
        self.output_index = torch.tensor(self.order + list(vertex_rows), device=rotations.device)

    def __call__(self, free_rotations: torch.Tensor) -> torch.Tensor:
        """(B,F,3,3) rotations of the free joints -> (B,45,3) joints, metres."""
        parents = self.model.parents.tolist()
        local = {j: free_rotations[:, k] for k, j in enumerate(self.free)}
        rot, pos = {}, {}
        for j in self.order:
            r = local.get(j, self.rotations0[:, j])
            p = parents[j]
            if p < 0:
                rot[j], pos[j] = r, self.rest_joints[:, 0]
                continue
            parent_rot = rot.get(p, self.global_rot0[:, p])
            parent_pos = pos.get(p, self.global_pos0[:, p])
            rot[j] = _matmul(parent_rot, r)
            pos[j] = parent_pos + _matvec(parent_rot, self.rest_joints[:, j] - self.rest_joints[:, p])
        new_points = [pos[j] for j in self.order]
        rows = [j - 1 for j in self.free if j > 0]
        posed = self.vertices_posed0
        if rows:
            delta = torch.stack([local[j] - self.rotations0[:, j] for j in self.free if j > 0], 1)
            posed = posed + torch.einsum(
                "bjk,jkvc->bvc", delta.reshape(delta.shape[0], len(rows), 9), self.posedirs[rows]
            )
        weights = self.vertex_weights  # (21,J')
        g_rot = torch.stack([rot.get(j, self.global_rot0[:, j]) for j in self.vertex_joints], 1)  # (B,J',3,3)
        g_pos = torch.stack([pos.get(j, self.global_pos0[:, j]) for j in self.vertex_joints], 1)
        offset = g_pos - _matvec(g_rot, self.rest_joints[:, self.vertex_joints])
        blend_rot = torch.einsum("vj,bjrc->bvrc", weights, g_rot)
        blend_off = torch.einsum("vj,bjc->bvc", weights, offset)
        new_points += list((_matvec(blend_rot, posed) + blend_off).unbind(1))
        joints = self.joints0.clone()
        joints[:, self.output_index] = torch.stack(new_points, 1)
        return joints
