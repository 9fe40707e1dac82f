"""Converted-model Hub folders: complete them, check them, upload them.

A Hub folder of a HardMo model holds ``config.json`` (with ``auto_map``), ``model.safetensors`` (never any
SMPL data), ``preprocessor_config.json`` (the crop rule), ``README.md`` (the model card) and the flat model
code (``*_hardmo.py``) that ``trust_remote_code=True`` loads. The converters write all of it;
:func:`finalize_hub_folder` adds the processor and card to an older or hand-made folder,
:func:`check_hub_folder` proves a folder is complete and clean, and :func:`push_model_folder` uploads a
checked folder with ``huggingface_hub``
(``hardmo-hf push-model DIR --repo-id ... [--dry-run] [--private]``).
"""

from __future__ import annotations

import ast
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
PROCESSOR_FILE = "preprocessor_config.json"
CARD_FILE = "README.md"
MODEL_TYPES = ("hardmo_hmr2", "hardmo_hmr")
# File names that look like licensed body-model data; such files are never uploaded.
BODY_MODEL_FILE = re.compile(r"(smpl|smplx|basicmodel|j_regressor|smpl_to_j19)", re.IGNORECASE)
# Left out of uploads: caches and editor/OS litter.
IGNORED = re.compile(r"(^|/)(__pycache__|\.cache|\.git|\.ipynb_checkpoints)(/|$)|(^|/)\.DS_Store$|\.pyc$")


