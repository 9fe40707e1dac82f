"""``hardmo-hf push``: dry run, argument handling, refusal to upload what does not validate, and the real code
path up to the Hub (offline here, so it must stop at the Hub with a clear message)."""

from __future__ import annotations

import pytest

from hardmo_hf.cli import main
from hardmo_hf.data.push import files_to_upload, push


def test_dry_run_validates_and_lists_the_repo_files(built, capsys):
    out, _ = built
    assert main(["push", str(out), "--repo-id", "my-org/hardmo", "--dry-run", "--workers", "1"]) == 0
    text = capsys.readouterr().out
    assert "All checks passed." in text and "Would upload to datasets/my-org/hardmo" in text
    assert "Dry run: nothing was uploaded." in text
    files = dict(files_to_upload(out))
    assert {"README.md", "preview.png", "manifest.json", "stats.json", "rejects.jsonl"} <= set(files)
    assert not [p for p in files if p.startswith(".build") or p.endswith(".tmp")]
    shards = sorted(p for p in files if p.endswith(".parquet"))
    assert shards == sorted(p.relative_to(out).as_posix() for p in out.glob("data/*/*/*/*.parquet"))
    assert f"data/ ({len(shards):,} Parquet shards)" in text


def test_a_dataset_that_does_not_validate_is_not_uploaded(built_copy, capsys):
    next(built_copy.glob("data/hand/*/*/*.parquet")).unlink()
    assert main(["push", str(built_copy), "--repo-id", "my-org/hardmo", "--workers", "1"]) == 1
    assert "Not uploading: the dataset does not validate." in capsys.readouterr().out


@pytest.mark.parametrize("repo_id", ["hardmo", "org/sub/hardmo", "org/bad name"])
def test_bad_repo_ids_are_refused(built, repo_id, capsys):
    out, _ = built
    assert main(["push", str(out), "--repo-id", repo_id, "--dry-run"]) == 2
    assert "repo-id" in capsys.readouterr().err


def test_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["push", str(tmp_path)])
    assert exit_info.value.code == 2 and "--repo-id" in capsys.readouterr().err
    assert main(["push", str(tmp_path / "missing"), "--repo-id", "org/hardmo", "--dry-run"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_upload_path_goes_to_the_hub(built, monkeypatch, capsys):
    """Without a network the real path fails at its first Hub call, and says so (nothing is mocked)."""
    out, _ = built
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OSError, match="offline mode"):
        push(out, "my-org/hardmo", validate_first=False, token="hf_not_a_token")
    assert main(["push", str(out), "--repo-id", "my-org/hardmo", "--skip-validation"]) == 1
    assert "upload to datasets/my-org/hardmo failed" in capsys.readouterr().err


def test_the_uploaded_card_names_the_repo(built):
    from hardmo_hf.data.card import REPO_ID_PLACEHOLDER, card_for_repo

    out, _ = built
    text = (out / "README.md").read_text(encoding="utf-8")
    assert f'load_dataset("{REPO_ID_PLACEHOLDER}", "foot_p2"' in text
    pushed = card_for_repo(text, "my-org/hardmo")
    assert REPO_ID_PLACEHOLDER not in pushed
    assert 'load_dataset("my-org/hardmo", "foot_p2", streaming=True)' in pushed
    for config in ("normal", "foot_p1", "foot_p2", "hand"):
        assert f'load_dataset("my-org/hardmo", "{config}", split="train", streaming=True)' in pushed
    assert pushed.split("---")[1] == text.split("---")[1]  # the YAML metadata is untouched
