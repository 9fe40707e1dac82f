"""Convert a HardMo-HMR or BEDLAM-HMR checkpoint to :class:`HardMoHMRModel`.

Usage: ``hardmo-hf convert hmr CKPT --out DIR [--flavor hardmo|bedlam] [--set FIELD=VALUE ...]``.

Two upstream layouts:

* ``hardmo`` (HardMoPlus-4DHumans ``hmr2.models.hmr.HMR``): keys ``backbone.*``, ``smpl_head.*``; SMPL body,
  24 joints, 10 betas, HMR2 6D layout.
* ``bedlam`` (BEDLAM ``HMRTrainer``): keys ``model.backbone.*``, ``model.head.*`` (``init_pose``/``init_shape``);
  SMPL-X body, 22 joints, 11 betas, SPIN's interleaved 6D layout.

The flavor is detected from the key prefixes unless given. Every size is read from the tensors: HRNet width
(``transition1.0.0``), stem channels, ``layer1`` blocks, modules per stage, blocks per branch, regressor width,
pose size and betas. Keys map by the explicit tables below; dropped by name only: the body models
(``smpl.*``, ``model.smpl.*``, ``smplx.*``, ``J_regressor``), ``discriminator.*``, ``initialized``, and the two
modules the forward pass never runs (``final_layer``, ``downsample_module``). Anything else unmatched, or a
model key left unfilled, is an error.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch

from .checkpoint_loading import load_state_dict
from .configuration_hardmo import FLAVORS, HardMoHMRConfig
from .conversion_utils import (
    KeyRule,
    check_override_fields,
    count_indices,
    load_converted,
    map_state_dict,
    merge_inferred,
    write_hub_folder,
)
from .modeling_hardmo import HardMoHMRModel

logger = logging.getLogger(__name__)

# HRNet trunk modules keep their upstream names under ``backbone.``.
_HRNET_PARTS = r"((?:conv[12]|bn[12]|layer1|transition[1-3]|stage[2-4]|downsample_stage_[1-3])\..+)"

HMR_KEY_RULES = {
    "hardmo": (
        KeyRule(r"backbone\." + _HRNET_PARTS, r"backbone.\1"),
        KeyRule(r"smpl_head\.(fc1|fc2|decpose|decshape|deccam)\.(weight|bias)", r"head.\1.\2"),
        KeyRule(r"smpl_head\.(init_body_pose|init_betas|init_cam)", r"head.\1"),
    ),
    "bedlam": (
        KeyRule(r"model\.backbone\." + _HRNET_PARTS, r"backbone.\1"),
        KeyRule(r"model\.head\.(fc1|fc2|decpose|decshape|deccam)\.(weight|bias)", r"head.\1.\2"),
        KeyRule(r"model\.head\.init_pose", "head.init_body_pose"),
        KeyRule(r"model\.head\.init_shape", "head.init_betas"),
        KeyRule(r"model\.head\.init_cam", "head.init_cam"),
    ),
}

HMR_DROPPED_KEYS = {
    "hardmo": (
        r"initialized",
        r"smpl\..*",  # licensed SMPL buffers
        r"discriminator\..*",  # training-only adversarial prior
        r"backbone\.final_layer\..*",  # heatmap head, unused
        r"smpl_head\.downsample_module\..*",  # built but never called
    ),
    "bedlam": (
        r"J_regressor",  # H36M regressor (SMPL data)
        r"model\.smpl\..*",  # SMPL-X layer buffers
        r"smplx\..*",
        r"smpl\..*",
        r"model\.backbone\.final_layer\..*",
        r"model\.head\.downsample_module\..*",
    ),
}

_PREFIX = {"hardmo": "", "bedlam": "model."}
_HEAD = {"hardmo": "smpl_head.", "bedlam": "model.head."}


def detect_flavor(upstream: dict[str, torch.Tensor], source: str = "checkpoint") -> str:
    """``"bedlam"`` for ``model.backbone.*`` keys, ``"hardmo"`` for ``backbone.*`` keys."""
    if any(k.startswith("model.backbone.") for k in upstream):
        return "bedlam"
    if any(k.startswith("backbone.") for k in upstream):
        return "hardmo"
    raise ValueError(f"{source}: neither backbone.* nor model.backbone.* keys; not an HMR checkpoint")


def infer_hmr_config(
    upstream: dict[str, torch.Tensor],
    flavor: str | None = None,
    overrides: dict | None = None,
    source: str = "checkpoint",
) -> HardMoHMRConfig:
    """Build the config from the tensor shapes (every size), the flavor, and ``overrides`` (config fields)."""
    overrides = dict(overrides or {})
    check_override_fields(HardMoHMRConfig, overrides)
    flavor = flavor or overrides.pop("flavor", None) or detect_flavor(upstream, source)
    if flavor not in FLAVORS:
        raise ValueError(f"{source}: flavor {flavor!r} is not one of {FLAVORS}")
    prefix, head = _PREFIX[flavor] + "backbone.", _HEAD[flavor]

    def shape(key: str) -> tuple[int, ...]:
        if key not in upstream:
            raise ValueError(f"{source}: required key {key!r} is missing for flavor {flavor!r}")
        return tuple(upstream[key].shape)

    keys = list(upstream)
    width = shape(prefix + "transition1.0.0.weight")[0]
    npose = shape(head + "decpose.weight")[0]
    if npose % 6:
        raise ValueError(f"{source}: decpose has {npose} outputs, not a multiple of 6")
    stage_modules, stage_blocks = [], []
    for stage in (2, 3, 4):
        stage_re = re.escape(f"{prefix}stage{stage}.")
        stage_modules.append(count_indices(keys, stage_re + r"(\d+)\."))
        stage_blocks.append(count_indices(keys, stage_re + r"0\.branches\.0\.(\d+)\."))
    inferred = {
        "flavor": flavor,
        "hrnet_width": width,
        "hrnet_stem_channels": shape(prefix + "conv1.weight")[0],
        "hrnet_layer1_blocks": count_indices(keys, re.escape(f"{prefix}layer1.") + r"(\d+)\."),
        "hrnet_stage_modules": stage_modules,
        "hrnet_stage_blocks": stage_blocks,
        "head_hidden_dim": shape(head + "fc1.weight")[0],
        "num_joints": npose // 6,
        "num_betas": shape(head + "decshape.weight")[0],
    }
    layout = {"hardmo": "hmr2", "bedlam": "spin"}[flavor]
    values = merge_inferred(inferred, {"rot6d_layout": layout, **overrides}, source)
    config = HardMoHMRConfig(**values)
    fc1_in = shape(head + "fc1.weight")[1]
    if fc1_in != config.backbone_channels + config.npose + config.num_betas + 3:
        raise ValueError(
            f"{source}: fc1 takes {fc1_in} inputs, but 15*{width} + {config.npose} + {config.num_betas} + 3 = "
            f"{config.backbone_channels + config.npose + config.num_betas + 3}"
        )
    return config


def convert_hmr_state_dict(upstream: dict[str, torch.Tensor], flavor: str, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Upstream HMR ``state_dict`` -> :class:`HardMoHMRModel` ``state_dict`` (explicit tables, see module doc)."""
    if flavor not in FLAVORS:
        raise ValueError(f"{source}: flavor {flavor!r} is not one of {FLAVORS}")
    return map_state_dict(upstream, HMR_KEY_RULES[flavor], HMR_DROPPED_KEYS[flavor], source)