@dataclass
class HubFolderReport:
    """What :func:`check_hub_folder` found: the files to upload (relative path, bytes) and the problems."""

    folder: Path
    files: list[tuple[str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        total = sum(size for _, size in self.files)
        lines = [f"{self.folder}: {len(self.files)} files, {_human_size(total)}"]
        lines += [f"  {name:<40} {_human_size(size):>10}" for name, size in self.files]
        lines += [f"  problem: {problem}" for problem in self.problems]
        return "\n".join(lines)


def finalize_hub_folder(out_dir: str | Path, kind: str | None = None, overwrite_card: bool = False) -> Path:
    """Write ``preprocessor_config.json`` (with its code files) and ``README.md`` into a model folder.

    Args:
        out_dir: a folder with the model's ``config.json``.
        kind: ``"hmr2"``, ``"hmr"`` or ``"bedlam"``; read from ``config.json`` when ``None``.
        overwrite_card: replace an existing ``README.md``.
    """
    from transformers import AutoConfig

    import hardmo_hf  # noqa: F401  (registers the HardMo configs)

    from .model_cards import card_text
    from .models.image_processing_hardmo import HardMoImageProcessor, preset_for_config

    out_dir = Path(out_dir)
    if not (out_dir / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{out_dir}: no {CONFIG_FILE}; convert a checkpoint into this folder first")
    config = AutoConfig.from_pretrained(out_dir)
    kind = kind or preset_for_config(config)
    HardMoImageProcessor.from_preset(kind, image_size=config.image_size).save_pretrained(out_dir)
    card = out_dir / CARD_FILE
    if overwrite_card or not card.exists():
        card.write_text(card_text(kind), encoding="utf-8")
    return out_dir


def check_hub_folder(folder: str | Path) -> HubFolderReport:
    """Check that a converted-model folder is complete and holds nothing it must not."""
    from .models.conversion_utils import find_smpl_tensors

    folder = Path(folder)
    report = HubFolderReport(folder)
    if not folder.is_dir():
        report.problems.append(f"{folder} is not a folder")
        return report
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if IGNORED.search(relative):
            continue
        report.files.append((relative, path.stat().st_size))
        if BODY_MODEL_FILE.search(path.name) and path.suffix.lower() in (
            ".pkl",
            ".npz",
            ".npy",
            ".pt",
            ".pth",
        ):
            report.problems.append(
                f"{relative} looks like licensed body-model data: remove it (SMPL is never shared)"
            )
    names = {name for name, _ in report.files}
    problems = report.problems

    config = _read_json(folder / CONFIG_FILE, problems)
    if config is not None:
        if config.get("model_type") not in MODEL_TYPES:
            problems.append(
                f"{CONFIG_FILE}: model_type {config.get('model_type')!r} is not one of {MODEL_TYPES}"
            )
        auto_map = config.get("auto_map") or {}
        for auto_class in ("AutoConfig", "AutoModel"):
            if auto_class not in auto_map:
                problems.append(
                    f"{CONFIG_FILE}: auto_map has no {auto_class} entry (trust_remote_code would fail)"
                )
        _check_auto_map(auto_map, names, CONFIG_FILE, problems)

    weights = sorted(name for name in names if re.fullmatch(r"model(-\d+-of-\d+)?\.safetensors", name))
    if not weights:
        problems.append("no model.safetensors")
    for name in weights:
        try:
            if bad := find_smpl_tensors(folder / name):
                problems.append(
                    f"{name} holds SMPL data ({', '.join(bad[:5])}): reconvert, SMPL must never be shared"
                )
        except Exception as exc:  # noqa: BLE001 (a corrupt file is a problem to report, whatever the error)
            problems.append(f"{name} is not a readable safetensors file: {exc}")
    if any(name.endswith((".bin", ".ckpt", ".pth", ".pt")) for name in names):
        problems.append("pickled weights (.bin/.ckpt/.pt/.pth) present: upload safetensors only")

    processor = _read_json(folder / PROCESSOR_FILE, problems)
    if processor is not None:
        auto_map = processor.get("auto_map") or {}
        if "AutoImageProcessor" not in auto_map:
            problems.append(f"{PROCESSOR_FILE}: auto_map has no AutoImageProcessor entry")
        _check_auto_map(auto_map, names, PROCESSOR_FILE, problems)

    if CARD_FILE not in names:
        problems.append(f"no {CARD_FILE} (model card); run finalize_hub_folder or reconvert")
    else:
        _check_card(folder / CARD_FILE, problems)

    for name in sorted(n for n in names if n.endswith(".py")):
        _check_code_file(folder, name, names, problems)
    return report


def push_model_folder(
    folder: str | Path,
    repo_id: str,
    private: bool = False,
    dry_run: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
) -> HubFolderReport:
    """Check ``folder`` and, unless ``dry_run``, create ``repo_id`` (if needed) and upload the checked files.

    Raises ``ValueError`` listing the problems when the check fails (nothing is uploaded then).
    """
    check_repo_id(repo_id)
    report = check_hub_folder(folder)
    if not report.ok:
        raise ValueError(
            f"{folder} is not ready to upload:\n" + "\n".join(f"  - {p}" for p in report.problems)
        )
    if dry_run:
        return report
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    logger.info("uploading %d files to %s", len(report.files), url)
    api.upload_folder(
        repo_id=repo_id,
        repo_type="model",
        folder_path=str(report.folder),
        allow_patterns=[name for name, _ in report.files],
        commit_message=commit_message or f"Upload {Path(folder).name} converted with hardmo-hf",
    )
    return report


# ------------------------------------------------------------------------------------------------------
# Checks
# ------------------------------------------------------------------------------------------------------
def check_repo_id(repo_id: str) -> None:
    """Raise ``ValueError`` unless ``repo_id`` looks like ``OWNER/NAME``."""
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id or ""):
        raise ValueError(f"--repo-id must look like OWNER/NAME, got {repo_id!r}")


def _read_json(path: Path, problems: list[str]) -> dict | None:
    if not path.is_file():
        problems.append(f"no {path.name}")
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name} is not valid JSON: {exc}")
        return None
    if not isinstance(value, dict):
        problems.append(f"{path.name} must hold a JSON object")
        return None
    return value


def _check_auto_map(auto_map: dict, names: set[str], source: str, problems: list[str]) -> None:
    for auto_class, reference in auto_map.items():
        references = reference if isinstance(reference, (list, tuple)) else [reference]
        for ref in references:
            if ref is None:
                continue
            module = str(ref).split("--")[-1].rsplit(".", 1)[0]
            if f"{module}.py" not in names:
                problems.append(f"{source}: auto_map {auto_class} -> {ref} but {module}.py is missing")


def _check_card(path: Path, problems: list[str]) -> None:
    from huggingface_hub import ModelCard

    try:
        card = ModelCard.load(path)
    except Exception as exc:  # noqa: BLE001 (any parsing failure is reported with its message)
        problems.append(f"{CARD_FILE}: unreadable model card metadata: {exc}")
        return
    data = card.data.to_dict()
    if data.get("library_name") != "transformers":
        problems.append(f"{CARD_FILE}: library_name must be 'transformers', got {data.get('library_name')!r}")
    for key in ("pipeline_tag", "license"):
        if not data.get(key):
            problems.append(f"{CARD_FILE}: metadata has no {key}")


def _check_code_file(folder: Path, name: str, names: set[str], problems: list[str]) -> None:
    """Remote code must be flat: single-dot relative imports of files that are present, no ``hardmo_hf``."""
    try:
        tree = ast.parse((folder / name).read_text(encoding="utf-8"), filename=name)
    except SyntaxError as exc:
        problems.append(f"{name}: not valid Python ({exc.msg}, line {exc.lineno})")
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level > 1:
                problems.append(
                    f"{name}: line {node.lineno} imports from a parent package (remote code must be flat)"
                )
            elif node.level == 1 and node.module and f"{node.module}.py" not in names:
                problems.append(
                    f"{name}: line {node.lineno} imports .{node.module}, but {node.module}.py is missing"
                )
            elif node.level == 0 and (node.module or "").split(".")[0] == "hardmo_hf":
                problems.append(f"{name}: line {node.lineno} imports hardmo_hf (remote code must not)")
        elif isinstance(node, ast.Import) and any(
            alias.name.split(".")[0] == "hardmo_hf" for alias in node.names
        ):
            problems.append(f"{name}: line {node.lineno} imports hardmo_hf (remote code must not)")


def _human_size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


__all__ = ["HubFolderReport", "check_hub_folder", "check_repo_id", "finalize_hub_folder", "push_model_folder"]
