"""Hard-case mining: the criterion itself, and the default thresholds on the sample pipeline input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hardmo_hf.pipeline.camera import project
from hardmo_hf.pipeline.config import IngestConfig, MiningConfig
from hardmo_hf.pipeline.fitting import FIT_FOOT, FitBatch, LabelFitter
from hardmo_hf.pipeline.mining import mining_errors
from hardmo_hf.pipeline.tasks import run_ingest, run_mine
from hardmo_hf.testing.pipeline import make_sample_raw_input, render_keypoints, sample_poses


def _exact_batch(keypoint_model, count=4, seed=0):
    """Labels whose detections are exactly their own projection (px), all confident."""
    rng = np.random.default_rng(seed)
    pose = sample_poses(rng, count)
    betas = np.zeros((count, 10), np.float32)
    scale = np.full(count, 200.0, np.float32)
    joints = render_keypoints(keypoint_model, pose, betas, scale, np.full((count, 2), 300.0, np.float32))
    from hardmo_hf.pipeline.fitting import FIT_MODEL_JOINTS

    keypoints = np.concatenate([joints[:, list(FIT_MODEL_JOINTS)], np.ones((count, 35, 1))], -1).astype(
        np.float32
    )
    return FitBatch(
        torch.from_numpy(pose),
        torch.from_numpy(betas),
        torch.from_numpy(keypoints),
        torch.full((count,), 400.0),
    )


def test_criterion_measures_foot_and_hand_disagreement_in_box_units(keypoint_model):
    fitter = LabelFitter(keypoint_model)
    batch = _exact_batch(keypoint_model)
    exact = mining_errors(fitter, batch, MiningConfig())
    assert exact["camera_ok"].all()
    np.testing.assert_allclose(exact["foot"], 0, atol=1e-4)
    np.testing.assert_allclose(exact["hand"], 0, atol=1e-4)
    # Move every detected toe and heel of sample 0 by 20 px = 0.05 box sides: its foot error is 0.05.
    shifted = batch.keypoints.clone()
    shifted[0, 19:25, 0] += 20.0
    errors = mining_errors(fitter, FitBatch(batch.pose, batch.betas, shifted, batch.box_size), MiningConfig())
    assert errors["foot"][0] == pytest.approx(0.05, abs=1e-3)
    np.testing.assert_allclose(errors["foot"][1:], 0, atol=1e-4)
    np.testing.assert_allclose(errors["hand"], exact["hand"], atol=1e-5)  # the camera ignores the feet
    # Unconfident feet are not judged.
    shifted[1, 19:24, 2] = 0.1
    errors = mining_errors(fitter, FitBatch(batch.pose, batch.betas, shifted, batch.box_size), MiningConfig())
    assert np.isnan(errors["foot"][1]) and errors["foot_points"][1] == 1
    assert FIT_FOOT[2:] == (19, 20, 21, 22, 23, 24)


@pytest.fixture(scope="module")
def mined(tmp_path_factory, keypoint_model, synthetic_smpl_dir):
    root = tmp_path_factory.mktemp("mining")
    summary = make_sample_raw_input(
        root / "raw",
        keypoint_model,
        classes=("jazz", "samba", "taijiquan", "ballet", "tango"),
        clips_per_class=2,
        frames_per_clip=40,
        seed=5,
        edge_cases=False,
    )
    run_ingest(root / "raw", root / "out", IngestConfig(), tasks=2)
    report = run_mine(root / "out", MiningConfig(), synthetic_smpl_dir, tasks=2)
    return root / "out", summary, report


def test_default_thresholds_give_the_paper_proportions_on_the_sample(mined):
    out, summary, report = mined
    assert report["labels"] == summary.people_written == 800
    foot, hand = report["foot"], report["hand"]
    print(
        f"\nmining on {report['labels']} sample labels: foot {foot['hard_fraction_of_labels']:.1%} "
        f"(paper > 500K/7M = 7.1 %), hand {hand['hard_fraction_of_labels']:.1%} (paper > 400K/7M = 5.7 %)"
    )
    print(f"foot quantiles {foot['quantiles']}\nhand quantiles {hand['quantiles']}")
    assert 0.055 <= foot["hard_fraction_of_labels"] <= 0.10
    assert 0.04 <= hand["hard_fraction_of_labels"] <= 0.085
    for name in ("foot", "hand"):
        listed = (out / "reports" / "mining" / f"{name}.txt").read_text().split()
        assert len(listed) == report[name]["hard"]
        assert sum(report[name]["histogram"]["counts"]) == report[name]["judged"]
        # Most mined samples are the ones whose label got a gross error, and most of those are mined.
        gross = set(summary.gross_errors[name])
        assert len(gross & set(listed)) >= 0.7 * len(listed)
        assert len(gross & set(listed)) >= 0.7 * len(gross)
    rows = [
        json.loads(line) for line in (out / "reports" / "mining" / "criteria.jsonl").read_text().splitlines()
    ]
    assert len(rows) == 800


def test_rethresholding_reuses_the_computed_criteria(mined, synthetic_smpl_dir):
    out, _, report = mined
    strict = run_mine(
        out, MiningConfig(foot_threshold=0.05, hand_threshold=0.08), synthetic_smpl_dir, tasks=2
    )
    assert strict["foot"]["hard"] < report["foot"]["hard"]
    assert strict["foot"]["quantiles"] == report["foot"]["quantiles"]
    run_mine(out, MiningConfig(), synthetic_smpl_dir, tasks=2)  # back to the defaults for other tests


def test_project_matches_fitter_keypoints(keypoint_model):
    batch = _exact_batch(keypoint_model, count=2, seed=3)
    fitter = LabelFitter(keypoint_model)
    scale, translation, valid = fitter.initial_camera(batch, min_confidence=0.5)
    assert valid.all()
    points = project(fitter.keypoints(batch.pose, keypoint_model.rest(batch.betas)), scale, translation)
    torch.testing.assert_close(points, batch.keypoints[..., :2], atol=1e-2, rtol=0)
