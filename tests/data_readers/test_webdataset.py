"""The webdataset reader on tar shards the tests write (4D-Humans layout)."""

from __future__ import annotations

import io
import pickle
import tarfile
from collections import Counter

import numpy as np
import pytest

from hardmo_hf.data.readers import webdataset
from hardmo_hf.data.record import PersonRecord
from hardmo_hf.data.writers import write_webdataset

from .helpers import Evil, image_bytes, person_label, split


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _shard(path, samples):
    """``samples``: list of (key, {extension: bytes}) in tar order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for key, members in samples:
            for extension, data in members.items():
                _add(tar, f"{key}.{extension}", data)
    return path


def _people(*labels):
    return pickle.dumps(list(labels))


def test_round_trip_of_the_sample(tmp_path, sample_records, sample_pipeline_output):
    root, _ = sample_pipeline_output
    shards = write_webdataset(sample_records, tmp_path / "wds", frames_per_shard=10)
    assert len(shards) > 2
    units = webdataset.list_units(tmp_path / "wds")
    assert units == sorted(units) == [p.name for p in shards]
    records, rejects = split(r for u in units for r in webdataset.read_unit(
        tmp_path / "wds", u, subject_map=str(root / "subjects.json")))
    assert not rejects
    assert [r.sample_id for r in records] == [r.sample_id for r in sample_records]
    for got, want in zip(records, sample_records):
        assert got.image_bytes == want.image_bytes and got.subject_id == want.subject_id
        for name in ("keypoints_2d", "hand_keypoints_2d", "center", "global_orient", "body_pose", "betas",
                     "wholebody_133"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), name
        assert got.scale == pytest.approx(want.scale) and got.source_format == "webdataset"
    # writing is deterministic
    again = write_webdataset(sample_records, tmp_path / "wds2", frames_per_shard=10)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in shards]


def test_authors_key_names_and_4d_humans_keys(tmp_path):
    label = person_label()
    label.update(scale=np.array([0.3, 0.25], np.float32), keypoints_3d=np.zeros((44, 4), np.float32),
                 extra_info={"fitting_loss": np.array({"reprojection_loss": 1.0}), "detection_npz_idx": 0})
    del label["hand_keypoints_2d"]
    shard = _shard(tmp_path / "000000.tar", [
        ("cha_cha_0003_000012", {"jpg": image_bytes(), "data.pyd": _people(label, person_label(1)),
                                 "detection.npz": b"masks"}),
        ("taijiquan_a_b_7", {"jpeg": image_bytes(), "pyd": _people(person_label(2))}),
    ])
    records, rejects = split(webdataset.read_unit(shard, "000000.tar"))
    assert not rejects
    assert [(r.category, r.clip_id, r.frame_index, r.person_id) for r in records] == [
        ("cha_cha", "0003", 12, 0), ("cha_cha", "0003", 12, 1), ("taijiquan", "a_b", 7, 0)]
    assert records[0].scale == pytest.approx(0.3) and not records[0].hand_keypoints_2d.any()
    assert records[0].source == "000000.tar::cha_cha_0003_000012.data.pyd[0]"


def test_name_pattern_category_and_subset_options(tmp_path):
    shard = _shard(tmp_path / "s.tar", [("clipA-17", {"jpg": image_bytes(), "data.pyd": _people(person_label())})])
    [reject] = webdataset.read_unit(shard, "s.tar")
    assert reject.reason == "unparsable_name"
    [record] = webdataset.read_unit(shard, "s.tar", name_pattern=r"(?P<clip_id>\w+)-(?P<frame>\d+)",
                                    category="rumba", subset="foot")
    assert (record.category, record.clip_id, record.frame_index) == ("rumba", "clipA", 17)
    assert record.subset == "foot" and record.is_foot and record.category_group == "dance"


def test_bad_samples_are_rejects(tmp_path):
    marker = tmp_path / "pwned"
    good = {"jpg": image_bytes(), "data.pyd": _people(person_label())}
    shard = _shard(tmp_path / "bad.tar", [
        ("ballet/1/000000", good),
        ("ballet/1/000001", {"jpg": image_bytes()}),  # no label
        ("ballet/1/000002", {"data.pyd": _people(person_label())}),  # no image
        ("ballet/1/000003", {"jpg": image_bytes(), "data.pyd": pickle.dumps([Evil(marker)])}),
        ("ballet/1/000004", {"jpg": image_bytes()[:100], "data.pyd": _people(person_label(), person_label(1))}),
        ("ballet/1/000005", {"jpg": image_bytes(), "data.pyd": _people(person_label(), person_label(unknown=1))}),
        ("ballet/1/000006", {"jpg": image_bytes(), "data.pyd": _people(person_label()), "json": b"{}"}),
        ("ballet/1/000007", {"jpg": image_bytes(), "data.pyd": b"\x80\x04garbage"}),
        ("ballet/1/000008", {"jpg": image_bytes(), "data.pyd": pickle.dumps([])}),
        ("ballet/1/000000", good),  # the key again, not adjacent
    ])
    records, rejects = split(webdataset.read_unit(shard, "bad.tar"))
    assert [r.frame_index for r in records] == [0, 5]
    assert Counter(r.reason for r in rejects) == Counter({
        "missing_label": 1, "missing_image": 1, "unsafe_pickle": 1, "unreadable_image": 2, "unknown_keys": 1,
        "unknown_member": 1, "unreadable_label": 1, "wrong_type": 1, "duplicate_sample_id": 1})
    assert not marker.exists()
    [lenient] = webdataset.read_unit(
        _shard(tmp_path / "extra.tar", [("ballet/1/000006", {"jpg": image_bytes(), "data.pyd": _people(
            person_label()), "json": b"{}"})]), "extra.tar", strict_keys=False)
    assert isinstance(lenient, PersonRecord)


def test_truncated_shard_keeps_the_complete_samples(tmp_path):
    samples = [(f"jazz/9/{i:06d}", {"jpg": image_bytes(160, 120), "data.pyd": _people(person_label(i))})
               for i in range(4)]
    shard = _shard(tmp_path / "full.tar", samples)
    data = shard.read_bytes()
    offsets = []
    with tarfile.open(shard) as tar:
        for info in tar:
            offsets.append((info.name, info.offset_data, info.size))
    cut = next(o for o in offsets if o[0] == "jazz/9/000002.jpg")
    truncated = tmp_path / "cut.tar"
    truncated.write_bytes(data[: cut[1] + cut[2] // 2])
    records, rejects = split(webdataset.read_unit(tmp_path, "cut.tar"))
    assert [r.frame_index for r in records] == [0, 1]
    assert [(r.source, r.reason) for r in rejects] == [("cut.tar::jazz/9/000002", "truncated_tar")]
    (tmp_path / "not.tar").write_bytes(b"plain text, not a tar")
    [reject] = webdataset.read_unit(tmp_path, "not.tar")
    assert reject.reason in ("unreadable_tar", "truncated_tar")


def test_list_units_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        webdataset.list_units(tmp_path / "missing")
    with pytest.raises(ValueError, match="no .tar shards"):
        webdataset.list_units(tmp_path)
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="not a .tar"):
        webdataset.list_units(tmp_path / "a.txt")
