"""``hardmo-hf pipeline ingest|mine|optimize``: the annotation pipeline's back half (docs/pipeline.md).

hardmo-hf pipeline ingest RAW --out PIPELINE_OUTPUT        raw stage outputs -> normal/ label tree
hardmo-hf pipeline mine PIPELINE_OUTPUT --smpl SMPL        Foot / Hand hard cases -> reports/mining/
hardmo-hf pipeline optimize PIPELINE_OUTPUT --stage foot   optimized labels -> foot/ (or hand/)
hardmo-hf build PIPELINE_OUTPUT --out hardmo               then build the dataset
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pipeline",
        help="annotation pipeline: ingest raw detections, mine hard cases, optimize labels",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="pipeline_command", metavar="STEP", required=True)
    _register_ingest(commands)
    _register_mine(commands)
    _register_optimize(commands)


def _parallel_options(parser, default_batch: int | None = None) -> None:
    group = parser.add_argument_group("execution (datatrove LocalPipelineExecutor)")
    group.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    group.add_argument("--tasks", type=int, default=None, help="datatrove tasks (default 4 x workers)")
    if default_batch is not None:
        group.add_argument(
            "--batch-size", type=int, default=default_batch, help=f"labels per batch ({default_batch})"
        )
        group.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
        group.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
        group.add_argument(
            "--smpl", default=None, help="SMPL_NEUTRAL.pkl or its folder (default $HARDMO_SMPL_PATH)"
        )


def _tasks(args) -> int:
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    return args.tasks if args.tasks else 4 * args.workers


# ----------------------------------------------------------------------------------------------------
def _register_ingest(commands) -> None:
    from ..pipeline.config import IngestConfig

    d = IngestConfig()
    p = commands.add_parser(
        "ingest",
        help="raw per-clip tracks, MMPose keypoints and HMR 2.0 predictions -> the normal label tree",
        description="Read RAW/<class>/<clip_id>/{frames/, tracks.*, keypoints.json, smpl.*} and write "
        "OUT/normal/<class>/<clip_id>/ (frames + one label per person), OUT/reports/ingest_report.json and "
        "ingest_dropped.jsonl. See docs/pipeline.md for the accepted file forms and the filters.",
    )
    p.add_argument("raw", type=Path, help="raw pipeline folder")
    p.add_argument("--out", type=Path, required=True, help="pipeline output folder (hardmo-hf build's input)")
    f = p.add_argument_group("filters")
    f.add_argument(
        "--person-class",
        type=int,
        default=d.person_class,
        help=f"detector class id of a person ({d.person_class})",
    )
    f.add_argument(
        "--min-detection-confidence",
        type=float,
        default=d.min_detection_confidence,
        help=f"drop person boxes below this score ({d.min_detection_confidence})",
    )
    f.add_argument(
        "--min-box-size",
        type=float,
        default=d.min_box_size,
        help=f"drop boxes whose longest side is below this many px ({d.min_box_size:g})",
    )
    f.add_argument(
        "--max-people",
        type=int,
        default=d.max_people,
        help=f"drop frames with more people than this: crowded scenes ({d.max_people})",
    )
    f.add_argument(
        "--min-track-frames",
        type=int,
        default=d.min_track_frames,
        help=f"drop tracks seen on fewer frames ({d.min_track_frames})",
    )
    f.add_argument(
        "--match-iou",
        type=float,
        default=d.match_iou,
        help=f"IoU needed to match keypoints / SMPL boxes to a track box ({d.match_iou})",
    )
    f.add_argument(
        "--match-center-distance",
        type=float,
        default=d.match_center_distance,
        help=f"max centre distance (x box side) to match HMR 2.0 crop centres ({d.match_center_distance})",
    )
    f.add_argument(
        "--keypoint-box-min-score",
        type=float,
        default=d.keypoint_box_min_score,
        help=f"keypoints used for the box of an MMPose instance without one ({d.keypoint_box_min_score})",
    )
    o = p.add_argument_group("output")
    o.add_argument(
        "--box-scale-factor",
        type=float,
        default=d.box_scale_factor,
        help=f"label box = this x the tight detection box ({d.box_scale_factor})",
    )
    o.add_argument(
        "--frame-file-start",
        type=int,
        default=d.frame_file_start,
        help=f"number of the first frame file (ffmpeg %%06d.jpg starts at 1) ({d.frame_file_start})",
    )
    o.add_argument(
        "--image-mode",
        choices=("link", "symlink", "copy"),
        default=d.image_mode,
        help="how frames get into the tree: hard link (copy across file systems), symlink, copy",
    )
    _parallel_options(p)
    p.set_defaults(func=_ingest)


def _ingest(args) -> int:
    from ..pipeline.config import IngestConfig
    from ..pipeline.tasks import run_ingest

    config = IngestConfig(
        person_class=args.person_class,
        min_detection_confidence=args.min_detection_confidence,
        min_box_size=args.min_box_size,
        max_people=args.max_people,
        min_track_frames=args.min_track_frames,
        match_iou=args.match_iou,
        match_center_distance=args.match_center_distance,
        keypoint_box_min_score=args.keypoint_box_min_score,
        box_scale_factor=args.box_scale_factor,
        frame_file_start=args.frame_file_start,
        image_mode=args.image_mode,
    )
    report = run_ingest(args.raw, args.out, config, tasks=_tasks(args), workers=args.workers)
    print(f"\ningest: {report['clips']} clips -> {args.out / 'normal'}")
    print(f"{'records':<20}{'input':>10}{'written':>10}{'dropped':>10}  reasons")
    for key in ("frames", "detections", "keypoint_instances", "smpl_predictions"):
        t = report[key]
        reasons = ", ".join(f"{r} {n}" for r, n in t["dropped"].items())
        print(f"{key:<20}{t['input']:>10}{t['written']:>10}{sum(t['dropped'].values()):>10}  {reasons}")
    print(
        f"report: {args.out / 'reports' / 'ingest_report.json'} (every dropped record: ingest_dropped.jsonl)"
    )
    return 0


# ----------------------------------------------------------------------------------------------------
def _register_mine(commands) -> None:
    from ..pipeline.config import MiningConfig

    d = MiningConfig()
    p = commands.add_parser(
        "mine",
        help="find labels whose feet / hands disagree with the detected keypoints",
        description="Project each SMPL label with its least-squares weak-perspective camera and compare its "
        "toes and heels (Foot) and wrists and fingertips (Hand) with the confident detections; errors are "
        "in units of the label box side. Writes OUT/reports/mining/{foot.txt, hand.txt, criteria.jsonl, "
        "report.json}.",
    )
    p.add_argument("output", type=Path, help="pipeline output folder (with normal/)")
    p.add_argument(
        "--foot-threshold",
        type=float,
        default=d.foot_threshold,
        help=f"Foot hard case when the foot error exceeds this (box sides, {d.foot_threshold})",
    )
    p.add_argument(
        "--hand-threshold",
        type=float,
        default=d.hand_threshold,
        help=f"Hand hard case when the hand error exceeds this (box sides, {d.hand_threshold})",
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        default=d.min_confidence,
        help=f"detections below this confidence are not compared ({d.min_confidence})",
    )
    p.add_argument(
        "--min-points",
        type=int,
        default=d.min_points,
        help=f"confident points a group needs to be judged ({d.min_points})",
    )
    _parallel_options(p, default_batch=4096)
    p.set_defaults(func=_mine)


def _mine(args) -> int:
    from ..pipeline.config import MiningConfig
    from ..pipeline.tasks import run_mine

    config = MiningConfig(args.foot_threshold, args.hand_threshold, args.min_confidence, args.min_points)
    report = run_mine(
        args.output,
        config,
        args.smpl,
        tasks=_tasks(args),
        workers=args.workers,
        batch_size=args.batch_size,
        device=args.device,
        threads=args.threads,
    )
    print(
        f"\nmine: {report['labels']} labels ({', '.join(f'{k} {v}' for k, v in report['skipped'].items()) or 'none skipped'})"
    )
    print(
        f"{'subset':<8}{'threshold':>10}{'judged':>9}{'hard':>8}{'share':>8}{'median':>9}{'p90':>8}{'p99':>8}"
    )
    for name in ("foot", "hand"):
        r = report[name]
        q = r["quantiles"]
        print(
            f"{name:<8}{r['threshold']:>10.3f}{r['judged']:>9}{r['hard']:>8}{r['hard_fraction_of_labels']:>8.1%}"
            f"{q.get('0.5', float('nan')):>9.4f}{q.get('0.9', float('nan')):>8.4f}{q.get('0.99', float('nan')):>8.4f}"
        )
    print(f"lists and report: {args.output / 'reports' / 'mining'}")
    return 0


# ----------------------------------------------------------------------------------------------------
def _register_optimize(commands) -> None:
    p = commands.add_parser(
        "optimize",
        help="SMPLify-style optimization of mined labels -> foot/ or hand/",
        description="Optimize the mined Foot (knees, ankles, feet + camera to ankle, toe and heel keypoints) "
        "or Hand samples (stage 1: torso and arms to body keypoints; stage 2: wrists to fingertips) and write "
        "the optimized labels to OUT/foot or OUT/hand; the raw labels stay in OUT/normal. Report: "
        "OUT/reports/optimize_<stage>.json.",
    )
    p.add_argument("output", type=Path, help="pipeline output folder (with normal/ and reports/mining/)")
    p.add_argument("--stage", choices=("foot", "hand"), required=True)
    p.add_argument(
        "--samples",
        type=Path,
        default=None,
        help="file of sample ids to optimize, one per line (default: the mined list)",
    )
    p.add_argument(
        "--hand-stages",
        default="body,hand",
        help="hand stages to run, for ablations: body,hand (default), body or hand",
    )
    p.add_argument("--iterations", type=int, default=None, help="Adam iterations per stage (default 100)")
    _parallel_options(p, default_batch=1024)
    p.set_defaults(func=_optimize)


def _optimize(args) -> int:
    from ..pipeline.tasks import run_optimize

    names = {"body": "hand_body", "hand": "hand"}
    stages = tuple(s.strip() for s in args.hand_stages.split(",") if s.strip())
    if not stages or any(s not in names for s in stages):
        raise ValueError(f"--hand-stages must be body,hand, body or hand; got {args.hand_stages!r}")
    samples = None
    if args.samples is not None:
        samples = [line.strip() for line in args.samples.read_text().splitlines() if line.strip()]
    report = run_optimize(
        args.output,
        args.stage,
        samples,
        args.smpl,
        tasks=_tasks(args),
        workers=args.workers,
        batch_size=args.batch_size,
        device=args.device,
        threads=args.threads,
        hand_stages=tuple(names[s] for s in stages),
        iterations=args.iterations,
    )
    print(
        f"\noptimize {args.stage}: {report['written']} of {report['samples']} labels -> {args.output / args.stage}"
    )
    print(json.dumps({k: report[k] for k in ("improved_per_stage", "skipped")}))
    print(f"{'error (box sides)':<20}{'before':>10}{'after':>10}")
    for key in ("target_error", "body_error"):
        before, after = report[f"{key}_before"]["mean"], report[f"{key}_after"]["mean"]
        if before is not None:
            print(f"{key:<20}{before:>10.4f}{after:>10.4f}")
    if report["labels_per_second_per_task"]:
        print(
            f"speed: {report['labels_per_second_per_task']} labels/s per task ({args.device}, {args.threads} thread(s))"
        )
    print(f"report: {args.output / 'reports' / f'optimize_{args.stage}.json'}")
    return 0
