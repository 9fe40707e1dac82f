"""The label-tree reader: the sample pipeline output, shape quirks, and every bad record -> a reject."""

from __future__ import annotations

import json
import pickle
from collections import Counter

import numpy as np
import pytest

from hardmo_hf.constants import P2_CLASSES
from hardmo_hf.data.readers import label_tree
from hardmo_hf.data.record import PersonRecord, Reject
from hardmo_hf.data.sample import MALICIOUS_PICKLE

from .helpers import image_bytes, person_label, split, write_frame, write_pickle


# ----------------------------------------------------------------------------------------------------
# The sample pipeline output
# ----------------------------------------------------------------------------------------------------
def test_sample_accounting_matches_the_generator(sample_pipeline_output, sample_items):
    _, summary = sample_pipeline_output
    items = [item for unit_items in sample_items.values() for item in unit_items]
    records, rejects = split(items)
    assert Counter(r.subset for r in records) == Counter(summary.expected_records)
    assert Counter(r.reason for r in rejects) == Counter(summary.expected_rejects)
    assert len(records) + len(rejects) == summary.input_records
    assert {(r.source, r.reason) for r in rejects} == {(b["path"], b["reason"]) for b in summary.bad_records}
    for reject in rejects:
        assert reject.detail, reject


def test_units_are_sorted_stable_and_cover_every_clip(sample_pipeline_output):
    root, summary = sample_pipeline_output
    units = label_tree.list_units(root)
    assert units == sorted(units) == label_tree.list_units(root)
    normal = [u for u in units if u.startswith("normal/")]
    assert len(normal) == summary.num_clips
    assert {u.split("/")[1] for u in normal} >= set(P2_CLASSES)
    assert label_tree.list_units(root, subsets=["foot"]) == [u for u in units if u.startswith("foot/")]


def test_records_are_complete_and_typed(sample_pipeline_output, sample_items):
    root, _ = sample_pipeline_output
    subjects = json.loads((root / "subjects.json").read_text())
    for unit, items in sample_items.items():
        subset = unit.split("/")[0]
        for record in items:
            if isinstance(record, Reject):
                continue
            assert isinstance(record, PersonRecord) and record.subset == subset
            assert record.source_format == "label_tree"
            assert record.keypoints_2d.shape == (44, 3) and record.keypoints_2d.dtype == np.float32
            assert record.hand_keypoints_2d.shape == (10, 3)
            assert record.wholebody_133.shape == (133, 3)
            assert record.center.shape == (2,) and record.betas.shape == (10,)
            assert record.global_orient.shape == (3,) and record.body_pose.shape == (69,)
            assert record.subject_id == subjects[f"{record.category}/{record.clip_id}"]
            image = root / "normal" / record.category / record.clip_id
            stem = f"{record.frame_index:06d}"
            files = [p for p in image.iterdir() if p.stem == stem and p.suffix != ".pyd"]
            assert record.image_bytes == files[0].read_bytes()  # original bytes, never re-encoded
            assert record.image_format in ("jpeg", "png") and (record.image_width, record.image_height) == (320, 240)
            if subset == "normal":
                assert record.raw_body_pose is None
            else:
                assert record.raw_body_pose.shape == (69,) and record.raw_betas.shape == (10,)
                assert getattr(record, f"is_{subset}")


def test_optimized_records_carry_the_raw_label(sample_items):
    normal = {r.sample_id: r for unit, items in sample_items.items() if unit.startswith("normal/")
              for r in items if not isinstance(r, Reject)}
    optimized = [r for unit, items in sample_items.items() if not unit.startswith("normal/")
                 for r in items if not isinstance(r, Reject)]
    assert optimized
    for record in optimized:
        raw = normal[record.sample_id]
        assert np.array_equal(record.raw_body_pose, raw.body_pose)
        assert np.array_equal(record.raw_betas, raw.betas)
        assert not np.array_equal(record.body_pose, raw.body_pose)  # the optimized pose differs
        assert np.array_equal(record.keypoints_2d, raw.keypoints_2d)  # hand labels hold SMPL keys only
        assert raw.is_foot == (record.is_foot or (record.subset == "hand" and raw.is_foot))
        assert getattr(raw, f"is_{record.subset}")


