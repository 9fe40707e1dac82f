"""The metrics on cases computed by hand, plus property tests (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hardmo_hf.constants import LABEL44_PELVIS, SMPLX45_TO_BODY25
from hardmo_hf.evaluation import metrics as M


def rotation_z(deg: float) -> torch.Tensor:
    r = math.radians(deg)
    return torch.tensor([[math.cos(r), -math.sin(r), 0.0], [math.sin(r), math.cos(r), 0.0], [0.0, 0.0, 1.0]],
                        dtype=torch.float64)


def random_rotation(gen: torch.Generator, batch: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(batch, 3, 3, generator=gen, dtype=torch.float64))
    return q * torch.linalg.det(q).sign()[:, None, None]


# ------------------------------------------------------------------ MPJPE / PA-MPJPE, by hand
def test_identical_joints_give_zero_errors():
    x = torch.randn(3, 17, 3, dtype=torch.float64)
    assert torch.equal(M.mpjpe(x, x), torch.zeros(3, dtype=torch.float64))
    assert torch.allclose(M.pa_mpjpe(x, x), torch.zeros(3, dtype=torch.float64), atol=1e-12)


def test_constant_offset_gives_its_length():
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    y = x + torch.tensor([3.0, 4.0, 0.0], dtype=torch.float64)  # |(3,4,0)| = 5
    assert torch.allclose(M.mpjpe(x, y), torch.full((2,), 5.0, dtype=torch.float64))
    assert torch.allclose(M.pa_mpjpe(x, y), torch.zeros(2, dtype=torch.float64), atol=1e-12)


def test_known_similarity_transform_is_undone_exactly():
    x = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3], [1, 1, 1]]], dtype=torch.float64)
    y = 1.7 * x @ rotation_z(40.0).T + torch.tensor([0.3, -2.0, 5.0], dtype=torch.float64)
    scale, rot, trans = M.similarity_transform(x, y)
    assert scale.item() == pytest.approx(1.7, abs=1e-12)
    assert torch.allclose(rot[0], rotation_z(40.0), atol=1e-12)
    assert torch.allclose(trans[0], torch.tensor([0.3, -2.0, 5.0], dtype=torch.float64), atol=1e-12)
    assert M.pa_mpjpe(x, y).item() == pytest.approx(0.0, abs=1e-12)
    assert M.mpjpe(x, y).item() > 1.0


def test_mirror_image_is_not_aligned_by_a_reflection():
    # Axes of lengths a > b > c, target mirrored in x. The best *rotation* flips x and the smallest axis z:
    # R = diag(-1, 1, -1), s = (a2 + b2 - c2) / (a2 + b2 + c2) = 12/14, and the mean error is
    # [2(1-s)a + 2(1-s)b + 2(1+s)c] / 6 = 6/7 for (a, b, c) = (3, 2, 1). A reflection would give 0.
    a, b, c = 3.0, 2.0, 1.0
    x = torch.tensor([[[a, 0, 0], [-a, 0, 0], [0, b, 0], [0, -b, 0], [0, 0, c], [0, 0, -c]]], dtype=torch.float64)
    y = x * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    scale, rot, _ = M.similarity_transform(x, y)
    assert torch.linalg.det(rot).item() == pytest.approx(1.0)
    assert torch.allclose(rot[0], torch.diag(torch.tensor([-1.0, 1.0, -1.0], dtype=torch.float64)), atol=1e-12)
    assert scale.item() == pytest.approx(12 / 14)
    assert M.pa_mpjpe(x, y).item() == pytest.approx(6 / 7)


def test_float32_inputs_keep_their_dtype_and_precision():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(8, 17, 3, generator=gen)
    rot = random_rotation(gen, 8).float()
    y = 0.9 * x @ rot.transpose(1, 2) + 0.1
    pa = M.pa_mpjpe(x, y)
    assert pa.dtype == torch.float32
    assert pa.abs().max() < 1e-5


def test_degenerate_source_gives_finite_error():
    x = torch.zeros(1, 6, 3)
    y = torch.randn(1, 6, 3)
    out = M.pa_mpjpe(x, y)
    assert torch.isfinite(out).all()
    # Scale 0 maps everything onto the target centroid.
    assert out.item() == pytest.approx(M.mpjpe(y.mean(1, keepdim=True).expand_as(y), y).item(), rel=1e-5)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="mpjpe"):
        M.mpjpe(torch.zeros(1, 5, 3), torch.zeros(1, 4, 3))


# ------------------------------------------------------------------ joint layouts and root
def test_label44_layout_and_roots():
    joints45 = torch.arange(45 * 3, dtype=torch.float32).reshape(1, 45, 3)
    j19 = -torch.arange(19 * 3, dtype=torch.float32).reshape(1, 19, 3)
    label = M.label44_joints(joints45, j19)
    assert torch.equal(label[:, :25], joints45[:, list(SMPLX45_TO_BODY25)])
    assert torch.equal(label[:, 25:], j19)
    assert torch.equal(M.root_joint(label, joints45, has_j19=True), j19[:, LABEL44_PELVIS - 25])
    no_j19 = M.label44_joints(joints45)
    assert torch.isnan(no_j19[:, 25:]).all()
    # Non-paper fallback: the SMPL pelvis (smplx joint 0).
    assert torch.equal(M.root_joint(no_j19, joints45, has_j19=False), joints45[:, 0])


# ------------------------------------------------------------------ PCK, by hand
def test_pck_with_known_offsets():
    # One keypoint in 4 samples; the box is 100 px (scale 0.5), offsets 0.5, 3, 7 and 20 px.
    gt = torch.zeros(4, 1, 3)
    gt[..., 2] = 1.0
    pred = torch.tensor([[[0.5, 0.0]], [[0.0, 3.0]], [[7.0, 0.0]], [[12.0, 16.0]]])
    correct, valid = M.pck_hits(pred, gt, torch.full((4,), 100.0), thresholds=(0.01, 0.05, 0.1))
    assert valid.all()
    per_kp, avg = M.pck_from_counts(correct.sum(1), valid.sum(0))
    assert avg.tolist() == [0.25, 0.5, 0.75]
    assert per_kp[:, 0].tolist() == [0.25, 0.5, 0.75]


def test_pck_ignores_low_confidence_and_zero_boxes():
    gt = torch.zeros(3, 2, 3)
    gt[:, :, 2] = torch.tensor([[0.9, 0.5], [0.51, 0.9], [1.0, 1.0]])  # 0.5 itself does not count
    pred = torch.zeros(3, 2, 2)
    pred[1, 0] = 50.0  # wrong
    normalizer = torch.tensor([100.0, 100.0, 0.0])  # a zero box drops the sample (authors' _calc_distances)
    correct, valid = M.pck_hits(pred, gt, normalizer, thresholds=(0.05,))
    assert valid.tolist() == [[True, False], [True, True], [False, False]]
    per_kp, avg = M.pck_from_counts(correct.sum(1), valid.sum(0))
    assert per_kp[0].tolist() == [0.5, 1.0]
    assert avg.item() == pytest.approx(0.75)


def test_pck_threshold_is_strict_and_nan_predictions_are_wrong():
    gt = torch.zeros(2, 1, 3, dtype=torch.float64)
    gt[..., 2] = 1
    pred = torch.tensor([[[4.0, 0.0]], [[float("nan"), 0.0]]], dtype=torch.float64)
    correct, valid = M.pck_hits(pred, gt, torch.tensor([100.0, 100.0], dtype=torch.float64), thresholds=(0.04, 0.05))
    assert valid.all()
    assert correct[:, :, 0].tolist() == [[False, False], [True, False]]


def test_pck_with_no_counted_keypoint_is_nan():
    per_kp, avg = M.pck_from_counts(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(3, dtype=torch.int64))
    assert torch.isnan(per_kp).all() and torch.isnan(avg).all()


def test_crop_frame_round_trip():
    pts = torch.randn(2, 5, 2, dtype=torch.float64) * 100
    center = torch.tensor([[320.0, 240.0], [10.0, 20.0]], dtype=torch.float64)
    size = torch.tensor([200.0, 50.0], dtype=torch.float64)
    back = M.crop_to_full_image(M.full_image_to_crop(pts, center, size), center, size)
    assert torch.allclose(back, pts)


def test_keypoint_l2_by_hand():
    gt = torch.tensor([[[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]])
    pred = torch.tensor([[[0.3, 0.4], [5.0, 5.0]]])
    # (1 * 0.25 + 0 * 50) / 2
    assert M.keypoint_l2(pred, gt).item() == pytest.approx(0.125)


def test_hand_points_are_wrists_then_fingertips():
    label = torch.arange(44 * 3, dtype=torch.float32).reshape(1, 44, 3)
    tips = -torch.ones(1, 10, 3)
    hand = M.hand_keypoints(label, tips)
    assert torch.equal(hand[:, 0], label[:, 4]) and torch.equal(hand[:, 1], label[:, 7])
    assert torch.equal(hand[:, 2:], tips)


# ------------------------------------------------------------------ angle bias
def test_angle_bias_by_hand():
    pred = torch.eye(3).repeat(2, 24, 1, 1)
    gt = pred.clone()
    gt[0, 18] = rotation_z(30.0).float()
    gt[0, 20] = rotation_z(-90.0).float()
    gt[1, 5] = rotation_z(45.0).float()  # not an angle-bias joint
    bias = M.angle_bias(pred, gt)
    assert bias[0].item() == pytest.approx((30 + 90) / 4, abs=1e-4)
    assert bias[1].item() == 0.0


def test_angle_bias_never_nan():
    # Rounding can push (trace - 1) / 2 just above 1; acos would give NaN without the clamp.
    pred = torch.eye(3).repeat(1, 24, 1, 1) * (1 + 1e-6)
    gt = torch.eye(3).repeat(1, 24, 1, 1)
    assert ((pred.transpose(-1, -2) @ gt).diagonal(dim1=-2, dim2=-1).sum(-1) > 3).all()
    assert M.angle_bias(pred, gt).item() == 0.0
    # Opposite rotations (180 degrees) may push it below -1.
    flip = torch.diag(torch.tensor([-1.0, -1.0, 1.0])) * (1 + 1e-6)
    assert M.angle_bias(torch.eye(3).repeat(1, 24, 1, 1), flip.repeat(1, 24, 1, 1)).item() == pytest.approx(180.0)


def test_smpl_rotmats_from_axis_angle_and_matrices_agree():
    gen = torch.Generator().manual_seed(1)
    aa = torch.randn(2, 72, generator=gen) * 0.5
    from_aa = M.smpl_rotmats(aa[:, :3], aa[:, 3:])
    assert from_aa.shape == (2, 24, 3, 3)
    again = M.smpl_rotmats(from_aa[:, :1], from_aa[:, 1:])
    assert torch.equal(again, from_aa)
    assert torch.allclose(from_aa @ from_aa.transpose(-1, -2), torch.eye(3).expand(2, 24, 3, 3), atol=1e-5)


# ------------------------------------------------------------------ properties
points = st.integers(min_value=4, max_value=20)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


@settings(max_examples=40, deadline=None)
@given(n=points, seed=seeds, scale=st.floats(min_value=0.05, max_value=20.0))
def test_pa_mpjpe_is_invariant_to_a_similarity_of_the_prediction(n, seed, scale):
    gen = torch.Generator().manual_seed(seed)
    pred = torch.randn(3, n, 3, generator=gen, dtype=torch.float64)
    gt = torch.randn(3, n, 3, generator=gen, dtype=torch.float64)
    rot = random_rotation(gen, 3)
    moved = scale * pred @ rot.transpose(1, 2) + torch.randn(3, 1, 3, generator=gen, dtype=torch.float64)
    assert torch.allclose(M.pa_mpjpe(moved, gt), M.pa_mpjpe(pred, gt), atol=1e-9, rtol=1e-7)


@settings(max_examples=40, deadline=None)
@given(n=points, seed=seeds)
def test_pa_mpjpe_never_exceeds_the_unaligned_error_and_rotation_is_proper(n, seed):
    gen = torch.Generator().manual_seed(seed)
    pred = torch.randn(4, n, 3, generator=gen, dtype=torch.float64)
    gt = torch.randn(4, n, 3, generator=gen, dtype=torch.float64)
    # The fit minimises squared error; for the mean *distance* it is still no worse than identity up to
    # the RMS/mean gap, so compare the RMS error, which the fit does minimise.
    aligned = M.procrustes_align(pred, gt)
    rms_aligned = ((aligned - gt) ** 2).sum(-1).mean(-1)
    rms_raw = ((pred - gt) ** 2).sum(-1).mean(-1)
    assert (rms_aligned <= rms_raw + 1e-9).all()
    _, rot, _ = M.similarity_transform(pred, gt)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(4, dtype=torch.float64), atol=1e-9)
    # Optimality: no random rotation of the fitted result does better.
    other = random_rotation(gen, 4)
    centred = aligned - aligned.mean(1, keepdim=True)
    perturbed = centred @ other.transpose(1, 2) + aligned.mean(1, keepdim=True)
    assert (rms_aligned <= ((perturbed - gt) ** 2).sum(-1).mean(-1) + 1e-9).all()


@settings(max_examples=30, deadline=None)
@given(seed=seeds, k=st.integers(min_value=1, max_value=12), b=st.integers(min_value=1, max_value=10))
def test_pck_is_monotone_in_the_threshold_and_bounded(seed, k, b):
    gen = torch.Generator().manual_seed(seed)
    gt = torch.rand(b, k, 3, generator=gen, dtype=torch.float64) * 100
    gt[..., 2] = torch.rand(b, k, generator=gen, dtype=torch.float64)
    pred = gt[..., :2] + torch.randn(b, k, 2, generator=gen, dtype=torch.float64) * 5
    correct, valid = M.pck_hits(pred, gt, torch.full((b,), 80.0, dtype=torch.float64), thresholds=(0.01, 0.05, 0.1))
    assert not (correct & ~valid[None]).any()
    _, avg = M.pck_from_counts(correct.sum(1), valid.sum(0))
    finite = avg[~torch.isnan(avg)]
    assert ((finite >= 0) & (finite <= 1)).all()
    assert (np.diff(finite.numpy()) >= 0).all()


def test_pck_equals_the_authors_crop_frame_formulation():
    """The authors compute PCK on crop-normalised keypoints (``(px - centre) / box_size``, box_size = the
    aspect-expanded crop side) rescaled by ``box_size / (scale * 200)``, with a normaliser of 1, per keypoint
    over the split and averaged over keypoints. In pixels that is distance / (scale * 200): same numbers."""
    rng = np.random.default_rng(0)
    n, k = 40, 17
    scale = rng.uniform(0.5, 2.0, n)
    box = scale * 200
    crop_side = box * 256 / 192  # HMR2: square box grown to 192:256, then the longer side
    centre = rng.uniform(100, 500, (n, 2))
    gt = np.concatenate([centre[:, None] + rng.normal(0, 40, (n, k, 2)), rng.uniform(0, 1, (n, k, 1))], axis=-1)
    pred = gt[..., :2] + rng.normal(0, 6, (n, k, 2))

    # Authors' formulation, written out in numpy.
    expand = crop_side / box
    gt_n = (gt[..., :2] - centre[:, None]) / crop_side[:, None, None] * expand[:, None, None]
    pred_n = (pred - centre[:, None]) / crop_side[:, None, None] * expand[:, None, None]
    mask = gt[..., 2] > 0.5
    dist = np.linalg.norm(pred_n - gt_n, axis=-1)
    for thr in (0.01, 0.05, 0.1):
        acc = [(dist[mask[:, j], j] < thr).mean() for j in range(k) if mask[:, j].any()]
        correct, valid = M.pck_hits(torch.tensor(pred), torch.tensor(gt), torch.tensor(box), thresholds=(thr,))
        _, avg = M.pck_from_counts(correct.sum(1), valid.sum(0))
        assert avg.item() == pytest.approx(float(np.mean(acc)), abs=1e-12)
