"""The dataset card (``README.md`` with its YAML header) and the preview image next to it.

The YAML header is what ``datasets`` and the Hub read: ``configs`` (the ``data_files`` globs of each config and
split, :func:`hardmo_hf.data.splits.config_data_files`), ``dataset_info`` (features and split sizes per config),
license, task categories, size category and tags. The body documents the dataset for people: what HardMo is,
how to load each config, the label conventions and units, the protocols, statistics, the citation.
"""

from __future__ import annotations

import io
import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from .. import constants as C
from .shards import TMP_SUFFIX
from .splits import config_data_files, parse_shard_path

__all__ = ["PREVIEW_NAME", "REPO_ID_PLACEHOLDER", "card_for_repo", "card_metadata", "card_text", "size_category",
           "write_card", "write_preview"]

PREVIEW_NAME = "preview.png"
CARD_NAME = "README.md"
REPO_ID_PLACEHOLDER = "ORG/hardmo"  # the load snippets' repo id until `hardmo-hf push --repo-id` names the real one
TASK_CATEGORIES = ["keypoint-detection", "image-to-3d"]
TAGS = ["human-mesh-recovery", "smpl", "3d-human-pose-estimation", "2d-human-pose-estimation",
        "wholebody-keypoints", "motion-capture", "dance", "martial-arts", "hardmo"]
PREVIEW_TILE = 256
PREVIEW_TILES = 6


def size_category(num_rows: int) -> str:
    """The Hub's ``size_categories`` bucket of ``num_rows``."""
    buckets = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
               (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    for limit, name in buckets:
        if num_rows < limit:
            return name
    return "n>1T" if num_rows >= 10**12 else "1B<n<10B"


def card_metadata(manifest: dict, stats: dict) -> dict:
    """The YAML header as a dict (key order is the order written).

    Each config's ``dataset_info`` entry has the keys and order of ``datasets.DatasetInfo._to_yaml_dict()``
    (features, config_name, splits, download_size, dataset_size), written here without importing ``datasets``.
    """
    from .schema import yaml_features

    folders = {parse_shard_path(s["path"]) for s in manifest["shards"]}
    data_files = config_data_files(folders)
    configs = []
    infos = []
    for config, splits in data_files.items():
        entry = {"config_name": config}
        if config == C.DEFAULT_CONFIG:
            entry["default"] = True
        entry["data_files"] = [{"split": split, "path": globs[0] if len(globs) == 1 else globs}
                               for split, globs in splits.items()]
        configs.append(entry)
        split_stats = stats["configs"].get(config, {})
        size = sum(s["bytes"] for s in split_stats.values())
        infos.append({
            "features": yaml_features(),
            "config_name": config,
            "splits": [{"name": split, "num_bytes": split_stats[split]["bytes"],
                        "num_examples": split_stats[split]["rows"]} for split in splits],
            "download_size": size,
            "dataset_size": size,
        })
    return {
        "license": C.DATASET_LICENSE,
        "pretty_name": "HardMo",
        "task_categories": TASK_CATEGORIES,
        "tags": TAGS,
        "size_categories": [size_category(manifest["num_rows"])],
        "configs": configs,
        "dataset_info": infos,
    }


def _yaml(metadata: dict) -> str:
    import yaml

    return yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True, width=110)