def test_reading_is_deterministic(sample_pipeline_output):
    root, _ = sample_pipeline_output
    unit = label_tree.list_units(root)[0]
    first = [r.sample_id if isinstance(r, PersonRecord) else r.source for r in label_tree.read_unit(root, unit)]
    second = [r.sample_id if isinstance(r, PersonRecord) else r.source for r in label_tree.read_unit(root, unit)]
    assert first == second


# ----------------------------------------------------------------------------------------------------
# Shape quirks and label variants
# ----------------------------------------------------------------------------------------------------
def _read_one(tmp_path, label, **options):
    clip = tmp_path / "out" / "normal" / "ballet" / "0001"
    write_frame(clip, "000001", {1: label})
    items = list(label_tree.read_unit(tmp_path / "out", "normal/ballet/0001", **options))
    assert len(items) == 1
    return items[0]


@pytest.mark.parametrize("overrides", [
    {"betas": np.zeros((1, 10), np.float32)},
    {"center": np.array([[30.0, 25.0]], np.float32)},
    {"scale": np.array([0.3], np.float32)},
    {"scale": 0.3},
    {"scale": np.array([0.2, 0.3], np.float32)},  # per-axis sizes: the larger is the square box
    {"body_pose": np.zeros((24, 3), np.float32)},
    {"body_pose": np.zeros(69, np.float32), "global_orient": np.zeros(3, np.float32)},
    {"has_body_pose": np.array([1.0]), "has_betas": True},
    {"keypoints_3d": np.ones((44, 4), np.float32)},
    {"extra_info": {"track_id": 3}},
])
def test_shape_quirks_are_normalised(tmp_path, overrides):
    record = _read_one(tmp_path, person_label(**overrides))
    assert isinstance(record, PersonRecord), record
    assert record.betas.shape == (10,) and record.center.shape == (2,)
    assert record.body_pose.shape == (69,) and record.global_orient.shape == (3,)
    assert record.scale == pytest.approx(0.3)
    assert record.has_body_pose and record.has_betas


def test_pose_split_keeps_global_orientation_first(tmp_path):
    pose = np.arange(72, dtype=np.float32) / 100
    record = _read_one(tmp_path, person_label(body_pose=pose))
    assert np.allclose(record.global_orient, pose[:3]) and np.allclose(record.body_pose, pose[3:])


def test_list_of_one_dict_and_wholebody_only_labels(tmp_path):
    assert isinstance(_read_one(tmp_path, [person_label()]), PersonRecord)
    wholebody = np.zeros((133, 3), np.float32)
    wholebody[:, :2] = np.linspace(5, 40, 266).reshape(133, 2)
    wholebody[:, 2] = 0.9
    label = person_label()
    del label["keypoints_2d"], label["hand_keypoints_2d"]
    label["wholebody_keypoints_2d"] = wholebody
    (tmp_path / "out").rename(tmp_path / "old")
    record = _read_one(tmp_path, label)
    assert np.allclose(record.keypoints_2d[1, :2], (wholebody[5, :2] + wholebody[6, :2]) / 2)  # neck
    assert np.allclose(record.hand_keypoints_2d, wholebody[[95, 99, 103, 107, 111, 116, 120, 124, 128, 132]])
    assert np.array_equal(record.wholebody_133, wholebody)


def test_missing_smpl_means_invalid_smpl(tmp_path):
    label = person_label()
    for key in ("body_pose", "betas", "has_body_pose", "has_betas"):
        del label[key]
    record = _read_one(tmp_path, label)
    assert not record.has_body_pose and not record.has_betas
    assert not record.body_pose.any() and not record.betas.any()


def test_unknown_keys_can_be_ignored(tmp_path):
    record = _read_one(tmp_path, person_label(track_score=0.5), strict_keys=False)
    assert isinstance(record, PersonRecord) and record.extra["ignored_keys"] == ["track_score"]


