"""``hardmo-hf build | validate | push``: pipeline output -> Hub dataset."""

from __future__ import annotations

import argparse
import os
import sys

FORMATS = ("auto", "label_tree", "webdataset", "npz", "humandata")


def _default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def register(subparsers) -> None:
    from ..constants import (
        CONFIDENCE_THRESHOLD_CODE,
        CONFIDENCE_THRESHOLD_PAPER,
        DEFAULT_CONFIDENCE_THRESHOLD,
        DEFAULT_SPLIT_SEED,
        DEFAULT_TEST_FRACTION,
        UNITS_PER_TASK,
    )

    build = subparsers.add_parser(
        "build", help="build the HardMo dataset (Parquet shards + card) from a pipeline output",
        description="Read a pipeline output (label tree, 4D-Humans webdataset tars, SPIN/4D-Humans npz or "
                    "MMHuman3D HumanData), apply the paper's filters and write a streaming Hugging Face dataset: "
                    "Parquet shards under data/<subset>/<split>/<category>/, README.md card, manifest.json, "
                    "rejects.jsonl, stats.json. Deterministic and resumable (rerun the same command after a "
                    "crash). See docs/dataset.md.",
    )
    build.add_argument("input", metavar="PIPELINE_OUTPUT",
                       help="the pipeline output: a label tree folder, a folder of (or one) webdataset .tar, "
                            "or SPIN / 4D-Humans / HumanData .npz")
    build.add_argument("--out", default="hardmo", help="dataset folder to write (default: ./hardmo)")
    build.add_argument("--workers", type=int, default=_default_workers(),
                       help="tasks run in parallel on this machine (default: CPUs, at most 8); does not change "
                            "the output")
    build.add_argument("--tasks", type=int, default=None,
                       help=f"number of build tasks the input is cut into (default: one per {UNITS_PER_TASK} work "
                            "units, so memory per worker does not grow with the input); part of the output's "
                            "identity: shards are named after their task")
    build.add_argument("--format", choices=FORMATS, default="auto", help="input format (default: detect)")
    build.add_argument("--subject-map", metavar="FILE",
                       help="clip -> subject map (.json {\"<category>/<clip_id>\": subject} or .csv "
                            "category,clip_id,subject_id); without one the clip is the subject")
    build.add_argument("--foot-labels", metavar="DIR",
                       help="label_tree: tree of optimized Foot labels (for a bare authors' tree without foot/)")
    build.add_argument("--hand-labels", metavar="DIR",
                       help="label_tree: tree of optimized Hand labels (for a bare authors' tree without hand/)")
    build.add_argument("--image-root", metavar="DIR",
                       help="npz / humandata: folder the image names are relative to (default: the .npz's folder)")
    build.add_argument("--name-pattern", metavar="REGEX",
                       help="webdataset / npz / humandata: regex with groups category, clip_id, frame for the "
                            "tar key or image name (default: .../<category>/<clip_id>/<frame>.<ext> or "
                            "<category>_<clip_id>_<frame>)")
    build.add_argument("--category", help="webdataset / npz / humandata: one category for every sample")
    build.add_argument("--subset", choices=("normal", "foot", "hand"),
                       help="webdataset / npz / humandata: the subset whose labels the input holds (default normal)")
    build.add_argument("--scale-units", choices=("auto", "box200", "px"),
                       help="npz: unit of `scale` (SPIN: box/200, 4D-Humans npz: px; default: detect per file)")
    build.add_argument("--image-check", choices=("complete", "decode", "header"), default="complete",
                       help="complete (default): header + the file ends with its end-of-image marker (truncated "
                            "files are rejected); decode: decode every image (slower); header: header only")
    build.add_argument("--lenient-keys", action="store_true",
                       help="ignore unknown label keys / tar members / npz arrays instead of rejecting the record")
    build.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION,
                       help=f"expected share of test subjects (default {DEFAULT_TEST_FRACTION})")
    build.add_argument("--seed", type=int, default=DEFAULT_SPLIT_SEED,
                       help=f"seed of the subject split (default {DEFAULT_SPLIT_SEED})")
    build.add_argument("--confidence-threshold", type=float, default=DEFAULT_CONFIDENCE_THRESHOLD,
                       choices=(CONFIDENCE_THRESHOLD_PAPER, CONFIDENCE_THRESHOLD_CODE),
                       help="2D keypoint confidence threshold: 0.5 (paper, default) or 0.3 (authors' code)")
    build.add_argument("--row-group-mb", type=float, default=100, help="Parquet row group size (default 100)")
    build.add_argument("--shard-mb", type=float, default=512,
                       help="shard file size; files end between this and this + one row group (default 512)")
    build.add_argument("--overwrite", action="store_true", help="delete an existing, different build in --out")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    build.set_defaults(func=run_build)

    validate = subparsers.add_parser(
        "validate", help="prove a built dataset's invariants (schema, counts, checksums, images, splits)",
        description="Check a dataset folder written by `hardmo-hf build`: schema of every shard, row counts and "
                    "SHA-256 against manifest.json, every image decodes, no subject in both train and test "
                    "(normal, foot_p1, hand), no class overlap in foot_p2, the card's configs match the files. "
                    "Exits 1 on any failure.",
    )
    validate.add_argument("dataset", metavar="DIR", help="dataset folder")
    validate.add_argument("--workers", type=int, default=_default_workers(),
                          help="processes decoding images (default: CPUs, at most 8)")
    validate.set_defaults(func=run_validate)

    push = subparsers.add_parser(
        "push", help="upload a built dataset to the Hugging Face Hub",
        description="Validate DIR, create the dataset repo if needed and upload the card, shards, manifest, "
                    "rejects and stats (not the .build/ working folder). Authenticate with `hf auth login` "
                    "or HF_TOKEN.",
    )
    push.add_argument("dataset", metavar="DIR", help="dataset folder")
    push.add_argument("--repo-id", required=True, help="ORG/NAME of the dataset repo")
    push.add_argument("--dry-run", action="store_true", help="validate and list what would be uploaded")
    push.add_argument("--private", action="store_true", help="create the repo private")
    push.add_argument("--revision", default=None, help="branch to upload to (default: main)")
    push.add_argument("--skip-validation", action="store_true",
                      help="upload without validating first (not recommended)")
    push.add_argument("--workers", type=int, default=_default_workers(),
                      help="processes for validation and parallel upload")
    push.set_defaults(func=run_push)


