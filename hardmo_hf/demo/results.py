"""What one demo run produces: per-person SMPL parameters, camera, box and keypoints, per model, per frame.

Units and frames (the same as the image processor's ``post_process``):

* boxes: ``(x1, y1, x2, y2)`` in full-image pixels;
* SMPL: axis-angle in radians, ``global_orient`` (3,), ``body_pose`` (69,) for joints 1..23, ``betas`` (10,);
* camera: the full-image pinhole camera, one focal length in px, principal point at the image centre;
  ``camera_translation`` (3,) in metres places the SMPL body (root-relative model output) in the camera frame
  (OpenCV axes: x right, y down, z forward);
* ``keypoints_2d`` (33, 2): WholeBody-33 keypoints in full-image pixels (needs the SMPL body model);
* ``vertices`` (6890, 3): metres, camera frame (needs the SMPL body model).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MODEL_4DHUMANS = "HardMo-4DHumans"
MODEL_HMR = "HardMo-HMR"
MODEL_NAMES = (MODEL_4DHUMANS, MODEL_HMR)


@dataclass
class PersonResult:
    """One person as one model sees it (numpy float32 arrays; see the module doc for units)."""

    box: np.ndarray  # (4,) xyxy px
    score: float | None  # detector confidence in [0, 1]; None for user boxes and the whole-image fallback
    global_orient: np.ndarray  # (3,) axis-angle rad
    body_pose: np.ndarray  # (69,) axis-angle rad
    betas: np.ndarray  # (10,)
    camera_translation: np.ndarray  # (3,) m
    focal_length: float  # px
    keypoints_2d: np.ndarray | None = None  # (33, 2) px
    vertices: np.ndarray | None = None  # (6890, 3) m, camera frame


@dataclass
class ModelResult:
    """All people of one frame as one model sees them, with the model's run time."""

    model_name: str
    people: list[PersonResult]
    seconds: float = 0.0


@dataclass
class FrameResult:
    """Everything one frame produced.

    ``box_source`` says where the boxes came from: ``"detector"``, ``"user"`` (typed or drawn) or
    ``"whole_image"`` (no detector could be loaded, or none was asked for).
    """

    image_size: tuple[int, int]  # (H, W) px of the image the models saw (after any downscaling)
    box_source: str
    models: dict[str, ModelResult] = field(default_factory=dict)
    frame_index: int = 0
    time_s: float | None = None  # video frames: presentation time in seconds
    detector_seconds: float = 0.0

    @property
    def principal_point(self) -> tuple[float, float]:
        """(cx, cy) px: the image centre."""
        height, width = self.image_size
        return (width / 2.0, height / 2.0)

    @property
    def num_people(self) -> int:
        return max((len(m.people) for m in self.models.values()), default=0)
