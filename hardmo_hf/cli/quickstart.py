"""``hardmo-hf quickstart``: the README's main job on the built-in sample pipeline output.

Generates the sample pipeline output, builds the dataset into ``./hardmo``, validates it, streams one
``foot_p2`` test row through ``datasets.load_dataset(..., streaming=True)`` and points at the preview image.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "quickstart",
        help="generate the sample pipeline output, build ./hardmo, validate, stream foot_p2, write the preview",
        description=__doc__,
    )
    parser.add_argument("--sample-dir", default="sample_pipeline_output",
                        help="where the sample pipeline output is generated (default: ./sample_pipeline_output)")
    parser.add_argument("--out", default="hardmo", help="dataset folder (default: ./hardmo)")
    parser.add_argument("--workers", type=int, default=2, help="build workers (default: 2)")
    parser.add_argument("--seed", type=int, default=0, help="sample generator seed (default: 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.verbose:
        os.environ.setdefault("LOGURU_LEVEL", "WARNING")  # datatrove's loguru, read at import
    from ..data.build import AccountingError, BuildConfig, build, summary_text
    from ..data.sample import make_sample_pipeline_output
    from ..data.validate import validate

    sample_dir, out = Path(args.sample_dir).resolve(), Path(args.out).resolve()
    print(f"[1/4] generating the sample pipeline output in {sample_dir}")
    summary = make_sample_pipeline_output(sample_dir, seed=args.seed, progress=True)
    print(f"      {summary.input_records} input records, {len(summary.bad_records)} deliberately bad")

    print(f"[2/4] building the dataset into {out}")
    config = BuildConfig(input_dir=str(sample_dir), output_dir=str(out))
    try:
        stats = build(config, workers=args.workers, overwrite=True, progress=True, quiet=not args.verbose)
    except AccountingError as exc:
        print(f"hardmo-hf quickstart: ACCOUNTING FAILED: {exc}", file=sys.stderr)
        return 1
    print(summary_text(stats))

    print(f"[3/4] validating {out}")
    report = validate(out, workers=args.workers)
    print(report.text())
    if not report.ok:
        print(f"hardmo-hf quickstart: validation FAILED: {report.failure_summary()}", file=sys.stderr)
        return 1

    print(f'[4/4] streaming: load_dataset("{out.name}", "foot_p2", streaming=True)["test"] from {out.parent}')
    from datasets import load_dataset

    previous = Path.cwd()
    os.chdir(out.parent)  # the bare name resolves to the local folder, as it will to the Hub repo
    try:
        row = next(iter(load_dataset(out.name, "foot_p2", streaming=True)["test"]))
    finally:
        os.chdir(previous)
    image = row["image"]
    print(f"      first row: {row['sample_id']} ({row['category']}, subject {row['subject_id']}), "
          f"image {image.size[0]}x{image.size[1]}, keypoints_2d {len(row['keypoints_2d'])}x3, "
          f"foot={row['is_foot']} hand={row['is_hand']}")
    preview = out / "preview.png"
    print(f"      preview image: {preview}" if preview.is_file() else "      (no preview image was written)")
    print(f"done: the dataset card is {out / 'README.md'}")
    return 0
