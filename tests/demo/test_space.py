"""The Space folder is deployable as is, and `push-space --dry-run` checks it without the network."""

import shutil

import pytest

import hardmo_hf
from hardmo_hf.cli import main
from hardmo_hf.demo.space import check_space_folder, default_space_dir, read_space_header


def test_space_header_and_pins_match_this_checkout():
    gradio = pytest.importorskip("gradio")
    space = default_space_dir()
    header = read_space_header(space)
    assert header["sdk"] == "gradio" and header["app_file"] == "app.py"
    assert str(header["sdk_version"]) == gradio.__version__
    assert str(header["python_version"]).startswith("3.")
    assert "hardmo/HardMo-HMR" in header["models"] and header["datasets"]
    requirements = (space / "requirements.txt").read_text().split()
    assert f"hardmo-hf[demo]=={hardmo_hf.__version__}" in requirements
    assert check_space_folder(space)
    readme = (space / "README.md").read_text()
    assert 'api_name="/predict"' in readme and "HARDMO_SMPL_REPO" in readme and "HF_TOKEN" in readme


def test_push_space_dry_run_lists_files(capsys):
    assert main(["push-space", "--repo-id", "someone/hardmo-demo", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "app.py" in out and "README.md" in out and "requirements.txt" in out


def test_push_space_refuses_body_model_files(tmp_path, capsys):
    space = tmp_path / "space"
    shutil.copytree(default_space_dir(), space, ignore=shutil.ignore_patterns("__pycache__"))
    (space / "SMPL_NEUTRAL.pkl").write_bytes(b"licensed")
    assert main(["push-space", "--repo-id", "someone/x", "--space-dir", str(space), "--dry-run"]) == 2
    assert "SMPL_NEUTRAL.pkl: weights or body-model data must not be uploaded" in capsys.readouterr().err
    (space / "SMPL_NEUTRAL.pkl").unlink()
    (space / "README.md").write_text("# no header\n")
    assert main(["push-space", "--repo-id", "someone/x", "--space-dir", str(space), "--dry-run"]) == 2
    assert "header has no 'sdk_version'" in capsys.readouterr().err