def convert_hmr_checkpoint(
    checkpoint: str | Path | dict,
    out_dir: str | Path | None = None,
    flavor: str | None = None,
    overrides: dict | None = None,
    processor=None,
    card_text: str | None = None,
) -> HardMoHMRModel:
    """Load a HardMo-HMR / BEDLAM-HMR checkpoint (``.ckpt``, ``.pt``/``.pth``, ``.safetensors`` or a state dict),
    convert it with a strict load, optionally write a Hub folder (``processor`` defaults to the model's
    ``HardMoImageProcessor`` preset and ``card_text`` to its model card). Returns the model in eval mode."""
    source = str(checkpoint) if not isinstance(checkpoint, dict) else "state dict"
    upstream = checkpoint if isinstance(checkpoint, dict) else load_state_dict(checkpoint)
    config = infer_hmr_config(upstream, flavor, overrides, source)
    state_dict = convert_hmr_state_dict(upstream, config.flavor, source)
    with torch.device("meta"):  # no random init of weights about to be replaced
        model = HardMoHMRModel(config)
    load_converted(model, state_dict, source)
    model.eval()
    logger.info("converted %s: %s flavor, HRNet-W%d, %d joints", source, config.flavor, config.hrnet_width, config.num_joints)
    if out_dir is not None:
        if card_text is None:
            from ..model_cards import card_for_config

            card_text = card_for_config(config)
        write_hub_folder(model, out_dir, processor=processor, card_text=card_text)
    return model
