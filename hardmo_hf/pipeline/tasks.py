"""The pipeline's three steps as datatrove tasks (``LocalPipelineExecutor`` by default, like the build).

Each step splits its work into ``tasks`` (clips for ingest and mining, contiguous runs of samples for
optimization), runs them on ``workers`` processes, and writes one partial report per task; the parent
process then merges the partial reports. Task completion markers live in
``<out>/reports/logs/<step>-<hash of the step's parameters and inputs>``: a killed run, rerun with the same
arguments, skips the finished tasks; a run with other arguments starts afresh. Label and image writes are
atomic, so a half-finished task is simply redone.

Output root (``hardmo-hf build``'s input, see ``docs/pipeline_output_format.md``)::

    <out>/normal/<category>/<clip_id>/...    ingest: frames and raw labels
    <out>/subjects.json|csv                  ingest: copied from the raw folder when present
    <out>/foot/..., <out>/hand/...           optimize: optimized labels (raw labels stay in normal/)
    <out>/reports/                           ingest_report.json, ingest_dropped.jsonl, mining/, optimize_*.json
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from datatrove.pipeline.base import PipelineStep

from .config import IngestConfig, MiningConfig
from .ingest import (
    ClipInput,
    discover_clips,
    ingest_clip,
    merge_ingest_reports,
    write_clip_reports,
)
from .mining import write_mining_outputs

logger = logging.getLogger(__name__)

REPORTS_DIR = "reports"
SUBJECT_MAP_NAMES = ("subjects.json", "subjects.csv")


# The task functions (``ingest_task``, ``mine_task``, ``optimize_task``) are public so that other datatrove
# executors (Slurm, Ray) can run them: wrap one in a FunctionTask with the keyword arguments run_* passes.


class FunctionTask(PipelineStep):
    """A datatrove step that runs ``function(rank=..., world_size=..., **kwargs)`` once per task."""

    type = "HardMo pipeline"

    def __init__(self, name: str, function, **kwargs):
        super().__init__()
        self.name = name
        self.function = function
        self.kwargs = kwargs

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        with self.track_time(unit="task"):
            self.function(rank=rank, world_size=world_size, **self.kwargs)
        self.stat_update("tasks")


def run_tasks(step: FunctionTask, tasks: int, workers: int, logging_dir: Path) -> None:
    """Run ``step`` as ``tasks`` datatrove tasks on ``workers`` local processes."""
    from datatrove.executor import LocalPipelineExecutor

    executor = LocalPipelineExecutor(
        pipeline=[step],
        tasks=tasks,
        workers=min(workers, tasks),
        logging_dir=str(logging_dir),
        skip_completed=True,
    )
    executor.run()


def _fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _shard(items: list, rank: int, world_size: int) -> list:
    """Contiguous, balanced slice ``rank`` of ``world_size`` (keeps clips together)."""
    bounds = np.linspace(0, len(items), world_size + 1).round().astype(int)
    return items[bounds[rank] : bounds[rank + 1]]


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------------------
# ingest
# ----------------------------------------------------------------------------------------------------
def ingest_task(rank, world_size, clips, out_root, config, parts_dir):
    results = []
    from tqdm import tqdm

    for clip in tqdm(_shard(clips, rank, world_size), desc=f"ingest task {rank}", unit="clip", leave=False):
        results.append(ingest_clip(clip, Path(out_root) / "normal", config))
    write_clip_reports(
        results, Path(parts_dir) / f"{rank:05d}.json", Path(parts_dir) / f"{rank:05d}.dropped.jsonl"
    )


def run_ingest(
    raw_root: Path, out_root: Path, config: IngestConfig, tasks: int = 1, workers: int = 1
) -> dict:
    """Ingest every clip of ``raw_root`` into ``out_root/normal``; returns (and writes) the ingest report."""
    raw_root, out_root = Path(raw_root), Path(out_root)
    clips: list[ClipInput] = discover_clips(raw_root)
    tasks = max(1, min(tasks, len(clips)))
    key = _fingerprint("ingest", str(raw_root.resolve()), [c.name for c in clips], asdict(config), tasks)
    reports = out_root / REPORTS_DIR
    parts_dir = reports / "parts" / f"ingest-{key}"
    step = FunctionTask(
        "ingest", ingest_task, clips=clips, out_root=str(out_root), config=config, parts_dir=str(parts_dir)
    )
    logger.info("ingest: %d clips from %s in %d tasks on %d workers", len(clips), raw_root, tasks, workers)
    run_tasks(step, tasks, workers, reports / "logs" / f"ingest-{key}")
    for name in SUBJECT_MAP_NAMES:
        if (raw_root / name).is_file():
            from ..data.readers._common import load_subject_map

            load_subject_map(raw_root / name)  # validate before publishing it
            shutil.copyfile(raw_root / name, out_root / name)
    report = merge_ingest_reports([parts_dir / f"{r:05d}.json" for r in range(tasks)], config)
    with open(reports / "ingest_dropped.jsonl", "w") as out:
        out.writelines((parts_dir / f"{rank:05d}.dropped.jsonl").read_text() for rank in range(tasks))
    (reports / "ingest_report.json").write_text(json.dumps(report, indent=1))
    return report


# ----------------------------------------------------------------------------------------------------
# mine
# ----------------------------------------------------------------------------------------------------
def _fitter(smpl_path, device, iterations=None):
    from dataclasses import replace

    from .fitting import DEFAULT_STAGE_CONFIGS, LabelFitter
    from .kinematics import SMPLKeypointModel

    configs = None
    if iterations is not None:
        configs = {name: replace(cfg, iterations=iterations) for name, cfg in DEFAULT_STAGE_CONFIGS.items()}
    return LabelFitter(SMPLKeypointModel(smpl_path).to(device), configs)


def mine_task(
    rank, world_size, clips, normal_tree, smpl_path, config, batch_size, device, threads, parts_dir
):
    from tqdm import tqdm

    from .label_tree import fit_batch, list_samples, load_label
    from .mining import mining_errors

    _set_threads(threads)
    fitter = _fitter(smpl_path, device)
    rows, pending = [], []

    def flush():
        if not pending:
            return
        errors = mining_errors(fitter, fit_batch([label for _, label in pending]), config)
        for i, (ref, _) in enumerate(pending):
            rows.append(
                {
                    "sample_id": ref.sample_id,
                    "foot": None if np.isnan(errors["foot"][i]) else round(float(errors["foot"][i]), 6),
                    "hand": None if np.isnan(errors["hand"][i]) else round(float(errors["hand"][i]), 6),
                    "foot_points": int(errors["foot_points"][i]),
                    "hand_points": int(errors["hand_points"][i]),
                    "camera_ok": bool(errors["camera_ok"][i]),
                }
            )
        pending.clear()

    for clip in tqdm(_shard(clips, rank, world_size), desc=f"mine task {rank}", unit="clip", leave=False):
        for ref in list_samples(normal_tree, clip):
            _, label = load_label(ref.label_path(normal_tree))
            if not label.has_body_pose:
                rows.append({"sample_id": ref.sample_id, "skipped": "no_smpl_label"})
                continue
            pending.append((ref, label))
            if len(pending) >= batch_size:
                flush()
    flush()
    path = Path(parts_dir) / f"{rank:05d}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def run_mine(
    out_root: Path,
    config: MiningConfig,
    smpl_path=None,
    tasks: int = 1,
    workers: int = 1,
    batch_size: int = 1024,
    device: str = "cpu",
    threads: int = 1,
) -> dict:
    """Mine Foot and Hand hard cases of ``out_root/normal`` into ``out_root/reports/mining/``."""
    from ..models.body_model_hardmo import resolve_smpl_path
    from .label_tree import list_clips

    out_root = Path(out_root)
    smpl_path = str(resolve_smpl_path(smpl_path))
    normal_tree = out_root / "normal"
    clips = list_clips(normal_tree)
    tasks = max(1, min(tasks, len(clips)))
    # Criteria do not depend on the thresholds: reruns with new thresholds reuse the computed errors.
    key = _fingerprint(
        "mine", clips, config.min_confidence, config.min_points, _tree_state(normal_tree), tasks
    )
    reports = out_root / REPORTS_DIR
    parts_dir = reports / "parts" / f"mine-{key}"
    step = FunctionTask(
        "mine",
        mine_task,
        clips=clips,
        normal_tree=str(normal_tree),
        smpl_path=smpl_path,
        config=config,
        batch_size=batch_size,
        device=device,
        threads=threads,
        parts_dir=str(parts_dir),
    )
    logger.info("mine: %d clips of %s in %d tasks on %d workers", len(clips), normal_tree, tasks, workers)
    run_tasks(step, tasks, workers, reports / "logs" / f"mine-{key}")
    rows = []
    for rank in range(tasks):
        rows.extend(json.loads(line) for line in (parts_dir / f"{rank:05d}.jsonl").read_text().splitlines())
    return write_mining_outputs(rows, reports / "mining", config)


def _tree_state(tree: Path) -> list:
    """Cheap fingerprint of a label tree: each clip folder's modification time.

    Every label is written under a temporary name and renamed into its clip folder, which updates the
    folder's time, so a re-ingested or edited clip changes the fingerprint without a stat per label.
    """
    return [
        [f"{p.parent.name}/{p.name}", p.stat().st_mtime_ns]
        for p in sorted(Path(tree).glob("*/*"))
        if p.is_dir()
    ]


# ----------------------------------------------------------------------------------------------------
# optimize
# ----------------------------------------------------------------------------------------------------
def optimize_task(
    rank,
    world_size,
    samples,
    out_root,
    stage,
    hand_stages,
    smpl_path,
    batch_size,
    device,
    threads,
    iterations,
    parts_dir,
):
    from tqdm import tqdm

    from .label_tree import SampleRef
    from .optimize import optimize_samples

    _set_threads(threads)
    fitter = _fitter(smpl_path, device, iterations)
    refs = [SampleRef.parse(s) for s in _shard(samples, rank, world_size)]
    progress = tqdm(total=len(refs), desc=f"optimize {stage} task {rank}", unit="label", leave=False)
    summary = optimize_samples(fitter, refs, Path(out_root), stage, hand_stages, batch_size, progress)
    progress.close()
    path = Path(parts_dir) / f"{rank:05d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary))


def run_optimize(
    out_root: Path,
    stage: str,
    samples: list[str] | None = None,
    smpl_path=None,
    tasks: int = 1,
    workers: int = 1,
    batch_size: int = 1024,
    device: str = "cpu",
    threads: int = 1,
    hand_stages: tuple[str, ...] = ("hand_body", "hand"),
    iterations: int | None = None,
) -> dict:
    """Optimize the mined ``stage`` samples (or ``samples``) of ``out_root/normal`` into ``out_root/<stage>``."""
    from ..models.body_model_hardmo import resolve_smpl_path
    from .optimize import merge_optimize_summaries

    if stage not in ("foot", "hand"):
        raise ValueError(f"--stage must be foot or hand, got {stage!r}")
    out_root = Path(out_root)
    smpl_path = str(resolve_smpl_path(smpl_path))
    if samples is None:
        listing = out_root / REPORTS_DIR / "mining" / f"{stage}.txt"
        if not listing.is_file():
            raise FileNotFoundError(
                f"{listing}: no mined {stage} samples (run `hardmo-hf pipeline mine` first)"
            )
        samples = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    samples = sorted(set(samples))
    tasks = max(1, min(tasks, len(samples) or 1))
    key = _fingerprint(
        "optimize", stage, hand_stages, iterations, samples, _tree_state(out_root / "normal"), tasks
    )
    reports = out_root / REPORTS_DIR
    parts_dir = reports / "parts" / f"optimize-{stage}-{key}"
    step = FunctionTask(
        f"optimize {stage}",
        optimize_task,
        samples=samples,
        out_root=str(out_root),
        stage=stage,
        hand_stages=tuple(hand_stages),
        smpl_path=smpl_path,
        batch_size=batch_size,
        device=device,
        threads=threads,
        iterations=iterations,
        parts_dir=str(parts_dir),
    )
    logger.info(
        "optimize %s: %d labels in %d tasks on %d workers (%s)", stage, len(samples), tasks, workers, device
    )
    started = time.perf_counter()
    run_tasks(step, tasks, workers, reports / "logs" / f"optimize-{stage}-{key}")
    elapsed = time.perf_counter() - started
    summaries = [json.loads((parts_dir / f"{r:05d}.json").read_text()) for r in range(tasks)]
    report = merge_optimize_summaries(summaries, stage, hand_stages)
    report["wall_seconds_this_run"] = round(elapsed, 3)
    (reports / f"optimize_{stage}.json").write_text(json.dumps(report, indent=1))
    return report