# ----------------------------------------------------------------------------------------------------
# Bad records: each one ends as a reject with its reason
# ----------------------------------------------------------------------------------------------------
BAD_LABELS = {
    "non_finite": person_label(betas=np.full(10, np.inf, np.float32)),
    "wrong_shape": person_label(keypoints_2d=np.zeros((25, 3), np.float32)),
    "unknown_keys": person_label(unexpected=1),
    "missing_key": {k: v for k, v in person_label().items() if k != "center"},
    "wrong_type": ["not a dict"],
    "multiple_labels_in_person_file": [person_label(), person_label(1)],
    "invalid_bbox": person_label(scale=np.float32(0.0)),
}


@pytest.mark.parametrize("reason", sorted(BAD_LABELS))
def test_bad_label_content_is_rejected(tmp_path, reason):
    item = _read_one(tmp_path, BAD_LABELS[reason])
    assert isinstance(item, Reject) and item.reason == reason
    assert item.source == "normal/ballet/0001/000001_1.pyd" and item.sample_id == "ballet/0001/000001_1"


def test_has_flag_without_parameters_is_rejected(tmp_path):
    label = person_label()
    del label["body_pose"]
    item = _read_one(tmp_path, label)
    assert item.reason == "missing_key" and "body_pose" in item.detail


def test_file_level_problems_are_rejects(tmp_path):
    root = tmp_path / "out"
    clip = root / "normal" / "jazz" / "0007"
    write_frame(clip, "000000", {1: person_label()})
    (clip / "000001.jpeg").write_bytes(image_bytes()[:200])  # truncated image
    write_pickle(clip / "000001_1.pyd", person_label())
    write_pickle(clip / "000002_1.pyd", person_label())  # no image
    (clip / "000003.png").write_bytes(image_bytes(fmt="PNG"))  # no label
    write_frame(clip, "000004", {1: person_label()})
    (clip / "000004.png").write_bytes(image_bytes(fmt="PNG"))  # second image for frame 4
    write_frame(clip, "000005", {})
    (clip / "000005_1.pyd").write_bytes(MALICIOUS_PICKLE)
    write_frame(clip, "000006", {})
    (clip / "000006_1.pyd").write_bytes(pickle.dumps(person_label())[:50])  # truncated pickle
    write_frame(clip, "6", {1: person_label()})  # same sample id as 000006_1, which is broken
    (clip / "000007_a.pyd").write_bytes(b"x")  # bad label name
    (clip / "cover.jpg").write_bytes(image_bytes())  # bad image name
    (clip / "notes.txt").write_text("x")
    (clip / "sub").mkdir()
    (clip / ".DS_Store").write_text("ignored: hidden")
    (clip / "000008.jpeg").write_bytes(b"GIF89a not really")
    write_pickle(clip / "000008_1.pyd", person_label())
    records, rejects = split(label_tree.read_unit(root, "normal/jazz/0007"))
    reasons = Counter(r.reason for r in rejects)
    assert reasons == Counter({
        "unreadable_image": 2, "missing_image": 1, "missing_label": 1, "duplicate_image": 1, "unsafe_pickle": 1,
        "unreadable_label": 1, "duplicate_sample_id": 1, "bad_file_name": 2, "unexpected_file": 2,
    }), rejects
    assert sorted(r.frame_index for r in records) == [0, 4]
    by_source = {r.source: r for r in rejects}
    assert by_source["normal/jazz/0007/000004.png"].reason == "duplicate_image"  # .jpeg preferred
    assert by_source["normal/jazz/0007/6_1.pyd"].reason == "duplicate_sample_id"
    assert "000001.jpeg" in by_source["normal/jazz/0007/000001_1.pyd"].detail
    # every file is a record's or reject's source, or the image of a labelled frame (hidden files are not records)
    used_images = {"000000.jpeg", "000001.jpeg", "000004.jpeg", "000005.jpeg", "000006.jpeg", "6.jpeg", "000008.jpeg"}
    accounted = {item.source.rsplit("/", 1)[-1] for item in records + rejects} | used_images
    assert accounted == {p.name for p in clip.iterdir() if not p.name.startswith(".")}


def test_header_check_accepts_what_decode_rejects(tmp_path):
    root = tmp_path / "out"
    clip = root / "normal" / "jazz" / "0001"
    data = image_bytes(320, 240)
    write_frame(clip, "000001", {1: person_label()}, image=data[: int(len(data) * 0.7)])
    [decoded] = label_tree.read_unit(root, "normal/jazz/0001")
    [header] = label_tree.read_unit(root, "normal/jazz/0001", image_check="header")
    assert isinstance(decoded, Reject) and decoded.reason == "unreadable_image"
    assert isinstance(header, PersonRecord)


