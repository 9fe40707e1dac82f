"""Reading and writing the pipeline's label trees for mining and optimization.

The layout is the builder's input (``docs/pipeline_output_format.md``): ``normal/<category>/<clip_id>/`` holds
the frames and the raw labels ``<frame:06d>_<person>.pyd``; ``foot/`` and ``hand/`` hold optimized labels
of the same samples (no images). Labels are read with the restricted unpickler and validated by the dataset
readers' own parser, so the pipeline accepts exactly what ``hardmo-hf build`` accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..constants import BBOX_SCALE_UNIT
from ..data.readers._common import PersonLabel, RecordError, parse_person_label
from ..data.readers.label_tree import LABEL_NAME
from ..data.record import format_sample_id
from ..safe_pickle import PickleLoadError, load_pickle
from .fitting import NUM_FIT_POINTS, FitBatch

NORMAL_TREE = "normal"


@dataclass(frozen=True)
class SampleRef:
    """One label of the normal tree: ``<category>/<clip_id>/<frame:06d>_<person>``."""

    category: str
    clip_id: str
    frame: int
    person: int

    @property
    def sample_id(self) -> str:
        return format_sample_id(self.category, self.clip_id, self.frame, self.person)

    @property
    def clip(self) -> str:
        return f"{self.category}/{self.clip_id}"

    def label_path(self, tree: Path) -> Path:
        return Path(tree) / self.category / self.clip_id / f"{self.frame:06d}_{self.person}.pyd"

    @classmethod
    def parse(cls, sample_id: str) -> SampleRef:
        parts = sample_id.strip().split("/")
        match = LABEL_NAME.match(parts[-1] + ".pyd") if len(parts) == 3 else None
        if match is None:
            raise ValueError(f"bad sample id {sample_id!r} (expected <category>/<clip_id>/<frame>_<person>)")
        return cls(parts[0], parts[1], int(match["frame"]), int(match["person"]))


def list_clips(normal_tree: Path) -> list[str]:
    """``<category>/<clip_id>`` of every clip folder of the normal tree, sorted."""
    normal_tree = Path(normal_tree)
    if not normal_tree.is_dir():
        raise FileNotFoundError(
            f"{normal_tree}: no normal label tree (run `hardmo-hf pipeline ingest` first)"
        )
    return sorted(f"{c.parent.name}/{c.name}" for c in normal_tree.glob("*/*") if c.is_dir())


def list_samples(normal_tree: Path, clip: str) -> list[SampleRef]:
    """Every label of one clip, sorted by frame and person."""
    category, clip_id = clip.split("/")
    refs = []
    for path in (Path(normal_tree) / category / clip_id).glob("*.pyd"):
        match = LABEL_NAME.match(path.name)
        if match is not None:
            refs.append(SampleRef(category, clip_id, int(match["frame"]), int(match["person"])))
    return sorted(refs, key=lambda r: (r.frame, r.person))


def load_label(path: Path) -> tuple[dict, PersonLabel]:
    """The raw label dict and its validated form. Raises ``ValueError`` naming the file when invalid."""
    try:
        raw = load_pickle(path)
        if isinstance(raw, list) and len(raw) == 1:
            raw = raw[0]
        return raw, parse_person_label(raw)
    except (PickleLoadError, RecordError) as exc:
        raise ValueError(f"{path}: invalid label ({exc})") from exc


def fit_batch(labels: list[PersonLabel]) -> FitBatch:
    """Stack validated labels into a :class:`FitBatch` (keypoints in the 35-point fitting layout)."""
    pose = np.stack([np.concatenate([lab.global_orient, lab.body_pose]) for lab in labels])
    betas = np.stack([lab.betas for lab in labels])
    keypoints = np.stack([np.concatenate([lab.keypoints_2d[:25], lab.hand_keypoints_2d]) for lab in labels])
    assert keypoints.shape[1] == NUM_FIT_POINTS
    box_size = np.array([lab.scale * BBOX_SCALE_UNIT for lab in labels])
    return FitBatch(
        torch.from_numpy(pose.astype(np.float32)),
        torch.from_numpy(betas.astype(np.float32)),
        torch.from_numpy(keypoints.astype(np.float32)),
        torch.from_numpy(box_size.astype(np.float32)),
    )
