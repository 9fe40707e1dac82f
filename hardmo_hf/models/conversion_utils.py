"""Shared pieces of the checkpoint converters: explicit key tables, ``--set`` overrides, the Hub folder.

Not part of the remote code (the converters may import ``hardmo_hf``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

# Tensors that must never be written into a packaged checkpoint: SMPL/SMPL-X data and its derivatives.
SMPL_KEY_PATTERN = re.compile(r"(^|\.)(smpl|smplx|J_regressor|joint_regressor_extra|shapedirs|posedirs|v_template|lbs_weights)(\.|$)")
SMPL_VERTEX_COUNTS = (6890, 10475)  # SMPL, SMPL-X


@dataclass(frozen=True)
class KeyRule:
    """``pattern`` (a full-match regex over upstream keys) -> ``target`` (a ``re`` replacement template).

    With ``targets`` instead of ``target``, the tensor is cut into ``len(targets)`` equal chunks along dim 0,
    one key per template (used to split a fused ``qkv`` projection into ``query``/``key``/``value``).
    """

    pattern: str
    target: str = ""
    targets: tuple[str, ...] = ()

    def match(self, key: str):
        return re.fullmatch(self.pattern, key)


def map_state_dict(
    upstream: dict[str, torch.Tensor], rules: Iterable[KeyRule], drop: Iterable[str], source: str
) -> dict[str, torch.Tensor]:
    """Apply an explicit key table.

    Every upstream key must match exactly one of ``drop`` (full-match regexes of keys deliberately left out)
    or one rule; anything else is an error that names the keys. Returns the HF-layout state dict.
    """
    rules = list(rules)
    drop = [re.compile(p) for p in drop]
    converted: dict[str, torch.Tensor] = {}
    unmapped = []
    dropped = 0
    for key, tensor in upstream.items():
        if any(p.fullmatch(key) for p in drop):
            dropped += 1
            continue
        matches = [(rule, m) for rule in rules if (m := rule.match(key))]
        if not matches:
            unmapped.append(key)
            continue
        if len(matches) > 1:
            raise ValueError(f"{source}: key {key!r} matches several conversion rules: {[r.pattern for r, _ in matches]}")
        rule, m = matches[0]
        if rule.targets:
            chunks = tensor.chunk(len(rule.targets), dim=0)
            if len({tuple(c.shape) for c in chunks}) != 1 or tensor.shape[0] % len(rule.targets):
                raise ValueError(f"{source}: {key!r} of shape {tuple(tensor.shape)} cannot be split in {len(rule.targets)}")
            for template, chunk in zip(rule.targets, chunks):
                _put(converted, m.expand(template), chunk.clone() if chunk.device.type != "meta" else chunk, key, source)
        else:
            _put(converted, m.expand(rule.target), tensor, key, source)
    if unmapped:
        shown = ", ".join(unmapped[:20]) + (f" ... ({len(unmapped)} in all)" if len(unmapped) > 20 else "")
        raise ValueError(f"{source}: unexpected checkpoint keys (no conversion rule): {shown}")
    logger.info("%s: mapped %d tensors, dropped %d", source, len(upstream) - dropped, dropped)
    return converted


def _put(converted: dict, key: str, tensor: torch.Tensor, source_key: str, source: str) -> None:
    if key in converted:
        raise ValueError(f"{source}: {source_key!r} maps onto {key!r}, which another key already produced")
    converted[key] = tensor


def load_converted(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` with an error naming every missing / unexpected / mis-shaped key.

    Meta-device models are loaded with ``assign=True`` (the key-manifest checks build no real tensors).
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    shapes = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(state_dict))
        if tuple(state_dict[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {', '.join(missing[:20])}" + (" ..." if len(missing) > 20 else ""))
    if unexpected:
        problems.append(f"unexpected keys: {', '.join(unexpected[:20])}" + (" ..." if len(unexpected) > 20 else ""))
    if shapes:
        problems.append(f"shape mismatches: {'; '.join(shapes[:10])}")
    if problems:
        raise ValueError(f"{source}: the converted weights do not fit the model ({' | '.join(problems)})")
    on_meta = any(t.device.type == "meta" for t in expected.values())
    converted = {k: (v if v.device.type == "meta" else v.to(expected[k].dtype)) for k, v in state_dict.items()}
    model.load_state_dict(converted, strict=True, assign=on_meta)


# ------------------------------------------------------------------------------------------------------
# --set FIELD=VALUE
# ------------------------------------------------------------------------------------------------------
def parse_overrides(items: Iterable[str] | None) -> dict[str, object]:
    """``["decoder_heads=4", "vit_config.num_attention_heads=4"]`` -> ``{field: value}`` (JSON values, else str)."""
    overrides = {}
    for item in items or ():
        field, sep, raw = item.partition("=")
        if not sep or not field.strip():
            raise ValueError(f"--set expects FIELD=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        overrides[field.strip()] = value
    return overrides


def check_override_fields(config_class, overrides: dict, nested: dict[str, type] | None = None) -> None:
    """Raise ``ValueError`` for an override that names no field of ``config_class`` (or of a nested config)."""
    own = {f.name for f in fields(config_class)}
    nested = nested or {}
    for name in overrides:
        head, _, rest = name.partition(".")
        if rest:
            if head not in nested:
                raise ValueError(f"--set {name}: {config_class.__name__} has no nested config {head!r}")
            if rest not in {f.name for f in fields(nested[head])}:
                raise ValueError(f"--set {name}: {nested[head].__name__} has no field {rest!r}")
        elif name not in own:
            raise ValueError(f"--set {name}: {config_class.__name__} has no field {name!r}")


def merge_inferred(inferred: dict, overrides: dict, source: str) -> dict:
    """Overrides win for free fields; contradicting a shape-determined value is an error."""
    values = dict(inferred)
    for name, value in overrides.items():
        if name in inferred and inferred[name] != value:
            raise ValueError(f"{source}: --set {name}={value!r} contradicts the checkpoint's tensors ({inferred[name]!r})")
        values[name] = value
    return values


def nest_dotted(values: dict) -> dict:
    """``{"a.b": 1, "c": 2}`` -> ``{"a": {"b": 1}, "c": 2}`` (one level, as the configs need)."""
    nested: dict = {}
    for name, value in values.items():
        head, _, rest = name.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            nested[name] = value
    return nested


def count_indices(keys: Iterable[str], pattern: str) -> int:
    """Number of distinct integers captured by ``pattern`` (one group) over ``keys``; 0 if none."""
    found = {int(m.group(1)) for k in keys if (m := re.match(pattern, k))}
    if found and found != set(range(len(found))):
        raise ValueError(f"non-contiguous indices {sorted(found)} for {pattern!r}")
    return len(found)


# ------------------------------------------------------------------------------------------------------
# Hub folder
# ------------------------------------------------------------------------------------------------------
def find_smpl_tensors(safetensors_path: str | Path) -> list[str]:
    """Names of the tensors in a ``.safetensors`` file that look like SMPL/SMPL-X data (by key or by shape)."""
    from safetensors import safe_open

    suspicious = []
    with safe_open(str(safetensors_path), framework="pt") as handle:
        for key in handle.keys():  # noqa: SIM118  (safetensors handles are not iterable)
            shape = handle.get_slice(key).get_shape()
            if SMPL_KEY_PATTERN.search(key) or any(n in SMPL_VERTEX_COUNTS for n in shape):
                suspicious.append(key)
    return suspicious


def write_hub_folder(
    model,
    out_dir: str | Path,
    processor=None,
    card_text: str | None = None,
    extra_files: dict[str, str] | None = None,
) -> Path:
    """Write a complete Hub folder for a converted model.

    ``config.json`` (with ``auto_map``), ``model.safetensors``, the custom code files (flat), the processor's
    ``preprocessor_config.json`` (``processor.save_pretrained``; by default the ``HardMoImageProcessor`` preset
    of the model's config), and, when given, ``README.md`` (``card_text``) and ``extra_files``
    (``{name: text}``). Refuses to finish if any SMPL tensor reached the weights file.
    """
    from .image_processing_hardmo import HardMoImageProcessor

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    if processor is None:
        processor = HardMoImageProcessor.for_model_config(model.config)
    processor.save_pretrained(out_dir)
    if card_text is not None:
        (out_dir / "README.md").write_text(card_text, encoding="utf-8")
    for name, text in (extra_files or {}).items():
        (out_dir / name).write_text(text, encoding="utf-8")
    weights = sorted(out_dir.glob("model*.safetensors"))
    if not weights:
        raise RuntimeError(f"{out_dir}: save_pretrained wrote no model.safetensors")
    for path in weights:
        if bad := find_smpl_tensors(path):
            path.unlink()
            raise RuntimeError(f"{path}: SMPL data must never be packaged, but found {bad[:5]}; file removed")
    logger.info("wrote %s", out_dir)
    return out_dir

