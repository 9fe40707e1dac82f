"""Shared fixtures: paths to the upstream parity fixtures, a synthetic SMPL stand-in, the sample pipeline output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``shared/`` beside the checkout (CI clones the repo with it), or $HARDMO_SHARED_DIR."""
    return Path(os.environ.get("HARDMO_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def upstream_fixtures() -> Path:
    path = shared_dir() / "fixtures" / "upstream"
    if not path.is_dir():
        raise FileNotFoundError(f"upstream parity fixtures not found at {path}; set HARDMO_SHARED_DIR")
    return path


@pytest.fixture(scope="session")
def synthetic_smpl_dir(tmp_path_factory) -> Path:
    """A folder holding a synthetic SMPL_NEUTRAL.pkl and SMPL_to_J19.pkl (never the licensed files)."""
    from hardmo_hf.testing.smpl import make_synthetic_j19_regressor, make_synthetic_smpl

    directory = tmp_path_factory.mktemp("smpl")
    make_synthetic_smpl(directory)
    make_synthetic_j19_regressor(directory)
    return directory


@pytest.fixture(scope="session")
def sample_pipeline_output(tmp_path_factory):
    """The default sample pipeline output (seed 0: 12 classes incl. the 7 P2 classes, bad records) and its
    summary, made once per test session. Read-only: tests write their own files elsewhere."""
    from hardmo_hf.data.sample import make_sample_pipeline_output

    root = tmp_path_factory.mktemp("sample") / "pipeline_output"
    return root, make_sample_pipeline_output(root, seed=0)


@pytest.fixture(scope="session")
def sample_dataset(tmp_path_factory, sample_pipeline_output) -> Path:
    """The sample pipeline output built into a HardMo dataset folder (``hardmo-hf build``), once per session."""
    from hardmo_hf.cli import main as cli

    pipeline, _ = sample_pipeline_output
    out = tmp_path_factory.mktemp("sample_dataset") / "hardmo"
    if cli(["build", str(pipeline), "--out", str(out), "--workers", "1", "--no-progress"]) != 0:
        raise RuntimeError("building the sample dataset failed")
    return out


@pytest.fixture(scope="session")
def tiny_hmr2_dir(tmp_path_factory) -> Path:
    """A tiny random HardMo-4DHumans folder with its image processor, as the converter writes one."""
    from transformers import AutoConfig

    from hardmo_hf.models.image_processing_hardmo import HardMoImageProcessor
    from hardmo_hf.testing.models import make_tiny_model_dir

    directory = make_tiny_model_dir("hmr2", tmp_path_factory.mktemp("tiny_hmr2") / "tiny-hmr2")
    HardMoImageProcessor.for_model_config(AutoConfig.from_pretrained(directory)).save_pretrained(directory)
    return directory