# ----------------------------------------------------------------------------------------------------
# Subsets, subjects, layouts
# ----------------------------------------------------------------------------------------------------
def _tree_with_subsets(root):
    clip = root / "normal" / "tango" / "0001"
    write_frame(clip, "000000", {1: person_label(0), 2: person_label(1)})
    write_frame(clip, "000001", {1: person_label(2)})
    foot = root / "foot" / "tango" / "0001"
    write_pickle(foot / "000000_2.pyd", {"body_pose": np.full(72, 0.01, np.float32), "betas": np.zeros((1, 10))})
    write_pickle(foot / "000001_1.pyd", person_label(2, keypoints_2d=np.full((44, 3), np.nan)))
    hand = root / "hand" / "tango" / "0001"
    write_pickle(hand / "000000_2.pyd", person_label(1, betas=np.ones(10, np.float32)))
    write_pickle(hand / "000003_1.pyd", person_label(3))
    (hand / "000000.jpeg").write_bytes(image_bytes())  # images belong to normal/


def test_foot_and_hand_units(tmp_path):
    root = tmp_path / "out"
    _tree_with_subsets(root)
    normal, _ = split(label_tree.read_unit(root, "normal/tango/0001"))
    flags = {(r.frame_index, r.person_id): (r.is_foot, r.is_hand) for r in normal}
    assert flags == {(0, 1): (False, False), (0, 2): (True, True), (1, 1): (True, False)}
    foot, foot_rejects = split(label_tree.read_unit(root, "foot/tango/0001"))
    assert [(r.sample_id, r.is_foot, r.is_hand) for r in foot] == [("tango/0001/000000_2", True, True)]
    assert np.allclose(foot[0].body_pose, 0.01) and foot[0].raw_body_pose is not None
    assert [r.reason for r in foot_rejects] == ["non_finite"]
    hand, hand_rejects = split(label_tree.read_unit(root, "hand/tango/0001"))
    assert len(hand) == 1 and np.allclose(hand[0].betas, 1.0)
    assert sorted(r.reason for r in hand_rejects) == ["missing_raw_label", "unexpected_file"]


def test_broken_raw_label_rejects_the_optimized_record(tmp_path):
    root = tmp_path / "out"
    _tree_with_subsets(root)
    write_pickle(root / "normal" / "tango" / "0001" / "000000_2.pyd", person_label(1, center=np.zeros(3)))
    _, rejects = split(label_tree.read_unit(root, "foot/tango/0001"))
    assert "invalid_raw_label" in {r.reason for r in rejects}


def test_bare_authors_tree_with_separate_optimized_trees(tmp_path):
    normal = tmp_path / "dance_pyd"
    write_frame(normal / "waltz" / "12", "000003", {10000000: person_label()})
    foot = tmp_path / "foot_opt"
    write_pickle(foot / "waltz" / "12" / "000003_10000000.pyd", [person_label(5)])
    units = label_tree.list_units(normal, foot_root=foot)
    assert units == ["foot/waltz/12", "normal/waltz/12"]
    records, rejects = split(r for u in units for r in label_tree.read_unit(normal, u, foot_root=foot))
    assert not rejects and [r.subset for r in records] == ["foot", "normal"]
    assert records[1].is_foot and records[0].person_id == 10000000
    assert records[1].subject_id == "waltz/12"  # without a subject map the clip is the subject


