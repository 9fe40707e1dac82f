"""Fixtures of the dataset-build tests: a sample pipeline output and datasets built from it.

Builds are slow-ish (a datatrove pool per build), so the reference build is made once per session and
copied when a test needs to damage it.
"""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def built(tmp_path_factory, sample_pipeline_output):
    """The sample built with 2 workers into ``<parent>/hardmo``; returns (dataset dir, stats)."""
    from hardmo_hf.data.build import BuildConfig, build

    root, _ = sample_pipeline_output
    out = tmp_path_factory.mktemp("reference") / "hardmo"
    stats = build(BuildConfig(str(root), str(out)), workers=2, progress=False)
    return out, stats


@pytest.fixture
def built_copy(built, tmp_path):
    """A private copy of the reference build (tests may damage it)."""
    out, _ = built
    copy = tmp_path / "hardmo"
    shutil.copytree(out, copy)
    return copy
