"""The SPIN / 4D-Humans npz reader (scale units) and the MMHuman3D HumanData reader (compressed keypoints)."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from hardmo_hf.constants import HUMANDATA_INDEX, HUMANDATA_LABEL44_NAMES, HUMANDATA_WHOLEBODY133_NAMES
from hardmo_hf.data.npz_io import NpzArchive, NpzError
from hardmo_hf.data.readers import humandata, spin_npz
from hardmo_hf.data.record import PersonRecord
from hardmo_hf.data.writers import write_humandata, write_spin_npz

from .helpers import Evil, split


def _read_all(reader, root, **options):
    return split(item for unit in reader.list_units(root, **options) for item in reader.read_unit(root, unit, **options))


def _same_labels(got, want, layout_rows=slice(None)):
    assert got.image_bytes == want.image_bytes
    assert got.scale == pytest.approx(want.scale, rel=1e-5)
    assert np.allclose(got.center, want.center, atol=1e-3)
    assert np.allclose(got.keypoints_2d[layout_rows], want.keypoints_2d[layout_rows])
    assert np.allclose(got.hand_keypoints_2d, want.hand_keypoints_2d)
    for name in ("global_orient", "body_pose", "betas"):
        assert np.allclose(getattr(got, name), getattr(want, name)), name
    assert got.has_body_pose == (want.has_body_pose and want.has_betas)


# ----------------------------------------------------------------------------------------------------
# SPIN / 4D-Humans npz
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("style, stored_units", [("spin", "box200"), ("4dhumans", "px")])
def test_scale_units_are_detected_and_can_be_forced(tmp_path, sample_records, style, stored_units):
    path = write_spin_npz(sample_records, tmp_path / style / "train.npz", style=style)
    with NpzArchive(path) as archive:
        stored = np.asarray(archive["scale"])
    expected = np.array([r.scale for r in sample_records])
    assert np.allclose(stored, expected if stored_units == "box200" else expected * 200)
    for units in ("auto", stored_units):
        records, rejects = _read_all(spin_npz, path, scale_units=units, chunk_size=40)
        assert not rejects and len(records) == len(sample_records)
        for got, want in zip(records, sample_records):
            assert got.sample_id == want.sample_id
            _same_labels(got, want)
    wrong = "px" if stored_units == "box200" else "box200"
    records, _ = _read_all(spin_npz, path, scale_units=wrong)
    factor = 1 / 200 if wrong == "px" else 200
    assert records[0].scale == pytest.approx(sample_records[0].scale * factor, rel=1e-5)


def test_detect_scale_units():
    keypoints = np.zeros((3, 44, 3))
    keypoints[:, :2, :2] = [[100, 100], [100, 300]]  # 200 px tall
    keypoints[:, :2, 2] = 1
    assert spin_npz.detect_scale_units(np.full(3, 1.2), keypoints) == "box200"
    assert spin_npz.detect_scale_units(np.full((3, 2), 240.0), keypoints) == "px"
    none = np.zeros((3, 44, 3))
    assert spin_npz.detect_scale_units(np.full(3, 1.2), none) == "box200"
    assert spin_npz.detect_scale_units(np.full(3, 300.0), none) == "px"


def test_units_partition_the_rows(tmp_path, sample_records):
    path = write_spin_npz(sample_records, tmp_path / "a.npz", style="spin")
    write_spin_npz(sample_records[:7], tmp_path / "sub" / "b.npz", style="spin", compressed=True)
    units = spin_npz.list_units(tmp_path, chunk_size=25)
    assert units == sorted(units)
    assert units[0] == "a.npz[000000000:000000025]" and units[-1] == "sub/b.npz[000000000:000000007]"
    rows = [r.source for u in units for r in spin_npz.read_unit(tmp_path, u, chunk_size=25)]
    assert len(rows) == len(set(rows)) == len(sample_records) + 7
    assert spin_npz.list_units(path) == ["a.npz[000000000:000000096]"]


def test_spin_keys_and_person_ids(tmp_path, sample_records):
    two = [sample_records[0], dataclasses.replace(sample_records[0], person_id=7)]
    path = write_spin_npz(two, tmp_path / "x.npz", style="spin")
    records, _ = _read_all(spin_npz, path)
    assert [r.person_id for r in records] == [sample_records[0].person_id, 7]
    # without ``personid`` the row's occurrence in its image is the person id
    with NpzArchive(path) as archive:
        arrays = {key: np.asarray(archive[key]) for key in archive if key != "personid"}
    np.savez(tmp_path / "y.npz", **arrays)
    records, _ = _read_all(spin_npz, tmp_path / "y.npz")
    assert [r.person_id for r in records] == [0, 1]
    # SPIN keeps J19 in ``part`` and the head points twice; BODY_25 comes from ``openpose``
    assert np.allclose(records[0].keypoints_2d, sample_records[0].keypoints_2d)


def test_bad_rows_and_bad_files(tmp_path, sample_records):
    path = write_spin_npz(sample_records[:6], tmp_path / "ann.npz", style="4dhumans")
    with NpzArchive(path) as archive:
        arrays = {key: np.array(archive[key]) for key in archive}
    arrays["body_keypoints_2d"][1, 3, 0] = np.nan
    (tmp_path / arrays["imgname"][2]).unlink()  # its image is gone (rows 2.. may share it)
    arrays["extra_info"] = np.array([{"k": 1}] * 6, dtype=object)
    np.savez(path, **arrays)
    records, rejects = _read_all(spin_npz, path)
    missing = {i for i in range(6) if arrays["imgname"][i] == arrays["imgname"][2]}
    assert Counter(r.reason for r in rejects) == Counter({"non_finite": 1, "missing_image": len(missing - {1})})
    assert len(records) == 6 - 1 - len(missing - {1}) and records[0].extra["extra_info"] == {"k": 1}

    np.savez(path, **arrays, unexpected=np.zeros(6))
    _, rejects = _read_all(spin_npz, path)
    assert [r.reason for r in rejects] == ["unknown_keys"] * 6
    records, _ = _read_all(spin_npz, path, strict_keys=False)
    assert records

    arrays.pop("extra_info")
    np.savez(path, **{**arrays, "body_keypoints_2d": arrays["body_keypoints_2d"][:, :24]})
    _, rejects = _read_all(spin_npz, path)
    assert {r.reason for r in rejects} == {"wrong_shape"}

    marker = tmp_path / "pwned"
    np.savez(path, **arrays, extra_info=np.array([Evil(marker)] * 6, dtype=object))
    _, rejects = _read_all(spin_npz, path)
    assert {r.reason for r in rejects} == {"unreadable_npz"} and "refused" in rejects[0].detail
    assert not marker.exists()


def test_npz_archive_reads_lazily_and_safely(tmp_path):
    data = np.arange(24, dtype=np.float32).reshape(6, 4)
    np.savez(tmp_path / "plain.npz", a=data, f=np.asfortranarray(data), s=np.array(["x", "yz"]), z=np.float64(3))
    np.savez_compressed(tmp_path / "packed.npz", a=data)
    with NpzArchive(tmp_path / "plain.npz") as plain, NpzArchive(tmp_path / "packed.npz") as packed:
        assert isinstance(plain["a"], np.memmap) and np.array_equal(plain["a"][2:4], data[2:4])
        assert np.array_equal(plain["f"], data) and list(plain["s"]) == ["x", "yz"] and plain["z"] == 3
        assert np.array_equal(packed["a"], data) and packed.shape("a") == (6, 4)
        with pytest.raises(KeyError, match="no member 'b'"):
            packed["b"]
    (tmp_path / "broken.npz").write_bytes((tmp_path / "plain.npz").read_bytes()[:300])
    with pytest.raises(NpzError, match="broken.npz"):
        NpzArchive(tmp_path / "broken.npz")


# ----------------------------------------------------------------------------------------------------
# HumanData
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("compress, columns", [(True, 5), (False, 4)])
def test_humandata_round_trip(tmp_path, sample_records, compress, columns):
    path = write_humandata(sample_records, tmp_path / "hd.npz", compress_keypoints=compress, bbox_columns=columns)
    with NpzArchive(path) as archive:
        assert archive.shape("bbox_xywh")[1] == columns
        mask = np.asarray(archive["keypoints2d_mask"])
        assert archive.shape("keypoints2d")[1] == (int(mask.sum()) if compress else 190)
        assert bool(archive["__keypoints_compressed__"]) == compress
    records, rejects = _read_all(humandata, path, subject_map=None)
    assert not rejects and len(records) == len(sample_records)
    for got, want in zip(records, sample_records):
        _same_labels(got, want, layout_rows=slice(0, 25))
        expected = want.wholebody_133.copy()
        expected[[91, 112]] = want.wholebody_133[[9, 10]]  # hand roots read back as the body wrists
        assert np.allclose(got.wholebody_133, expected)
        assert got.source_format == "humandata"


def _humandata(tmp_path, n=3, **overrides):
    """A minimal HumanData file written by hand (SPIN-converted style: OpenPose + J19 points, no face/hands)."""
    from PIL import Image

    (tmp_path / "img" / "waltz" / "0001").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48)).save(tmp_path / "img" / "waltz" / "0001" / "000000.jpg")
    kp = np.zeros((n, 190, 3), np.float32)
    mask = np.zeros(190, np.uint8)
    rng = np.random.default_rng(0)
    for name in HUMANDATA_LABEL44_NAMES:
        kp[:, HUMANDATA_INDEX[name]] = np.c_[rng.uniform(5, 60, (n, 2)), np.ones(n)]
        mask[HUMANDATA_INDEX[name]] = 1
    arrays = {
        "image_path": np.array(["waltz/0001/000000.jpg"] * n),
        "bbox_xywh": np.tile([[10.0, 5.0, 40.0, 38.0, 1.0]], (n, 1)),
        "keypoints2d": kp[:, mask == 1], "keypoints2d_mask": mask, "__keypoints_compressed__": True,
        "smpl": np.array({"global_orient": np.zeros((n, 3)), "body_pose": np.zeros((n, 69)),
                          "betas": np.zeros((n, 10)), "transl": np.zeros((n, 3))}, dtype=object),
        "meta": np.array({"gender": ["neutral"] * n}, dtype=object),
        "config": "spin_train", "__data_len__": n, "__key_strict__": False,
    }
    arrays.update(overrides)
    np.savez_compressed(tmp_path / "hd.npz", **arrays)
    return tmp_path / "hd.npz", kp, mask


def test_humandata_compressed_keypoints_are_repadded_through_the_mask(tmp_path):
    path, kp, _ = _humandata(tmp_path)
    records, rejects = _read_all(humandata, path, image_root=str(tmp_path / "img"))
    assert not rejects and [r.person_id for r in records] == [0, 1, 2]
    expected = kp[:, [HUMANDATA_INDEX[n] for n in HUMANDATA_LABEL44_NAMES]]
    assert np.allclose(np.stack([r.keypoints_2d for r in records]), expected)
    record = records[0]
    assert record.wholebody_133 is None and not record.hand_keypoints_2d.any()
    assert record.center == pytest.approx([30.0, 24.0]) and record.scale == pytest.approx(40 / 200)
    assert record.has_body_pose and record.has_betas and record.body_pose.shape == (69,)


def test_humandata_body25_falls_back_to_wholebody_points(tmp_path):
    n = 2
    kp = np.zeros((n, 190, 3), np.float32)
    mask = np.zeros(190, np.uint8)
    for i, name in enumerate(HUMANDATA_WHOLEBODY133_NAMES):
        kp[:, HUMANDATA_INDEX[name]] = [i, 2 * i, 0.8]
        mask[HUMANDATA_INDEX[name]] = 1
    path, _, _ = _humandata(tmp_path, n, keypoints2d=kp, keypoints2d_mask=mask, __keypoints_compressed__=False,
                            has_smpl=np.array([1.0, 0.0]))
    records, rejects = _read_all(humandata, path, image_root=str(tmp_path / "img"))
    assert not rejects
    neck = records[0].keypoints_2d[1]
    assert np.allclose(neck, [5.5, 11.0, 0.8])  # midpoint of the shoulders (COCO 5, 6)
    assert np.allclose(records[0].keypoints_2d[19], [17, 34, 0.8])  # left big toe = COCO 17
    assert records[0].wholebody_133 is not None and np.allclose(records[0].hand_keypoints_2d[0], [95, 190, 0.8])
    assert [r.has_body_pose for r in records] == [True, False]


def test_humandata_bad_inputs(tmp_path):
    path, kp, _ = _humandata(tmp_path, bbox_xywh=np.array([[10, 5, 40, 38, 1.0], [10, 5, 40, 38, 0.0],
                                                              [10, 5, 0, 0, 1.0]]))
    records, rejects = _read_all(humandata, path, image_root=str(tmp_path / "img"))
    assert len(records) == 1 and [r.reason for r in rejects] == ["invalid_bbox", "invalid_bbox"]
    _humandata(tmp_path, keypoints2d_convention="smplx")
    _, rejects = _read_all(humandata, path, image_root=str(tmp_path / "img"))
    assert {r.reason for r in rejects} == {"unsupported_convention"}
    _humandata(tmp_path, keypoints2d=kp[:, :100])  # compressed, but not through this mask
    _, rejects = _read_all(humandata, path, image_root=str(tmp_path / "img"))
    assert {r.reason for r in rejects} == {"wrong_shape"}
    _humandata(tmp_path, extra_stuff=np.zeros(3))
    _, rejects = _read_all(humandata, path, image_root=str(tmp_path / "img"))
    assert {r.reason for r in rejects} == {"unknown_keys"}
    _humandata(tmp_path)
    records, rejects = _read_all(humandata, path)  # images are not beside the npz
    assert not records and {r.reason for r in rejects} == {"missing_image"}
    assert isinstance(next(humandata.read_unit(path, humandata.list_units(path)[0],
                                               image_root=str(tmp_path / "img"))), PersonRecord)


def test_compressed_rows_stream_forward(tmp_path):
    data = np.arange(5000 * 6, dtype=np.float32).reshape(5000, 2, 3)
    np.savez_compressed(tmp_path / "packed.npz", a=data, names=np.array([f"n{i}" for i in range(5000)]))
    with NpzArchive(tmp_path / "packed.npz") as archive:
        for start, stop in ((0, 100), (100, 2500), (2600, 5000), (10, 20), (4990, 6000)):
            assert np.array_equal(archive.rows("a", start, stop), data[start:stop])
        assert list(archive.rows("names", 3, 5)) == ["n3", "n4"]
