"""Where the demo finds its models, body model and detector, and its limits: all from environment variables.

=============================  ==============================================================================
``HARDMO_4DHUMANS_MODEL``      HardMo-4DHumans: a local folder or a Hub id (default :data:`HUB_MODEL_4DHUMANS`)
``HARDMO_HMR_MODEL``           HardMo-HMR: a local folder or a Hub id (default :data:`HUB_MODEL_HMR`)
``HARDMO_SMPL_PATH``           ``SMPL_NEUTRAL.pkl`` or its folder; without it the demo returns parameters only
``HARDMO_SMPL_REPO``           optional private Hub repo holding ``SMPL_NEUTRAL.pkl`` (Spaces: with ``HF_TOKEN``)
``HARDMO_DETECTOR``            person detector (see :mod:`hardmo_hf.detection`); ``none`` = whole image
``HARDMO_DEMO_MAX_PIXELS``     larger uploads are downscaled (default 4 MP)
``HARDMO_DEMO_CONCURRENCY``    requests processed at once (default 1); others wait in the queue
``HARDMO_DEMO_MAX_FRAMES``     upper bound of the video frame cap slider (default 120)
=============================  ==============================================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..constants import HUB_MODEL_4DHUMANS, HUB_MODEL_HMR
from .results import MODEL_4DHUMANS, MODEL_HMR

MODEL_ENV = {MODEL_4DHUMANS: "HARDMO_4DHUMANS_MODEL", MODEL_HMR: "HARDMO_HMR_MODEL"}
MODEL_DEFAULTS = {MODEL_4DHUMANS: HUB_MODEL_4DHUMANS, MODEL_HMR: HUB_MODEL_HMR}


def _int_env(name: str, default: int, minimum: int = 1) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {value!r}") from exc
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


@dataclass
class DemoConfig:
    """The demo's settings. ``model_locations`` maps a model name to a local folder or a Hub id."""

    model_locations: dict[str, str]
    smpl_path: str | None = None
    smpl_repo: str | None = None
    detector: str | None = None  # None: the detector module's default (or its own env var)
    max_pixels: int | None = None
    concurrency: int = 1
    max_video_frames: int = 120

    @classmethod
    def from_env(cls) -> DemoConfig:
        return cls(
            model_locations={
                name: os.environ.get(env) or MODEL_DEFAULTS[name] for name, env in MODEL_ENV.items()
            },
            smpl_path=os.environ.get("HARDMO_SMPL_PATH") or None,
            smpl_repo=os.environ.get("HARDMO_SMPL_REPO") or None,
            detector=os.environ.get("HARDMO_DETECTOR") or None,
            max_pixels=_int_env("HARDMO_DEMO_MAX_PIXELS", 0, minimum=0) or None,
            concurrency=_int_env("HARDMO_DEMO_CONCURRENCY", 1),
            max_video_frames=_int_env("HARDMO_DEMO_MAX_FRAMES", 120),
        )
