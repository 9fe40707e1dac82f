"""The paper's filters: thresholds, few keypoints, |beta| > 3, the joint-limit pose rule, accounting."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardmo_hf.data.filters import (
    FilterConfig,
    RecordFilter,
    filter_record,
    pose_is_plausible,
    pose_violations,
)
from hardmo_hf.data.record import PersonRecord, Reject


def _record(**overrides) -> PersonRecord:
    keypoints = np.zeros((44, 3), np.float32)
    keypoints[:10, :2] = 10.0
    keypoints[:10, 2] = 0.9
    fields = {
        "category": "jazz", "clip_id": "0001", "frame_index": 3, "person_id": 1, "subject_id": "s1",
        "image_bytes": b"", "image_width": 10, "image_height": 10, "image_format": "jpeg",
        "center": np.zeros(2, np.float32), "scale": 1.0, "keypoints_2d": keypoints,
        "hand_keypoints_2d": np.full((10, 3), 0.9, np.float32), "global_orient": np.zeros(3, np.float32),
        "body_pose": np.zeros(69, np.float32), "betas": np.zeros(10, np.float32),
        "has_body_pose": True, "has_betas": True, "source": "normal/jazz/0001/000003_1.pyd",
    }
    fields.update(overrides)
    return PersonRecord(**fields)


def _pose(**joints) -> np.ndarray:
    """A body pose (69,) with the given joints (by SMPL index 1..23) set to rotation vectors in degrees."""
    pose = np.zeros((23, 3))
    for name, vector in joints.items():
        pose[int(name[1:]) - 1] = np.radians(vector)
    return pose.reshape(-1)


def test_confidence_threshold_paper_vs_code():
    keypoints = _record().keypoints_2d.copy()
    keypoints[:3, 2] = [0.4, 0.29, 0.5]
    record = _record(keypoints_2d=keypoints)
    paper, outcomes = filter_record(record, FilterConfig.paper())
    code, _ = filter_record(record, FilterConfig.authors_code())
    assert list(paper.keypoints_2d[:3, 2]) == [0.0, 0.0, 0.5]
    assert list(code.keypoints_2d[:3, 2]) == pytest.approx([0.4, 0.0, 0.5])
    assert np.array_equal(paper.keypoints_2d[:, :2], keypoints[:, :2])  # positions are kept
    assert "keypoints_suppressed" in outcomes
    assert record.keypoints_2d[0, 2] == pytest.approx(0.4)  # the input record is not modified


@pytest.mark.parametrize("confident, kept", [(4, False), (5, True)])
def test_more_than_four_keypoints_are_needed(confident, kept):
    keypoints = np.zeros((44, 3), np.float32)
    keypoints[:confident, 2] = 0.9
    keypoints[confident:confident + 3, 2] = 0.2  # suppressed by the 0.5 threshold
    result, _ = filter_record(_record(keypoints_2d=keypoints))
    assert isinstance(result, PersonRecord) == kept
    if not kept:
        assert result.reason == "few_keypoints" and result.sample_id == "jazz/0001/000003_1"


def test_large_betas_invalidate_betas_and_pose_together():
    result, outcomes = filter_record(_record(betas=np.array([0, 0, -3.5] + [0] * 7, np.float32)))
    assert isinstance(result, PersonRecord)
    assert not result.has_betas and not result.has_body_pose
    assert outcomes == ["betas_out_of_range", "pose_betas_not_simultaneous"]
    result, _ = filter_record(_record(betas=np.full(10, 3.0, np.float32)))  # |beta| == 3 is fine
    assert result.has_betas


def test_missing_pose_clears_betas():
    result, outcomes = filter_record(_record(has_body_pose=False))
    assert not result.has_betas and outcomes == ["pose_betas_not_simultaneous"]


def test_implausible_pose_is_marked_or_rejected():
    record = _record(body_pose=_pose(j4=(-60, 0, 0)))  # left knee bent forwards
    marked, outcomes = filter_record(record)
    assert isinstance(marked, PersonRecord) and not marked.has_body_pose and not marked.has_betas
    assert outcomes[0] == "implausible_pose"
    rejected, _ = filter_record(record, FilterConfig(invalid_smpl="reject"))
    assert isinstance(rejected, Reject) and rejected.reason == "implausible_pose" and "left_knee" in rejected.detail
    unchecked, _ = filter_record(record, FilterConfig(check_pose=False))
    assert unchecked.has_body_pose


@pytest.mark.parametrize("joints, plausible", [
    ({}, True),
    ({"j4": (120, 10, 5), "j5": (90, 0, 0)}, True),  # deep knee bends
    ({"j1": (-150, 0, 20), "j2": (0, 0, 90)}, True),  # high kick, side split
    ({"j18": (0, -140, 0), "j19": (60, 100, 20)}, True),  # elbows flexed (and twisted)
    ({"j16": (0, 0, -170)}, True),  # shoulders are unlimited
    ({"j4": (-40, 0, 0)}, False),  # knee hyperextended
    ({"j5": (60, 70, 0)}, False),  # knee bent sideways
    ({"j18": (0, 60, 0)}, False),  # left elbow bent backwards
    ({"j19": (0, 90, 80)}, False),  # right elbow bent sideways
    ({"j3": (0, 170, 0)}, False),  # spine twisted half a turn
    ({"j15": (0, 0, 120)}, False),  # head
    ({"j20": (0, 0, 150)}, False),  # wrist
])
def test_pose_rule(joints, plausible):
    assert pose_is_plausible(_pose(**joints)) == plausible, pose_violations(_pose(**joints))


def test_pose_rule_wraps_axis_angle():
    """A 360-degree-plus turn is the same rotation as the small one."""
    small = _pose(j4=(30, 0, 0))
    assert pose_is_plausible(small)
    assert pose_is_plausible(_pose(j4=(30 + 360, 0, 0)))
    assert not pose_is_plausible(_pose(j4=(-30 - 360, 0, 0)))


def test_quick_pose_check_never_passes_an_implausible_pose():
    """filter_block trusts _surely_plausible_rows and skips the exact rule: it must never pass a violating pose,
    at random (most poses violate at scale 1) or at the limits (exactly on them, and a hair inside/outside)."""
    from hardmo_hf.constants import SMPL_BODY_JOINT_MAX_ROTATION_DEG, SMPL_HINGE_JOINT_LIMITS
    from hardmo_hf.data.filters import _surely_plausible_rows

    rng = np.random.default_rng(0)
    poses = [rng.normal(0, scale, 69) for scale in (0.2, 0.4, 0.7, 1.0) for _ in range(500)]
    for joint, limit in enumerate(SMPL_BODY_JOINT_MAX_ROTATION_DEG, start=1):
        for factor in (1 - 1e-9, 1.0, 1 + 1e-9):
            poses.append(_pose(**{f"j{joint}": (limit * factor / np.sqrt(2), 0, limit * factor / np.sqrt(2))}))
    for joint, (axis, sign, low, high, others, off_limit) in SMPL_HINGE_JOINT_LIMITS.items():
        for value in (low, high):
            for factor in (1 - 1e-9, 1.0, 1 + 1e-9):
                vector = np.zeros(3)
                vector[axis] = sign * value * factor
                poses.append(_pose(**{f"j{joint}": tuple(vector)}))
        vector = np.zeros(3)
        vector[list(others)] = off_limit / np.sqrt(len(others))
        poses.append(_pose(**{f"j{joint}": tuple(vector)}))
    sure = _surely_plausible_rows(np.array(poses)).tolist()
    assert all(pose_is_plausible(pose) for pose, ok in zip(poses, sure) if ok)
    assert 300 < sum(sure) < len(poses)  # the quick check passes typical poses


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_generated_sample_poses_are_plausible(seed):
    from hardmo_hf.data.sample import _smpl_pose

    pose = _smpl_pose(np.random.default_rng(seed), 0.1)
    assert pose_is_plausible(pose[3:]), pose_violations(pose[3:])


def test_record_filter_counts_every_outcome(sample_records):
    flt = RecordFilter(FilterConfig.paper())
    results = [flt(record) for record in sample_records]
    assert flt.counts["kept"] + flt.counts["rejected"] == len(sample_records)
    assert sum(isinstance(r, Reject) for r in results) == flt.counts["rejected"] == 1
    assert flt.counts["few_keypoints"] == 1
    assert flt.counts["betas_out_of_range"] == 1 and flt.counts["implausible_pose"] == 1
    assert flt.counts["pose_betas_not_simultaneous"] == 2
    code = RecordFilter(FilterConfig.authors_code())
    for record in sample_records:
        code(record)
    assert code.counts["keypoints_suppressed"] < flt.counts["keypoints_suppressed"]


def test_config_validation():
    with pytest.raises(ValueError):
        FilterConfig(confidence_threshold=1.5)
    with pytest.raises(ValueError):
        FilterConfig(invalid_smpl="drop")
    assert dataclasses.asdict(FilterConfig.authors_code())["confidence_threshold"] == 0.3


def test_a_block_is_filtered_as_its_records_one_by_one():
    """filter_block on many records at once: the same rejects, flags, confidences and counts as one by one."""
    from hardmo_hf.data.block import RecordBlock
    from hardmo_hf.data.filters import filter_block

    rng = np.random.default_rng(3)
    records = []
    for i in range(60):
        keypoints = _record().keypoints_2d.copy()
        keypoints[:, 2] = np.where(rng.random(44) < 0.3, rng.uniform(0, 0.6, 44), keypoints[:, 2])
        keypoints[rng.random(44) < [0.9 if i % 7 == 0 else 0.0], 2] = 0.0  # some with too few keypoints
        pose = rng.normal(0, 0.6 if i % 3 == 0 else 0.1, 69).astype(np.float32)
        records.append(_record(frame_index=i, keypoints_2d=keypoints, body_pose=pose,
                               betas=rng.normal(0, 1.5, 10).astype(np.float32), has_betas=bool(i % 5),
                               hand_keypoints_2d=rng.uniform(0, 1, (10, 3)).astype(np.float32)))
    for config in (FilterConfig.paper(), FilterConfig.authors_code(), FilterConfig(invalid_smpl="reject")):
        block, _ = RecordBlock.from_records(records)
        kept, kept_rows, rejects, counts = filter_block(block, config)
        one_by_one = [filter_record(record, config) for record in records]
        assert dict(rejects) == {i: r for i, (r, _) in enumerate(one_by_one) if isinstance(r, Reject)}
        assert kept_rows.tolist() == [i for i, (r, _) in enumerate(one_by_one) if not isinstance(r, Reject)]
        for row, i in enumerate(kept_rows.tolist()):
            record = one_by_one[i][0]
            np.testing.assert_array_equal(kept.columns["keypoints_2d"][row], record.keypoints_2d)
            np.testing.assert_array_equal(kept.columns["hand_keypoints_2d"][row], record.hand_keypoints_2d)
            assert (kept.columns["has_body_pose"][row], kept.columns["has_betas"][row]) == \
                (record.has_body_pose, record.has_betas)
        expected = {}
        for _, outcomes in one_by_one:
            for outcome in outcomes:
                expected[outcome] = expected.get(outcome, 0) + 1
        assert dict(counts) == expected
        assert 0 < len(rejects) < len(records)
