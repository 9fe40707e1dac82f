"""Convert an HMR 2.0 / HardMo-4DHumans checkpoint (4D-Humans ``HMR2`` Lightning module) to :class:`HardMoHMR2Model`.

Usage: ``hardmo-hf convert hmr2 CKPT --out DIR [--set FIELD=VALUE ...]``.

* Sizes the tensors determine are read from them: ViT width (``pos_embed``), depth (blocks), patch size,
  MLP ratio, qkv bias; decoder width, depth, inner width, MLP width, context width; pose size and betas.
* Attention head counts are not visible in the tensors: ``vit_config.num_attention_heads`` (default 16) and
  ``decoder_heads`` (default 8; ``decoder_dim_head`` follows from the inner width) come from the released
  model's values unless overridden with ``--set``.
* Keys are mapped by the explicit table :data:`HMR2_KEY_RULES`; ``initialized``, ``smpl.*`` (licensed body
  model data) and ``discriminator.*`` (training-only prior) are dropped by :data:`HMR2_DROPPED_KEYS`; any
  other key the table does not cover, and any model key left unfilled, is an error. The ViT's fused ``qkv``
  projection is split into the separate ``query``/``key``/``value`` Linears of ``VitPoseBackbone``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import VitPoseBackboneConfig

from .checkpoint_loading import load_state_dict
from .configuration_hardmo import HardMoHMR2Config
from .conversion_utils import (
    KeyRule,
    check_override_fields,
    count_indices,
    load_converted,
    map_state_dict,
    merge_inferred,
    nest_dotted,
    write_hub_folder,
)
from .modeling_hardmo import HardMoHMR2Model

logger = logging.getLogger(__name__)

_BLOCK = r"backbone\.blocks\.(\d+)\."
_LAYER = r"smpl_head\.transformer\.transformer\.layers\.(\d+)\."
_VIT_LAYER = r"backbone.encoder.layer.\1."
_DEC_LAYER = r"head.layers.\1."

HMR2_KEY_RULES = (
    # ViT backbone -> transformers VitPoseBackbone
    KeyRule(r"backbone\.pos_embed", "backbone.embeddings.position_embeddings"),
    KeyRule(r"backbone\.patch_embed\.proj\.(weight|bias)", r"backbone.embeddings.patch_embeddings.projection.\1"),
    KeyRule(_BLOCK + r"norm1\.(weight|bias)", _VIT_LAYER + r"layernorm_before.\2"),
    KeyRule(
        _BLOCK + r"attn\.qkv\.(weight|bias)",
        targets=(
            _VIT_LAYER + r"attention.attention.query.\2",
            _VIT_LAYER + r"attention.attention.key.\2",
            _VIT_LAYER + r"attention.attention.value.\2",
        ),
    ),
    KeyRule(_BLOCK + r"attn\.proj\.(weight|bias)", _VIT_LAYER + r"attention.output.dense.\2"),
    KeyRule(_BLOCK + r"norm2\.(weight|bias)", _VIT_LAYER + r"layernorm_after.\2"),
    KeyRule(_BLOCK + r"mlp\.(fc1|fc2)\.(weight|bias)", _VIT_LAYER + r"mlp.\2.\3"),
    KeyRule(r"backbone\.last_norm\.(weight|bias)", r"backbone.layernorm.\1"),
    # SMPL transformer-decoder head
    KeyRule(r"smpl_head\.(init_body_pose|init_betas|init_cam)", r"head.\1"),
    KeyRule(r"smpl_head\.transformer\.pos_embedding", "head.position_embedding"),
    KeyRule(r"smpl_head\.transformer\.to_token_embedding\.(weight|bias)", r"head.token_embedding.\1"),
    KeyRule(_LAYER + r"0\.norm\.(weight|bias)", _DEC_LAYER + r"self_attn_norm.\2"),
    KeyRule(_LAYER + r"0\.fn\.to_qkv\.weight", _DEC_LAYER + "self_attn.to_qkv.weight"),
    KeyRule(_LAYER + r"0\.fn\.to_out\.0\.(weight|bias)", _DEC_LAYER + r"self_attn.to_out.\2"),
    KeyRule(_LAYER + r"1\.norm\.(weight|bias)", _DEC_LAYER + r"cross_attn_norm.\2"),
    KeyRule(_LAYER + r"1\.fn\.(to_q|to_kv)\.weight", _DEC_LAYER + r"cross_attn.\2.weight"),
    KeyRule(_LAYER + r"1\.fn\.to_out\.0\.(weight|bias)", _DEC_LAYER + r"cross_attn.to_out.\2"),
    KeyRule(_LAYER + r"2\.norm\.(weight|bias)", _DEC_LAYER + r"ffn_norm.\2"),
    KeyRule(_LAYER + r"2\.fn\.net\.0\.(weight|bias)", _DEC_LAYER + r"ffn.fc1.\2"),
    KeyRule(_LAYER + r"2\.fn\.net\.3\.(weight|bias)", _DEC_LAYER + r"ffn.fc2.\2"),
    KeyRule(r"smpl_head\.(decpose|decshape|deccam)\.(weight|bias)", r"head.\1.\2"),
)

# Deliberately not converted: the ActNorm leftover flag, the licensed SMPL buffers, the adversarial prior.
HMR2_DROPPED_KEYS = (r"initialized", r"smpl\..*", r"discriminator\..*")

# Released values of the fields the tensors cannot determine.
HMR2_FREE_DEFAULTS = {"vit_config.num_attention_heads": 16, "decoder_heads": 8}


def infer_hmr2_config(upstream: dict[str, torch.Tensor], overrides: dict | None = None, source: str = "checkpoint") -> HardMoHMR2Config:
    """Build the config from the tensor shapes, the released defaults and ``overrides`` (config field names,
    dotted for the ViT sub-config, e.g. ``{"vit_config.num_attention_heads": 4, "decoder_heads": 4}``)."""
    overrides = dict(overrides or {})
    check_override_fields(HardMoHMR2Config, overrides, nested={"vit_config": VitPoseBackboneConfig})

    def shape(key: str) -> tuple[int, ...]:
        if key not in upstream:
            raise ValueError(f"{source}: required key {key!r} is missing; is this an HMR2 checkpoint?")
        return tuple(upstream[key].shape)

    keys = list(upstream)
    hidden = shape("backbone.pos_embed")[2]
    num_tokens = shape("backbone.pos_embed")[1] - 1
    patch = list(shape("backbone.patch_embed.proj.weight")[2:])
    fc1 = shape("backbone.blocks.0.mlp.fc1.weight")[0]
    if fc1 % hidden:
        raise ValueError(f"{source}: ViT MLP width {fc1} is not a multiple of the width {hidden}")
    layer0 = "smpl_head.transformer.transformer.layers.0."
    inner = shape(layer0 + "0.fn.to_qkv.weight")[0] // 3
    inferred = {
        "vit_config.hidden_size": hidden,
        "vit_config.num_hidden_layers": count_indices(keys, r"backbone\.blocks\.(\d+)\."),
        "vit_config.patch_size": patch,
        "vit_config.mlp_ratio": fc1 // hidden,
        "vit_config.qkv_bias": "backbone.blocks.0.attn.qkv.bias" in upstream,
        "decoder_dim": shape("smpl_head.transformer.to_token_embedding.weight")[0],
        "decoder_depth": count_indices(keys, r"smpl_head\.transformer\.transformer\.layers\.(\d+)\."),
        "decoder_mlp_dim": shape(layer0 + "2.fn.net.0.weight")[0],
        "decoder_context_dim": shape(layer0 + "1.fn.to_kv.weight")[1],
        "num_joints": shape("smpl_head.decpose.weight")[0] // 6,
        "num_betas": shape("smpl_head.decshape.weight")[0],
    }
    if shape("smpl_head.decpose.weight")[0] % 6:
        raise ValueError(f"{source}: decpose has {shape('smpl_head.decpose.weight')[0]} outputs, not a multiple of 6")
    # Heads split the inner width: a given dim_head fixes the heads, else the (given or released) head count.
    if "decoder_dim_head" in overrides and "decoder_heads" not in overrides:
        overrides["decoder_heads"] = inner // int(overrides["decoder_dim_head"])
    values = merge_inferred(inferred, {**HMR2_FREE_DEFAULTS, **overrides}, source)
    heads = int(values["decoder_heads"])
    if inner % heads:
        raise ValueError(f"{source}: decoder inner width {inner} is not divisible by decoder_heads={heads}")
    values = merge_inferred(values, {"decoder_dim_head": inner // heads}, source)
    vit_height, vit_width = values.get("vit_config.image_size", [256, 192])
    if (vit_height // patch[0]) * (vit_width // patch[1]) != num_tokens:
        raise ValueError(
            f"{source}: pos_embed has {num_tokens} patch slots, which does not fit a {vit_height}x{vit_width} "
            f"image with {patch} patches; pass --set vit_config.image_size=[H,W]"
        )
    return HardMoHMR2Config(**nest_dotted(values))


def convert_hmr2_state_dict(upstream: dict[str, torch.Tensor], source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Upstream HMR2 ``state_dict`` -> :class:`HardMoHMR2Model` ``state_dict`` (explicit table, see module doc)."""
    return map_state_dict(upstream, HMR2_KEY_RULES, HMR2_DROPPED_KEYS, source)


