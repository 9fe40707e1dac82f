"""Configurations of the two HardMo models.

* :class:`HardMoHMR2Config` (``model_type="hardmo_hmr2"``): HardMo-4DHumans, the HMR 2.0 architecture. A ViT
  backbone (a ``transformers`` :class:`~transformers.VitPoseBackboneConfig` sub-config, ``vit_config``) on the
  256x192 centre of a 256x256 crop, and the SMPL transformer-decoder head.
* :class:`HardMoHMRConfig` (``model_type="hardmo_hmr"``): HardMo-HMR, a pose-HRNet backbone and the iterative
  error-feedback (IEF) regressor on a 224x224 crop. The same class, with ``flavor="bedlam"``, describes
  BEDLAM-HMR (SMPL-X body: 22 joints, 11 betas, SPIN's interleaved 6D layout).

The defaults are the released models; every size can be overridden (the parity fixtures use small variants).
The converters infer every size that the checkpoint's tensor shapes determine and take the rest (attention
head counts) from these defaults.
"""

from __future__ import annotations

from transformers import PreTrainedConfig, VitPoseBackboneConfig
from transformers.configuration_utils import SubConfigSpec

from .constants_hardmo import FOCAL_LENGTH

# ViT-H/16 at 256x192 as in HMR 2.0 / HardMo-4DHumans. LayerNorm eps 1e-6 and exact (erf) GELU are part of
# the numerics the converted weights were trained with.
VIT_HUGE_DEFAULTS = {
    "image_size": [256, 192],
    "patch_size": [16, 16],
    "num_channels": 3,
    "hidden_size": 1280,
    "num_hidden_layers": 32,
    "num_attention_heads": 16,
    "mlp_ratio": 4,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-6,
    "qkv_bias": True,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}

FLAVORS = ("hardmo", "bedlam")
ROT6D_LAYOUTS = ("hmr2", "spin")