def test_subject_maps_json_and_csv(tmp_path):
    root = tmp_path / "out"
    write_frame(root / "normal" / "samba" / "0001", "000000", {1: person_label()})
    write_frame(root / "normal" / "samba" / "0002", "000000", {1: person_label()})
    (root / "subjects.csv").write_text("category,clip_id,subject_id\nsamba,0001,ana\nsamba,0002,ana\n")
    records, _ = split(r for u in label_tree.list_units(root) for r in label_tree.read_unit(root, u))
    assert [r.subject_id for r in records] == ["ana", "ana"]
    (root / "subjects.csv").unlink()
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"samba/0001": "bo"}))
    items = [r for u in label_tree.list_units(root) for r in label_tree.read_unit(root, u, subject_map=str(mapping))]
    records, rejects = split(items)
    assert [r.subject_id for r in records] == ["bo"] and [r.reason for r in rejects] == ["missing_subject"]


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "JSON object"),
    ('{"no_slash": "a"}', "bad entry"),
    ("{not json", "invalid JSON"),
])
def test_bad_subject_maps_are_clear_errors(tmp_path, content, message):
    root = tmp_path / "out"
    write_frame(root / "normal" / "samba" / "0001", "000000", {1: person_label()})
    (root / "subjects.json").write_text(content)
    with pytest.raises(ValueError, match=message):
        list(label_tree.read_unit(root, "normal/samba/0001"))


def test_option_and_unit_errors(tmp_path):
    root = tmp_path / "out"
    write_frame(root / "normal" / "samba" / "0001", "000000", {1: person_label()})
    with pytest.raises(TypeError, match="options"):
        label_tree.list_units(root, scale_units="px")
    with pytest.raises(ValueError, match="image_check"):
        label_tree.list_units(root, image_check="fast")
    with pytest.raises(ValueError, match="unit must be"):
        list(label_tree.read_unit(root, "samba/0001"))
    with pytest.raises(FileNotFoundError, match="no foot label tree"):
        list(label_tree.read_unit(root, "foot/samba/0001"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list(label_tree.read_unit(root, "normal/samba/0002"))
    with pytest.raises(FileNotFoundError):
        label_tree.list_units(tmp_path / "missing")


def test_write_label_is_read_back_and_validates(tmp_path):
    from hardmo_hf.data.writers import write_label

    clip = tmp_path / "out" / "normal" / "rumba" / "0001"
    clip.mkdir(parents=True)
    (clip / "000000.jpeg").write_bytes(image_bytes())
    label = person_label(extra_info={"track_id": 4})
    write_label(clip / "000000_4.pyd", {**label, "keypoints_2d": label["keypoints_2d"].astype(np.float64)})
    assert [p.name for p in clip.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    [record] = label_tree.read_unit(tmp_path / "out", "normal/rumba/0001")
    assert np.allclose(record.keypoints_2d, label["keypoints_2d"]) and record.extra["extra_info"] == {"track_id": 4}
    with pytest.raises(ValueError, match="wrong_shape"):
        write_label(clip / "000001_4.pyd", person_label(betas=np.zeros(11)))
    assert not (clip / "000001_4.pyd").exists()


@pytest.mark.parametrize("chunk_items", [7, 256])
def test_chunks_across_units_give_the_records_of_read_unit(sample_pipeline_output, sample_items, monkeypatch, chunk_items):
    """The build's path (chunks spanning units, labels parsed together) yields read_unit's records and rejects,
    in the same order, whatever the chunk size."""
    root, _ = sample_pipeline_output
    monkeypatch.setattr(label_tree, "CHUNK_ITEMS", chunk_items)
    units = label_tree.list_units(root)
    got, finished = [], []
    for done, chunk in label_tree.read_units_chunks(root, units):
        finished.append(done)
        records = chunk.block.to_records(label_tree.FORMAT)
        items = sorted([*zip(chunk.positions.tolist(), records), *chunk.rejects], key=lambda item: item[0])
        got.extend(item for _, item in items)
    expected = [item for unit in units for item in sample_items[unit]]
    assert finished == sorted(finished) and finished[-1] == len(units)
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        assert type(mine) is type(theirs)
        if isinstance(theirs, Reject):
            assert mine == theirs
            continue
        assert (mine.sample_id, mine.subset, mine.source, mine.is_foot, mine.is_hand) == \
            (theirs.sample_id, theirs.subset, theirs.source, theirs.is_foot, theirs.is_hand)
        for name in ("keypoints_2d", "hand_keypoints_2d", "wholebody_133", "body_pose", "betas", "raw_body_pose",
                     "raw_betas"):
            np.testing.assert_array_equal(getattr(mine, name), getattr(theirs, name), err_msg=name)
