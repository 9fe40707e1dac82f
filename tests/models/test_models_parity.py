"""Converted fixtures reproduce the outputs upstream produced (CPU, float32), through every checkpoint format."""

from __future__ import annotations

import json

import pytest
import torch
from models_helpers import FIXTURES, convert_fixture, max_abs

from hardmo_hf.models.conversion_utils import find_smpl_tensors

PARAM_TOL = 1e-4  # rotations, betas, camera, translation
FEATURE_TOL = 1e-3  # backbone features (thread-count rounding)


def upstream_outputs(name: str, model, io: dict) -> dict[str, tuple[torch.Tensor, str, float]]:
    """``label -> (ours, fixture key, tolerance)`` for every stored array we can reproduce."""
    img = torch.from_numpy(io["img"])
    with torch.no_grad():
        out = model(img, output_hidden_states=True) if name == "hmr2" else model(img)
    pairs = {
        "pred_cam": (out.pred_cam, "pred_cam", PARAM_TOL),
        "pred_cam_t": (out.pred_cam_t, "pred_cam_t", PARAM_TOL),
        "backbone_features": (out.backbone_features, "backbone_features", FEATURE_TOL),
    }
    if name == "bedlam_hmr":
        pairs["rotations"] = (torch.cat([out.global_orient, out.body_pose], dim=1), "pred_pose", PARAM_TOL)
        pairs["betas"] = (out.betas, "pred_shape", PARAM_TOL)
        pairs["pred_pose_6d"] = (out.pred_pose_6d, "pred_pose_6d", PARAM_TOL)
        pairs["pooled"] = (out.pooled_features, "body_feat", FEATURE_TOL)
        with torch.no_grad():
            _, branches = model.backbone(img, output_branches=True)
            *_, iterations = model.head(out.pooled_features, return_iterations=True)
        for i, branch in enumerate(branches):
            pairs[f"stage4_branch{i}"] = (branch, f"intermediate_stage4_branch{i}", FEATURE_TOL)
        for j, part in enumerate(("pose_6d", "shape", "cam")):
            pairs[f"ief_{part}"] = (torch.stack([it[j] for it in iterations]), f"intermediate_iter_{part}", PARAM_TOL)
        return pairs
    pairs["global_orient"] = (out.global_orient, "global_orient", PARAM_TOL)
    pairs["body_pose"] = (out.body_pose, "body_pose", PARAM_TOL)
    pairs["betas"] = (out.betas, "betas", PARAM_TOL)
    if name == "hardmo_hmr":
        pairs["pred_pose_6d"] = (out.pred_pose_6d, "pred_pose_6d", PARAM_TOL)
        pairs["focal_length"] = (out.focal_length, "focal_length", 0.0)
        pairs["pooled"] = (out.pooled_features, "pooled_features", FEATURE_TOL)
        with torch.no_grad():
            *_, iterations = model.head(out.pooled_features, return_iterations=True)
        for j, part in enumerate(("pose_6d", "betas", "cam")):
            pairs[f"ief_{part}"] = (torch.stack([it[j] for it in iterations]), f"ief_{part}", PARAM_TOL)
        return pairs
    pairs["pred_pose_6d"] = (out.pred_pose_6d, "pred_body_pose_6d", PARAM_TOL)
    with torch.no_grad():
        patches = model.backbone.embeddings.patch_embeddings(img[:, :, :, 32:224])
        token = model.head.decode_token(out.backbone_features.flatten(2).transpose(1, 2))
    pairs["patch_tokens"] = (patches, "intermediate_patch_tokens", FEATURE_TOL)
    pairs["decoder_token"] = (token, "intermediate_token_out", PARAM_TOL)
    for i, hidden in enumerate(out.hidden_states[1:]):  # [0] is the embedding output
        pairs[f"block_{i}"] = (hidden, f"intermediate_block_{i}", FEATURE_TOL)
    return pairs


def assert_matches_upstream(name: str, model, io: dict) -> None:
    pairs = upstream_outputs(name, model, io)
    assert len(pairs) >= 9
    errors = {label: max_abs(ours, io[key]) for label, (ours, key, _) in pairs.items()}
    failing = {label: err for label, err in errors.items() if err > pairs[label][2]}
    assert not failing, f"{name}: beyond tolerance {failing} (all: {errors})"


@pytest.mark.parametrize("name", list(FIXTURES))
def test_fixture_from_safetensors_matches_upstream(name, converted, fixture_io):
    assert_matches_upstream(name, converted[name], fixture_io[name])


class LightningHyperParameters:
    """A non-tensor object in the checkpoint: the restricted loader must leave it inert."""

    def __init__(self):
        self.cfg = {"MODEL": {"IMAGE_SIZE": 256}}

    def __reduce__(self):  # a real attack would name os.system here; the loader must never call it
        return (LightningHyperParameters, ())


def lightning_checkpoint(name, upstream_fixtures, path):
    """A Lightning-style .ckpt of a fixture: its state dict plus the entries real checkpoints carry."""
    from safetensors.torch import load_file

    state = load_file(upstream_fixtures / f"{name}_small_state_dict.safetensors")
    prefix = "model." if name == "bedlam_hmr" else ""
    extra = {
        "smpl.shapedirs" if name != "bedlam_hmr" else "model.smpl.smplx.shapedirs": torch.zeros(6890, 3, 10),
        "smpl.faces_tensor" if name != "bedlam_hmr" else "smplx.faces_tensor": torch.zeros(13776, 3, dtype=torch.int64),
    }
    if name == "bedlam_hmr":
        extra["J_regressor"] = torch.zeros(17, 6890)
    else:
        extra["initialized"] = torch.tensor(True)
        extra["discriminator.D_conv1.weight"] = torch.zeros(32, 9, 1, 1)
    torch.save(
        {
            "epoch": 25,
            "global_step": 85000,
            "pytorch-lightning_version": "2.1.0",
            "state_dict": {**extra, **state},
            "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(3)}}, "param_groups": [{"lr": 1e-5}]}],
            "hyper_parameters": LightningHyperParameters(),
            "callbacks": {"ModelCheckpoint": {"best_model_path": f"{prefix}x"}},
        },
        path,
    )
    return path


