"""The sample pipeline output: deterministic bytes, figures drawn through the keypoints, enough subjects."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hardmo_hf.constants import FOOT_P2_TEST_CLASSES, FOOT_P2_TRAIN_CLASSES, P2_CLASSES
from hardmo_hf.data.readers import detect_format
from hardmo_hf.data.record import Reject
from hardmo_hf.data.sample import make_sample_pipeline_output
from hardmo_hf.safe_pickle import PickleLoadError, load_pickle

REPO = Path(__file__).resolve().parents[2]


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, sample_pipeline_output):
    root, summary = sample_pipeline_output
    again = make_sample_pipeline_output(tmp_path / "again", seed=0)
    assert _digest(root) == _digest(tmp_path / "again")
    assert again.to_json() | {"root": ""} == summary.to_json() | {"root": ""}
    other = make_sample_pipeline_output(tmp_path / "other", seed=1, clips_per_class=1, frames_per_clip=1)
    assert _digest(tmp_path / "other") != _digest(root)
    assert other.num_clips == len(other.classes)


def test_layout_and_summary(sample_pipeline_output, sample_items):
    root, summary = sample_pipeline_output
    assert detect_format(root) == "label_tree"
    assert sorted(p.name for p in root.iterdir()) == ["foot", "hand", "normal", "subjects.json"]
    assert set(P2_CLASSES) <= {p.name for p in (root / "normal").iterdir()}
    assert summary.num_clips == 24 and summary.num_subjects >= 15
    assert sum(1 for p in (root / "normal").rglob("*") if p.suffix in (".jpeg", ".jpg", ".png")) == summary.num_images
    for subset, count in summary.label_files.items():
        assert sum(1 for _ in (root / subset).rglob("*.pyd")) == count
    assert summary.input_records == sum(len(items) for items in sample_items.values())
    people = defaultdict(int)
    for items in sample_items.values():
        for record in items:
            if not isinstance(record, Reject) and record.subset == "normal":
                people[(record.category, record.clip_id, record.frame_index)] += 1
    assert set(people.values()) == {1, 2}  # one or two people per frame


def test_every_config_can_have_train_and_test_subjects(sample_items):
    """Enough subjects for a subject-disjoint 0.2 test fraction in every subset, and both P2 class groups."""
    subjects = defaultdict(set)
    p2 = defaultdict(set)
    for items in sample_items.values():
        for record in items:
            if isinstance(record, Reject):
                continue
            subjects[record.subset].add(record.subject_id)
            if record.subset == "foot" and record.category in P2_CLASSES:
                p2["train" if record.category in FOOT_P2_TRAIN_CLASSES else "test"].add(record.category)
    assert min(len(s) for s in subjects.values()) >= 15
    assert p2["train"] == set(FOOT_P2_TRAIN_CLASSES) and p2["test"] == set(FOOT_P2_TEST_CLASSES)


def test_drawn_figures_pass_through_the_keypoints(sample_records):
    """Limb midpoints (between two labelled keypoints) are painted, unlike the background beside them."""
    limbs = [(2, 3), (3, 4), (5, 6), (6, 7), (9, 10), (10, 11), (12, 13), (13, 14)]  # BODY_25 arms and legs
    hits = total = 0
    for record in sample_records[:40]:
        image = np.asarray(Image.open(__import__("io").BytesIO(record.image_bytes)).convert("RGB"), dtype=float)
        kp = record.keypoints_2d
        for a, b in limbs:
            if kp[a, 2] <= 0 or kp[b, 2] <= 0:
                continue
            x, y = ((kp[a, :2] + kp[b, :2]) / 2).astype(int)
            background = image[y, 1]  # same row, image border: the background gradient
            total += 1
            hits += np.abs(image[y, x] - background).max() > 25
    assert total > 100 and hits / total > 0.9


def test_labels_carry_the_authors_quirks(sample_pipeline_output):
    root, _ = sample_pipeline_output
    shapes = defaultdict(set)
    for path in sorted((root / "normal").rglob("*.pyd"))[:80]:
        try:
            label = load_pickle(path)
        except PickleLoadError:  # the deliberately malicious label
            continue
        if isinstance(label, list):
            shapes["list"].add(len(label))
            label = label[0]
        if isinstance(label, dict):
            shapes["betas"].add(np.shape(label["betas"]))
            shapes["center"].add(np.shape(label["center"]))
    assert shapes["betas"] == {(10,), (1, 10)} and shapes["center"] == {(2,), (1, 2)} and shapes["list"] == {1}


@pytest.mark.parametrize("frames, clips", [(1, 1), (2, 3)])
def test_size_parameters(tmp_path, frames, clips):
    summary = make_sample_pipeline_output(tmp_path / "s", frames_per_clip=frames, clips_per_class=clips,
                                          classes=("ballet", "bagua"), include_bad_records=False)
    assert summary.num_images == 2 * clips * frames and not summary.expected_rejects
    assert summary.expected_records["normal"] == summary.label_files["normal"] >= 2 * clips * frames


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("keep me")
    with pytest.raises(FileExistsError):
        make_sample_pipeline_output(tmp_path / "x")


def test_script(tmp_path):
    out = subprocess.run(
        [sys.executable, str(REPO / "dataset_scripts" / "make_sample_pipeline_output.py"), str(tmp_path / "s"),
         "--seed", "3", "--frames-per-clip", "1", "--clips-per-class", "1", "--classes", "tango,xingyi",
         "--image-size", "96x64", "--summary", str(tmp_path / "summary.json")],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )
    summary = json.loads(out.stdout)
    assert summary == json.loads((tmp_path / "summary.json").read_text())
    assert summary["classes"] == ["tango", "xingyi"] and summary["input_records"] > 2
    with Image.open(next((tmp_path / "s" / "normal" / "tango" / "0001").glob("000000.*"))) as image:
        assert image.size == (96, 64)