class HardMoHMR2Config(PreTrainedConfig):
    r"""Configuration of :class:`HardMoHMR2Model` (HardMo-4DHumans; the HMR 2.0 architecture).

    Args:
        vit_config (`dict` or `VitPoseBackboneConfig`, *optional*):
            The ViT backbone. Keys not given take the ViT-H/16 values (hidden 1280, 32 layers, 16 heads,
            mlp ratio 4, image (256, 192), patch 16, LayerNorm eps 1e-6, exact GELU).
        image_size (`int`, *optional*, defaults to 256):
            Side ``S`` of the square input crop in pixels. The backbone sees its central
            ``vit_config.image_size[1]`` columns (``pixel_values[..., 32:224]`` for 256 -> 192); nothing is resized.
        decoder_dim (`int`, *optional*, defaults to 1024): width of the SMPL transformer decoder.
        decoder_depth (`int`, *optional*, defaults to 6): number of decoder layers (self-attn, cross-attn, FFN).
        decoder_heads (`int`, *optional*, defaults to 8): attention heads per decoder attention.
        decoder_dim_head (`int`, *optional*, defaults to 64): width of each decoder attention head.
        decoder_mlp_dim (`int`, *optional*, defaults to 1024): hidden width of the decoder feed-forward.
        decoder_context_dim (`int`, *optional*): width of the image tokens the decoder attends to; defaults to
            ``vit_config.hidden_size``.
        num_joints (`int`, *optional*, defaults to 24): SMPL joints predicted (global orientation + 23 body
            joints); the pose vector has ``6 * num_joints`` = 144 numbers.
        num_betas (`int`, *optional*, defaults to 10): SMPL shape coefficients.
        focal_length (`float`, *optional*, defaults to 5000.0): focal length in pixels of the ``image_size`` crop.
        rot6d_layout (`str`, *optional*, defaults to `"hmr2"`): 6D layout of the pose output (HMR 2.0 uses
            ``"hmr2"``: two contiguous 3-vectors used as matrix columns).
        keypoints_2d_loss_weight, keypoints_3d_loss_weight, global_orient_loss_weight, body_pose_loss_weight,
        betas_loss_weight (`float`): HMR 2.0's loss weights (0.01, 0.05, 0.001, 0.001, 0.0005).
        hand_keypoints_2d_loss_weight (`float`, *optional*, defaults to 0.0): weight of HardMo's L1 term on the
            wrists + fingertips (off for HMR 2.0 fine-tuning unless set).
        initializer_range (`float`, *optional*, defaults to 0.02): std of the random initialisation.
    """

    model_type = "hardmo_hmr2"
    sub_configs_defaults = {  # noqa: RUF012  (transformers convention)
        "vit_config": SubConfigSpec(config_class=VitPoseBackboneConfig, init_kwargs=dict(VIT_HUGE_DEFAULTS)),
    }

    vit_config: dict | PreTrainedConfig | None = None
    image_size: int = 256
    decoder_dim: int = 1024
    decoder_depth: int = 6
    decoder_heads: int = 8
    decoder_dim_head: int = 64
    decoder_mlp_dim: int = 1024
    decoder_context_dim: int | None = None
    num_joints: int = 24
    num_betas: int = 10
    focal_length: float = FOCAL_LENGTH
    rot6d_layout: str = "hmr2"
    keypoints_2d_loss_weight: float = 0.01
    keypoints_3d_loss_weight: float = 0.05
    global_orient_loss_weight: float = 0.001
    body_pose_loss_weight: float = 0.001
    betas_loss_weight: float = 0.0005
    hand_keypoints_2d_loss_weight: float = 0.0
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        # Keys missing from a vit_config dict take the ViT-H values, not VitPoseBackboneConfig's (whose
        # LayerNorm eps of 1e-12 would silently change the numerics).
        if self.vit_config is None:
            self.vit_config = dict(VIT_HUGE_DEFAULTS)
        elif isinstance(self.vit_config, dict):
            # The backbone's output is always its last layer: stage selections are derived, never read.
            ignored = ("model_type", "transformers_version", "out_features", "out_indices", "stage_names")
            merged = dict(VIT_HUGE_DEFAULTS)
            merged.update({k: v for k, v in self.vit_config.items() if k not in ignored})
            self.vit_config = merged
        super().__post_init__(**kwargs)
        if self.decoder_context_dim is None:
            self.decoder_context_dim = self.vit_config.hidden_size
        self.validate_sizes()

    def validate_sizes(self) -> None:
        """Raise ``ValueError`` naming the field when sizes are inconsistent."""
        vit = self.vit_config
        height, width = _pair(vit.image_size)
        if height != self.image_size or width > self.image_size:
            raise ValueError(
                f"vit_config.image_size {[height, width]} must be {self.image_size} high and at most "
                f"{self.image_size} wide (the backbone sees the centre columns of the {self.image_size}px crop)"
            )
        if vit.hidden_size % vit.num_attention_heads:
            raise ValueError(
                f"vit_config.hidden_size {vit.hidden_size} is not a multiple of num_attention_heads {vit.num_attention_heads}"
            )
        if self.decoder_context_dim != vit.hidden_size:
            raise ValueError(
                f"decoder_context_dim {self.decoder_context_dim} must equal vit_config.hidden_size {vit.hidden_size}"
            )
        if self.rot6d_layout not in ROT6D_LAYOUTS:
            raise ValueError(f"rot6d_layout {self.rot6d_layout!r} is not one of {ROT6D_LAYOUTS}")
        if self.num_joints < 1 or self.num_betas < 1:
            raise ValueError(f"num_joints ({self.num_joints}) and num_betas ({self.num_betas}) must be positive")

    @property
    def npose(self) -> int:
        """Length of the 6D pose vector: ``6 * num_joints`` (144 for SMPL)."""
        return 6 * self.num_joints

    @property
    def crop_columns(self) -> tuple[int, int]:
        """``(start, stop)`` of the columns of the ``image_size`` crop fed to the ViT (32, 224 for 256 -> 192)."""
        width = _pair(self.vit_config.image_size)[1]
        start = (self.image_size - width) // 2
        return start, start + width

    def to_diff_dict(self):
        # Always write the whole ViT sub-config: a diff against VitPoseBackboneConfig's defaults would be read
        # back on top of the ViT-H defaults above and could change the model.
        output = super().to_diff_dict()
        vit = self.vit_config.to_dict()
        output["vit_config"] = {"model_type": vit["model_type"], **{key: vit[key] for key in VIT_HUGE_DEFAULTS}}
        return output


