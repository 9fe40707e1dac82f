"""Fixtures of the pipeline tests: the synthetic SMPL keypoint model and a small raw pipeline input."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """The fitter runs one torch thread per worker (parallelism comes from datatrove tasks)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def keypoint_model(synthetic_smpl_dir):
    from hardmo_hf.pipeline.kinematics import SMPLKeypointModel

    return SMPLKeypointModel(synthetic_smpl_dir)


@pytest.fixture(scope="session")
def raw_sample(tmp_path_factory, keypoint_model):
    """A raw pipeline input: 3 classes x 2 clips x 8 frames, 2 people, every file form and edge case."""
    from hardmo_hf.testing.pipeline import make_sample_raw_input

    root = tmp_path_factory.mktemp("raw")
    summary = make_sample_raw_input(root, keypoint_model, clips_per_class=2, frames_per_clip=8, seed=3)
    return root, summary
