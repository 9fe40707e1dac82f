"""``hardmo-hf convert``: end to end on the fixtures, and clear errors for bad input."""

from __future__ import annotations

import json

from hardmo_hf.cli import main


def test_convert_commands(upstream_fixtures, tmp_path, capsys):
    out = tmp_path / "hmr2"
    code = main([
        "convert", "hmr2", str(upstream_fixtures / "hmr2_small_state_dict.safetensors"), "--out", str(out),
        "--set", "vit_config.num_attention_heads=4", "--set", "decoder_heads=4",
    ])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "hardmo_hmr2" and config["decoder_heads"] == 4 and config["decoder_dim"] == 40
    assert config["vit_config"]["num_attention_heads"] == 4 and config["vit_config"]["hidden_size"] == 64
    assert "ViT 2 layers x 64 (4 heads)" in capsys.readouterr().out

    out = tmp_path / "bedlam"
    assert main(["convert", "hmr", str(upstream_fixtures / "bedlam_hmr_small_state_dict.safetensors"), "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["flavor"], config["rot6d_layout"], config["hrnet_width"], config["num_joints"]) == ("bedlam", "spin", 18, 22)


def test_convert_errors_name_the_problem(upstream_fixtures, tmp_path, capsys):
    bedlam = str(upstream_fixtures / "bedlam_hmr_small_state_dict.safetensors")
    assert main(["convert", "hmr", bedlam, "--out", str(tmp_path / "a"), "--flavor", "hardmo"]) == 2
    assert "backbone.transition1.0.0.weight" in capsys.readouterr().err
    assert main(["convert", "hmr", bedlam, "--out", str(tmp_path / "b"), "--set", "hrnet_widht=18"]) == 2
    assert "has no field 'hrnet_widht'" in capsys.readouterr().err
    assert main(["convert", "hmr", str(tmp_path / "none.ckpt"), "--out", str(tmp_path / "c")]) == 2
    assert "none.ckpt" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
