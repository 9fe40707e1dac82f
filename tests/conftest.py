"""Shared fixtures: paths to the upstream parity fixtures and a synthetic SMPL stand-in."""

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
