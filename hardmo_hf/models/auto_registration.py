"""Register the HardMo configs, models and image processor with ``AutoConfig`` / ``AutoModel`` /
``AutoImageProcessor``, and the ``"human-mesh-recovery"`` pipeline task.

``import hardmo_hf`` calls :func:`register_when_transformers_loads`. If ``transformers`` is already imported the
classes are registered at once. Otherwise a one-shot import hook registers them as soon as ``transformers`` and
the HardMo model modules can be imported completely: right after ``import transformers`` finishes, or right
after ``configuration_hardmo`` / ``modeling_hardmo`` finish when one of them is what pulled ``transformers`` in.
The pipeline task is registered the same way once ``transformers.pipelines`` is imported (``from transformers
import pipeline``), so that importing ``transformers`` alone stays light.
So ``import hardmo_hf`` stays fast (the CLI imports it), and ``AutoModel.from_pretrained(DIR)``,
``AutoImageProcessor.from_pretrained(DIR)`` and ``pipeline("human-mesh-recovery", DIR)`` work without
``trust_remote_code`` in any process that imported ``hardmo_hf``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import sys

logger = logging.getLogger(__name__)

_PACKAGE = __name__.rsplit(".", 1)[0]  # hardmo_hf.models
_PIPELINES_MODULE = "transformers.pipelines"
# Registration is retried after each of these finishes executing: transformers itself, and every module that
# registration imports and that may be the one pulling transformers in (then it is still half-initialised).
_WATCHED = (
    "transformers",
    _PIPELINES_MODULE,
    f"{_PACKAGE}.configuration_hardmo",
    f"{_PACKAGE}.modeling_hardmo",
    f"{_PACKAGE}.image_processing_hardmo",
    f"{_PACKAGE.rsplit('.', 1)[0]}.pipelines",
)
_in_progress: set[str] = set()
_state = {"registered": False, "registering": False, "pipeline_registered": False}


def register_auto_classes() -> None:
    """Register ``hardmo_hmr2`` and ``hardmo_hmr`` with ``AutoConfig`` and ``AutoModel`` (idempotent)."""
    from transformers import AutoConfig, AutoImageProcessor, AutoModel

    from .configuration_hardmo import HardMoHMR2Config, HardMoHMRConfig
    from .image_processing_hardmo import HardMoImageProcessor
    from .modeling_hardmo import HardMoHMR2Model, HardMoHMRModel

    for config_class, model_class in ((HardMoHMR2Config, HardMoHMR2Model), (HardMoHMRConfig, HardMoHMRModel)):
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        AutoModel.register(config_class, model_class, exist_ok=True)
        # One NumPy implementation serves both backends transformers may ask for.
        AutoImageProcessor.register(
            config_class,
            image_processor_classes={"pil": HardMoImageProcessor, "torchvision": HardMoImageProcessor},
            exist_ok=True,
        )
    _state["registered"] = True


def _register_pipeline() -> None:
    from ..pipelines import register_pipeline

    register_pipeline()
    _state["pipeline_registered"] = True


def _all_registered() -> bool:
    return _state["registered"] and _state["pipeline_registered"]


def _try_register() -> None:
    """Register if everything it needs can be imported completely now; never raise into an import."""
    if _all_registered() or _state["registering"] or _in_progress or "transformers" not in sys.modules:
        return
    _state["registering"] = True
    try:
        if not _state["registered"]:
            register_auto_classes()
        if not _state["pipeline_registered"] and _PIPELINES_MODULE in sys.modules:
            _register_pipeline()
    except Exception as exc:  # noqa: BLE001  (never break the user's import)
        logger.warning("could not register the HardMo classes with transformers: %s", exc)
    finally:
        _state["registering"] = False
    if _all_registered():
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _RegistrationHook)]


class _RegistrationHook(importlib.abc.MetaPathFinder):
    """Wraps the loaders of the watched modules: registration is attempted after each finishes executing."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _WATCHED or fullname in sys.modules:
            return None
        index = sys.meta_path.index(self)
        for finder in sys.meta_path[index + 1 :]:
            spec = finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            _in_progress.add(fullname)
            try:
                exec_module(module)
            finally:
                _in_progress.discard(fullname)
            _try_register()

        spec.loader.exec_module = exec_then_register
        return spec


def register_when_transformers_loads() -> None:
    """Register now if ``transformers`` is imported, else as soon as it (and the model modules) can be."""
    if "transformers" in sys.modules and not _in_progress:
        _try_register()
    if not _all_registered() and not any(isinstance(f, _RegistrationHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegistrationHook())