def card_text(manifest: dict, stats: dict, preview: bool = True) -> str:
    """The whole README.md: YAML header and body."""
    from .schema import COLUMN_DOCS

    counts = stats["counts"]
    subject_note = (
        "Subjects come from the subject map given to the build."
        if stats.get("subject_map") else
        "**This build had no subject map: the clip is the subject** (`subject_id` = `<category>/<clip_id>`), so "
        "the splits are clip-disjoint; a performer who appears in several clips may be in both splits."
    )
    config_rows = []
    for config in C.CONFIGS:
        entry = stats["configs"].get(config, {})
        config_rows.append([f"`{config}`", C.PROTOCOLS[config]]
                           + [entry.get(split, {}).get("rows", 0) for split in C.SPLITS])
    per_category = []
    for name, folder in sorted(stats["folders"].items(),
                               key=lambda kv: (C.SUBSETS.index(kv[1]["subset"]), kv[1]["category"],
                                               C.SPLITS.index(kv[1]["split"]))):
        per_category.append([folder["subset"], folder["category"], C.category_group(folder["category"]),
                             folder["split"], folder["rows"], folder["subjects"], folder["clips"]])
    rejects = sorted(stats["reject_reasons"].items())
    outcomes = {k: v for k, v in stats["filter_outcomes"].items() if k not in ("kept", "rejected")}

    lines = ["---", _yaml(card_metadata(manifest, stats)).rstrip(), "---", ""]
    lines += [
        "# HardMo",
        "",
        ("HardMo is a large-scale motion-capture dataset of **dance and martial arts** from the CVPR 2024 paper "
        "*HardMo: A Large-Scale Hardcase Dataset for Motion Capture* (Liao et al.): more than 7M frames from over "
        "1,500 internet videos in 29 action categories (15 dance styles, 14 martial arts), labelled with "
        "COCO-WholeBody 2D keypoints and SMPL pseudo-labels. Two hard-case subsets carry *optimized* SMPL labels: "
        "**HardMo-Foot** (foot poses) and **HardMo-Hand** (wrists and hands). The labels come from an automatic "
        "pipeline: YOLOv8 tracking, whole-body 2D keypoints (MMPose), SMPL pseudo-labels (HMR 2.0), hard-case "
        "mining and label optimization."),
        "",
        ("This copy was built from the annotation pipeline's output with `hardmo-hf build`; "
        f"it holds **{counts['accepted']:,} rows** (one row per person per frame) in "
        f"{manifest['num_shards']:,} Parquet shards."),
        "",
    ]
    if preview:
        lines += [f"![Keypoints of a few samples drawn on their frames]({PREVIEW_NAME})", ""]
    lines += [
        "## Load it",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        (f'ds = load_dataset("{REPO_ID_PLACEHOLDER}", "foot_p2", streaming=True)   # or a local folder: '
         'load_dataset("hardmo", ...)'),
        'sample = next(iter(ds["test"]))',
        'sample["image"]          # PIL image of the whole frame',
        'sample["keypoints_2d"]   # 44 x [x, y, confidence], px',
        "```",
        "",
        "Each config has a `train` and a `test` split:",
        "",
        "```python",
    ]
    for config in C.CONFIGS:
        lines.append(f'load_dataset("{REPO_ID_PLACEHOLDER}", "{config}", split="train", streaming=True)')
    lines += [
        "```",
        "",
        ("For PyTorch, `ds.with_format(\"torch\")` returns tensors, and a `torch.utils.data.DataLoader` with "
        "`num_workers=k` reads k shards in parallel (a split has as many shards as files; "
        "`ds.reshard()` splits them further, into row groups)."),
        "",
        ("For training loops, the `hardmo-hf` package reads the same stream faster, as numpy arrays, decoding a "
         "frame once for all the people in it: `from hardmo_hf.data.streaming import iter_samples, SampleStream`."),
        "",
        "## Configs and protocols",
        "",
        _markdown_table(["config", "protocol", "train rows", "test rows"], config_rows),
        "",
        (f"- Splits are **subject-disjoint** in `normal`, `foot_p1` and `hand`: a subject is in `test` when a "
        f"SHA-256 of `\"<seed>:<subject_id>\"` falls below the test fraction ({stats['test_fraction']}, seed "
        f"{stats['seed']}), so about {stats['test_fraction']:.0%} of the subjects are test subjects and a subject "
        "is in the same split in every subset."),
        f"- {subject_note}",
        "- `foot_p2` is the paper's inter-class Protocol 2: train on "
        + ", ".join(f"`{c}`" for c in C.FOOT_P2_TRAIN_CLASSES) + ", test on "
        + ", ".join(f"`{c}`" for c in C.FOOT_P2_TEST_CLASSES)
        + ". It reads the same files as `foot_p1` (the Foot rows are stored once).",
        ("- `normal` rows carry the raw pseudo-labels; `foot` and `hand` rows carry the optimized labels and keep "
        "the raw ones in `raw_global_orient`, `raw_body_pose`, `raw_betas`."),
        "",
        "## Row format and units",
        "",
        ("One row is one person in one frame, the unit models train and evaluate on. **A frame with two people "
        "repeats its image bytes** in both rows (the bytes are the original file, never re-encoded)."),
        "",
        _markdown_table(["column", "type", "meaning / unit"],
                        [[f"`{name}`", kind, text] for name, (kind, text) in COLUMN_DOCS.items()]),
        "",
        "Label conventions (the authors' label format, as in 4D-Humans):",
        "",
        "- `keypoints_2d` rows 0-24 are OpenPose BODY_25 ("
        + ", ".join(C.BODY25_NAMES) + "); rows 25-43 are the 19 J19 joints (zeros in HardMo's 2D labels).",
        "- `wholebody33_keypoints_2d`: " + ", ".join(C.WHOLEBODY33_NAMES) + ".",
        "- Fingertips (`hand_keypoints_2d`): " + ", ".join(C.FINGERTIP_NAMES) + ".",
        "- Boxes: `scale` is the side of the square box / 200 px; `bbox_xyxy` = `center -+ 100 * scale`.",
        ("- SMPL: axis-angle in radians, `global_orient` (root) + `body_pose` (joints 1..23 in SMPL order), "
        "neutral-body `betas`; use them only where `has_body_pose` / `has_betas` are true."),
        "",
        "## Filtering",
        "",
        (f"The paper's filters ran at build time with keypoint confidence threshold "
        f"**{stats['confidence_threshold']}** (paper 0.5, the authors' training code 0.3): keypoints below it have "
        "confidence 0; samples with fewer than "
        f"{C.MIN_CONFIDENT_KEYPOINTS} confident keypoints are dropped; any |beta| > {C.MAX_ABS_BETA:g} or an "
        "implausible body pose (a documented joint-limit rule standing in for the authors' AMASS pose "
        "histogram) marks the SMPL label invalid (`has_body_pose` / `has_betas` false, pose and betas valid "
        "only together)."),
        "",
        (f"Input records: **{counts['input']:,} = {counts['accepted']:,} rows + {counts['rejected']:,} rejects**. "
        "Every reject is listed in `rejects.jsonl` with its source file and reason."),
        "",
    ]
    if rejects:
        lines += [_markdown_table(["reject reason", "records"], rejects), ""]
    if any(outcomes.values()):
        lines += [_markdown_table(["filter outcome", "records"], sorted(outcomes.items())), ""]
    lines += [
        "## Statistics",
        "",
        _markdown_table(["subset", "category", "group", "split", "rows", "subjects", "clips"], per_category),
        "",
        "## Files",
        "",
        ("- `data/<subset>/<split>/<category>/<task>-<part>.parquet`: the shards (row groups of about "
        f"{manifest['build']['shard_options']['row_group_bytes'] / 2**20:.0f} MB); `<split>` is the subject split."),
        "- `manifest.json`: every shard with its row count, size and SHA-256, and the build parameters.",
        "- `rejects.jsonl`: the input records that are not in the dataset, with the reason.",
        "- `stats.json`: the counts of this card.",
        "",
        "## License",
        "",
        "The HardMo data is released under CC BY-SA 4.0.",
        "",
        "## Citation",
        "",
        "```bibtex",
        C.CITATION,
        "```",
        "",
    ]
    return "\n".join(lines)


