"""Evaluation throughput: data loading vs model time, on a built sample dataset.

    PYTHONPATH=. python benchmarks/bench_evaluate.py [--batch-size 16] [--workers 2] [--full-size]

Measured in one run, on the same rows:

1. **data path alone**: the DataLoader of ``hardmo-hf evaluate`` (streaming Parquet read, JPEG decode, the
   model's crop by its image processor) drained without a model, with 0 workers and with ``--workers``;
2. **model path alone**: model forward, the SMPL layer (prediction and ground truth) and the metrics on
   batches already in memory: a tiny random HardMo-4DHumans, and with ``--full-size`` the full-size
   HardMo-HMR (HRNet-W48, random weights) for a realistic model cost;
3. **end to end**: ``evaluate()`` with the tiny model, with its split of data-wait vs model time.

The data path must not dominate: ``data samples/s / model samples/s`` is printed for each model (>= 1 means
the model, not the data, limits evaluation). Numbers are ratios within one run; the machine may be busy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch


def build_dataset(tmp: Path, frames_per_clip: int, clips_per_class: int) -> tuple[Path, Path]:
    """Synthetic SMPL (+J19) and a built sample dataset with 640x480 frames, in ``tmp``."""
    from hardmo_hf.cli import main as cli
    from hardmo_hf.data.sample import make_sample_pipeline_output
    from hardmo_hf.testing.smpl import make_synthetic_j19_regressor, make_synthetic_smpl

    smpl = tmp / "smpl"
    make_synthetic_smpl(smpl)
    make_synthetic_j19_regressor(smpl)
    make_sample_pipeline_output(tmp / "pipeline", frames_per_clip=frames_per_clip, clips_per_class=clips_per_class,
                                image_size=(640, 480), include_bad_records=False)
    if cli(["build", str(tmp / "pipeline"), "--out", str(tmp / "hardmo"), "--workers", "2", "--no-progress"]) != 0:
        raise SystemExit("building the sample dataset failed")
    return smpl, tmp / "hardmo"


def model_folder(tmp: Path, name: str) -> Path:
    """``tiny-hmr2`` (tiny random HardMo-4DHumans) or ``full-hmr`` (HardMo-HMR W48, random) with its processor."""
    from transformers import AutoConfig

    from hardmo_hf.models.configuration_hardmo import HardMoHMRConfig
    from hardmo_hf.models.conversion_utils import write_hub_folder
    from hardmo_hf.models.image_processing_hardmo import HardMoImageProcessor
    from hardmo_hf.models.modeling_hardmo import HardMoHMRModel
    from hardmo_hf.testing.models import make_tiny_model_dir

    if name == "tiny-hmr2":
        folder = make_tiny_model_dir("hmr2", tmp / name)
    else:
        folder = write_hub_folder(HardMoHMRModel(HardMoHMRConfig()).eval(), tmp / name)
    HardMoImageProcessor.for_model_config(AutoConfig.from_pretrained(folder)).save_pretrained(folder)
    return folder


def drain(loader, min_samples: int) -> tuple[int, float, list]:
    """Iterate ``loader`` (re-opening it) until ``min_samples`` samples; returns (samples, seconds, batches)."""
    seen, batches, start = 0, [], time.perf_counter()
    while seen < min_samples:
        for batch in loader:
            seen += len(batch["sample_id"])
            batches.append(batch)
            if seen >= min_samples:
                break
    return seen, time.perf_counter() - start, batches


def model_rate(predictor, body, batches, device) -> float:
    from hardmo_hf.evaluation.accumulate import MetricAccumulator
    from hardmo_hf.evaluation.evaluate import _evaluate_batch

    accumulator = MetricAccumulator()
    _evaluate_batch(predictor, body, batches[0], accumulator, device)  # warm-up
    start, seen = time.perf_counter(), 0
    for batch in batches:
        _evaluate_batch(predictor, body, batch, accumulator, device)
        seen += len(batch["sample_id"])
    return seen / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="normal")
    parser.add_argument("--split", default="train", help="the split measured (train: the most rows)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=384, help="samples per data measurement")
    parser.add_argument("--frames-per-clip", type=int, default=8)
    parser.add_argument("--clips-per-class", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the main process")
    parser.add_argument("--full-size", action="store_true", help="also time the full-size HardMo-HMR (W48)")
    parser.add_argument("--full-size-batches", type=int, default=2)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from hardmo_hf.evaluation.body import EvaluationBodyModel
    from hardmo_hf.evaluation.evaluate import (
        EvaluationSettings,
        ModelPredictor,
        PreparedRows,
        evaluate,
        load_split,
    )

    rows: dict[str, float] = {}
    ratios: dict[str, float] = {}
    device = torch.device("cpu")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        smpl, dataset = build_dataset(tmp, args.frames_per_clip, args.clips_per_class)
        body = EvaluationBodyModel(smpl, smpl / "SMPL_to_J19.pkl")
        stream = load_split(str(dataset), args.config, args.split)
        shards = getattr(stream, "num_shards", 1) or 1
        workers = min(args.workers, shards)

        def loader(predictor, num_workers):
            return torch.utils.data.DataLoader(PreparedRows(stream, predictor.preparer, "bbox"),
                                               batch_size=args.batch_size, num_workers=num_workers)

        names = ["tiny-hmr2"] + (["full-hmr"] if args.full_size else [])
        for name in names:
            predictor = ModelPredictor(str(model_folder(tmp, name)), body, device)
            n0, t0, batches = drain(loader(predictor, 0), args.samples)
            rows[f"{name}: data, 0 workers"] = n0 / t0
            best = n0 / t0
            if workers:
                n1, t1, _ = drain(loader(predictor, workers), args.samples)
                rows[f"{name}: data, {workers} workers"] = n1 / t1
                best = max(best, n1 / t1)
            if name == "full-hmr":
                batches = batches[: args.full_size_batches]
            rate = model_rate(predictor, body, batches, device)
            rows[f"{name}: model + SMPL + metrics"] = rate
            ratios[name] = best / rate

        settings = EvaluationSettings(model=str(tmp / "tiny-hmr2"), dataset=str(dataset), config=args.config,
                                      split=args.split, smpl=str(smpl), j19=str(smpl / "SMPL_to_J19.pkl"),
                                      batch_size=args.batch_size, num_workers=args.workers, out=tmp / "eval",
                                      progress=False)
        results = evaluate(settings)
        th = results["throughput"]
        rows["tiny-hmr2: end to end (evaluate)"] = th["samples_per_second"]

    print(f"\nbench_evaluate: batch {args.batch_size}, {args.config}/{args.split} of a 640x480 sample dataset "
          f"({shards} shards), torch threads {torch.get_num_threads()}")
    print(f"{'path':<44}{'samples/s':>12}")
    for name, rate in rows.items():
        print(f"{name:<44}{rate:>12.2f}")
    print(f"\ntiny-hmr2 end to end ({results['num_samples']} samples): data wait {th['data_wait_seconds']:.2f} s, "
          f"model + metrics {th['model_and_metrics_seconds']:.2f} s")
    for name, ratio in ratios.items():
        verdict = "the model limits evaluation" if ratio >= 1.0 else "the DATA PATH limits evaluation"
        print(f"data / model throughput, {name}: {ratio:.2f} ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
