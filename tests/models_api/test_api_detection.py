"""PersonDetector: a real (tiny, random) RT-DETR loaded from a folder; the whole image when none loads."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from hardmo_hf.constants import DETECTOR_ENV
from hardmo_hf.detection import PersonDetector


def test_detector_keeps_people_only_sorted_and_inside_the_image(tiny_detector_dir, rgb_image):
    detector = PersonDetector(str(tiny_detector_dir), threshold=0.0)
    assert not detector.is_fallback and detector.fallback_reason is None
    assert detector.person_label_ids == (0,)
    detections = detector.detect(rgb_image)
    # The raw detector output over all classes, for comparison.
    inputs = detector.processor(images=Image.fromarray(rgb_image), return_tensors="pt")
    with torch.no_grad():
        raw = detector.processor.post_process_object_detection(
            detector.model(**inputs), threshold=0.0, target_sizes=[(240, 320)]
        )[0]
    people = int((raw["labels"] == 0).sum())
    assert 0 < people < len(raw["labels"])  # the random detector proposes several classes
    assert len(detections) == people and not detections.is_fallback
    assert detections.boxes.shape == (people, 4) and detections.boxes.dtype == np.float32
    assert np.all(np.diff(detections.scores) <= 0)
    assert np.all(detections.boxes[:, [0, 1]] >= 0) and np.all(detections.boxes[:, 2] <= 320)
    assert np.all(detections.boxes[:, 3] <= 240)
    assert np.all(detections.boxes[:, 2] > detections.boxes[:, 0]) and np.all(
        detections.boxes[:, 3] > detections.boxes[:, 1]
    )
    # The threshold filters by score; PIL and numpy inputs agree.
    cut = float(np.median(detections.scores))
    strict = detector.detect(Image.fromarray(rgb_image), threshold=cut)
    assert len(strict) == int((detections.scores > cut).sum()) and np.all(strict.scores > cut)
    assert len(detector(rgb_image, threshold=1.0)) == 0


def test_detector_falls_back_to_the_whole_image_and_says_why(tmp_path, monkeypatch, rgb_image):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)  # no network: fail fast
    off = PersonDetector("none")
    assert off.is_fallback and "switched off" in off.fallback_reason
    detections = off.detect(rgb_image)
    assert detections.is_fallback and detections.boxes.tolist() == [[0, 0, 320, 240]]
    assert math.isnan(float(detections.scores[0]))

    missing = PersonDetector(str(tmp_path / "no-such-detector"))
    assert missing.is_fallback and "no-such-detector" in missing.fallback_reason
    assert len(missing.detect(rgb_image)) == 1

    monkeypatch.setenv(DETECTOR_ENV, "off")
    assert PersonDetector().is_fallback and DETECTOR_ENV in PersonDetector().fallback_reason


def test_detector_without_a_person_class_falls_back(tiny_detector_dir, tmp_path):
    from transformers import AutoModelForObjectDetection, RTDetrImageProcessorPil

    model = AutoModelForObjectDetection.from_pretrained(tiny_detector_dir)
    model.config.id2label = {0: "cat", 1: "bicycle", 2: "car", 3: "dog"}
    model.config.label2id = {name: i for i, name in model.config.id2label.items()}
    model.save_pretrained(tmp_path)
    RTDetrImageProcessorPil.from_pretrained(tiny_detector_dir).save_pretrained(tmp_path)
    detector = PersonDetector(str(tmp_path))
    assert detector.is_fallback and "no 'person' class" in detector.fallback_reason


def test_detector_reads_the_environment(tiny_detector_dir, monkeypatch):
    monkeypatch.setenv(DETECTOR_ENV, str(tiny_detector_dir))
    detector = PersonDetector()
    assert detector.model_id == str(tiny_detector_dir) and not detector.is_fallback
    with pytest.raises(ValueError, match="threshold"):
        detector.detect(np.zeros((8, 8, 3), np.uint8), threshold=1.5)
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((8, 8, 3), np.float32))
