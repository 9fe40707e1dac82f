"""The HardMo models: configurations, modeling, geometry, converters.

The files named ``*_hardmo.py`` (plus ``constants_hardmo.py``) form the remote code that ``save_pretrained``
copies next to the weights: they sit flat here, use single-dot relative imports and never import
``hardmo_hf``. Converters (``convert_*_to_hf.py``, ``checkpoint_loading.py``, ``conversion_utils.py``) are
library code.

Nothing heavy is imported here, so ``hardmo_hf.constants`` (which re-exports ``constants_hardmo``) stays
light; import the submodules, or the names below, which load on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "HardMoHMR2Config": "configuration_hardmo",
    "HardMoHMRConfig": "configuration_hardmo",
    "HardMoHMR2Model": "modeling_hardmo",
    "HardMoHMRModel": "modeling_hardmo",
    "HardMoMeshOutput": "modeling_hardmo",
    "HardMoPreTrainedModel": "modeling_hardmo",
    "HardMoImageProcessor": "image_processing_hardmo",
    "convert_hmr2_checkpoint": "convert_hmr2_to_hf",
    "convert_hmr_checkpoint": "convert_hmr_to_hf",
    "load_state_dict": "checkpoint_loading",
    "write_hub_folder": "conversion_utils",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
