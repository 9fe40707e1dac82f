"""Label-optimization throughput (frames/s) of the foot and hand stages on CPU.

    PYTHONPATH=$PWD python benchmarks/bench_pipeline.py [--count 2048] [--workers 2] [--device cpu]

Three measurements, all in this run on the synthetic SMPL stand-in (same sizes as SMPL: 6890 vertices,
24 joints, 207 pose blend shapes), labels corrupted as in the tests:

1. the fitter on one process, one torch thread, ``--count`` labels in one batch (the in-memory core);
2. the same fitter with the full smplx mesh forward instead of the mesh-free keypoint model (the baseline
   a straightforward SMPLify port would use), timed per iteration on a smaller batch: the printed ratio is
   the speed-up of computing only the 45 keypoints;
3. ``hardmo-hf pipeline optimize`` end to end on a label tree of ``--count`` labels with ``--workers``
   worker processes (one thread each): label reading and writing, datatrove tasks, process start-up.

Goal: >= 30 frames/s on 2 CPU cores (the paper implies ~0.3 frames/s per GPU: ~6000 GPU hours for 7M
frames). Machines are noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hardmo_hf.models.body_model_hardmo import SMPLBodyModel
from hardmo_hf.pipeline.fitting import LabelFitter
from hardmo_hf.pipeline.kinematics import SMPLKeypointModel
from hardmo_hf.testing.pipeline import make_fitting_problem
from hardmo_hf.testing.smpl import make_synthetic_smpl

PAPER_GPU_FRAMES_PER_SECOND = 7_000_000 / (6000 * 3600)  # ~0.32


class FullMeshKeypoints(torch.nn.Module):
    """The baseline: smplx-45 joints through the full SMPL forward (all 6890 vertices skinned)."""

    def __init__(self, body: SMPLBodyModel):
        super().__init__()
        self.body = body
        self.joint_template = body.smpl.v_template  # dtype / device for the fitter

    def rest(self, betas):
        return betas

    def forward(self, rotations, betas):
        return self.body(rotations[:, :1], rotations[:, 1:], betas).joints45


def time_stage(fitter: LabelFitter, problem, stage: str) -> float:
    batch = problem.batch()
    started = time.perf_counter()
    if stage == "foot":
        fitter.fit_foot(batch)
    else:
        fitter.fit_hand(batch)
    return time.perf_counter() - started


def end_to_end(smpl_dir: Path, problems: dict, workers: int, device: str) -> dict:
    from hardmo_hf.data.writers import write_label
    from hardmo_hf.pipeline.tasks import run_optimize

    rates = {}
    for stage, problem in problems.items():
        out = Path(tempfile.mkdtemp(prefix=f"bench_{stage}_"))
        samples = []
        for i in range(len(problem.label_pose)):
            clip, frame = f"clip{i // 500:03d}", i % 500
            keypoints = np.zeros((44, 3), np.float32)
            keypoints[:25] = problem.keypoints[i, :25]
            label = {
                "keypoints_2d": keypoints,
                "hand_keypoints_2d": problem.keypoints[i, 25:],
                "body_pose": problem.label_pose[i],
                "betas": problem.betas[i],
                "center": np.zeros(2, np.float32),
                "scale": float(problem.box_size[i] / 200),
            }
            write_label(out / "normal" / "jazz" / clip / f"{frame:06d}_0.pyd", label)
            samples.append(f"jazz/{clip}/{frame:06d}_0")
        started = time.perf_counter()
        report = run_optimize(out, stage, samples, smpl_dir, tasks=workers, workers=workers, device=device)
        elapsed = time.perf_counter() - started
        rates[stage] = (report["written"] / elapsed, report["labels_per_second_per_task"])
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2048, help="labels per stage (one batch)")
    parser.add_argument("--baseline-count", type=int, default=128, help="labels for the full-mesh baseline")
    parser.add_argument("--baseline-iterations", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.set_num_threads(1)
    smpl_dir = Path(tempfile.mkdtemp(prefix="bench_smpl_"))
    make_synthetic_smpl(smpl_dir)
    model = SMPLKeypointModel(smpl_dir).to(args.device)
    fitter = LabelFitter(model)
    problems = {stage: make_fitting_problem(model, args.count, stage, seed=7) for stage in ("foot", "hand")}
    iterations = {"foot": 1, "hand": 2}  # stages per label
    print(
        f"label optimization, {args.count} labels per stage, {fitter.configs['foot'].iterations} Adam iterations "
        f"per stage, device {args.device}, torch {torch.__version__}"
    )

    core = {stage: args.count / time_stage(fitter, problem, stage) for stage, problem in problems.items()}

    # Baseline vs ours per iteration, on the same small batch.
    from dataclasses import replace

    short = {name: replace(cfg, iterations=args.baseline_iterations) for name, cfg in fitter.configs.items()}
    body = SMPLBodyModel(smpl_dir).to(args.device)
    baseline_fitter = LabelFitter(model, short, partial=False)
    baseline_fitter.model = FullMeshKeypoints(body)
    ours_fitter = LabelFitter(model, short)
    small = {stage: make_fitting_problem(model, args.baseline_count, stage, seed=8) for stage in problems}
    ratio = {}
    for stage, problem in small.items():
        t_base = time_stage(baseline_fitter, problem, stage)
        t_ours = time_stage(ours_fitter, problem, stage)
        ratio[stage] = (args.baseline_count / t_base * args.baseline_iterations / 100, t_base / t_ours)

    e2e = end_to_end(smpl_dir, problems, args.workers, args.device)

    print(
        f"\n{'stage':<6}{'core 1 thread':>16}{'full-mesh baseline':>21}{'speed-up':>10}"
        f"{f'end to end, {args.workers} workers':>28}{'goal':>7}"
    )
    for stage in problems:
        base_fps, speedup = ratio[stage]
        e2e_fps, _ = e2e[stage]
        status = "ok" if e2e_fps >= 30 else "MISSED"
        print(
            f"{stage:<6}{core[stage]:>12.1f} f/s{base_fps:>17.2f} f/s{speedup:>9.1f}x{e2e_fps:>24.1f} f/s"
            f"{status:>7}"
        )
    print(
        f"\nframes/s = labels optimized per second (foot: 1 stage, hand: {iterations['hand']} stages of 100 "
        f"iterations). Paper: ~{PAPER_GPU_FRAMES_PER_SECOND:.2f} frames/s per GPU."
    )
    print(
        "end to end per task (optimization only, no I/O): "
        + ", ".join(f"{s} {e2e[s][1]} f/s" for s in problems)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
