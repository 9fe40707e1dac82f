#!/usr/bin/env python
"""Generate a small, realistic HardMo pipeline output (label-tree layout) for the quickstart, tests and benchmarks.

    python dataset_scripts/make_sample_pipeline_output.py sample_pipeline_output
    python dataset_scripts/make_sample_pipeline_output.py big --clips-per-class 70 --frames-per-clip 6   # 5,040 frames

The layout is described in docs/pipeline_output_format.md; the generator is
``hardmo_hf.data.sample.make_sample_pipeline_output``. Prints a JSON summary (counts, expected rejects).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from hardmo_hf.data.sample import DEFAULT_SAMPLE_CLASSES, make_sample_pipeline_output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="where to write the pipeline output (must be empty or absent)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same bytes")
    parser.add_argument("--frames-per-clip", type=int, default=3)
    parser.add_argument("--clips-per-class", type=int, default=2)
    parser.add_argument("--classes", default=",".join(DEFAULT_SAMPLE_CLASSES),
                        help="comma-separated class folder names (default: the 7 P2 classes and 5 more)")
    parser.add_argument("--image-size", default="320x240", help="WIDTHxHEIGHT of the frames in px")
    parser.add_argument("--no-bad-records", action="store_true", help="leave out the deliberately bad records")
    parser.add_argument("--summary", type=Path, help="also write the JSON summary to this file")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.image_size.lower().split("x"))
    summary = make_sample_pipeline_output(
        args.out_dir, seed=args.seed, frames_per_clip=args.frames_per_clip, clips_per_class=args.clips_per_class,
        classes=[c.strip() for c in args.classes.split(",") if c.strip()], image_size=(width, height),
        include_bad_records=not args.no_bad_records, progress=True,
    )
    text = json.dumps(summary.to_json(), indent=2)
    if args.summary:
        args.summary.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
