"""Person detection for the mesh-recovery models: a ``transformers`` object detector, person class only.

:class:`PersonDetector` wraps ``AutoModelForObjectDetection`` + ``AutoImageProcessor``. The default is RT-DETR
(``PekingU/rtdetr_r18vd``, COCO classes), which needs neither ``timm`` nor ``torchvision``. The model comes
from the ``model`` argument, else ``$HARDMO_DETECTOR``, else the default; ``"none"`` switches detection off.

When no detector can be loaded (no network, a bad id, a model without a ``person`` class, detection switched
off), the detector does not fail: it *falls back* to one box covering the whole image, and says so in
:attr:`PersonDetector.is_fallback` / :attr:`PersonDetector.fallback_reason` so that callers (the pipeline, the
Space) can tell the user.

Boxes are ``[x1, y1, x2, y2]`` in pixels of the image as given (x right, y down, origin at the top-left
corner), clipped to the image.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from .constants import DEFAULT_PERSON_DETECTOR, DETECTOR_ENV, DETECTOR_OFF_VALUES

logger = logging.getLogger(__name__)

PERSON_LABEL = "person"


@dataclass
class PersonDetections:
    """People found in one image.

    Attributes:
        boxes: ``(N, 4)`` float32 ``[x1, y1, x2, y2]`` image px, by decreasing score.
        scores: ``(N,)`` float32 detector confidences in [0, 1]; NaN for the whole-image fallback box.
        is_fallback: ``True`` when ``boxes`` is the whole image because no detector is available.
    """

    boxes: np.ndarray
    scores: np.ndarray
    is_fallback: bool = False

    def __len__(self) -> int:
        return len(self.boxes)


class PersonDetector:
    """Detects people with a ``transformers`` object-detection model; falls back to the whole image.

    Args:
        model: a Hub id or local folder of an object-detection model, ``"none"`` to switch detection off, or
            ``None`` for ``$HARDMO_DETECTOR`` / :data:`~hardmo_hf.constants.DEFAULT_PERSON_DETECTOR`.
        threshold: default score threshold of :meth:`detect`.
        device: torch device for the detector (default CPU).
        **from_pretrained_kwargs: passed to both ``from_pretrained`` calls (``revision``, ``cache_dir``,
            ``local_files_only``, ``token`` ...).

    Loading happens in the constructor; it never raises for an unavailable model (see :attr:`is_fallback`).
    """

    def __init__(
        self, model: str | None = None, threshold: float = 0.5, device=None, **from_pretrained_kwargs
    ):
        self.model_id = (
            model if model is not None else (os.environ.get(DETECTOR_ENV) or DEFAULT_PERSON_DETECTOR)
        )
        self.threshold = _check_threshold(threshold)
        self.device = device
        self.fallback_reason: str | None = None
        self.model = self.processor = None
        self.person_label_ids: tuple[int, ...] = ()
        if self.model_id.strip().lower() in DETECTOR_OFF_VALUES:
            self.fallback_reason = f"person detection is switched off ({DETECTOR_ENV}={self.model_id!r})"
        else:
            self._load(from_pretrained_kwargs)
        if self.fallback_reason:
            logger.warning(
                "person detector unavailable, using the whole image as one box: %s", self.fallback_reason
            )

    def _load(self, from_pretrained_kwargs: dict) -> None:
        try:
            from transformers import AutoImageProcessor, AutoModelForObjectDetection

            processor = AutoImageProcessor.from_pretrained(self.model_id, **from_pretrained_kwargs)
            model = AutoModelForObjectDetection.from_pretrained(self.model_id, **from_pretrained_kwargs)
        except (OSError, ValueError, ImportError, KeyError, RuntimeError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.fallback_reason = f"could not load the detector {self.model_id!r}: {first_line}"
            return
        labels = {int(i): str(name) for i, name in (model.config.id2label or {}).items()}
        person_ids = tuple(sorted(i for i, name in labels.items() if name.strip().lower() == PERSON_LABEL))
        if not person_ids:
            shown = ", ".join(list(labels.values())[:8])
            self.fallback_reason = (
                f"the detector {self.model_id!r} has no {PERSON_LABEL!r} class (labels: {shown} ...)"
            )
            return
        self.model = model.eval()
        if self.device is not None:
            self.model.to(self.device)
        self.processor = processor
        self.person_label_ids = person_ids
        logger.info("person detector %s loaded (person label ids %s)", self.model_id, person_ids)

    @property
    def is_fallback(self) -> bool:
        """``True`` when no detector is loaded and :meth:`detect` returns the whole image."""
        return self.model is None

    def detect(self, image, threshold: float | None = None) -> PersonDetections:
        """People in one image.

        Args:
            image: ``PIL.Image.Image`` or ``(H, W, 3)`` uint8 RGB numpy array.
            threshold: minimum score; defaults to the constructor's.
        Returns:
            :class:`PersonDetections`; the whole image as one box (score NaN) when :attr:`is_fallback`.
        """
        import torch
        from PIL import Image

        threshold = self.threshold if threshold is None else _check_threshold(threshold)
        if isinstance(image, np.ndarray):
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
            image = Image.fromarray(image)
        elif not isinstance(image, Image.Image):
            raise TypeError(f"expected a PIL image or a numpy array, got {type(image).__name__}")
        image = image.convert("RGB")
        width, height = image.size
        if self.is_fallback:
            return PersonDetections(
                np.array([[0.0, 0.0, width, height]], np.float32), np.array([np.nan], np.float32), True
            )
        inputs = self.processor(images=image, return_tensors="pt")
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            outputs = self.model(**{k: v.to(device) for k, v in inputs.items()})
        result = self.processor.post_process_object_detection(
            outputs, threshold=threshold, target_sizes=[(height, width)]
        )[0]
        labels = result["labels"].cpu().numpy()
        keep = np.isin(labels, self.person_label_ids)
        boxes = result["boxes"].float().cpu().numpy()[keep].reshape(-1, 4)
        scores = result["scores"].float().cpu().numpy()[keep]
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        if not valid.all():
            logger.info("dropped %d person boxes with no area inside the image", int((~valid).sum()))
        boxes, scores = boxes[valid], scores[valid]
        order = np.argsort(-scores, kind="stable")
        return PersonDetections(boxes[order].astype(np.float32), scores[order].astype(np.float32), False)

    __call__ = detect

    def __repr__(self) -> str:
        state = (
            f"fallback: {self.fallback_reason}" if self.is_fallback else f"person ids {self.person_label_ids}"
        )
        return f"PersonDetector({self.model_id!r}, threshold={self.threshold}, {state})"


def _check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"score threshold must be in [0, 1], got {threshold}")
    return threshold


__all__ = ["PERSON_LABEL", "PersonDetections", "PersonDetector"]
