"""Small builders shared by the reader tests: images, labels and label trees made in temp folders."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def image_bytes(width: int = 64, height: int = 48, fmt: str = "JPEG", color=(120, 60, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, fmt)
    return buffer.getvalue()


def person_label(seed: int = 0, **overrides) -> dict:
    """A valid raw label (HARDMO_FACTS keys) with 25 confident BODY_25 points inside a 64x48 image."""
    rng = np.random.default_rng(seed)
    keypoints = np.zeros((44, 3), dtype=np.float32)
    keypoints[:25, 0] = rng.uniform(10, 50, 25)
    keypoints[:25, 1] = rng.uniform(5, 45, 25)
    keypoints[:25, 2] = rng.uniform(0.6, 1.0, 25)
    hand = np.zeros((10, 3), dtype=np.float32)
    hand[:, :2] = rng.uniform(10, 50, (10, 2))
    hand[:, 2] = rng.uniform(0.2, 0.9, 10)
    pose = (rng.normal(0, 0.1, 72)).astype(np.float32)
    label = {
        "keypoints_2d": keypoints,
        "hand_keypoints_2d": hand,
        "center": np.array([30.0, 25.0], dtype=np.float32),
        "scale": np.float32(0.3),
        "body_pose": pose,
        "betas": rng.normal(0, 0.5, 10).astype(np.float32),
        "has_body_pose": 1,
        "has_betas": 1,
    }
    label.update(overrides)
    return label


def write_pickle(path: Path, value, protocol: int = 4) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(value, protocol=protocol))
    return path


def write_frame(clip_dir: Path, frame: str, people: dict, ext: str = ".jpeg", image: bytes | None = None) -> None:
    """Write ``<frame><ext>`` and one ``<frame>_<person>.pyd`` per entry of ``people`` ({person: label})."""
    clip_dir.mkdir(parents=True, exist_ok=True)
    (clip_dir / f"{frame}{ext}").write_bytes(image if image is not None else image_bytes(
        fmt="PNG" if ext == ".png" else "JPEG"))
    for person, label in people.items():
        write_pickle(clip_dir / f"{frame}_{person}.pyd", label)


class Evil:
    """Runs ``os.system`` when unpickled by plain ``pickle``: creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def split(items):
    """(records, rejects) of a reader's output."""
    from hardmo_hf.data.record import Reject

    items = list(items)
    return [i for i in items if not isinstance(i, Reject)], [i for i in items if isinstance(i, Reject)]
