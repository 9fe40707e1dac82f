"""HardMo-4DHumans (:class:`HardMoHMR2Model`) and HardMo-HMR / BEDLAM-HMR (:class:`HardMoHMRModel`).

Both take a batch of square, ImageNet-normalised RGB person crops ``pixel_values`` ``(B, 3, S, S)`` (S = 256 for
HMR2, 224 for HMR) and return a :class:`HardMoMeshOutput`: SMPL rotations, betas and the camera. With an SMPL
body model attached (:meth:`HardMoPreTrainedModel.attach_body_model`) they also return the mesh, 3D joints and
2D keypoints, and ``model(pixel_values, labels=...)`` returns HMR 2.0's training loss (labels format in
``loss_hardmo``).

Frames and units:

* rotations are SMPL's (global orientation in the camera frame of the crop: x right, y down, z forward);
* ``pred_cam = [s, tx, ty]`` is the weak-perspective camera of the crop-normalised image;
* ``pred_cam_t`` is the equivalent perspective translation in metres for a camera of focal length
  ``focal_length`` pixels looking at the ``S``-pixel crop with the principal point at its centre;
* 2D outputs (``keypoints_2d``, ``joints_2d``, ``wholebody_2d``) are **crop-normalised**: (0, 0) is the crop
  centre, +x right, +y down, one unit = the crop side, so the crop spans [-0.5, 0.5]; pixel in the crop =
  ``(u + 0.5) * S``.

SMPL data is never part of a model's ``state_dict``: the body model is held outside the module tree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel, VitPoseBackbone
from transformers import initialization as init
from transformers.utils import ModelOutput

from .configuration_hardmo import HardMoHMR2Config, HardMoHMRConfig
from .geometry_hardmo import (
    perspective_projection,
    rot6d_to_rotmat,
    rotmat_to_rot6d,
    weak_perspective_to_translation,
)
from .heads_hardmo import IEFRegressorHead, SMPLTransformerDecoderHead
from .hrnet_hardmo import HardMoHRNet
from .constants_hardmo import SMPLX45_TO_WHOLEBODY33
from .loss_hardmo import compute_mesh_recovery_loss

INIT_CAM = (0.9, 0.0, 0.0)  # random-init camera: a person filling ~90% of the crop
J19_FILENAME = "SMPL_to_J19.pkl"


@dataclass
class HardMoMeshOutput(ModelOutput):
    r"""Output of the HardMo mesh-recovery models (``B`` crops; ``J`` = ``config.num_joints``).

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): training loss, when ``labels`` are given.
        global_orient (`torch.FloatTensor` of shape `(B, 1, 3, 3)`): root rotation (float32).
        body_pose (`torch.FloatTensor` of shape `(B, J - 1, 3, 3)`): body joint rotations relative to their
            parents, SMPL order: `(B, 23, 3, 3)` for SMPL, `(B, 21, 3, 3)` for the SMPL-X body (BEDLAM).
        betas (`torch.FloatTensor` of shape `(B, num_betas)`): shape coefficients.
        pred_cam (`torch.FloatTensor` of shape `(B, 3)`): weak-perspective camera `[s, tx, ty]`.
        pred_cam_t (`torch.FloatTensor` of shape `(B, 3)`): camera translation in metres,
            `[tx, ty, 2 f / (S s + 1e-9)]`.
        focal_length (`torch.FloatTensor` of shape `(B, 2)`): focal length in pixels of the `S`-pixel crop.
        pred_pose_6d (`torch.FloatTensor` of shape `(B, 6 J)`): raw 6D pose in `config.rot6d_layout`.
        backbone_features (`torch.FloatTensor`): backbone output, channels first: `(B, C, 16, 12)` for HMR2
            (ViT tokens after the last LayerNorm), `(B, 15 W, 7, 7)` for HMR.
        pooled_features (`torch.FloatTensor` of shape `(B, 15 W)`, *optional*): HMR's average-pooled features.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*): HMR2's ViT layer outputs `(B, N, C)` when
            `output_hidden_states=True`.
        vertices (`torch.FloatTensor` of shape `(B, 6890, 3)`, *optional*): SMPL mesh in metres, body frame
            (add `pred_cam_t` for the camera frame). Needs a body model.
        joints (`torch.FloatTensor` of shape `(B, 45, 3)`, *optional*): smplx joints in metres, body frame.
        keypoints_3d (`torch.FloatTensor` of shape `(B, 44, 3)`, *optional*): label-44 joints (BODY_25 + J19),
            metres, body frame. Needs a J19 regressor.
        keypoints_2d (`torch.FloatTensor` of shape `(B, 44, 2)`, *optional*): `keypoints_3d` projected,
            crop-normalised.
        joints_2d (`torch.FloatTensor` of shape `(B, 45, 2)`, *optional*): `joints` projected, crop-normalised.
        wholebody_2d (`torch.FloatTensor` of shape `(B, 33, 2)`, *optional*): the 33-point COCO-WholeBody
            subset (body 17, feet 6, fingertips 10) projected, crop-normalised.
    """

    loss: torch.FloatTensor | None = None
    global_orient: torch.FloatTensor | None = None
    body_pose: torch.FloatTensor | None = None
    betas: torch.FloatTensor | None = None
    pred_cam: torch.FloatTensor | None = None
    pred_cam_t: torch.FloatTensor | None = None
    focal_length: torch.FloatTensor | None = None
    pred_pose_6d: torch.FloatTensor | None = None
    backbone_features: torch.FloatTensor | None = None
    pooled_features: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    vertices: torch.FloatTensor | None = None
    joints: torch.FloatTensor | None = None
    keypoints_3d: torch.FloatTensor | None = None
    keypoints_2d: torch.FloatTensor | None = None
    joints_2d: torch.FloatTensor | None = None
    wholebody_2d: torch.FloatTensor | None = None


class HardMoPreTrainedModel(PreTrainedModel):
    """Shared weight init, SMPL read-out, body-model attachment and loss of the HardMo models."""

    base_model_prefix = "hardmo"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    _supports_sdpa = True
    _supports_flash_attn = True

    # ------------------------------------------------------------------ weights
    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, (SMPLTransformerDecoderHead, IEFRegressorHead)):
            # Residual read-outs start near zero so a fresh model predicts the initial estimate.
            for layer in (module.decpose, module.decshape, module.deccam):
                init.xavier_uniform_(layer.weight, gain=0.01)
                init.zeros_(layer.bias)
            identity = torch.eye(3).expand(self.config.num_joints, 3, 3)
            init.copy_(module.init_body_pose, rotmat_to_rot6d(identity, self.config.rot6d_layout).reshape(1, -1))
            init.zeros_(module.init_betas)
            init.copy_(module.init_cam, torch.tensor([INIT_CAM]))
            if isinstance(module, SMPLTransformerDecoderHead):
                init.trunc_normal_(module.position_embedding, std=self.config.initializer_range)

    # ------------------------------------------------------------------ body model
    @property
    def body_model(self) -> nn.Module | None:
        """The attached SMPL layer, or ``None``. It is not a submodule: it never enters ``state_dict``."""
        return self.__dict__.get("_body_model")

    def attach_body_model(self, body_model=None, j19_regressor=None) -> nn.Module:
        """Attach the SMPL body model used for vertices, joints, keypoints and the keypoint losses.

        Args:
            body_model: an ``nn.Module`` with ``forward(global_orient, body_pose, betas)`` taking rotation
                matrices and returning ``vertices``, ``joints45`` (and optionally ``keypoints44``/``j19``),
                such as ``SMPLBodyModel``; or the path of ``SMPL_NEUTRAL.pkl`` (or its folder); or ``None``
                to read the path from ``$HARDMO_SMPL_PATH``.
            j19_regressor: ``(19, 6890)`` array, or the path of ``SMPL_to_J19.pkl``, for the 44-point label
                layout (``keypoints_3d``/``keypoints_2d``). Defaults to ``SMPL_to_J19.pkl`` beside the SMPL file
                when it exists. Only used when ``body_model`` is a path.
        Returns:
            The attached module (kept in float32, moved to the input's device on use).
        """
        if self.config.num_joints != 24 and not isinstance(body_model, nn.Module):
            raise ValueError(
                f"this model predicts {self.config.num_joints} joints ({getattr(self.config, 'flavor', '')} "
                "SMPL-X body); pass an SMPL-X layer module taking (global_orient, body_pose, betas) rotation "
                "matrices instead of an SMPL path"
            )
        if not isinstance(body_model, nn.Module):
            from .body_model_hardmo import SMPLBodyModel, resolve_smpl_path

            smpl_path = resolve_smpl_path(body_model)
            if j19_regressor is None and (smpl_path.parent / J19_FILENAME).is_file():
                j19_regressor = smpl_path.parent / J19_FILENAME
            if isinstance(j19_regressor, (str, os.PathLike)):
                j19_regressor = _load_j19_regressor(j19_regressor)
            body_model = SMPLBodyModel(smpl_path, j19_regressor=j19_regressor)
        body_model = body_model.float().eval()
        self.__dict__["_body_model"] = body_model
        return body_model

    def detach_body_model(self) -> None:
        """Forget the attached body model."""
        self.__dict__.pop("_body_model", None)

    # ------------------------------------------------------------------ read-out
    def _mesh_output(
        self,
        pose_6d: torch.Tensor,
        betas: torch.Tensor,
        cam: torch.Tensor,
        labels: dict | None,
        **extra,
    ) -> HardMoMeshOutput:
        """Rotations, camera, optional body model and loss, all in float32 outside autocast."""
        config = self.config
        batch = pose_6d.shape[0]
        with torch.autocast(device_type=pose_6d.device.type, enabled=False):
            pose_6d, betas, cam = pose_6d.float(), betas.float(), cam.float()
            rotmats = rot6d_to_rotmat(pose_6d, config.rot6d_layout).reshape(batch, config.num_joints, 3, 3)
            focal_length = torch.full((batch, 2), float(config.focal_length), dtype=torch.float32, device=cam.device)
            if getattr(config, "flavor", "hardmo") == "bedlam":
                cam_t = weak_perspective_to_translation(cam, float(config.focal_length), config.image_size, reciprocal_division=True)
            else:
                cam_t = weak_perspective_to_translation(cam, focal_length, config.image_size)
            fields = {
                "global_orient": rotmats[:, :1],
                "body_pose": rotmats[:, 1:],
                "betas": betas,
                "pred_cam": cam,
                "pred_cam_t": cam_t,
                "focal_length": focal_length,
                "pred_pose_6d": pose_6d,
                **extra,
            }
            if self.body_model is not None:
                fields.update(self._body_outputs(fields))
            output = HardMoMeshOutput(**fields)
            if labels is not None:
                loss, _ = compute_mesh_recovery_loss(config, output, labels, body_output=self.body_model is not None)
                output = HardMoMeshOutput(loss=loss, **fields)  # built once more so that loss comes first
        return output

    def _body_outputs(self, fields: dict) -> dict:
        """Mesh, joints and projected keypoints from the attached body model (float32)."""
        body_model = self.body_model
        device = fields["betas"].device
        if next(iter(body_model.buffers()), torch.empty(0, device=device)).device != device:
            body_model.to(device)
        body = body_model(global_orient=fields["global_orient"], body_pose=fields["body_pose"], betas=fields["betas"])
        joints = _field(body, "joints45", "joints")
        crop_focal = fields["focal_length"] / self.config.image_size

        def project(points):
            return perspective_projection(points, fields["pred_cam_t"], crop_focal)

        joints_2d = project(joints)
        outputs = {
            "vertices": _field(body, "vertices"),
            "joints": joints,
            "joints_2d": joints_2d,
            "wholebody_2d": joints_2d[:, list(SMPLX45_TO_WHOLEBODY33)],
        }
        keypoints_3d = _keypoints44(body)
        if keypoints_3d is not None:
            outputs.update(keypoints_3d=keypoints_3d, keypoints_2d=project(keypoints_3d))
        return outputs

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def prepare_for_inference(self, dtype: torch.dtype | None = None, compile: bool = False) -> nn.Module:
        """Make this model fast for CPU inference, in place; returns the module to call.

        Puts the model in eval mode, applies the model's own rewrites (:meth:`_rewrite_for_inference`: for HardMo-HMR
        every BatchNorm is folded into its convolution, in float64 before any cast, and the network is switched to
        ``channels_last``; for HardMo-4DHumans in bfloat16 the ViT's attention runs as plain matmuls + softmax,
        which beats ``sdpa`` in bfloat16 on CPU), then casts the weights to ``dtype`` (e.g. ``torch.bfloat16``;
        ``None`` keeps them). Float32 crops are still accepted, and the 6D decoding, camera, body model and loss
        stay in float32.

        Args:
            dtype: weight dtype for the network, or ``None`` to keep the current one.
            compile: also return ``torch.compile(model, dynamic=False, options={"freezing": True})``: inductor with
                weight prepacking and fused convolution/linear epilogues. Its first call compiles (45 s to 2 min for
                the full-size models on 2 cores) and every new input shape recompiles; call it under
                ``torch.inference_mode()`` (frozen weights are constants: do not modify the model afterwards).
        Returns:
            ``self``, or the compiled module wrapping it when ``compile=True``.

        A model with folded BatchNorms no longer has the checkpoint's ``state_dict`` layout: ``save_pretrained``
        refuses it (save or push the model before preparing it, or reload it with ``from_pretrained``).
        """
        self.eval()
        self._rewrite_for_inference(dtype or self.dtype)
        if dtype is not None:
            self.to(dtype)
        if compile:
            return torch.compile(self, dynamic=False, options={"freezing": True})
        return self

    def _rewrite_for_inference(self, dtype: torch.dtype) -> None:
        """Model-specific inference rewrites for the target ``dtype`` (run before the cast); none by default."""

    def compute_loss(self, outputs: HardMoMeshOutput, labels: dict) -> tuple[torch.Tensor, dict]:
        """``(loss, {"loss_<term>": unweighted term})`` for outputs of this model (see ``loss_hardmo``)."""
        with torch.autocast(device_type=outputs.betas.device.type, enabled=False):
            return compute_mesh_recovery_loss(self.config, outputs, labels, body_output=outputs.joints is not None)


class HardMoHMR2Model(HardMoPreTrainedModel):
    """HardMo-4DHumans: ViT backbone (``transformers.VitPoseBackbone``) + SMPL transformer-decoder head.

    ``pixel_values`` ``(B, 3, 256, 256)``: the backbone sees columns ``32:224`` (``(B, 3, 256, 192)``); nothing
    is resized. Already-cut ``(B, 3, 256, 192)`` inputs are accepted too.
    """

    config_class = HardMoHMR2Config
    config: HardMoHMR2Config
    _no_split_modules = ["VitPoseBackboneEmbeddings", "VitPoseBackboneLayer", "DecoderLayer"]  # noqa: RUF012

    def __init__(self, config: HardMoHMR2Config):
        super().__init__(config)
        self.backbone = VitPoseBackbone(config.vit_config)
        self.head = SMPLTransformerDecoderHead(config)
        self.post_init()

    def _backbone_input(self, pixel_values: torch.Tensor) -> torch.Tensor:
        size = self.config.image_size
        start, stop = self.config.crop_columns
        if pixel_values.dim() != 4 or pixel_values.shape[1] != 3:
            raise ValueError(f"pixel_values must be (B, 3, H, W), got {tuple(pixel_values.shape)}")
        height, width = pixel_values.shape[-2:]
        if (height, width) == (size, size):
            return pixel_values[:, :, :, start:stop]
        if (height, width) == (size, stop - start):
            return pixel_values
        raise ValueError(
            f"pixel_values must be {size}x{size} crops (or their {size}x{stop - start} centre), got {height}x{width}"
        )

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: dict | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> HardMoMeshOutput | tuple:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(B, 3, 256, 256)`): ImageNet-normalised RGB person crops.
        labels (`dict`, *optional*): training targets; see `loss_hardmo` for keys and shapes.
        output_hidden_states (`bool`, *optional*): also return the ViT layer outputs.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        pixel_values = pixel_values.to(self.dtype)  # e.g. float32 crops into a bfloat16 model
        backbone_out = self.backbone(self._backbone_input(pixel_values), output_hidden_states=output_hidden_states)
        tokens = backbone_out.feature_maps[-1]  # (B, N, C) after the final LayerNorm
        pose_6d, betas, cam = self.head(tokens)
        grid_h, grid_w = self._token_grid()
        features = tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], grid_h, grid_w)
        output = self._mesh_output(
            pose_6d, betas, cam, labels, backbone_features=features,
            hidden_states=backbone_out.hidden_states if output_hidden_states else None,
        )
        return output if return_dict else output.to_tuple()

    def _rewrite_for_inference(self, dtype: torch.dtype) -> None:
        """In bfloat16 on CPU, the ViT's eager attention (bfloat16 matmuls and softmax) runs about 1.7x faster than
        ``sdpa`` (the faster one in float32) for ViT-H's shapes; the decoder head always runs eager attention."""
        if dtype == torch.bfloat16 and self.device.type == "cpu":
            self.set_attn_implementation("eager")

    def _token_grid(self) -> tuple[int, int]:
        patches = self.backbone.embeddings.patch_embeddings
        return patches.image_size[0] // patches.patch_size[0], patches.image_size[1] // patches.patch_size[1]