def convert_hmr2_checkpoint(
    checkpoint: str | Path | dict,
    out_dir: str | Path | None = None,
    overrides: dict | None = None,
    processor=None,
    card_text: str | None = None,
) -> HardMoHMR2Model:
    """Load an HMR2 checkpoint (``.ckpt``, ``.pt``/``.pth``, ``.safetensors``, or a state dict), convert it with a
    strict load, and optionally write a Hub folder (see :func:`write_hub_folder`; ``processor`` defaults to the
    model's ``HardMoImageProcessor`` preset and ``card_text`` to its model card). Returns the model in eval mode.
    """
    source = str(checkpoint) if not isinstance(checkpoint, dict) else "state dict"
    upstream = checkpoint if isinstance(checkpoint, dict) else load_state_dict(checkpoint)
    config = infer_hmr2_config(upstream, overrides, source)
    state_dict = convert_hmr2_state_dict(upstream, source)
    with torch.device("meta"):  # no random init of weights about to be replaced
        model = HardMoHMR2Model(config)
    load_converted(model, state_dict, source)
    model.eval()
    logger.info(
        "converted %s: ViT %dx%d (%d heads), decoder %dx%d (%d heads)", source, config.vit_config.num_hidden_layers,
        config.vit_config.hidden_size, config.vit_config.num_attention_heads, config.decoder_depth,
        config.decoder_dim, config.decoder_heads,
    )
    if out_dir is not None:
        if card_text is None:
            from ..model_cards import card_for_config

            card_text = card_for_config(config)
        write_hub_folder(model, out_dir, processor=processor, card_text=card_text)
    return model
