"""The bfloat16 inference path: bf16 network, float32 geometry and body model."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel

from hardmo_hf.testing.models import make_tiny_model_dir


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
