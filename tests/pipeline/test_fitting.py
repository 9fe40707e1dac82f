"""Label optimization, proven on synthetic ground truth (the synthetic SMPL stand-in).

Ground-truth poses are projected through a weak-perspective camera; the detections get noise and 10 %
low-confidence outliers; the labels are the truth with ~2 deg of error everywhere plus a gross error at the
ankles (foot) or the arms and wrists (hand). The numbers are printed (``pytest -s``) for the report.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hardmo_hf.models.body_model_hardmo import SMPLBodyModel
from hardmo_hf.pipeline.camera import fit_weak_perspective, project
from hardmo_hf.pipeline.fitting import (
    FIT_BODY,
    FIT_FINGERTIPS,
    FIT_FOOT,
    FitBatch,
    LabelFitter,
    keypoint_errors,
)
from hardmo_hf.pipeline.priors import joint_limit_tensors, limit_violation
from hardmo_hf.pipeline.rotations import axis_angle_to_rotmat, geodesic_angle
from hardmo_hf.testing.pipeline import make_fitting_problem

COUNT = 96


def test_keypoint_model_equals_the_smplx_forward(synthetic_smpl_dir, keypoint_model):
    body = SMPLBodyModel(synthetic_smpl_dir)
    torch.manual_seed(0)
    rotations = axis_angle_to_rotmat(0.5 * torch.randn(6, 24, 3))
    betas = torch.randn(6, 10)
    full = body(rotations[:, :1], rotations[:, 1:], betas).joints45
    fast = keypoint_model(rotations, keypoint_model.rest(betas))
    torch.testing.assert_close(fast, full, atol=2e-6, rtol=0)


def test_least_squares_camera_recovers_a_known_camera():
    torch.manual_seed(1)
    points = torch.randn(4, 20, 3)
    scale, shift = torch.tensor([90.0, 150.0, 210.0, 300.0]), torch.randn(4, 2) * 100
    image = project(points, scale, shift)
    weights = torch.ones(4, 20)
    weights[3, 2:] = 0  # two points are not enough
    s, t, valid = fit_weak_perspective(points, image, weights)
    assert valid.tolist() == [True, True, True, False]
    torch.testing.assert_close(s[:3], scale[:3])
    torch.testing.assert_close(t[:3], shift[:3], atol=1e-3, rtol=0)


def _evaluate(problem, fitter, pose, scale, translation):
    """Mean keypoint errors (box sides, vs the noise-free truth) and joint angle errors (degrees)."""
    batch = problem.batch(pose)
    with torch.no_grad():
        rest = fitter.model.rest(batch.betas)
        points = project(fitter.keypoints(batch.pose, rest), scale, translation)
    clean = torch.from_numpy(
        np.concatenate([problem.clean_keypoints, np.ones_like(problem.clean_keypoints[..., :1])], -1)
    )
    box = torch.from_numpy(problem.box_size)
    errors = {}
    for name, rows in (("body", FIT_BODY), ("foot", FIT_FOOT), ("fingertips", FIT_FINGERTIPS)):
        errors[name] = float(keypoint_errors(points, clean, box, rows, 0.5)[0].mean())
    angle = geodesic_angle(
        axis_angle_to_rotmat(torch.from_numpy(pose).double().reshape(-1, 24, 3)),
        axis_angle_to_rotmat(torch.from_numpy(problem.gt_pose).double().reshape(-1, 24, 3)),
    ).rad2deg()
    errors["ankles_deg"] = float(angle[:, [7, 8]].mean())
    errors["wrists_deg"] = float(angle[:, [20, 21]].mean())
    errors["arms_deg"] = float(angle[:, [16, 17, 18, 19]].mean())
    return errors


@pytest.fixture(scope="module")
def fitter(keypoint_model):
    return LabelFitter(keypoint_model)


def test_foot_stage_fixes_feet_without_hurting_the_body(keypoint_model, fitter):
    problem = make_fitting_problem(keypoint_model, COUNT, "foot", seed=11)
    scale0, trans0, valid = fitter.initial_camera(problem.batch())
    assert valid.all()
    before = _evaluate(problem, fitter, problem.label_pose, scale0, trans0)
    result = fitter.fit_foot(problem.batch())
    after = _evaluate(problem, fitter, result.pose.numpy(), result.camera_scale, result.camera_translation)
    print(f"\nfoot stage, {COUNT} labels: before {before}\n  after {after}")
    assert after["foot"] <= 0.5 * before["foot"]  # foot keypoint error at least halved
    assert after["ankles_deg"] < before["ankles_deg"]  # ankle rotations closer to the truth
    assert after["body"] <= before["body"]  # body keypoints not worse
    # Only the foot chain moved.
    moved = (
        (result.pose.reshape(-1, 24, 3) - torch.from_numpy(problem.label_pose).reshape(-1, 24, 3))
        .abs()
        .amax((0, 2))
    )
    assert set(torch.nonzero(moved > 0).flatten().tolist()) <= {4, 5, 7, 8, 10, 11}
    assert result.improved.float().mean() > 0.95


def test_hand_stages_fix_arms_then_fingertips(keypoint_model, fitter):
    problem = make_fitting_problem(keypoint_model, COUNT, "hand", seed=12)
    scale0, trans0, _ = fitter.initial_camera(problem.batch())
    before = _evaluate(problem, fitter, problem.label_pose, scale0, trans0)
    body_stage, hand_stage = fitter.fit_hand(problem.batch())
    mid = _evaluate(
        problem, fitter, body_stage.pose.numpy(), body_stage.camera_scale, body_stage.camera_translation
    )
    after = _evaluate(
        problem, fitter, hand_stage.pose.numpy(), hand_stage.camera_scale, hand_stage.camera_translation
    )
    print(f"\nhand stages, {COUNT} labels: before {before}\n  after stage 1 {mid}\n  after stage 2 {after}")
    # Stage 1 (torso + arms to body keypoints): body error down, arms closer to the truth.
    assert mid["body"] < 0.6 * before["body"]
    assert mid["arms_deg"] < before["arms_deg"]
    # Stage 2 (wrists to fingertips) keeps stage 1: same camera, same body keypoints.
    torch.testing.assert_close(hand_stage.camera_scale, body_stage.camera_scale)
    assert after["body"] == pytest.approx(mid["body"], abs=1e-6)
    assert after["fingertips"] <= 0.5 * before["fingertips"]
    assert after["wrists_deg"] < before["wrists_deg"]
    moved = (hand_stage.pose - body_stage.pose).reshape(-1, 24, 3).abs().amax((0, 2))
    assert set(torch.nonzero(moved > 0).flatten().tolist()) <= {20, 21}


def test_joint_limits_and_the_initial_label_prior(keypoint_model, fitter):
    problem = make_fitting_problem(keypoint_model, 32, "foot", seed=13)
    lower, upper = joint_limit_tensors()
    # A label bent beyond its limits (ankles folded 100 deg) is pulled back inside by the limit term.
    pose = problem.label_pose.reshape(-1, 24, 3).copy()
    pose[:, 7, 0] = np.deg2rad(100.0)
    pose = pose.reshape(-1, 72)
    result = fitter.fit_foot(problem.batch(pose))
    free = [4, 5, 7, 8, 10, 11]
    before = limit_violation(torch.from_numpy(pose).reshape(-1, 24, 3)[:, free], lower[free], upper[free])
    after = limit_violation(result.pose.reshape(-1, 24, 3)[:, free], lower[free], upper[free])
    assert (after < 0.1 * before).all()
    # Without a single confident keypoint nothing pulls: the label stays as it is.
    blind = FitBatch(
        torch.from_numpy(problem.label_pose),
        torch.from_numpy(problem.betas),
        torch.from_numpy(problem.keypoints * np.array([1, 1, 0], dtype=np.float32)),
        torch.from_numpy(problem.box_size),
    )
    result = fitter.fit_foot(blind)
    assert not result.valid.any()
    torch.testing.assert_close(result.pose, torch.from_numpy(problem.label_pose))


def test_the_written_out_adam_matches_torch_optim():
    from hardmo_hf.pipeline.fitting import _Adam

    torch.manual_seed(0)
    a = torch.randn(5, 3, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    reference, ours = torch.optim.Adam([a], lr=0.03), _Adam([b], lr=0.03)
    for _ in range(50):
        reference.zero_grad()
        ((a**4).sum() + a.sin().sum()).backward()
        reference.step()
        ours.step(torch.autograd.grad((b**4).sum() + b.sin().sum(), [b]))
    torch.testing.assert_close(b, a)


def test_partial_forward_equals_the_full_forward(tmp_path):
    """Recomputing only the free joints' subtrees is exact, also with SMPL-like dense weights and blend shapes."""
    import pickle

    from hardmo_hf.pipeline.kinematics import PartialKeypoints, SMPLKeypointModel
    from hardmo_hf.testing.smpl import make_synthetic_smpl

    path = make_synthetic_smpl(tmp_path)
    data = pickle.loads(path.read_bytes())
    rng = np.random.default_rng(0)
    data["posedirs"] = (0.01 * rng.standard_normal(data["posedirs"].shape)).astype(np.float32)
    data["weights"] = 0.7 * data["weights"] + 0.3 * np.roll(data["weights"], 1, axis=1)  # spread skinning
    path.write_bytes(pickle.dumps(data))
    model = SMPLKeypointModel(tmp_path)
    torch.manual_seed(2)
    rotations = axis_angle_to_rotmat(0.5 * torch.randn(5, 24, 3))
    rest = model.rest(torch.randn(5, 10))
    for free in ([4, 5, 7, 8, 10, 11], [20, 21], [0, 3, 6, 9, 12, 15, 13, 14, 16, 17, 18, 19]):
        partial = PartialKeypoints(model, rotations, rest, free)
        new = axis_angle_to_rotmat(0.5 * torch.randn(5, len(free), 3))
        full = rotations.clone()
        full[:, free] = new
        torch.testing.assert_close(partial(new), model(full, rest), atol=1e-6, rtol=0)