@pytest.mark.parametrize("name", list(FIXTURES))
def test_fixture_from_lightning_ckpt_matches_upstream_and_packages_no_smpl(name, upstream_fixtures, fixture_io, tmp_path):
    ckpt = lightning_checkpoint(name, upstream_fixtures, tmp_path / "epoch=25-step=85000.ckpt")
    out_dir = tmp_path / "hub"
    model = convert_fixture(name, ckpt, out_dir=out_dir)
    assert_matches_upstream(name, model, fixture_io[name])
    config = json.loads((out_dir / "config.json").read_text())
    assert config["auto_map"]["AutoModel"].startswith("modeling_hardmo.")
    assert (out_dir / "modeling_hardmo.py").is_file() and (out_dir / "configuration_hardmo.py").is_file()
    assert find_smpl_tensors(out_dir / "model.safetensors") == []
    from safetensors import safe_open

    with safe_open(str(out_dir / "model.safetensors"), "pt") as handle:
        assert set(handle.keys()) == set(model.state_dict())


# manifest -> (fixture name, upstream keys loaded, upstream keys dropped by name)
MANIFESTS = {
    "hmr2_full_keys.json": ("hmr2", 503, 73),
    # + backbone.final_layer (2 keys) and smpl_head.downsample_module (21 keys), unused in the forward pass
    "hardmo_hmr_full_keys.json": ("hardmo_hmr", 1902 - 23, 73 + 23),
    "bedlam_hmr_full_keys.json": ("bedlam_hmr", 1902 - 23, 53 + 23),
}
DTYPES = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}


@pytest.mark.parametrize("manifest", list(MANIFESTS))
def test_full_size_key_manifest_converts_strictly(manifest, upstream_fixtures):
    """The released checkpoints' key lists convert with 0 missing and 0 unexpected keys (meta tensors)."""
    name, loaded, dropped = MANIFESTS[manifest]
    entries = json.loads((upstream_fixtures / manifest).read_text())["keys"]
    upstream = {e["key"]: torch.empty(e["shape"], dtype=DTYPES[e["dtype"]], device="meta") for e in entries}
    assert len(upstream) == loaded + dropped
    if FIXTURES[name]["kind"] == "hmr2":
        from hardmo_hf.models.convert_hmr2_to_hf import convert_hmr2_checkpoint, convert_hmr2_state_dict

        model = convert_hmr2_checkpoint(upstream)  # released head counts are the defaults
        mapped = convert_hmr2_state_dict(upstream)
        vit = model.config.vit_config
        assert (vit.hidden_size, vit.num_hidden_layers, vit.num_attention_heads, vit.mlp_ratio) == (1280, 32, 16, 4)
        assert list(vit.patch_size) == [16, 16] and vit.qkv_bias
        config = model.config
        assert (config.decoder_dim, config.decoder_depth, config.decoder_heads, config.decoder_dim_head) == (1024, 6, 8, 64)
        assert (config.decoder_mlp_dim, config.decoder_context_dim, config.npose, config.num_betas) == (1024, 1280, 144, 10)
        # Each block's fused qkv weight and bias become 3 tensors each.
        assert len(mapped) == loaded + 4 * vit.num_hidden_layers
        labelled_drop = {e["key"] for e in entries if e["action"] == "drop"}
        assert labelled_drop == set(upstream) - {k for k in upstream if k.startswith(("backbone.", "smpl_head."))}
    else:
        from hardmo_hf.models.convert_hmr_to_hf import convert_hmr_checkpoint, convert_hmr_state_dict

        model = convert_hmr_checkpoint(upstream)
        mapped = convert_hmr_state_dict(upstream, model.config.flavor)
        config = model.config
        assert (config.hrnet_width, config.backbone_channels, config.head_hidden_dim) == (48, 720, 1024)
        assert config.hrnet_stage_modules == [1, 4, 3] and config.hrnet_stage_blocks == [4, 4, 4]
        expected = {"hardmo_hmr": ("hardmo", 24, 10, "hmr2"), "bedlam_hmr": ("bedlam", 22, 11, "spin")}[name]
        assert (config.flavor, config.num_joints, config.num_betas, config.rot6d_layout) == expected
        assert len(mapped) == loaded
    assert set(mapped) == set(model.state_dict())  # 0 missing, 0 unexpected
    assert all(t.device.type == "meta" for t in model.state_dict().values())  # nothing allocated


def test_converter_names_unexpected_and_missing_keys(upstream_fixtures):
    from safetensors.torch import load_file

    from hardmo_hf.models.convert_hmr_to_hf import convert_hmr_checkpoint

    state = load_file(upstream_fixtures / "hardmo_hmr_small_state_dict.safetensors")
    with pytest.raises(ValueError, match=r"unexpected checkpoint keys .*smpl_head\.extra_bias"):
        convert_hmr_checkpoint({**state, "smpl_head.extra_bias": torch.zeros(3)})
    incomplete = {k: v for k, v in state.items() if k != "backbone.stage3.2.branches.1.0.bn2.running_var"}
    with pytest.raises(ValueError, match=r"missing keys: backbone\.stage3\.2\.branches\.1\.0\.bn2\.running_var"):
        convert_hmr_checkpoint(incomplete)
    with pytest.raises(ValueError, match="contradicts"):
        convert_hmr_checkpoint(state, overrides={"hrnet_width": 48})