def run_build(args: argparse.Namespace) -> int:
    if not getattr(args, "verbose", False):
        # datatrove logs through loguru, which reads this when imported (here and in the build workers)
        os.environ.setdefault("LOGURU_LEVEL", "WARNING")
    from ..data.build import AccountingError, BuildConfig, build, summary_text

    reader_options = {}
    for value, key in ((args.subject_map, "subject_map"), (args.foot_labels, "foot_root"),
                       (args.hand_labels, "hand_root"), (args.image_root, "image_root")):
        if value:
            reader_options[key] = os.path.abspath(value)
    for value, key in ((args.name_pattern, "name_pattern"), (args.category, "category"), (args.subset, "subset"),
                       (args.scale_units, "scale_units")):
        if value is not None:
            reader_options[key] = value
    if args.lenient_keys:
        reader_options["strict_keys"] = False
    if args.workers < 1:
        raise ValueError("--workers must be >= 1")
    config = BuildConfig(
        input_dir=args.input, output_dir=args.out, format=args.format, reader_options=reader_options,
        test_fraction=args.test_fraction, seed=args.seed, confidence_threshold=args.confidence_threshold,
        row_group_mb=args.row_group_mb, shard_mb=args.shard_mb, tasks=args.tasks, image_check=args.image_check,
    )
    try:
        stats = build(config, workers=args.workers, overwrite=args.overwrite, progress=not args.no_progress,
                      quiet=not getattr(args, "verbose", False))
    except AccountingError as exc:
        print(f"hardmo-hf build: ACCOUNTING FAILED: {exc}", file=sys.stderr)
        return 1
    print(summary_text(stats))
    print(f"\nDataset written to {os.path.abspath(args.out)}; check it with `hardmo-hf validate {args.out}`.")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from ..data.validate import validate

    report = validate(args.dataset, workers=args.workers)
    print(report.text())
    if not report.ok:
        print(f"\nhardmo-hf validate: {args.dataset} FAILED: {report.failure_summary()}", file=sys.stderr)
        return 1
    return 0


def run_push(args: argparse.Namespace) -> int:
    from ..data.push import push

    try:
        result = push(args.dataset, args.repo_id, dry_run=args.dry_run, private=args.private,
                      revision=args.revision, validate_first=not args.skip_validation, workers=args.workers)
    except FileNotFoundError:
        raise
    except OSError as exc:  # huggingface_hub's HTTP, connection and offline-mode errors
        print(f"hardmo-hf push: upload to datasets/{args.repo_id} failed: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1
    print(result.text())
    return 0 if result.ok else 1
