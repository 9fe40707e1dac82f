"""Helpers of the model tests (imported by the test modules; fixtures live in conftest.py)."""

from __future__ import annotations

import numpy as np
import torch

# Each upstream fixture: its converter kind, and the --set values its *_config.json gives for the fields the
# tensors cannot determine (attention head counts).
FIXTURES = {
    "hmr2": {"kind": "hmr2", "overrides": {"vit_config.num_attention_heads": 4, "decoder_heads": 4}},
    "hardmo_hmr": {"kind": "hmr", "overrides": {}},
    "bedlam_hmr": {"kind": "hmr", "overrides": {}},
}


def convert_fixture(name: str, checkpoint, **kwargs):
    """Convert with the real converter (path, or an already-read state dict)."""
    spec = FIXTURES[name]
    if spec["kind"] == "hmr2":
        from hardmo_hf.models.convert_hmr2_to_hf import convert_hmr2_checkpoint

        return convert_hmr2_checkpoint(checkpoint, overrides=spec["overrides"], **kwargs)
    from hardmo_hf.models.convert_hmr_to_hf import convert_hmr_checkpoint

    return convert_hmr_checkpoint(checkpoint, overrides=spec["overrides"], **kwargs)


def max_abs(a, b) -> float:
    a = a.detach().float().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    return float(np.abs(a - np.asarray(b)).max())
