"""The ``"human-mesh-recovery"`` pipeline task: an image in, one SMPL body per person out.

``import hardmo_hf`` registers the task with ``transformers`` (as soon as ``transformers.pipelines`` is
imported), so that::

    from transformers import pipeline
    import hardmo_hf

    hmr = pipeline("human-mesh-recovery", model="hardmo/HardMo-4DHumans")
    people = hmr("dancer.jpg")                        # persons found by the detector
    people = hmr(image, boxes=[[x1, y1, x2, y2]])     # or given boxes (image px)
    batch = hmr([{"image": a, "boxes": boxes_a}, "b.jpg"])

Each person is the dict of :meth:`HardMoImageProcessor.post_process` (axis-angle SMPL parameters, the
full-image camera, and with a body model the mesh and keypoints in image pixels), plus ``score`` (the
detector's confidence; NaN for user boxes and the whole-image fallback) and ``box_source`` (``"detector"``,
``"user"`` or ``"whole_image"``).

Images are read with ``transformers.image_utils.load_image`` (paths, URLs, PIL images; EXIF orientation
applied) or given as ``(H, W, 3)`` uint8 RGB numpy arrays; boxes refer to the upright image.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import torch
from transformers import Pipeline

from .constants import PIPELINE_TASK
from .detection import PersonDetector
from .models.body_model_hardmo import SMPL_PATH_ENV

logger = logging.getLogger(__name__)

BOX_SOURCES = ("detector", "user", "whole_image")


class HumanMeshRecoveryPipeline(Pipeline):
    r"""Human mesh recovery with a HardMo model (task ``"human-mesh-recovery"``).

    Args (besides the usual ``model``, ``image_processor``, ``device``, ``dtype``):
        detector (`PersonDetector` or `str`, *optional*): used when no boxes are given; a detector, a model id
            / folder, or ``None`` for ``$HARDMO_DETECTOR`` / RT-DETR (loaded on first use). Without a usable
            detector the whole image is one person (``box_source="whole_image"``).
        body_model (`str` or `torch.nn.Module`, *optional*): the SMPL body model to attach to the model
            (``SMPL_NEUTRAL.pkl``, its folder, or a module; see ``attach_body_model``). Defaults to
            ``$HARDMO_SMPL_PATH`` when set; without a body model the results carry no mesh or keypoints.

    Call arguments:
        images: one image (path, URL, PIL image, uint8 RGB array), a ``{"image": ..., "boxes": ...}`` dict, or
            a list of those.
        boxes: ``(K, 4)`` ``[x1, y1, x2, y2]`` image px for a single image (``K = 0`` allowed).
        threshold (`float`, defaults to 0.5): detector score threshold.
        timeout (`float`, *optional*): seconds to wait for an image URL.

    Returns a list of person dicts for one image, a list of such lists for a list of images.
    """

    _load_processor = False
    _load_image_processor = True
    _load_feature_extractor = False
    _load_video_processor = False
    _load_tokenizer = False

    def __init__(self, *args, detector: PersonDetector | str | None = None, body_model=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._detector = detector
        if body_model is None and os.environ.get(SMPL_PATH_ENV):
            body_model = os.environ[SMPL_PATH_ENV]
        if body_model is not None:
            self.model.attach_body_model(body_model)

    @property
    def detector(self) -> PersonDetector:
        """The person detector (loaded on first use)."""
        if not isinstance(self._detector, PersonDetector):
            self._detector = PersonDetector(self._detector)
        return self._detector

    def _sanitize_parameters(self, boxes=None, threshold=None, timeout=None):
        preprocess_params = {}
        if boxes is not None:
            preprocess_params["boxes"] = boxes
        if threshold is not None:
            preprocess_params["threshold"] = threshold
        if timeout is not None:
            preprocess_params["timeout"] = timeout
        return preprocess_params, {}, {}

    def preprocess(self, inputs, boxes=None, threshold=None, timeout=None):
        from transformers.image_utils import load_image

        if isinstance(inputs, dict):
            if "image" not in inputs:
                raise ValueError(f"a dict input needs an 'image' key, got keys {sorted(inputs)}")
            boxes = inputs.get("boxes", boxes)
            inputs = inputs["image"]
        if isinstance(inputs, np.ndarray):
            from PIL import Image

            if inputs.dtype != np.uint8 or inputs.ndim not in (2, 3):
                raise ValueError(
                    f"numpy images must be (H, W, 3) uint8 RGB, got {inputs.dtype} {inputs.shape}"
                )
            inputs = Image.fromarray(inputs)
        image = load_image(inputs, timeout=timeout)
        scores, source = None, "user"
        if boxes is None:
            detections = self.detector.detect(image, threshold=threshold)
            boxes, scores = detections.boxes, detections.scores
            source = "whole_image" if detections.is_fallback else "detector"
        # The processor validates the boxes (errors name the bad box).
        model_inputs = dict(self.image_processor(images=image, boxes=boxes, return_tensors="pt"))
        if scores is None:  # user boxes carry no detector score
            scores = np.full(len(model_inputs["boxes"]), np.nan, np.float32)
        model_inputs["scores"] = torch.as_tensor(scores, dtype=torch.float32)
        model_inputs["box_source"] = source
        return model_inputs

    def _forward(self, model_inputs):
        pixel_values = model_inputs["pixel_values"]
        outputs = self.model(pixel_values=pixel_values) if len(pixel_values) else None
        return {"outputs": outputs, "inputs": model_inputs}

    def postprocess(self, model_outputs):
        inputs, outputs = model_outputs["inputs"], model_outputs["outputs"]
        if outputs is None:
            return []
        people = self.image_processor.post_process(outputs, inputs)[0]
        scores = inputs["scores"].float().cpu().numpy()
        for person, score in zip(people, scores):
            person["score"] = float(score)
            person["box_source"] = inputs["box_source"]
        return people


def register_pipeline() -> None:
    """Register the ``"human-mesh-recovery"`` task with ``transformers`` (idempotent)."""
    from transformers import AutoModel
    from transformers.pipelines import PIPELINE_REGISTRY

    if PIPELINE_TASK in PIPELINE_REGISTRY.get_supported_tasks():
        impl = PIPELINE_REGISTRY.supported_tasks[PIPELINE_TASK]["impl"]
        if impl is HumanMeshRecoveryPipeline:
            return
    PIPELINE_REGISTRY.register_pipeline(
        PIPELINE_TASK, pipeline_class=HumanMeshRecoveryPipeline, pt_model=AutoModel, type="image"
    )


__all__ = ["BOX_SOURCES", "HumanMeshRecoveryPipeline", "register_pipeline"]
