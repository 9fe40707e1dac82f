"""The bfloat16 inference path: bf16 network, float32 geometry and body model."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel

from hardmo_hf.testing.models import make_tiny_model, make_tiny_model_dir


@pytest.mark.parametrize("kind", ["hmr2", "hmr"])
def test_bfloat16_weights_and_autocast(kind, tmp_path, synthetic_smpl_dir):
    folder = make_tiny_model_dir(kind, tmp_path / kind)
    reference = AutoModel.from_pretrained(folder).eval()
    model = AutoModel.from_pretrained(folder, dtype=torch.bfloat16).eval()
    assert next(model.parameters()).dtype == torch.bfloat16
    model.attach_body_model(synthetic_smpl_dir)
    size = reference.config.image_size
    pixels = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference(pixels)
        half = model(pixels)  # float32 crops are cast to the model's dtype
        with torch.autocast("cpu", dtype=torch.bfloat16):
            auto = reference(pixels)
    assert half.backbone_features.dtype == torch.bfloat16
    for out in (half, auto):
        for field in ("global_orient", "body_pose", "betas", "pred_cam", "pred_cam_t"):
            assert out[field].dtype == torch.float32, field
            assert torch.allclose(out[field], expected[field], atol=0.05, rtol=0.02), field
    assert half.vertices.dtype == torch.float32 and half.wholebody_2d.dtype == torch.float32
    rotations = torch.cat([half.global_orient, half.body_pose], dim=1)
    assert torch.allclose(rotations @ rotations.transpose(-1, -2), torch.eye(3).expand_as(rotations), atol=1e-5)


def _randomize_batchnorms(model, seed=0):
    """Trained-looking BatchNorm statistics and affine weights (fresh ones are the identity, which folds trivially)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for norm in model.modules():
            if isinstance(norm, torch.nn.BatchNorm2d):
                channels = norm.num_features
                norm.running_mean.copy_(0.3 * torch.randn(channels, generator=generator))
                norm.running_var.copy_(0.5 + 1.5 * torch.rand(channels, generator=generator))
                norm.weight.copy_(0.5 + torch.rand(channels, generator=generator))
                norm.bias.copy_(0.2 * torch.randn(channels, generator=generator))
    return model


def test_folded_batchnorm_hrnet_equals_the_unfolded_one_and_refuses_to_save(tmp_path):
    model = _randomize_batchnorms(make_tiny_model("hmr"))
    pixels = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(pixels)
    norms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.backbone.modules())
    assert model.prepare_for_inference() is model
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert sum(m.bias is not None for m in model.backbone.modules() if isinstance(m, torch.nn.Conv2d)) == norms
    assert model.backbone.layer1[0].conv2.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        folded = model(pixels)
    scale = expected.backbone_features.abs().max()
    assert (folded.backbone_features - expected.backbone_features).abs().max() <= 1e-5 * scale
    for field in ("global_orient", "body_pose", "betas", "pred_cam", "pred_cam_t"):
        assert torch.allclose(folded[field], expected[field], atol=1e-5), field
    with pytest.raises(RuntimeError, match="BatchNorms were folded"):
        model.save_pretrained(tmp_path / "folded")
    assert not (tmp_path / "folded" / "model.safetensors").exists()
    direct = make_tiny_model("hmr")
    assert direct.backbone.fold_batchnorm() == norms
    with pytest.raises(RuntimeError, match="BatchNorms were folded"):
        direct.save_pretrained(tmp_path / "direct")
    with pytest.raises(RuntimeError, match="eval mode"):
        make_tiny_model("hmr").train().backbone.fold_batchnorm()


@pytest.mark.parametrize("kind", ["hmr2", "hmr"])
def test_prepare_for_inference_bfloat16_is_close_to_float32(kind, tmp_path):
    folder = make_tiny_model_dir(kind, tmp_path / kind)
    reference = AutoModel.from_pretrained(folder).eval()
    model = AutoModel.from_pretrained(folder)
    if kind == "hmr":
        _randomize_batchnorms(reference)
        model.load_state_dict(reference.state_dict())
    assert model.prepare_for_inference(torch.bfloat16) is model
    assert not model.training and next(model.parameters()).dtype == torch.bfloat16
    if kind == "hmr2":
        assert model.backbone.config._attn_implementation == "eager"
    size = reference.config.image_size
    pixels = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected, half = reference(pixels), model(pixels)
    for field in ("global_orient", "body_pose", "betas", "pred_cam", "pred_cam_t"):
        assert half[field].dtype == torch.float32, field
        assert torch.allclose(half[field], expected[field], atol=0.05, rtol=0.02), field


@pytest.mark.slow
def test_prepare_for_inference_compiled_hrnet_matches_eager():
    """``compile=True`` (inductor with frozen weights) gives the eager prepared model's outputs (~30 s compile)."""
    model = _randomize_batchnorms(make_tiny_model("hmr", image_size=64))
    pixels = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = model(pixels)
        compiled = model.prepare_for_inference(compile=True)
        assert compiled is not model
        out = compiled(pixels)
    for field in ("global_orient", "body_pose", "betas", "pred_cam", "pred_cam_t"):
        assert torch.allclose(out[field], expected[field], atol=1e-4), field
