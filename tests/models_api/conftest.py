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
    from hardmo_hf.testing.models import make_tiny_detector_dir

    return make_tiny_detector_dir(tmp_path_factory.mktemp("rtdetr"), labels=("person", "bicycle", "car", "dog"))


@pytest.fixture(scope="session")
def rgb_image():
    """A 240 x 320 RGB uint8 image: smooth colour ramps plus noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:240, 0:320]
    base = np.stack([xx * 0.7, yy, (xx + yy) * 0.4], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
