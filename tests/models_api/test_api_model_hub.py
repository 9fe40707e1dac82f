"""Hub folders: complete them, check them, ``hardmo-hf push-model`` (dry run, refusals, offline failure)."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import save_file

from hardmo_hf.cli import main
from hardmo_hf.model_cards import card_text
from hardmo_hf.model_hub import check_hub_folder, finalize_hub_folder

EXPECTED_FILES = {
    "README.md",
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "configuration_hardmo.py",
    "modeling_hardmo.py",
    "image_processing_hardmo.py",
    "cropping_hardmo.py",
    "geometry_hardmo.py",
    "constants_hardmo.py",
}


def test_converted_folders_pass_the_check(converted_dirs):
    for kind, folder in converted_dirs.items():
        report = check_hub_folder(folder)
        assert report.ok, (kind, report.problems)
        assert EXPECTED_FILES <= {name for name, _ in report.files}
        assert "preprocessor_config.json" in report.summary()


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda d: (d / "README.md").unlink(), "no README.md"),
        (
            lambda d: (d / "SMPL_NEUTRAL.pkl").write_bytes(b"licensed"),
            "SMPL_NEUTRAL.pkl looks like licensed body-model data",
        ),
        (
            lambda d: save_file({"smpl.shapedirs": torch.zeros(6890, 3, 10)}, d / "model.safetensors"),
            "holds SMPL data",
        ),
        (
            lambda d: (d / "cropping_hardmo.py").unlink(),
            "imports .cropping_hardmo, but cropping_hardmo.py is missing",
        ),
        (
            lambda d: (d / "extra_hardmo.py").write_text("import hardmo_hf\n"),
            "extra_hardmo.py: line 1 imports hardmo_hf",
        ),
        (
            lambda d: (d / "modeling_hardmo.py").unlink(),
            "auto_map AutoModel -> modeling_hardmo.HardMoHMRModel but modeling_hardmo.py is missing",
        ),
        (lambda d: (d / "config.json").write_text("{not json"), "config.json is not valid JSON"),
        (lambda d: (d / "pytorch_model.bin").write_bytes(b"pickle"), "pickled weights"),
        (lambda d: (d / "preprocessor_config.json").unlink(), "no preprocessor_config.json"),
    ],
)
def test_the_check_names_each_problem(tiny_dirs, tmp_path, damage, problem):
    folder = shutil.copytree(tiny_dirs["hmr"], tmp_path / "model")
    assert check_hub_folder(folder).ok
    damage(folder)
    report = check_hub_folder(folder)
    assert not report.ok
    assert any(problem in line for line in report.problems), report.problems


def test_finalize_adds_the_processor_and_card(tmp_path):
    from hardmo_hf.testing.models import make_tiny_model

    model = make_tiny_model("bedlam")
    model.save_pretrained(tmp_path / "bare")  # only config, weights and code, as an older conversion
    folder = tmp_path / "bare"
    assert not check_hub_folder(folder).ok
    finalize_hub_folder(folder)
    assert (folder / "README.md").read_text(encoding="utf-8") == card_text("bedlam")
    assert check_hub_folder(folder).ok
    (folder / "README.md").write_text("---\nlibrary_name: transformers\n---\nmine\n")
    finalize_hub_folder(folder)
    assert (folder / "README.md").read_text().endswith("mine\n")  # kept unless overwrite_card=True
    with pytest.raises(FileNotFoundError, match="no config.json"):
        finalize_hub_folder(tmp_path / "empty")


def test_push_model_dry_run_lists_the_files(tiny_dirs, capsys):
    assert (
        main(["push-model", str(tiny_dirs["hmr2"]), "--repo-id", "someone/HardMo-4DHumans", "--dry-run"]) == 0
    )
    out = capsys.readouterr().out
    assert "dry run: would upload" in out and "someone/HardMo-4DHumans" in out
    for name in ("model.safetensors", "preprocessor_config.json", "README.md", "modeling_hardmo.py"):
        assert name in out


def test_push_model_refuses_bad_folders_and_reports_upload_failures(tiny_dirs, tmp_path, capsys, monkeypatch):
    folder = shutil.copytree(tiny_dirs["hmr"], tmp_path / "model")
    (folder / "SMPL_NEUTRAL.pkl").write_bytes(b"licensed")
    assert main(["push-model", str(folder), "--repo-id", "someone/x", "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert "SMPL_NEUTRAL.pkl looks like licensed body-model data" in captured.out
    assert "not ready to upload" in captured.err
    (folder / "SMPL_NEUTRAL.pkl").unlink()
    assert main(["push-model", str(folder), "--repo-id", "not a repo id"]) == 2
    assert "OWNER/NAME" in capsys.readouterr().err
    # A real upload in offline mode (huggingface_hub reads HF_HUB_OFFLINE at import): a clear failure, no
    # traceback.
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert main(["push-model", str(folder), "--repo-id", "someone/x"]) == 1
    assert "upload to someone/x failed" in capsys.readouterr().err
