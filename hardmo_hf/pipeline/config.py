"""Settings of the pipeline steps (light module: the CLI reads the defaults from here without torch).

Every threshold is documented in ``docs/pipeline.md`` and in the module that uses it
(:mod:`.ingest`, :mod:`.mining`).
"""

from __future__ import annotations

from dataclasses import dataclass

COCO_PERSON_CLASS = 0  # class id of "person" in COCO-trained detectors (YOLOv8)
DEFAULT_BOX_SCALE_FACTOR = 1.2  # the label box is 1.2x the tight detector box (HMR/SPIN convention)


@dataclass
class IngestConfig:
    """Thresholds of the ingest filters (defaults documented in docs/pipeline.md)."""

    person_class: int = COCO_PERSON_CLASS
    min_detection_confidence: float = 0.5
    min_box_size: float = 32.0
    max_people: int = 5
    min_track_frames: int = 1
    match_iou: float = 0.5
    match_center_distance: float = 0.1
    keypoint_box_min_score: float = 0.3
    box_scale_factor: float = DEFAULT_BOX_SCALE_FACTOR
    frame_file_start: int = 1
    image_mode: str = "link"


@dataclass
class MiningConfig:
    foot_threshold: float = 0.025
    hand_threshold: float = 0.038
    min_confidence: float = 0.5
    min_points: int = 2
