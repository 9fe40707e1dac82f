"""Training augmentations: exact flips, hand-checked extreme crops, and geometric consistency with SMPL."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hardmo_hf.constants import (
    FINGERTIP_FLIP_PERMUTATION,
    LABEL44_FLIP_PERMUTATION,
    SMPL_FLIP_PERMUTATION,
    WHOLEBODY33_FLIP_PERMUTATION,
)
from hardmo_hf.models.geometry_hardmo import axis_angle_to_rotmat, rotmat_to_axis_angle
from hardmo_hf.training import augment as A

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False, width=32)


def arrays(shape):
    return hnp.arrays(np.float32, shape, elements=finite)


@settings(max_examples=60, deadline=None)
@given(kp=arrays((44, 3)), hand=arrays((10, 3)), wb=arrays((33, 3)), kp3d=arrays((44, 4)),
       go=arrays((3,)), bp=arrays((69,)), betas=arrays((10,)))
def test_flipping_twice_returns_the_example_exactly(kp, hand, wb, kp3d, go, bp, betas):
    labels = {"keypoints_2d": kp, "hand_keypoints_2d": hand, "wholebody33_2d": wb, "keypoints_3d": kp3d,
              "global_orient": go, "body_pose": bp, "betas": betas, "has_smpl": True, "sample_id": "a/b/000001_0"}
    twice = A.flip_labels(A.flip_labels(labels))
    assert twice.keys() == labels.keys()
    for key, value in labels.items():
        if isinstance(value, np.ndarray):
            assert twice[key].dtype == value.dtype
            np.testing.assert_array_equal(twice[key], value, err_msg=key)
        else:
            assert twice[key] == value


def test_permutations_are_involutions_and_the_crop_mirror_is_its_own_inverse():
    for perm in (LABEL44_FLIP_PERMUTATION, FINGERTIP_FLIP_PERMUTATION, SMPL_FLIP_PERMUTATION,
                 WHOLEBODY33_FLIP_PERMUTATION):
        perm = np.asarray(perm)
        assert sorted(perm) == list(range(len(perm)))
        np.testing.assert_array_equal(perm[perm], np.arange(len(perm)))
    m = A.mirror_matrix(256)
    np.testing.assert_array_equal(m @ m, np.eye(3))


def test_flip_labels_by_hand():
    kp = np.zeros((44, 3), np.float32)
    kp[4] = [0.25, 0.125, 1.0]  # right wrist -> becomes the left wrist (row 7), mirrored
    hand = np.zeros((10, 3), np.float32)
    hand[0] = [-0.25, 0.5, 0.75]  # left thumb -> right thumb (row 5)
    go = np.array([0.5, 0.25, 0.125], np.float32)
    bp = np.zeros(69, np.float32)
    bp[0:3] = [0.5, 1.5, 2.5]  # left hip (joint 1) -> right hip (joint 2)
    out = A.flip_labels({"keypoints_2d": kp, "hand_keypoints_2d": hand, "global_orient": go, "body_pose": bp})
    np.testing.assert_array_equal(out["keypoints_2d"][7], [-0.25, 0.125, 1.0])
    np.testing.assert_array_equal(out["hand_keypoints_2d"][5], [0.25, 0.5, 0.75])
    np.testing.assert_array_equal(out["global_orient"], [0.5, -0.25, -0.125])
    np.testing.assert_array_equal(out["body_pose"][3:6], [0.5, -1.5, -2.5])
    np.testing.assert_array_equal(out["body_pose"][0:3], [0.0, -0.0, -0.0])


# ------------------------------------------------------------------ extreme crop
def body25_keypoints():
    kp = np.zeros((44, 3))
    for i in range(25):
        kp[i] = [10.0 * i, 5.0 * i, 1.0]
    return kp


def test_extreme_crop_to_hips_by_hand():
    # Full body visible; level 1 and a draw of 0.1 pick "hips": knees, ankles and feet are dropped, so rows
    # 0-9, 12, 15-18 remain: x in [0, 180], y in [0, 90]. Side = 1.1 * 1.2 * 180, centre (90, 45).
    center, side, part = A.extreme_crop_box(np.array([100.0, 100.0]), 300.0, body25_keypoints(), 0.1, level=1)
    assert part == "hips"
    np.testing.assert_allclose(center, [90.0, 45.0])
    assert side == pytest.approx(1.1 * 1.2 * 180.0)
    # Level 0 with the same draw also picks the hips; 0.95 picks the head (factor 1.3): rows 0, 1, 2, 5, 15-18
    # remain -> x in [0, 180], side 1.3 * 1.2 * 180.
    _, side, part = A.extreme_crop_box(np.array([100.0, 100.0]), 300.0, body25_keypoints(), 0.95, level=0)
    assert part == "head" and side == pytest.approx(1.3 * 1.2 * 180.0)


def test_extreme_crop_upper_body_and_unknown_visibility():
    kp = body25_keypoints()
    kp[[8, 9, 10, 11, 12, 13, 14] + list(range(19, 25)), 2] = 0.0  # nothing below the waist
    _, _, part = A.extreme_crop_box(np.array([0.0, 0.0]), 300.0, kp, 0.5, level=1)
    assert part == "torso"
    kp[:, 2] = 0.0
    kp[0, 2] = 1.0  # a single keypoint: neither full- nor upper-body
    center, side, part = A.extreme_crop_box(np.array([5.0, 6.0]), 300.0, kp, 0.5, level=1)
    assert part is None and side == 300.0 and tuple(center) == (5.0, 6.0)


# ------------------------------------------------------------------ crop geometry
def test_identity_crop_copies_pixels_and_keypoints_land_in_the_crop_frame():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    center = np.array([80.0, 60.0])  # centre - 32 is an integer pixel: the crop is a plain copy
    kp = np.zeros((44, 3), np.float32)
    kp[0] = [80.0, 60.0, 1.0]
    kp[1] = [48.0, 28.0, 0.7]
    pixels, out = A.augment_example(image, center, 64.0, 64, {"keypoints_2d": kp}, A.AugmentationParams())
    np.testing.assert_array_equal(pixels.transpose(1, 2, 0), image[28:92, 48:112].astype(np.float32))
    np.testing.assert_allclose(out["keypoints_2d"][0], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(out["keypoints_2d"][1], [-0.5, -0.5, 0.7])


def test_crop_outside_the_image_is_zero_and_colour_gain_clips():
    image = np.full((10, 10, 3), 200, np.uint8)
    params = A.AugmentationParams(color=(1.2, 1.0, 0.5))
    pixels, _ = A.augment_example(image, np.array([0.0, 0.0]), 20.0, 20, {}, params)
    assert pixels.shape == (3, 20, 20)
    assert (pixels[:, :10, :] == 0).all()  # above the image
    np.testing.assert_allclose(pixels[:, 15, 15], [240.0, 200.0, 100.0], rtol=1e-6)
    params = A.AugmentationParams(color=(1.5, 1.0, 1.0))
    pixels, _ = A.augment_example(image, np.array([5.0, 5.0]), 8.0, 8, {}, params)
    assert pixels[0].max() == 255.0


def test_flipped_crop_is_the_mirror_of_the_unflipped_crop():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(50, 70, 3), dtype=np.uint8)
    kp = np.concatenate([rng.uniform(0, 60, (44, 2)), np.ones((44, 1))], axis=1).astype(np.float32)
    base = A.AugmentationParams(rotation=17.0, scale=1.1, tx=0.01)
    flipped = A.AugmentationParams(rotation=17.0, scale=1.1, tx=0.01, flip=True)
    p0, l0 = A.augment_example(image, np.array([35.0, 25.0]), 40.0, 32, {"keypoints_2d": kp}, base)
    p1, l1 = A.augment_example(image, np.array([35.0, 25.0]), 40.0, 32, {"keypoints_2d": kp}, flipped)
    np.testing.assert_array_equal(l1["keypoints_2d"], A.flip_labels(l0)["keypoints_2d"])
    # Crop pixel j of the flipped crop samples the unflipped crop's position S - j: columns 1..S-1 mirror.
    np.testing.assert_allclose(p1[:, :, 1:], p0[:, :, 1:][:, :, ::-1], atol=1e-3)


@settings(max_examples=50, deadline=None)
@given(aa=hnp.arrays(np.float64, (3,), elements=st.floats(-3.0, 3.0)), rot=st.floats(-60.0, 60.0))
def test_rotating_the_crop_turns_the_body_about_the_camera_axis(aa, rot):
    g = axis_angle_to_rotmat(torch.tensor(aa))
    turned = axis_angle_to_rotmat(torch.tensor(A.rotate_global_orient(aa, rot)))
    np.testing.assert_allclose(turned.numpy(), A.rotation_z(-rot) @ g.numpy(), atol=1e-9)


def test_sampled_parameters_follow_the_authors_distributions():
    rng = np.random.default_rng(0)
    draws = [A.sample_params(A.AugmentationConfig(), rng) for _ in range(4000)]
    scale = np.array([d.scale for d in draws])
    rot = np.array([d.rotation for d in draws])
    assert scale.min() >= 0.7 and scale.max() <= 1.3
    assert np.abs(rot).max() <= 60.0
    assert 0.36 < np.mean(rot == 0.0) < 0.44  # rotation applied with rate 0.6
    assert 0.47 < np.mean([d.flip for d in draws]) < 0.53
    assert 0.085 < np.mean([d.extreme_crop for d in draws]) < 0.115
    colors = np.array([d.color for d in draws])
    assert colors.min() >= 0.8 and colors.max() <= 1.2
    assert max(abs(d.tx) for d in draws) <= 0.02
    none = A.sample_params(A.NO_AUGMENTATION, rng)
    assert (none.scale, none.rotation, none.flip, none.extreme_crop, none.color, none.tx) == (
        1.0, 0.0, False, False, (1.0, 1.0, 1.0), 0.0)


# ------------------------------------------------------------------ consistency with the SMPL body
def test_augmented_2d_keypoints_match_the_augmented_smpl_body(synthetic_smpl_dir):
    """Rotate and flip the crop: the 2D labels must equal the projection of the SMPL body built from the
    augmented pose (orthographic camera, compared up to translation since SMPL rotates about its pelvis)."""
    from hardmo_hf.evaluation.body import load_j19_regressor
    from hardmo_hf.models.body_model_hardmo import SMPLBodyModel

    body = SMPLBodyModel(synthetic_smpl_dir, j19_regressor=load_j19_regressor(synthetic_smpl_dir / "SMPL_to_J19.pkl"))
    rng = np.random.default_rng(3)
    # Upright in the camera frame (y down): 180 degrees about x, plus a small random tilt.
    tilt = axis_angle_to_rotmat(torch.tensor(rng.normal(0, 0.2, 3)))
    go = rotmat_to_axis_angle(tilt @ torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))).numpy()
    bp = rng.normal(0, 0.3, 69)

    def joints(global_orient, body_pose):
        out = body(torch.tensor(global_orient, dtype=torch.float32)[None],
                   torch.tensor(body_pose, dtype=torch.float32)[None], torch.zeros(1, 10), pose2rot=True)
        return out.keypoints44[0].double().numpy()

    center, box, crop, px_per_m = np.array([300.0, 200.0]), 400.0, 128, 200.0
    j = joints(go, bp)
    kp = np.concatenate([center + px_per_m * j[:, :2], np.ones((44, 1))], axis=1)
    image = np.zeros((400, 600, 3), np.uint8)
    for flip in (False, True):
        params = A.AugmentationParams(rotation=25.0, flip=flip)
        _, out = A.augment_example(image, center, box, crop, {"keypoints_2d": kp, "global_orient": go,
                                                             "body_pose": bp}, params)
        j_aug = joints(out["global_orient"], out["body_pose"])
        expected = j_aug[:, :2] * px_per_m / box
        got = out["keypoints_2d"][:, :2].astype(np.float64)
        # Without a flip the match is exact up to float32; mirrored, the synthetic body's random pose blend
        # shapes (not left/right symmetric) move vertex-based joints (eyes, ears, toes) by < 0.3 px.
        atol = 1e-3 if flip else 1e-5
        np.testing.assert_allclose(got - got.mean(0), expected - expected.mean(0), atol=atol)
