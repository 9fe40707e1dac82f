"""The user's sequence from the issue, through the real command: build -> validate -> stream foot_p2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hardmo_hf.cli import main

REPO = Path(__file__).resolve().parents[2]


def _run(args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_build_validate_stream(sample_pipeline_output, tmp_path):
    root, summary = sample_pipeline_output
    built = _run(["-m", "hardmo_hf.cli", "build", str(root), "--out", "hardmo", "--workers", "2",
                  "--confidence-threshold", "0.3", "--seed", "1", "--test-fraction", "0.3", "--row-group-mb", "0.25",
                  "--shard-mb", "0.5"], cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert f"input = accepted + rejected: {summary.input_records:,} = " in built.stdout
    for config in ("normal", "foot_p1", "foot_p2", "hand"):
        assert config in built.stdout
    manifest = json.loads((tmp_path / "hardmo/manifest.json").read_text())
    assert manifest["build"]["confidence_threshold"] == 0.3
    assert manifest["build"]["seed"] == 1 and manifest["build"]["test_fraction"] == 0.3
    assert manifest["build"]["shard_options"]["row_group_bytes"] == int(0.25 * 2**20)
    card = (tmp_path / "hardmo/README.md").read_text()
    assert "threshold **0.3**" in card and "seed 1" in card

    validated = _run(["-m", "hardmo_hf.cli", "validate", "hardmo", "--workers", "2"], cwd=tmp_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "All checks passed." in validated.stdout

    streamed = _run(["-c", ('from datasets import load_dataset; '
                           'print(next(iter(load_dataset("hardmo", "foot_p2", streaming=True)["test"]))["category"])')],
                    cwd=tmp_path)
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout.strip() in ("samba", "waltz", "cha_cha", "tango")


def test_build_argument_errors(tmp_path, capsys):
    assert main(["build", str(tmp_path / "nowhere"), "--out", str(tmp_path / "hardmo")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["build", str(tmp_path), "--confidence-threshold", "0.4"])
    assert "invalid choice" in capsys.readouterr().err
    assert main(["build", str(tmp_path), "--out", str(tmp_path / "o"), "--test-fraction", "1.5"]) == 2
    assert "test fraction" in capsys.readouterr().err


def test_reader_options_must_fit_the_format(sample_pipeline_output, tmp_path, capsys):
    root, _ = sample_pipeline_output
    assert main(["build", str(root), "--out", str(tmp_path / "o"), "--image-root", str(tmp_path)]) == 2
    assert "image_root do not apply to label_tree input" in capsys.readouterr().err
