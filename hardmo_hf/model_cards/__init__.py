"""Model cards of the converted models (the Hub folder's ``README.md``).

One Markdown file per released model sits beside this module; the converter copies the right one into every
Hub folder it writes (:func:`card_for_config`). Each card has YAML metadata (``library_name``,
``pipeline_tag``, licence, datasets, tags, a ``model-index`` with the paper's numbers naming their table), a
``## Usage`` section whose first Python block the tests run against a converted model, the SMPL licence
note, limitations and citations.
"""

from __future__ import annotations

import re
from pathlib import Path

CARD_FILES = {"hmr2": "hardmo-4dhumans.md", "hmr": "hardmo-hmr.md", "bedlam": "bedlam-hmr.md"}
# The model id each card's usage snippet loads (replaced by a local folder in the tests).
CARD_MODEL_IDS = {"hmr2": "hardmo/HardMo-4DHumans", "hmr": "hardmo/HardMo-HMR", "bedlam": "BEDLAM-HMR"}


def card_path(kind: str) -> Path:
    """The card of ``kind`` (``"hmr2"``, ``"hmr"`` or ``"bedlam"``, as the processor presets)."""
    if kind not in CARD_FILES:
        raise ValueError(f"no model card for {kind!r}; expected one of {tuple(CARD_FILES)}")
    return Path(__file__).with_name(CARD_FILES[kind])


def card_text(kind: str) -> str:
    """The Markdown of the card of ``kind``."""
    return card_path(kind).read_text(encoding="utf-8")


def card_for_config(config) -> str:
    """The card matching a HardMo model config (HardMo-4DHumans, HardMo-HMR or BEDLAM-HMR)."""
    from ..models.image_processing_hardmo import preset_for_config

    return card_text(preset_for_config(config))


def usage_snippet(text: str) -> str:
    """The first ```` ```python ```` block of the card's ``## Usage`` section."""
    section = re.search(r"^## Usage\n(.*?)(?=^## )", text, flags=re.DOTALL | re.MULTILINE)
    block = re.search(r"```python\n(.*?)```", section.group(1) if section else "", flags=re.DOTALL)
    if block is None:
        raise ValueError("the card has no ```python block under '## Usage'")
    return block.group(1)


__all__ = ["CARD_FILES", "CARD_MODEL_IDS", "card_for_config", "card_path", "card_text", "usage_snippet"]
