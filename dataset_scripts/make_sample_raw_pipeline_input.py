#!/usr/bin/env python
"""Generate a small raw pipeline input (frames, YOLO/MOT tracks, MMPose JSON, HMR 2.0 predictions) to try
``hardmo-hf pipeline ingest | mine | optimize`` end to end (docs/pipeline.md).

    python dataset_scripts/make_sample_raw_pipeline_input.py raw --smpl smpl_dir
    hardmo-hf pipeline ingest raw --out pipeline_output --workers 2
    hardmo-hf pipeline mine pipeline_output --smpl smpl_dir
    hardmo-hf pipeline optimize pipeline_output --stage foot --smpl smpl_dir --workers 2
    hardmo-hf pipeline optimize pipeline_output --stage hand --smpl smpl_dir --workers 2
    hardmo-hf build pipeline_output --out hardmo

The people are drawn from an SMPL model: ``--smpl`` names SMPL_NEUTRAL.pkl or its folder; without a licensed
model, ``--synthetic-smpl DIR`` writes the synthetic stand-in there (use the same folder as ``--smpl`` in the
commands above). Labels carry small errors everywhere and gross foot / hand errors at the paper's Foot / Hand
proportions; the clips cycle through every accepted file form and hold one of each ingest edge case.
Prints a JSON summary (labels ingest will write, the drops it must count, the gross-error samples).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from hardmo_hf.pipeline.kinematics import SMPLKeypointModel
from hardmo_hf.testing.pipeline import make_sample_raw_input
from hardmo_hf.testing.smpl import make_synthetic_smpl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="where to write the raw input (must be empty or absent)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--smpl", help="SMPL_NEUTRAL.pkl or its folder")
    source.add_argument("--synthetic-smpl", type=Path, help="write the synthetic SMPL stand-in here and use it")
    parser.add_argument("--classes", default="jazz,samba,taijiquan,ballet,tango", help="comma-separated classes")
    parser.add_argument("--clips-per-class", type=int, default=2)
    parser.add_argument("--frames-per-clip", type=int, default=20)
    parser.add_argument("--people-per-clip", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-edge-cases", action="store_true", help="leave out the ingest edge cases")
    args = parser.parse_args(argv)
    if args.out_dir.exists() and any(args.out_dir.iterdir()):
        parser.error(f"{args.out_dir} is not empty")
    smpl = args.smpl if args.smpl else make_synthetic_smpl(args.synthetic_smpl)
    summary = make_sample_raw_input(
        args.out_dir, SMPLKeypointModel(smpl), classes=tuple(c.strip() for c in args.classes.split(",") if c.strip()),
        clips_per_class=args.clips_per_class, frames_per_clip=args.frames_per_clip,
        people_per_clip=args.people_per_clip, seed=args.seed, edge_cases=not args.no_edge_cases,
    )
    print(json.dumps({
        "clips": summary.clips, "frames": summary.frames, "labels_ingest_writes": summary.people_written,
        "expected_drops": summary.expected_drops,
        "gross_errors": {k: len(v) for k, v in summary.gross_errors.items()},
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
