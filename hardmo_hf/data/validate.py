"""``hardmo-hf validate DIR``: prove a built dataset's invariants.

Checks (each reported as a line of the table; any failure makes :attr:`ValidationReport.ok` false):

``manifest``       manifest.json is readable and lists the shards
``files``          every listed shard exists, no unlisted or temporary Parquet file under ``data/``, fewer than
                   10,000 files per folder
``checksums``      every shard's size and SHA-256 match the manifest
``schema``         every shard has exactly the row schema (:data:`hardmo_hf.data.schema.FEATURES`), with the
                   ``huggingface`` metadata
``row counts``     rows per shard (Parquet metadata and rows read) = manifest; row groups < 286 MiB
``placement``      every row is in the folder of its subset, category and subject split; sample ids are
                   unique within a subset
``values``         no NaN / inf in any float column
``images``         every image decodes, and has the stored width and height
``subjects``       no subject in both train and test of ``normal``, ``foot_p1``, ``hand``
``splits present`` every config that has rows has a train and a test split
``foot_p2``        no class in both train and test; train classes and test classes are the paper's
``foot stored once`` P1 and P2 read the same files under ``data/foot`` (P2's are a subset of P1's)
``card``           README.md's ``configs`` are the globs the layout implies, they match every shard, its
                   ``dataset_info`` has the features and split sizes; preview.png decodes
``accounting``     input = accepted + rejected; rejects.jsonl has one line per rejected record
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import CONFIGS, FOOT_P2_TEST_CLASSES, FOOT_P2_TRAIN_CLASSES, SPLITS
from .report import format_table
from .splits import DATA_DIR, SUBJECT_DISJOINT_CONFIGS, config_data_files, parse_shard_path, subject_split

__all__ = ["Check", "ValidationReport", "validate"]

MAX_FILES_PER_FOLDER = 10_000
MAX_ROW_GROUP_BYTES = 286 * 2**20  # the Hub's dataset viewer fails above this
_EXAMPLES = 5  # failures quoted per check


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class ValidationReport:
    root: str
    checks: list[Check] = field(default_factory=list)
    configs: list[list] = field(default_factory=list)  # rows of the per-config table

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def add(self, name: str, problems: list[str], ok_detail: str) -> None:
        if problems:
            more = f" (+{len(problems) - _EXAMPLES} more)" if len(problems) > _EXAMPLES else ""
            self.checks.append(Check(name, False, "; ".join(problems[:_EXAMPLES]) + more))
        else:
            self.checks.append(Check(name, True, ok_detail))

    def failure_summary(self) -> str:
        return "; ".join(f"{c.name}: {c.detail}" for c in self.checks if not c.ok)

    def text(self) -> str:
        parts = [format_table(["check", "result", "detail"],
                              [[c.name, "ok" if c.ok else "FAIL", c.detail] for c in self.checks],
                              title=f"Validation of {self.root}")]
        if self.configs:
            parts.append(format_table(["config", "split", "rows", "subjects", "categories", "files"],
                                      self.configs, title="Configs"))
        parts.append("All checks passed." if self.ok else "VALIDATION FAILED.")
        return "\n\n".join(parts)


# ----------------------------------------------------------------------------------------------------
# Per-shard work (runs in worker processes)
# ----------------------------------------------------------------------------------------------------
def _key_hash(subset: str, sample_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{subset}\0{sample_id}".encode(), digest_size=8).digest(), "big")


def _check_shard(root: str, entry: dict, split_params: dict) -> dict:
    """Everything that needs the shard's bytes: checksum, schema, counts, placement, values, images."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from PIL import Image

    from .schema import ARRAY_COLUMNS, arrow_schema
    from .shards import file_sha256

    path = Path(root) / entry["path"]
    out = {"path": entry["path"], "problems": defaultdict(list), "subjects": set(), "categories": set(),
           "keys": [], "rows": 0, "images": 0}
    problems = out["problems"]
    size = path.stat().st_size
    if size != entry["num_bytes"]:
        problems["checksums"].append(f"{entry['path']}: {size} bytes, manifest says {entry['num_bytes']}")
    if file_sha256(path) != entry["sha256"]:
        problems["checksums"].append(f"{entry['path']}: SHA-256 differs from the manifest")
    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        problems["schema"].append(f"{entry['path']}: unreadable Parquet ({exc})")
        return out
    expected = arrow_schema()
    schema = handle.schema_arrow
    if not schema.equals(expected, check_metadata=False):
        problems["schema"].append(f"{entry['path']}: schema differs from the row schema")
    elif (schema.metadata or {}).get(b"huggingface") != expected.metadata[b"huggingface"]:
        problems["schema"].append(f"{entry['path']}: missing or different `huggingface` schema metadata")
    metadata = handle.metadata
    if metadata.num_rows != entry["num_rows"]:
        problems["row counts"].append(f"{entry['path']}: {metadata.num_rows} rows, manifest says {entry['num_rows']}")
    for index in range(metadata.num_row_groups):
        group_bytes = metadata.row_group(index).total_byte_size
        if group_bytes > MAX_ROW_GROUP_BYTES:
            problems["row counts"].append(f"{entry['path']}: row group {index} is {group_bytes / 2**20:.0f} MiB")
    subset, split, category = parse_shard_path(entry["path"])
    float_columns = list(ARRAY_COLUMNS) + ["scale"]
    for batch in handle.iter_batches(batch_size=256):
        out["rows"] += batch.num_rows
        columns = {name: batch.column(name) for name in batch.schema.names}
        for name, values in (("subset", subset), ("category", category)):
            bad = pc.sum(pc.not_equal(columns[name], values)).as_py() or 0
            if bad:
                problems["placement"].append(f"{entry['path']}: {bad} row(s) with {name} != {values!r}")
        subjects = columns["subject_id"].to_pylist()
        for subject in set(subjects):
            if subject_split(subject, split_params["test_fraction"], split_params["seed"]) != split:
                problems["placement"].append(f"{entry['path']}: subject {subject!r} belongs to the other split")
        out["subjects"].update(subjects)
        out["categories"].update(columns["category"].unique().to_pylist())
        out["keys"].extend(_key_hash(subset, sample_id) for sample_id in columns["sample_id"].to_pylist())
        for name in float_columns:
            values = columns[name]
            while pa.types.is_fixed_size_list(values.type) or pa.types.is_list(values.type):
                values = values.flatten()
            if values.null_count != len(values):
                finite = pc.is_finite(values.drop_null())
                bad = len(finite) - (pc.sum(finite).as_py() or 0)
                if bad:
                    problems["values"].append(f"{entry['path']}: {bad} NaN/inf value(s) in {name}")
        images = columns["image"].field("bytes").to_pylist()
        widths = columns["image_width"].to_pylist()
        heights = columns["image_height"].to_pylist()
        ids = columns["sample_id"].to_pylist()
        previous = None
        for data, width, height, sample_id in zip(images, widths, heights, ids):
            if data is None:
                problems["images"].append(f"{entry['path']}: {sample_id} has no image bytes")
                continue
            if data == previous:  # the second person of a frame: the same bytes, already decoded
                out["images"] += 1
                continue
            try:
                with Image.open(io.BytesIO(data)) as image:
                    image.load()
                    decoded = image.size
            except Exception as exc:  # noqa: BLE001 - any decoder error is a failed check
                problems["images"].append(f"{entry['path']}: {sample_id} does not decode ({type(exc).__name__}: "
                                          f"{exc})")
                previous = None
                continue
            if decoded != (width, height):
                problems["images"].append(f"{entry['path']}: {sample_id} is {decoded[0]}x{decoded[1]}, stored "
                                          f"{width}x{height}")
            out["images"] += 1
            previous = data
    if out["rows"] != entry["num_rows"]:
        problems["row counts"].append(f"{entry['path']}: read {out['rows']} rows, manifest says {entry['num_rows']}")
    out["keys"] = np.asarray(out["keys"], dtype=np.uint64)
    out["problems"] = dict(problems)
    return out