class HardMoHMRModel(HardMoPreTrainedModel):
    """HardMo-HMR (and BEDLAM-HMR): pose-HRNet + average pool + IEF regressor.

    ``pixel_values`` ``(B, 3, 224, 224)``: the whole square crop is fed to the network.
    """

    config_class = HardMoHMRConfig
    config: HardMoHMRConfig
    _no_split_modules = ["HRNetModule"]  # noqa: RUF012

    def __init__(self, config: HardMoHMRConfig):
        super().__init__(config)
        self.backbone = HardMoHRNet(
            width=config.hrnet_width,
            stem_channels=config.hrnet_stem_channels,
            layer1_blocks=config.hrnet_layer1_blocks,
            stage_modules=config.hrnet_stage_modules,
            stage_blocks=config.hrnet_stage_blocks,
        )
        self.head = IEFRegressorHead(config, in_features=self.backbone.out_channels)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def _rewrite_for_inference(self, dtype: torch.dtype) -> None:
        """Fold every BatchNorm into its convolution and switch to ``channels_last`` (the fast layout of oneDNN's
        convolutions, needed for bfloat16; inputs in the default layout are converted by the first convolution)."""
        self.backbone.fold_batchnorm()
        self.to(memory_format=torch.channels_last)

    def save_pretrained(self, save_directory, *args, **kwargs):
        if self.backbone.batchnorm_folded:
            raise RuntimeError(
                f"cannot save {type(self).__name__} to {save_directory}: its BatchNorms were folded into the "
                "convolutions (prepare_for_inference() / fold_batchnorm()), so its weights no longer have the "
                "checkpoint layout; save the model before preparing it, or reload it with from_pretrained()"
            )
        return super().save_pretrained(save_directory, *args, **kwargs)

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: dict | None = None,
        return_dict: bool | None = None,
    ) -> HardMoMeshOutput | tuple:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(B, 3, 224, 224)`): ImageNet-normalised RGB person crops.
        labels (`dict`, *optional*): training targets; see `loss_hardmo` for keys and shapes.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        size = self.config.image_size
        if pixel_values.dim() != 4 or tuple(pixel_values.shape[1:]) != (3, size, size):
            raise ValueError(f"pixel_values must be (B, 3, {size}, {size}), got {tuple(pixel_values.shape)}")
        features = self.backbone(pixel_values.to(self.dtype))
        pooled = F.adaptive_avg_pool2d(features, 1).flatten(1)
        pose_6d, betas, cam = self.head(pooled)
        output = self._mesh_output(pose_6d, betas, cam, labels, backbone_features=features, pooled_features=pooled)
        return output if return_dict else output.to_tuple()


def _field(result, *names):
    """Read a body-model result field from an object or a dict, trying ``names`` in order."""
    for name in names:
        value = result.get(name) if isinstance(result, dict) else getattr(result, name, None)
        if value is not None:
            return value
    raise ValueError(f"the body model's output has none of {names}")


def _keypoints44(result) -> torch.Tensor | None:
    """The body model's label-44 joints ``(B, 44, 3)``, or ``None`` when it has no J19 regressor."""
    if isinstance(result, dict):
        return result.get("keypoints44")
    if getattr(result, "j19", True) is None:  # SMPLBodyModel output without a J19 regressor
        return None
    return getattr(result, "keypoints44", None)


def _load_j19_regressor(path) -> torch.Tensor:
    """``SMPL_to_J19.pkl`` (a pickled (19, 6890) numpy array from the user's SMPL data) -> tensor.

    Read with an unpickler that only rebuilds numpy arrays: any other pickled global is refused.
    """
    import pickle

    import numpy as np

    allowed = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }

    class _ArrayUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in allowed:
                return super().find_class(module, name)
            raise pickle.UnpicklingError(f"{path}: refusing to load {module}.{name} (only numpy arrays are read)")

    with open(path, "rb") as handle:
        value = _ArrayUnpickler(handle, encoding="latin1").load()
    return torch.as_tensor(np.asarray(value), dtype=torch.float32)


HardMoHMR2Model.register_for_auto_class("AutoModel")
HardMoHMRModel.register_for_auto_class("AutoModel")

__all__ = ["HardMoHMR2Model", "HardMoHMRModel", "HardMoMeshOutput", "HardMoPreTrainedModel"]
