"""The one record type every reader produces: one person in one frame.

Units and frames (also stated in the dataset card):

* 2D keypoints: full-image pixels ``(x, y)`` with a confidence in the third column (0 = missing).
* ``center``: box centre in px; ``scale``: box size / 200 px (SPIN convention, the side of the square box);
  ``bbox_xyxy``: the same square box in px, ``center +- 100 * scale``.
* SMPL: axis-angle in radians; ``global_orient`` (3,), ``body_pose`` (69,) = joints 1..23, ``betas`` (10,).
* ``keypoints_3d``: metres, camera-free (as in the label), 4th column confidence.

A reader that cannot build a record yields a :class:`Reject` with the source it came from and a reason;
nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..constants import BBOX_SCALE_UNIT, category_group


def format_sample_id(category: str, clip_id: str, frame_index: int, person_id: int) -> str:
    """The stable id of one person in one frame: ``<category>/<clip_id>/<frame:06d>_<person>``."""
    return f"{category}/{clip_id}/{frame_index:06d}_{person_id}"


@dataclass
class PersonRecord:
    """One person in one frame, as every reader produces it (numpy arrays, float32)."""

    # Identity
    category: str
    clip_id: str
    frame_index: int
    person_id: int
    subject_id: str
    # Image: the original encoded bytes (never re-encoded) and their size in px
    image_bytes: bytes
    image_width: int
    image_height: int
    image_format: str  # "jpeg" | "png"
    # Box
    center: np.ndarray  # (2,) px
    scale: float  # box size / 200
    # Keypoints
    keypoints_2d: np.ndarray  # (44,3) px + confidence, label-44 layout
    hand_keypoints_2d: np.ndarray  # (10,3) px + confidence, fingertips
    wholebody_133: np.ndarray | None = None  # (133,3) px + raw score, when the source has it
    keypoints_3d: np.ndarray | None = None  # (44,4) m + confidence
    # SMPL label (optimized where an optimized label exists)
    global_orient: np.ndarray | None = None  # (3,) axis-angle rad
    body_pose: np.ndarray | None = None  # (69,) axis-angle rad
    betas: np.ndarray | None = None  # (10,)
    has_body_pose: bool = False
    has_betas: bool = False
    # The raw (pre-optimization) SMPL label of the same sample, when an optimized one exists
    raw_global_orient: np.ndarray | None = None
    raw_body_pose: np.ndarray | None = None
    raw_betas: np.ndarray | None = None
    # Hard-case membership
    is_foot: bool = False
    is_hand: bool = False
    # Which label this record carries: "normal" (the raw pseudo-label), "foot" or "hand" (the optimized
    # label of that subset, with the raw one in raw_*). A Foot sample yields a "normal" and a "foot" record.
    subset: str = "normal"
    # Provenance
    source: str = ""  # file (or file::member) the record came from, for error messages and rejects
    source_format: str = ""  # label_tree | webdataset | npz | humandata
    extra: dict = field(default_factory=dict)

    @property
    def sample_id(self) -> str:
        """Stable id: ``<category>/<clip_id>/<frame:06d>_<person>`` (:func:`format_sample_id`)."""
        return format_sample_id(self.category, self.clip_id, self.frame_index, self.person_id)

    @property
    def category_group(self) -> str:
        return category_group(self.category)

    @property
    def bbox_xyxy(self) -> np.ndarray:
        """Square box in px, ``center -+ scale * 100``."""
        half = 0.5 * BBOX_SCALE_UNIT * float(self.scale)
        cx, cy = (float(v) for v in self.center)
        return np.array([cx - half, cy - half, cx + half, cy + half], dtype=np.float32)


@dataclass(frozen=True)
class Reject:
    """An input record that did not make it into the dataset, and why."""

    source: str  # the file (or file::member / file[index]) it came from
    reason: str  # short machine-readable reason, e.g. "missing_image", "nan_in_keypoints_2d"
    detail: str = ""  # a human-readable explanation
    sample_id: str = ""

    def to_json(self) -> dict:
        return {"source": self.source, "reason": self.reason, "detail": self.detail, "sample_id": self.sample_id}
