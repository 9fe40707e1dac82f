"""Helpers of the dataset-build tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hardmo_hf.constants import NUM_BETAS, NUM_FINGERTIPS, NUM_LABEL_KEYPOINTS
from hardmo_hf.data.record import PersonRecord


def dataset_files(root: Path) -> dict[str, bytes]:
    """Every file of a built dataset but the .build working folder, by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".build" not in p.relative_to(root).parts}


def make_record(rng: np.random.Generator, *, category="ballet", clip_id="0001", frame_index=0, person_id=0,
                subject_id="dancer_1", subset="normal", image_bytes=None, width=64, height=48, **overrides):
    """A valid PersonRecord with random labels (px inside the image, plausible SMPL)."""
    if image_bytes is None:
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buffer, format="JPEG")
        image_bytes = buffer.getvalue()
    kp = np.zeros((NUM_LABEL_KEYPOINTS, 3), np.float32)
    kp[:25, 0] = rng.uniform(0, width, 25)
    kp[:25, 1] = rng.uniform(0, height, 25)
    kp[:25, 2] = rng.uniform(0.6, 1.0, 25)
    hand = np.concatenate([rng.uniform(0, width, (NUM_FINGERTIPS, 1)), rng.uniform(0, height, (NUM_FINGERTIPS, 1)),
                           rng.uniform(0.6, 1.0, (NUM_FINGERTIPS, 1))], axis=1).astype(np.float32)
    fields = {
        "category": category, "clip_id": clip_id, "frame_index": frame_index, "person_id": person_id, "subject_id": subject_id,
        "image_bytes": image_bytes, "image_width": width, "image_height": height, "image_format": "jpeg",
        "center": np.array([width / 2, height / 2], np.float32), "scale": 0.3, "keypoints_2d": kp, "hand_keypoints_2d": hand,
        "global_orient": rng.normal(0, 0.1, 3).astype(np.float32),
        "body_pose": rng.normal(0, 0.05, 69).astype(np.float32),
        "betas": rng.normal(0, 0.5, NUM_BETAS).astype(np.float32), "has_body_pose": True, "has_betas": True,
        "subset": subset, "source": f"{subset}/{category}/{clip_id}/{frame_index:06d}_{person_id}.pyd",
        "source_format": "label_tree",
    }
    fields.update(overrides)
    return PersonRecord(**fields)
