"""Ingest: accounting, association, label content, and that the output is exactly the builder's input."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from hardmo_hf.constants import NUM_LABEL_KEYPOINTS, WHOLEBODY_FINGERTIPS
from hardmo_hf.data.readers.label_tree import list_units, read_unit
from hardmo_hf.data.record import Reject
from hardmo_hf.pipeline.config import IngestConfig
from hardmo_hf.pipeline.ingest import ClipInput, ingest_clip
from hardmo_hf.pipeline.tasks import run_ingest
from hardmo_hf.safe_pickle import load_pickle


@pytest.fixture(scope="module")
def ingested(raw_sample, tmp_path_factory):
    raw, summary = raw_sample
    out = tmp_path_factory.mktemp("ingested")
    report = run_ingest(raw, out, IngestConfig(), tasks=3, workers=1)
    return raw, summary, out, report


def test_every_input_record_is_written_or_dropped_with_its_reason(ingested):
    _, summary, out, report = ingested
    assert report["clips"] == summary.clips == 6
    assert report["frames"]["input"] == summary.frames
    for kind in ("frames", "detections", "keypoint_instances", "smpl_predictions"):
        tally = report[kind]
        assert tally["input"] == tally["written"] + sum(tally["dropped"].values())
    for kind in ("detections", "keypoint_instances", "smpl_predictions"):
        assert report[kind]["written"] == summary.people_written
        dropped = {f"{kind}/{reason}": n for reason, n in report[kind]["dropped"].items()}
        assert dropped == {k: v for k, v in summary.expected_drops.items() if k.startswith(kind + "/")}
    lines = (out / "reports" / "ingest_dropped.jsonl").read_text().splitlines()
    dropped_total = sum(
        sum(report[k]["dropped"].values()) for k in ("detections", "keypoint_instances", "smpl_predictions")
    )
    assert len(lines) == dropped_total
    assert all(json.loads(line)["source"] for line in lines)


def test_the_builder_reads_the_tree_without_a_single_reject(ingested):
    _, summary, out, _ = ingested
    records = [r for unit in list_units(out) for r in read_unit(out, unit)]
    rejects = [r for r in records if isinstance(r, Reject)]
    assert rejects == []
    assert len(records) == summary.people_written
    subjects = {r.subject_id for r in records}
    assert subjects == set(json.loads((out / "subjects.json").read_text()).values())


def test_label_content_follows_the_authors_format(ingested):
    raw, _, out, _ = ingested
    label_path = out / "normal" / "jazz" / "clip001" / "000007_3.pyd"
    label = load_pickle(label_path)
    assert label["keypoints_2d"].shape == (NUM_LABEL_KEYPOINTS, 3)
    assert np.all(label["keypoints_2d"][25:] == 0)  # J19 rows are zeros
    assert label["body_pose"].shape == (72,) and label["betas"].shape == (10,)
    wholebody = label["wholebody_keypoints_2d"]
    assert wholebody[:, 2].max() > 1.0  # raw MMPose scores are kept ...
    assert label["keypoints_2d"][:, 2].max() <= 1.0  # ... and clipped to [0, 1] in the label layouts
    np.testing.assert_allclose(label["hand_keypoints_2d"][:, :2], wholebody[list(WHOLEBODY_FINGERTIPS), :2])
    np.testing.assert_allclose(label["keypoints_2d"][1, :2], wholebody[[5, 6], :2].mean(0), rtol=1e-6)  # neck
    box = label["extra_info"]["track_box"]
    np.testing.assert_allclose(label["center"], [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], rtol=1e-6)
    assert label["scale"] == pytest.approx(1.2 * max(box[2] - box[0], box[3] - box[1]) / 200, rel=1e-6)
    # Frame k of the tree is the (k+1)-th frame file (1-based, as ffmpeg writes them), hard-linked.
    image = out / "normal" / "jazz" / "clip001" / "000007.jpg"
    assert os.path.samefile(image, raw / "jazz" / "clip001" / "frames" / "000008.jpg")


def test_untracked_detections_get_a_fresh_person_id(ingested):
    _, _, out, _ = ingested
    clip = out / "normal" / "jazz" / "clip000"
    # Frame 4: the tracker lost person 3; the box is kept under a new id above every track id of the clip.
    names = sorted(p.name for p in clip.glob("000004_*.pyd"))
    assert names == ["000004_100.pyd", "000004_5.pyd"]


def test_crowding_threshold_and_deterministic_bytes(raw_sample, tmp_path):
    raw, _ = raw_sample
    clip = ClipInput("jazz", "clip000", raw / "jazz" / "clip000")
    relaxed = ingest_clip(clip, tmp_path / "a", IngestConfig(max_people=10))
    assert "crowded_frame" not in relaxed.records["detections"].dropped
    again = ingest_clip(clip, tmp_path / "b", IngestConfig(max_people=10))
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.pyd"))
    assert files and all(
        (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files
    )
    assert again.to_json() == relaxed.to_json()


def test_malformed_input_is_a_clear_error_naming_the_file(raw_sample, tmp_path):
    raw, _ = raw_sample
    copy = tmp_path / "raw" / "jazz" / "clip000"
    shutil.copytree(raw / "jazz" / "clip000", copy)
    (copy / "keypoints.json").write_text('[{"frame_id": 0, "instances": [{"keypoints": [[1, 2]]}]}]')
    with pytest.raises(ValueError, match=r"keypoints\.json.*keypoint_scores|keypoints\.json.*133") as info:
        ingest_clip(ClipInput("jazz", "clip000", copy), tmp_path / "out", IngestConfig())
    assert str(copy / "keypoints.json") in str(info.value)
    (copy / "keypoints.json").unlink()
    with pytest.raises(FileNotFoundError, match="keypoints.json"):
        ingest_clip(ClipInput("jazz", "clip000", copy), tmp_path / "out", IngestConfig())