class HardMoHMRConfig(PreTrainedConfig):
    r"""Configuration of :class:`HardMoHMRModel` (HardMo-HMR; also BEDLAM-HMR with ``flavor="bedlam"``).

    Args:
        hrnet_width (`int`, *optional*, defaults to 48): HRNet width ``W``; the branches have
            ``W, 2W, 4W, 8W`` channels and the backbone outputs ``15W`` channels (720 for W48).
        hrnet_stem_channels (`int`, *optional*, defaults to 64): channels of the two stride-2 stem convolutions.
        hrnet_layer1_blocks (`int`, *optional*, defaults to 4): Bottleneck blocks in ``layer1`` (output 256 ch).
        hrnet_stage_modules (`list[int]`, *optional*, defaults to `[1, 4, 3]`): HR modules in stages 2, 3, 4.
        hrnet_stage_blocks (`list[int]`, *optional*, defaults to `[4, 4, 4]`): BasicBlocks per branch in each HR
            module of stages 2, 3, 4.
        head_hidden_dim (`int`, *optional*, defaults to 1024): width of the regressor's ``fc1``/``fc2``.
        n_iter (`int`, *optional*, defaults to 3): IEF iterations.
        head_dropout (`float`, *optional*, defaults to 0.5): dropout after ``fc1`` and ``fc2`` (training only).
        num_joints (`int`, *optional*, defaults to 24): joints predicted as 6D rotations (global orientation
            first): 24 for SMPL (HardMo-HMR), 22 for the SMPL-X body (BEDLAM-HMR).
        num_betas (`int`, *optional*, defaults to 10): shape coefficients (10 for HardMo-HMR, 11 for BEDLAM).
        rot6d_layout (`str`, *optional*, defaults to `"hmr2"`): ``"hmr2"`` (two contiguous 3-vectors as matrix
            columns, HardMo-HMR) or ``"spin"`` (SPIN's interleaved layout, BEDLAM-HMR).
        flavor (`str`, *optional*, defaults to `"hardmo"`): ``"hardmo"`` or ``"bedlam"``; selects the upstream
            code path reproduced (camera-depth division, body model: SMPL vs SMPL-X).
        image_size (`int`, *optional*, defaults to 224): side of the square input crop in pixels (the whole
            crop is fed to the network).
        focal_length (`float`, *optional*, defaults to 5000.0): focal length in pixels of the crop.
        keypoints_2d_loss_weight ... betas_loss_weight (`float`): the HMR 2.0 loss weights, as for HMR2.
        hand_keypoints_2d_loss_weight (`float`, *optional*, defaults to 0.01): weight of HardMo-HMR's L1 term on
            the 2 wrists + 10 fingertips. The authors' value ships only with their checkpoint's config; 0.01
            (the body 2D-keypoint weight) is our default.
        initializer_range (`float`, *optional*, defaults to 0.02): std of the random initialisation of Linears.
    """

    model_type = "hardmo_hmr"

    hrnet_width: int = 48
    hrnet_stem_channels: int = 64
    hrnet_layer1_blocks: int = 4
    hrnet_stage_modules: list[int] | tuple[int, ...] = (1, 4, 3)
    hrnet_stage_blocks: list[int] | tuple[int, ...] = (4, 4, 4)
    head_hidden_dim: int = 1024
    n_iter: int = 3
    head_dropout: float = 0.5
    num_joints: int = 24
    num_betas: int = 10
    rot6d_layout: str = "hmr2"
    flavor: str = "hardmo"
    image_size: int = 224
    focal_length: float = FOCAL_LENGTH
    keypoints_2d_loss_weight: float = 0.01
    keypoints_3d_loss_weight: float = 0.05
    global_orient_loss_weight: float = 0.001
    body_pose_loss_weight: float = 0.001
    betas_loss_weight: float = 0.0005
    hand_keypoints_2d_loss_weight: float = 0.01
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        self.hrnet_stage_modules = list(self.hrnet_stage_modules)
        self.hrnet_stage_blocks = list(self.hrnet_stage_blocks)
        super().__post_init__(**kwargs)
        self.validate_sizes()

    @classmethod
    def bedlam(cls, **kwargs) -> HardMoHMRConfig:
        """BEDLAM-HMR (``hrnet_w48-conv`` + ``HMRHeadOrig``): SMPL-X body, 22 joints, 11 betas, SPIN 6D layout."""
        values = {"flavor": "bedlam", "num_joints": 22, "num_betas": 11, "rot6d_layout": "spin"}
        values.update(kwargs)
        return cls(**values)

    def validate_sizes(self) -> None:
        """Raise ``ValueError`` naming the field when values are inconsistent."""
        if self.flavor not in FLAVORS:
            raise ValueError(f"flavor {self.flavor!r} is not one of {FLAVORS}")
        if self.rot6d_layout not in ROT6D_LAYOUTS:
            raise ValueError(f"rot6d_layout {self.rot6d_layout!r} is not one of {ROT6D_LAYOUTS}")
        if len(self.hrnet_stage_modules) != 3 or len(self.hrnet_stage_blocks) != 3:
            raise ValueError(
                "hrnet_stage_modules and hrnet_stage_blocks need one entry per stage 2, 3, 4; got "
                f"{self.hrnet_stage_modules} and {self.hrnet_stage_blocks}"
            )
        if self.image_size % 32:
            raise ValueError(f"image_size {self.image_size} must be a multiple of 32 (HRNet downsamples 32x)")
        if self.n_iter < 1:
            raise ValueError(f"n_iter must be >= 1, got {self.n_iter}")

    @property
    def npose(self) -> int:
        """Length of the 6D pose vector: ``6 * num_joints`` (144 for SMPL, 132 for the SMPL-X body)."""
        return 6 * self.num_joints

    @property
    def backbone_channels(self) -> int:
        """Channels of the backbone output, ``15 * hrnet_width`` (720 for W48)."""
        return 15 * self.hrnet_width


def _pair(value) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


HardMoHMR2Config.register_for_auto_class()
HardMoHMRConfig.register_for_auto_class()

__all__ = ["VIT_HUGE_DEFAULTS", "HardMoHMR2Config", "HardMoHMRConfig"]
