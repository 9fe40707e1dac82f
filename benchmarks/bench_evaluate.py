"""Evaluation throughput: data loading vs model time, with a tiny model on the sample dataset.

    PYTHONPATH=. python benchmarks/bench_evaluate.py [--kind hmr2|hmr] [--batch-size 16] [--workers 2]

Measured in one run, on the same rows:

1. **data path alone**: the DataLoader of ``hardmo-hf evaluate`` (streaming read, JPEG decode, the model's
   crop) drained without a model, with 0 workers and with ``--workers`` workers;
2. **model path alone**: the model, the SMPL layer (prediction and ground truth) and the metrics on batches
   already in memory;
3. **end to end**: ``evaluate()`` itself, with its split of data-wait vs model time.

Goal: the data path never dominates, i.e. ``data samples/s (workers) / model samples/s >= 1`` and the end-to-end
rate is close to the model-only rate. Numbers are ratios within one run (the machine may be busy).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch


def build_inputs(tmp: Path, kind: str) -> tuple[Path, Path, Path]:
    """Synthetic SMPL (+J19), a tiny model folder and the built sample dataset, in ``tmp``."""
    from hardmo_hf.cli import main as cli
    from hardmo_hf.data.sample import make_sample_pipeline_output
    from hardmo_hf.testing.models import make_tiny_model_dir
    from hardmo_hf.testing.smpl import make_synthetic_j19_regressor, make_synthetic_smpl

    smpl = tmp / "smpl"
    make_synthetic_smpl(smpl)
    make_synthetic_j19_regressor(smpl)
    model = make_tiny_model_dir(kind, tmp / f"tiny-{kind}")
    make_sample_pipeline_output(tmp / "pipeline")
    if cli(["build", str(tmp / "pipeline"), "--out", str(tmp / "hardmo"), "--workers", "2"]) != 0:
        raise SystemExit("building the sample dataset failed")
    return smpl, model, tmp / "hardmo"


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", default="hmr2", choices=("hmr2", "hmr"))
    parser.add_argument("--config", default="normal")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=256, help="samples per measurement")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the main process")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from hardmo_hf.evaluation.accumulate import MetricAccumulator
    from hardmo_hf.evaluation.body import EvaluationBodyModel
    from hardmo_hf.evaluation.evaluate import (
        EvaluationSettings,
        ModelPredictor,
        PreparedRows,
        _evaluate_batch,
        evaluate,
        load_split,
    )

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        smpl, model_dir, dataset = build_inputs(tmp, args.kind)
        body = EvaluationBodyModel(smpl, smpl / "SMPL_to_J19.pkl")
        device = torch.device("cpu")
        predictor = ModelPredictor(str(model_dir), body, device)
        stream = load_split(str(dataset), args.config, "test")
        shards = getattr(stream, "num_shards", 1) or 1

        def loader(workers):
            return torch.utils.data.DataLoader(PreparedRows(stream, predictor.preparer, "bbox"), batch_size=args.batch_size,
                                               num_workers=workers)

        rows = {}
        n0, t0, batches = drain(loader(0), args.samples)
        rows["data, 0 workers"] = n0 / t0
        workers = min(args.workers, shards)
        if workers:
            n1, t1, _ = drain(loader(workers), args.samples)
            rows[f"data, {workers} workers"] = n1 / t1

        accumulator = MetricAccumulator()
        _evaluate_batch(predictor, body, batches[0], accumulator, device)  # warm-up
        start = time.perf_counter()
        seen = 0
        for batch in batches:
            _evaluate_batch(predictor, body, batch, accumulator, device)
            seen += len(batch["sample_id"])
        rows["model + SMPL + metrics (batches in memory)"] = seen / (time.perf_counter() - start)

        settings = EvaluationSettings(model=str(model_dir), dataset=str(dataset), config=args.config, split="test",
                                      smpl=str(smpl), j19=str(smpl / "SMPL_to_J19.pkl"), batch_size=args.batch_size,
                                      num_workers=args.workers, out=tmp / "eval", progress=False)
        results = evaluate(settings)
        th = results["throughput"]
        rows["end to end (evaluate)"] = th["samples_per_second"]

    model_rate = rows["model + SMPL + metrics (batches in memory)"]
    best_data = max(v for k, v in rows.items() if k.startswith("data"))
    print(f"\nbench_evaluate: tiny {args.kind}, batch {args.batch_size}, config {args.config}, "
          f"torch threads {torch.get_num_threads()}, {shards} shards")
    print(f"{'path':<46}{'samples/s':>12}")
    for name, rate in rows.items():
        print(f"{name:<46}{rate:>12.1f}")
    print(f"\nend-to-end split ({results['num_samples']} samples): data wait {th['data_wait_seconds']:.2f} s, "
          f"model + metrics {th['model_and_metrics_seconds']:.2f} s")
    ratio = best_data / model_rate
    print(f"data / model throughput ratio: {ratio:.2f} (goal >= 1.0: {'met' if ratio >= 1.0 else 'NOT met'})")
    print(f"end-to-end / model-only: {rows['end to end (evaluate)'] / model_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
