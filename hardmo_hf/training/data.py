"""Training examples from the streaming HardMo dataset: augmented crops and labels in the models' format.

Each row becomes ``{"pixel_values": (3, S, S), "labels": {...}}`` with the ``labels`` of
:mod:`hardmo_hf.models.loss_hardmo`: crop-frame keypoints (``[-0.5, 0.5]``), axis-angle SMPL parameters and
validity flags. The crop window is the model processor's (the box grown to the model's aspect ratio, square);
augmentation follows :mod:`hardmo_hf.training.augment`.

Label cleaning as in the authors' training config: the 3D keypoints of HardMo rows are not used (4D-Humans
zeroes them for these tar shards), and, with ``BETAS_REG``, a row whose betas are invalid is trained towards
zero betas (``has_betas`` on, betas 0).
"""

from __future__ import annotations

import numpy as np
import torch

from ..constants import CONFIDENCE_THRESHOLD_CODE, IMAGENET_MEAN, IMAGENET_STD
from ..data.streaming import SampleStream
from ..evaluation.rows import row_image, row_labels
from .augment import NO_AUGMENTATION, AugmentationConfig, augment_example, sample_params


class CropSpec:
    """How the model crops a person: output side ``S``, the aspect ratio the box grows to, normalisation.

    Read from the model's image processor (``HardMoImageProcessor``): ``image_size``, ``bbox_aspect_ratio``
    (``(w, h)`` or ``None``), ``image_mean``, ``image_std``. Training crops are not blurred (4D-Humans trains
    without its anti-aliasing option).
    """

    def __init__(self, crop_size: int, bbox_aspect_ratio=None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.crop_size = int(crop_size)
        self.bbox_aspect_ratio = tuple(bbox_aspect_ratio) if bbox_aspect_ratio is not None else None
        self.mean = np.asarray(mean, dtype=np.float32)[:, None, None] * 255.0
        self.std = np.asarray(std, dtype=np.float32)[:, None, None] * 255.0

    @classmethod
    def from_processor(cls, processor) -> CropSpec:
        """The crop of a :class:`~hardmo_hf.models.image_processing_hardmo.HardMoImageProcessor`."""
        if getattr(processor, "crop_rule", "hmr2") != "hmr2":
            raise ValueError(f"training crops follow the 'hmr2' rule (HardMo models); this processor uses "
                             f"{processor.crop_rule!r}")
        return cls(processor.image_size, processor.bbox_aspect_ratio, processor.image_mean, processor.image_std)

    def window_side(self, box_side: float) -> float:
        """Side of the square crop window for a square box of ``box_side`` px (grown to the aspect ratio)."""
        if self.bbox_aspect_ratio is None:
            return float(box_side)
        w_t, h_t = self.bbox_aspect_ratio
        # A square box (w = h) is grown along the dimension the target aspect makes longer.
        return float(box_side * max(h_t / w_t, w_t / h_t, 1.0))

    def normalize(self, pixels: np.ndarray) -> torch.Tensor:
        """(3, S, S) array in [0, 255] -> ImageNet-normalised float32 tensor (NumPy: no intra-op threads)."""
        return torch.from_numpy((pixels - self.mean) / self.std)


def training_labels(row: dict) -> dict:
    """Full-image labels of one row for :func:`augment_example` (px, axis-angle), plus validity flags."""
    labels = row_labels(row)
    kp = labels["keypoints_2d"].copy()
    # The authors' training filter: keypoints with confidence below 0.3 are suppressed.
    kp[kp[:, 2] < CONFIDENCE_THRESHOLD_CODE, 2] = 0.0
    hand = labels["hand_keypoints_2d"].copy()
    hand[hand[:, 2] < CONFIDENCE_THRESHOLD_CODE, 2] = 0.0
    has_pose = bool(np.asarray(row.get("has_body_pose", False)).reshape(-1)[0]) and row.get("body_pose") is not None
    has_betas = bool(np.asarray(row.get("has_betas", False)).reshape(-1)[0]) and row.get("betas") is not None
    go = np.asarray(row["global_orient"], np.float32) if has_pose else np.zeros(3, np.float32)
    bp = np.asarray(row["body_pose"], np.float32) if has_pose else np.zeros(69, np.float32)
    # BETAS_REG: invalid betas become a "zero betas" target (has_betas on), as the authors train.
    betas = np.asarray(row["betas"], np.float32) if has_betas else np.zeros(10, np.float32)
    return {
        "keypoints_2d": kp, "hand_keypoints_2d": hand, "global_orient": go, "body_pose": bp, "betas": betas,
        "has_body_pose": has_pose, "has_betas": True,
        "center": labels["center"], "box_size": labels["box_size"], "sample_id": labels["sample_id"],
    }


def make_example(row: dict, crop: CropSpec, augmentation: AugmentationConfig, rng: np.random.Generator) -> dict:
    """One augmented training example: ``{"pixel_values": (3,S,S), "labels": {...}}`` (float32 tensors)."""
    labels = training_labels(row)
    params = sample_params(augmentation, rng)
    pixels, out = augment_example(
        row_image(row), labels["center"], crop.window_side(labels["box_size"]), crop.crop_size,
        {k: labels[k] for k in ("keypoints_2d", "hand_keypoints_2d", "global_orient", "body_pose")},
        params, extreme_crop_level=augmentation.extreme_crop_level,
    )
    has_pose = float(labels["has_body_pose"])
    return {
        "pixel_values": crop.normalize(pixels),
        "labels": {
            "keypoints_2d": torch.as_tensor(out["keypoints_2d"], dtype=torch.float32),
            "hand_keypoints_2d": torch.as_tensor(out["hand_keypoints_2d"], dtype=torch.float32),
            "global_orient": torch.as_tensor(out["global_orient"], dtype=torch.float32),
            "body_pose": torch.as_tensor(out["body_pose"], dtype=torch.float32),
            "betas": torch.as_tensor(labels["betas"], dtype=torch.float32),
            "has_global_orient": torch.tensor(has_pose),
            "has_body_pose": torch.tensor(has_pose),
            "has_betas": torch.tensor(1.0),
        },
    }


class HardMoTrainingStream(torch.utils.data.IterableDataset):
    """Endless augmented examples from a streaming split (re-iterated epoch after epoch; use ``max_steps``).

    Each epoch reshuffles the stream (``datasets`` shard order + a shuffle buffer) with ``seed + epoch``; each
    DataLoader worker draws augmentations from its own generator, seeded from ``seed``, the epoch and the
    worker id, so a run is reproducible for a given worker count.
    """

    def __init__(self, stream, crop: CropSpec, augmentation: AugmentationConfig | None = None,
                 seed: int = 0, shuffle_buffer: int = 256, epochs: int | None = None):
        super().__init__()
        self.stream = stream
        self.crop = crop
        self.augmentation = augmentation if augmentation is not None else AugmentationConfig()
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.epochs = epochs

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        epoch = 0
        while self.epochs is None or epoch < self.epochs:
            stream = self.stream
            if self.shuffle_buffer > 1:
                stream = stream.shuffle(seed=self.seed + epoch, buffer_size=self.shuffle_buffer)
            rng = np.random.default_rng([self.seed, epoch, worker])
            produced = 0
            for row in SampleStream(stream):  # each DataLoader worker reads its own shards
                produced += 1
                yield make_example(row, self.crop, self.augmentation, rng)
            if produced == 0:
                if epoch == 0 and worker == 0:
                    raise ValueError("the training split yielded no rows")
                return
            epoch += 1


def collate(examples: list[dict]) -> dict:
    """Stack examples into ``{"pixel_values": (B,3,S,S), "labels": {name: (B, ...)}}``."""
    return {
        "pixel_values": torch.stack([e["pixel_values"] for e in examples]),
        "labels": {k: torch.stack([e["labels"][k] for e in examples]) for k in examples[0]["labels"]},
    }


__all__ = ["NO_AUGMENTATION", "CropSpec", "HardMoTrainingStream", "collate", "make_example", "training_labels"]
