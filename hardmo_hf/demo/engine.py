"""The demo's inference: detector -> crops -> HardMo models -> per-person results, one frame at a time.

Models, the SMPL body model and the detector are loaded lazily, once, and shared by all requests (loading
is serialized by a lock; inference is thread-safe in eval mode). What cannot be loaded degrades the demo
instead of breaking it, and :attr:`DemoEngine.notices` says what happened:

* no SMPL file: parameters and boxes only, no meshes, no 2D keypoints;
* no detector: the whole image is one person box (unless the user typed boxes);
* a model that cannot be loaded: a clear message for the requests that ask for it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import DemoConfig
from .results import FrameResult, ModelResult, PersonResult

logger = logging.getLogger(__name__)

SMPL_FILENAME = "SMPL_NEUTRAL.pkl"


class ModelUnavailableError(RuntimeError):
    """A model the user asked for cannot be loaded; the message is meant for the page."""


@dataclass
class LoadedModel:
    name: str
    location: str
    model: torch.nn.Module
    processor: object


class DemoEngine:
    """Loads what the demo needs on first use and runs it on frames."""

    def __init__(self, config: DemoConfig | None = None, device: str | None = None):
        self.config = config or DemoConfig.from_env()
        self.device = device
        self._lock = threading.RLock()
        self._models: dict[str, LoadedModel | str] = {}  # name -> model, or the error message
        self._detector = None
        self._detector_checked = False
        self._smpl_checked = False
        self._smpl_path: Path | None = None
        self._body_model: torch.nn.Module | None = None
        self.smpl_notice: str | None = None
        self.detector_notice: str | None = None

    # ------------------------------------------------------------------------------------------------
    # Loading
    # ------------------------------------------------------------------------------------------------
    def _device(self) -> torch.device:
        return torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    @property
    def smpl_path(self) -> Path | None:
        """The SMPL file, or None (then :attr:`smpl_notice` says why)."""
        with self._lock:
            if not self._smpl_checked:
                self._smpl_checked = True
                self._smpl_path = self._resolve_smpl()
        return self._smpl_path

    def _resolve_smpl(self) -> Path | None:
        from ..models.body_model_hardmo import SMPL_DOWNLOAD_HELP, resolve_smpl_path

        if self.config.smpl_path:
            try:
                return resolve_smpl_path(self.config.smpl_path)
            except FileNotFoundError as exc:
                self.smpl_notice = f"No SMPL body model: {exc}"
                logger.warning(self.smpl_notice)
                return None
        if self.config.smpl_repo:
            try:
                return _download_smpl(self.config.smpl_repo)
            except Exception as exc:  # noqa: BLE001 - any Hub failure degrades the demo to parameters only
                self.smpl_notice = (
                    f"No SMPL body model: downloading {SMPL_FILENAME} from the Hub repo "
                    f"{self.config.smpl_repo!r} failed ({type(exc).__name__}: {exc})."
                )
                logger.warning(self.smpl_notice)
                return None
        self.smpl_notice = (
            "No SMPL body model is configured, so the demo shows boxes and returns SMPL parameters but no "
            f"meshes or 2D keypoints. {SMPL_DOWNLOAD_HELP}"
        )
        return None

    @property
    def body_model(self) -> torch.nn.Module | None:
        """The SMPL layer shared by all models (loaded once), or None without an SMPL file."""
        with self._lock:
            if self._body_model is None and self.smpl_path is not None:
                from ..models.body_model_hardmo import SMPLBodyModel

                self._body_model = SMPLBodyModel(self.smpl_path).eval()  # no J19: meshes and 2D keypoints only
        return self._body_model

    @property
    def faces(self) -> np.ndarray | None:
        """(13776, 3) SMPL triangles, or None without a body model."""
        body_model = self.body_model
        return None if body_model is None else body_model.faces

    def model(self, name: str) -> LoadedModel:
        """The loaded model ``name``; raises :class:`ModelUnavailableError` with the reason."""
        with self._lock:
            if name not in self._models:
                self._models[name] = self._load_model(name)
            loaded = self._models[name]
        if isinstance(loaded, str):
            raise ModelUnavailableError(loaded)
        return loaded

    def _load_model(self, name: str) -> LoadedModel | str:
        from transformers import AutoImageProcessor, AutoModel

        import hardmo_hf  # noqa: F401  (registers the HardMo classes with the Auto* factories)

        location = self.config.model_locations.get(name)
        if not location:
            return f"{name} is not configured."
        start = time.perf_counter()
        try:
            model = AutoModel.from_pretrained(location)
            try:
                processor = AutoImageProcessor.from_pretrained(location)
            except OSError:  # no preprocessor_config.json: the crop rule follows from the model type
                from ..models.image_processing_hardmo import HardMoImageProcessor

                processor = HardMoImageProcessor.for_model_config(model.config)
                logger.info(
                    "%s: no preprocessor_config.json in %s; using the %s preset",
                    name,
                    location,
                    model.config.model_type,
                )
        except (OSError, ValueError, KeyError) as exc:
            message = (
                f"{name} could not be loaded from {location!r} ({type(exc).__name__}: {_first_line(exc)}). "
                f"Set {_model_env(name)} to a converted model folder or a Hub id."
            )
            logger.error(message)
            return message
        model.eval().to(self._device())
        if self.body_model is not None:
            model.attach_body_model(self.body_model)
        logger.info("loaded %s from %s in %.1f s", name, location, time.perf_counter() - start)
        return LoadedModel(name, location, model, processor)

    @property
    def detector(self):
        """The person detector (:class:`hardmo_hf.detection.PersonDetector`); when none can be loaded it
        returns the whole image as one box and :attr:`detector_notice` says why."""
        with self._lock:
            if not self._detector_checked:
                self._detector_checked = True
                self._detector = self._load_detector()
        return self._detector

    def _load_detector(self):
        from ..detection import PersonDetector

        detector = PersonDetector(self.config.detector, device=self._device())
        if detector.is_fallback:
            self.detector_notice = detector.fallback_reason
        return detector

    def warm_up(self, model_names) -> None:
        """Load everything ``model_names`` need now (the Space does this at start-up)."""
        self.smpl_path  # noqa: B018
        self.detector  # noqa: B018
        for name in model_names:
            try:
                self.model(name)
            except ModelUnavailableError as exc:
                logger.warning("%s", exc)

    # ------------------------------------------------------------------------------------------------
    # Inference
    # ------------------------------------------------------------------------------------------------
    def detect(self, image: np.ndarray, threshold: float) -> tuple[np.ndarray, list[float | None], str]:
        """Person boxes (N, 4) xyxy px, their scores and the box source (``detector`` / ``whole_image``)."""
        detections = self.detector.detect(image, threshold=threshold)
        source = "whole_image" if detections.is_fallback else "detector"
        scores = [None if detections.is_fallback else float(s) for s in detections.scores]
        return np.asarray(detections.boxes, dtype=np.float32).reshape(-1, 4), scores, source

    @torch.inference_mode()
    def run(
        self,
        image: np.ndarray,
        model_names: list[str],
        boxes: np.ndarray | None = None,
        threshold: float = 0.5,
        frame_index: int = 0,
        time_s: float | None = None,
    ) -> FrameResult:
        """Detect (unless ``boxes`` (N, 4) xyxy px are given) and run every model on one RGB uint8 frame."""
        height, width = image.shape[:2]
        start = time.perf_counter()
        if boxes is None:
            boxes, scores, source = self.detect(image, threshold)
        else:
            scores, source = [None] * len(boxes), "user"
        frame = FrameResult(
            (height, width),
            source,
            frame_index=frame_index,
            time_s=time_s,
            detector_seconds=time.perf_counter() - start if source != "user" else 0.0,
        )
        for name in model_names:
            loaded = self.model(name)
            start = time.perf_counter()
            people = self._run_model(loaded, image, boxes, scores) if len(boxes) else []
            frame.models[name] = ModelResult(name, people, time.perf_counter() - start)
        return frame

    def _run_model(
        self, loaded: LoadedModel, image: np.ndarray, boxes: np.ndarray, scores
    ) -> list[PersonResult]:
        device = self._device()
        inputs = loaded.processor(images=[image], boxes=[boxes], return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(device=device, dtype=next(loaded.model.parameters()).dtype)
        outputs = loaded.model(pixel_values=pixel_values)
        people = loaded.processor.post_process(outputs, inputs)[0]  # the people of our one image
        return [
            PersonResult(
                box=np.asarray(person["box"], dtype=np.float32),
                score=scores[k],
                global_orient=_np(person["global_orient"]).reshape(3),
                body_pose=_np(person["body_pose"]).reshape(69),
                betas=_np(person["betas"]).reshape(-1),
                camera_translation=_np(person["camera_translation"]).reshape(3),
                focal_length=float(person["focal_length"]),
                keypoints_2d=None
                if person.get("keypoints_2d") is None
                else _np(person["keypoints_2d"])[:, :2],
                vertices=None if person.get("vertices") is None else _np(person["vertices"]),
            )
            for k, person in enumerate(people)
        ]


def _np(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu", torch.float32).numpy()
    return np.asarray(value, dtype=np.float32)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _model_env(name: str) -> str:
    from .config import MODEL_ENV

    return MODEL_ENV.get(name, "the model location")


def _download_smpl(repo: str) -> Path:
    """Fetch ``SMPL_NEUTRAL.pkl`` from a (private) Hub repo: ``owner/name`` (model repo) or
    ``datasets/owner/name``; the token comes from ``HF_TOKEN`` as usual."""
    from huggingface_hub import hf_hub_download

    repo_type = "model"
    if repo.startswith(("datasets/", "spaces/")):
        kind, repo = repo.split("/", 1)
        repo_type = kind[:-1]
    return Path(hf_hub_download(repo_id=repo, filename=SMPL_FILENAME, repo_type=repo_type))