def _check_shard_star(args):
    return _check_shard(*args)


# ----------------------------------------------------------------------------------------------------
# Whole dataset
# ----------------------------------------------------------------------------------------------------
def _read_card(root: Path) -> dict | None:
    from huggingface_hub import DatasetCard

    path = root / "README.md"
    if not path.is_file():
        return None
    return DatasetCard.load(path).data.to_dict()


def _glob_files(shard_paths: list[str], patterns: list[str]) -> set[str]:
    return {p for p in shard_paths for pattern in patterns if fnmatch.fnmatchcase(p, pattern)}


def validate(root, workers: int = 1) -> ValidationReport:
    """Run every check on the dataset folder ``root``; see the module docstring."""
    import numpy as np

    root = Path(root)
    report = ValidationReport(str(root))
    if not root.is_dir():
        report.add("manifest", [f"{root} is not a directory"], "")
        return report
    from .shards import MANIFEST_NAME, TMP_SUFFIX, read_manifest

    try:
        manifest = read_manifest(root)
        entries = manifest["shards"]
        build = manifest["build"]
        split_params = {"test_fraction": build["test_fraction"], "seed": build["seed"]}
    except (FileNotFoundError, ValueError, KeyError) as exc:
        report.add("manifest", [f"{root / MANIFEST_NAME}: {exc}"], "")
        return report
    report.add("manifest", [], f"{len(entries):,} shards, {manifest.get('num_rows', 0):,} rows")

    # files
    problems = []
    listed = {e["path"] for e in entries}
    on_disk, per_folder = set(), Counter()
    data_dir = root / DATA_DIR
    if data_dir.is_dir():
        for directory, _, files in os.walk(data_dir):
            for name in files:
                rel = Path(directory, name).relative_to(root).as_posix()
                per_folder[directory] += 1
                if name.endswith(TMP_SUFFIX):
                    problems.append(f"{rel}: temporary file of an unfinished write")
                elif name.endswith(".parquet"):
                    on_disk.add(rel)
    problems += [f"{p}: listed in the manifest but missing" for p in sorted(listed - on_disk)]
    problems += [f"{p}: not in the manifest" for p in sorted(on_disk - listed)]
    problems += [f"{d}: {n:,} files (limit {MAX_FILES_PER_FOLDER:,})" for d, n in per_folder.items()
                 if n >= MAX_FILES_PER_FOLDER]
    for entry in entries:
        try:
            parse_shard_path(entry["path"])
        except ValueError as exc:
            problems.append(str(exc))
    report.add("files", problems, f"{len(on_disk):,} Parquet files, at most {max(per_folder.values(), default=0)} "
                                  "per folder")
    present = sorted(listed & on_disk)
    checkable = [e for e in entries if e["path"] in on_disk and _parses(e["path"])]

    # per-shard checks (parallel)
    jobs = [(str(root), entry, split_params) for entry in checkable]
    if workers > 1 and len(jobs) > 1:
        import multiprocessing

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
            results = list(pool.map(_check_shard_star, jobs, chunksize=1))
    else:
        results = [_check_shard_star(job) for job in jobs]
    merged = defaultdict(list)
    for result in results:
        for name, items in result["problems"].items():
            merged[name] += items
    rows = sum(r["rows"] for r in results)
    images = sum(r["images"] for r in results)
    report.add("checksums", merged["checksums"], f"{len(results):,} shards match their SHA-256")
    report.add("schema", merged["schema"], "every shard has the row schema and `huggingface` metadata")
    count_problems = list(merged["row counts"])
    if manifest.get("num_rows") != sum(e["num_rows"] for e in entries):
        count_problems.append(f"manifest num_rows {manifest.get('num_rows')} != sum over its shards")
    report.add("row counts", count_problems, f"{rows:,} rows = manifest")

    # placement + unique sample ids per subset
    placement = list(merged["placement"])
    by_subset = defaultdict(list)
    for result in results:
        by_subset[parse_shard_path(result["path"])[0]].append(result["keys"])
    for subset, keys in sorted(by_subset.items()):
        keys = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
        duplicates = len(keys) - len(np.unique(keys))
        if duplicates:
            placement.append(f"{subset}: {duplicates} duplicate sample id(s)")
    report.add("placement", placement, "rows sit in their subset/split/category folder; sample ids unique")
    report.add("values", merged["values"], "no NaN or inf")
    report.add("images", merged["images"], f"{images:,} images decode at their stored size")

    # splits
    by_path = {r["path"]: r for r in results}
    folders = {parse_shard_path(p) for p in present}
    expected_files = config_data_files(folders)
    subject_problems, p2_problems = [], []
    for config, splits in expected_files.items():
        split_results = {split: [by_path[p] for p in _glob_files(list(by_path), globs)]
                         for split, globs in splits.items()}
        subjects = {s: set().union(*(r["subjects"] for r in rs)) for s, rs in split_results.items()}
        categories = {s: set().union(*(r["categories"] for r in rs)) for s, rs in split_results.items()}
        for split in SPLITS:
            if split in split_results:
                report.configs.append([config, split, sum(r["rows"] for r in split_results[split]),
                                       len(subjects[split]), len(categories[split]), len(split_results[split])])
        if config in SUBJECT_DISJOINT_CONFIGS and len(subjects) == 2:
            both = sorted(subjects["train"] & subjects["test"])
            subject_problems += [f"{config}: subject {s!r} is in train and test" for s in both]
        if config == "foot_p2":
            if len(categories) == 2:
                p2_problems += [f"class {c!r} is in train and test"
                                for c in sorted(categories["train"] & categories["test"])]
            p2_problems += [f"train class {c!r} is not a P2 train class"
                            for c in sorted(categories.get("train", set()) - set(FOOT_P2_TRAIN_CLASSES))]
            p2_problems += [f"test class {c!r} is not a P2 test class"
                            for c in sorted(categories.get("test", set()) - set(FOOT_P2_TEST_CLASSES))]
    report.add("subjects", subject_problems, "no subject in both train and test of normal, foot_p1, hand")
    missing = [f"{config}/{split}: no shard (no row of this config landed in {split}; more input or another "
               "--seed)" for config in expected_files for split in SPLITS if split not in expected_files[config]]
    absent = [config for config in CONFIGS if config not in expected_files]
    report.add("splits present", missing, "every config has a train and a test split"
               + (f" (no rows for {', '.join(absent)})" if absent else ""))
    report.add("foot_p2", p2_problems, "train classes " + ", ".join(FOOT_P2_TRAIN_CLASSES) + "; test classes "
               + ", ".join(FOOT_P2_TEST_CLASSES) + "; no overlap")
    foot_problems = []
    p1_files = set().union(*(_glob_files(present, g) for g in expected_files.get("foot_p1", {}).values()))
    p2_files = set().union(*(_glob_files(present, g) for g in expected_files.get("foot_p2", {}).values()))
    if not p2_files <= p1_files:
        foot_problems.append(f"{len(p2_files - p1_files)} foot_p2 file(s) are not foot_p1 files")
    if any(not p.startswith(f"{DATA_DIR}/foot/") for p in p1_files | p2_files):
        foot_problems.append("a foot config reads files outside data/foot/")
    report.add("foot stored once", foot_problems,
               f"foot_p2 reads {len(p2_files)} of foot_p1's {len(p1_files)} files")

    # card
    report.add("card", _check_card(root, expected_files, present, by_path), "configs, features and split "
               "sizes match the shards; preview decodes")

    # accounting
    accounting = []
    counts = manifest.get("counts", {})
    if counts.get("input") != counts.get("accepted", 0) + counts.get("rejected", 0):
        accounting.append(f"input {counts.get('input')} != accepted {counts.get('accepted')} + rejected "
                          f"{counts.get('rejected')}")
    if counts.get("accepted") != manifest.get("num_rows"):
        accounting.append(f"accepted {counts.get('accepted')} != rows {manifest.get('num_rows')}")
    rejects_path = root / "rejects.jsonl"
    if not rejects_path.is_file():
        accounting.append("rejects.jsonl is missing")
    else:
        with open(rejects_path, encoding="utf-8") as handle:
            lines = 0
            for number, line in enumerate(handle, start=1):
                lines += 1
                try:
                    entry = json.loads(line)
                    if not entry.get("reason") or "source" not in entry:
                        raise ValueError("no reason or source")
                except ValueError as exc:
                    accounting.append(f"rejects.jsonl:{number}: bad entry ({exc})")
        if lines != counts.get("rejected"):
            accounting.append(f"rejects.jsonl has {lines} lines, manifest says {counts.get('rejected')} rejected")
    report.add("accounting", accounting, f"input {counts.get('input', 0):,} = accepted {counts.get('accepted', 0):,}"
                                         f" + rejected {counts.get('rejected', 0):,}")
    return report


