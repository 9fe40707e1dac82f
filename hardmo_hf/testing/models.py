"""Tiny random HardMo models for tests: saved Hub folders that load in a fraction of a second.

``make_tiny_model_dir("hmr2" | "hmr" | "bedlam", out_dir)`` writes ``config.json`` (with ``auto_map``),
``model.safetensors`` and the custom code files, like a converted model, but with small random weights. The
architectures are the real ones (same code paths, input sizes 256 / 224), only narrower and shallower.
"""

from __future__ import annotations

from pathlib import Path

import torch

TINY_KINDS = ("hmr2", "hmr", "bedlam")


def tiny_config(kind: str, **overrides):
    """The config of a tiny model of ``kind`` ("hmr2", "hmr" or "bedlam"); ``overrides`` set config fields."""
    from ..models.configuration_hardmo import HardMoHMR2Config, HardMoHMRConfig

    if kind == "hmr2":
        values = {
            "vit_config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2},
            "decoder_dim": 32, "decoder_depth": 2, "decoder_heads": 2, "decoder_dim_head": 16, "decoder_mlp_dim": 64,
        }
        return HardMoHMR2Config(**{**values, **overrides})
    hrnet = {
        "hrnet_width": 8, "hrnet_stem_channels": 16, "hrnet_layer1_blocks": 1, "hrnet_stage_modules": [1, 1, 1],
        "hrnet_stage_blocks": [1, 1, 1], "head_hidden_dim": 64,
    }
    if kind == "hmr":
        return HardMoHMRConfig(**{**hrnet, **overrides})
    if kind == "bedlam":
        return HardMoHMRConfig.bedlam(**{**hrnet, **overrides})
    raise ValueError(f"unknown tiny model kind {kind!r}; expected one of {TINY_KINDS}")


def make_tiny_model(kind: str, seed: int = 0, **overrides):
    """A tiny random model of ``kind`` in eval mode (weights from ``torch.manual_seed(seed)``); ``overrides``
    set config fields (e.g. ``image_size=64`` for a faster HMR in training tests)."""
    from ..models.modeling_hardmo import HardMoHMR2Model, HardMoHMRModel

    config = tiny_config(kind, **overrides)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = (HardMoHMR2Model if kind == "hmr2" else HardMoHMRModel)(config)
        # Give the read-outs visible weight so outputs depend on the image (a fresh head is near-constant).
        with torch.no_grad():
            for layer in (model.head.decpose, model.head.decshape, model.head.deccam):
                layer.weight.normal_(0.0, 0.02)
    return model.eval()


def make_tiny_model_dir(kind: str, out_dir: str | Path, seed: int = 0) -> Path:
    """Save a tiny random model of ``kind`` as a Hub folder in ``out_dir`` and return the folder."""
    from ..models.conversion_utils import write_hub_folder

    return write_hub_folder(make_tiny_model(kind, seed), out_dir)


def make_tiny_detector_dir(out_dir: str | Path, labels: tuple[str, ...] = ("person",), width: int = 8,
                           num_queries: int = 12, image_size: int = 64, processor: str = "RTDetrImageProcessorPil",
                           seed: int = 0) -> Path:
    """Save a tiny random RT-DETR (ResNet backbone without timm; ``labels`` in class order, ``width`` channels in
    the first stages, twice that after) with its ``processor`` (a transformers class name, square ``image_size``
    px) in ``out_dir``; return the folder. A stand-in for the demo's and the pipeline's person detector."""
    import transformers

    config = transformers.RTDetrConfig(
        backbone_config=transformers.RTDetrResNetConfig(
            embedding_size=width, hidden_sizes=[width, width, 2 * width, 2 * width], depths=[1, 1, 1, 1],
            layer_type="basic", out_features=["stage2", "stage3", "stage4"],
        ),
        encoder_hidden_dim=2 * width, encoder_in_channels=[width, 2 * width, 2 * width], d_model=2 * width,
        encoder_ffn_dim=4 * width, decoder_ffn_dim=4 * width, decoder_in_channels=[2 * width] * 3,
        encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
        num_queries=num_queries, num_denoising=0, anchor_image_size=None,
        id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
    )
    torch.manual_seed(seed)
    model = transformers.RTDetrForObjectDetection(config).eval()
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    getattr(transformers, processor)(size={"height": image_size, "width": image_size}).save_pretrained(out_dir)
    return out_dir
