"""Fixtures of the model-API tests: converted and tiny models as Hub folders, a tiny RT-DETR, an image."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def converted_dirs(upstream_fixtures, tmp_path_factory):
    """``"hmr2" | "hmr" | "bedlam" -> Hub folder`` converted from the upstream fixtures with the real
    converter (weights, config, processor, model card, code)."""
    from hardmo_hf.models.convert_hmr2_to_hf import convert_hmr2_checkpoint
    from hardmo_hf.models.convert_hmr_to_hf import convert_hmr_checkpoint

    root = tmp_path_factory.mktemp("converted")
    folders = {
        "hmr2": root / "hmr2",
        "hmr": root / "hmr",
        "bedlam": root / "bedlam",
    }
    convert_hmr2_checkpoint(
        upstream_fixtures / "hmr2_small_state_dict.safetensors",
        out_dir=folders["hmr2"],
        overrides={"vit_config.num_attention_heads": 4, "decoder_heads": 4},  # from hmr2_small_config.json
    )
    convert_hmr_checkpoint(
        upstream_fixtures / "hardmo_hmr_small_state_dict.safetensors", out_dir=folders["hmr"]
    )
    convert_hmr_checkpoint(
        upstream_fixtures / "bedlam_hmr_small_state_dict.safetensors", out_dir=folders["bedlam"]
    )
    return folders


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    """``"hmr2" | "hmr" | "bedlam" -> Hub folder`` of a tiny random model (fast forward passes), completed
    with its processor and model card by ``finalize_hub_folder``."""
    from hardmo_hf.model_hub import finalize_hub_folder
    from hardmo_hf.testing.models import TINY_KINDS, make_tiny_model_dir

    root = tmp_path_factory.mktemp("tiny")
    return {kind: finalize_hub_folder(make_tiny_model_dir(kind, root / kind), kind) for kind in TINY_KINDS}


@pytest.fixture(scope="session")
def tiny_detector_dir(tmp_path_factory):
    """A randomly initialised RT-DETR (ResNet backbone without timm) with COCO-like labels, saved locally."""
    import torch
    from transformers import (
        RTDetrConfig,
        RTDetrForObjectDetection,
        RTDetrImageProcessorPil,
        RTDetrResNetConfig,
    )

    labels = ["person", "bicycle", "car", "dog"]
    backbone = RTDetrResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 8, 16, 16],
        depths=[1, 1, 1, 1],
        layer_type="basic",
        out_features=["stage2", "stage3", "stage4"],
    )
    config = RTDetrConfig(
        backbone_config=backbone,
        use_timm_backbone=False,
        use_pretrained_backbone=False,
        encoder_hidden_dim=16,
        encoder_in_channels=[8, 16, 16],
        d_model=16,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        encoder_layers=1,
        decoder_layers=1,
        num_queries=12,
        decoder_attention_heads=2,
        encoder_attention_heads=2,
        decoder_in_channels=[16, 16, 16],
        num_denoising=0,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    torch.manual_seed(0)
    model = RTDetrForObjectDetection(config).eval()
    folder = tmp_path_factory.mktemp("rtdetr")
    model.save_pretrained(folder)
    RTDetrImageProcessorPil(size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def rgb_image():
    """A 240 x 320 RGB uint8 image: smooth colour ramps plus noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:240, 0:320]
    base = np.stack([xx * 0.7, yy, (xx + yy) * 0.4], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