def _markdown_table(headers, rows) -> str:
    def cell(value):
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value).replace("|", "\\|")

    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def card_for_repo(text: str, repo_id: str) -> str:
    """The card ``text`` with its load snippets naming ``repo_id`` (``hardmo-hf push`` uploads this version)."""
    return text.replace(f'load_dataset("{REPO_ID_PLACEHOLDER}"', f'load_dataset("{repo_id}"')


def write_card(root, manifest: dict, stats: dict) -> None:
    """Write ``README.md`` and ``preview.png`` into the dataset folder ``root`` (atomically)."""
    root = Path(root)
    has_preview = write_preview(root, manifest)
    text = card_text(manifest, stats, preview=has_preview)
    tmp = root / (CARD_NAME + TMP_SUFFIX)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, root / CARD_NAME)


# ----------------------------------------------------------------------------------------------------
# Preview
# ----------------------------------------------------------------------------------------------------
def _preview_rows(root: Path, manifest: dict, count: int) -> list[dict]:
    """The first row of up to ``count`` shards, preferring distinct subsets and categories (deterministic)."""
    import pyarrow.parquet as pq

    by_folder = defaultdict(list)
    for shard in manifest["shards"]:
        by_folder[(shard["subset"], shard["category"])].append(shard["path"])
    keys = sorted(by_folder, key=lambda k: (C.SUBSETS.index(k[0]), k[1]))
    per_subset = max(1, count // max(1, len({k[0] for k in keys})))
    chosen, used_categories = [], set()
    for subset in C.SUBSETS:  # a few of each subset, distinct categories
        for key in keys:
            if (key[0] == subset and key[1] not in used_categories and len(chosen) < count
                    and sum(c[0] == subset for c in chosen) < per_subset):
                chosen.append(key)
                used_categories.add(key[1])
    chosen += [key for key in keys if key not in chosen][: count - len(chosen)]
    rows = []
    columns = ["image", "subset", "category", "sample_id", "bbox_xyxy", "wholebody33_keypoints_2d"]
    for key in chosen:
        path = min(by_folder[key])
        with pq.ParquetFile(root / path) as handle:
            batch = next(handle.iter_batches(batch_size=1, columns=columns))
        rows.append(batch.to_pylist()[0])
    return rows


def _tile(row: dict) -> PIL.Image.Image:  # noqa: F821
    from PIL import Image, ImageDraw

    image = Image.open(io.BytesIO(row["image"]["bytes"]))
    points = np.asarray(row["wholebody33_keypoints_2d"], dtype=np.float32)
    x0, y0, x1, y1 = row["bbox_xyxy"]
    side = max(x1 - x0, y1 - y0)
    scale = PREVIEW_TILE / max(side, 1.0)
    width = image.width
    if scale < 1:  # a JPEG decodes at 1/2, 1/4 or 1/8 size when the tile needs no more (several times faster)
        image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    image = image.convert("RGB")
    shrink = image.width / width
    crop = image.crop(tuple(round(v * shrink) for v in (x0, y0, x0 + side, y0 + side)))
    crop = crop.resize((PREVIEW_TILE, PREVIEW_TILE), Image.BILINEAR)
    draw = ImageDraw.Draw(crop)
    xy = (points[:, :2] - np.array([round(x0), round(y0)], np.float32)) * scale
    visible = points[:, 2] > 0
    for i, j in C.WHOLEBODY33_SKELETON:
        if visible[i] and visible[j]:
            draw.line([tuple(xy[i]), tuple(xy[j])], fill=(255, 64, 64), width=2)
    for k in np.flatnonzero(visible):
        x, y = xy[k]
        color = (64, 160, 255) if k >= 23 else (255, 220, 0) if k >= 17 else (0, 255, 128)
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=color)
    label = f"{row['subset']} / {row['category']}"
    draw.rectangle([0, PREVIEW_TILE - 16, 8 + 6 * len(label), PREVIEW_TILE], fill=(0, 0, 0))
    draw.text((4, PREVIEW_TILE - 14), label, fill=(255, 255, 255))
    return crop


def write_preview(root, manifest: dict, count: int = PREVIEW_TILES) -> bool:
    """Draw the WholeBody-33 keypoints of a few samples on their box crops into ``preview.png``.

    Returns whether a preview was written (an empty dataset has none). Deterministic: same shards, same PNG.
    """
    from PIL import Image

    root = Path(root)
    rows = _preview_rows(root, manifest, count)
    if not rows:
        (root / PREVIEW_NAME).unlink(missing_ok=True)
        return False
    columns = min(3, len(rows))
    grid_rows = (len(rows) + columns - 1) // columns
    canvas = Image.new("RGB", (columns * PREVIEW_TILE, grid_rows * PREVIEW_TILE), (24, 24, 24))
    for index, row in enumerate(rows):
        canvas.paste(_tile(row), ((index % columns) * PREVIEW_TILE, (index // columns) * PREVIEW_TILE))
    tmp = root / (PREVIEW_NAME + TMP_SUFFIX)
    canvas.save(tmp, format="PNG", optimize=False)
    os.replace(tmp, root / PREVIEW_NAME)
    return True