def _parses(path: str) -> bool:
    try:
        parse_shard_path(path)
        return True
    except ValueError:
        return False


def _check_card(root: Path, expected_files: dict, present: list[str], by_path: dict) -> list[str]:
    from datasets import Features

    from .schema import features

    problems = []
    try:
        card = _read_card(root)
    except Exception as exc:  # noqa: BLE001 - a malformed card is a failed check
        return [f"README.md: unreadable card ({exc})"]
    if card is None:
        return ["README.md is missing"]
    configs = {c.get("config_name"): c for c in card.get("configs") or []}
    if set(configs) != set(expected_files):
        problems.append(f"card configs {sorted(configs)} != {sorted(expected_files)}")
    read_by_any = set()
    for config, splits in expected_files.items():
        entry = configs.get(config)
        if entry is None:
            continue
        card_splits = {}
        for item in entry.get("data_files") or []:
            paths = item["path"] if isinstance(item["path"], list) else [item["path"]]
            card_splits[item["split"]] = paths
        if card_splits != splits:
            problems.append(f"{config}: card data_files {card_splits} != {splits}")
        for globs in card_splits.values():
            matched = _glob_files(present, globs)
            read_by_any |= matched
            if not matched:
                problems.append(f"{config}: a split's data_files match no shard")
    unread = sorted(set(present) - read_by_any)
    problems += [f"{p}: read by no config" for p in unread]
    infos = {i.get("config_name"): i for i in card.get("dataset_info") or []}
    expected_features = features()
    for config, splits in expected_files.items():
        info = infos.get(config)
        if info is None:
            problems.append(f"{config}: no dataset_info in the card")
            continue
        if Features._from_yaml_list(info.get("features", [])) != expected_features:
            problems.append(f"{config}: dataset_info features differ from the row schema")
        sizes = {s["name"]: s.get("num_examples") for s in info.get("splits", [])}
        for split, globs in splits.items():
            rows = sum(by_path[p]["rows"] for p in _glob_files(list(by_path), globs))
            if sizes.get(split) != rows:
                problems.append(f"{config}/{split}: card says {sizes.get(split)} rows, shards hold {rows}")
    if present:
        preview = root / "preview.png"
        try:
            from PIL import Image

            with Image.open(preview) as image:
                image.load()
        except (OSError, ValueError) as exc:
            problems.append(f"preview.png: {exc}")
    return problems
