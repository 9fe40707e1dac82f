"""``hardmo-hf evaluate``: reproduce the paper's benchmark tables on a HardMo test split."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a model on a HardMo split and write the paper's table",
        description=(
            "Stream a HardMo split, crop each person with the model's image processor, run the model and report "
            "MPJPE / PA-MPJPE (mm; Body and Foot), PCK@0.01/0.05/0.1 (Body, Foot, Hand) and the angle bias, laid "
            "out like the paper's table for the config (S-1 foot_p1/foot_p2, S-2 hand, S-4 normal). Needs the "
            "SMPL neutral model (--smpl or $HARDMO_SMPL_PATH): ground-truth 3D joints are the SMPL joints of "
            "the labels. Give --j19 SMPL_to_J19.pkl for the paper's pelvis alignment (label joint 39)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True,
                        help="model folder or Hub repo id; 'labels' evaluates the labels themselves (a pipeline check)")
    parser.add_argument("--dataset", default="hardmo", help="dataset folder or Hub dataset id")
    parser.add_argument("--config", default="foot_p2", choices=("normal", "foot_p1", "foot_p2", "hand"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-workers", type=int, default=2, help="DataLoader workers decoding and cropping")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--smpl", default=None, help="SMPL_NEUTRAL.pkl or its folder (default: $HARDMO_SMPL_PATH)")
    parser.add_argument("--j19", default=None,
                        help="SMPL_to_J19.pkl (4D-Humans data) for the paper's joint 39 root "
                             "(default: the one beside the SMPL file, if any)")
    parser.add_argument("--pck-norm", default="bbox", choices=("bbox", "image"),
                        help="PCK normaliser: longest GT box side (authors' code) or longest image side (paper text)")
    parser.add_argument("--out", type=Path, default=Path("eval_results"), help="output folder")
    parser.add_argument("--write-model-index", action="store_true",
                        help="also write the numbers into the model folder's README.md model-index")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    import os

    import torch

    from ..evaluation.evaluate import EvaluationSettings, evaluate

    if args.device == "cpu" and args.num_workers > 0:
        # Leave the data workers their cores: intra-op threads beyond that only contend with them.
        torch.set_num_threads(max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - args.num_workers)))

    settings = EvaluationSettings(
        model=args.model, dataset=args.dataset, config=args.config, split=args.split, limit=args.limit,
        batch_size=args.batch_size, device=args.device, smpl=args.smpl, j19=args.j19, pck_norm=args.pck_norm,
        out=args.out, num_workers=args.num_workers, write_model_index=args.write_model_index,
        progress=not args.no_progress,
    )
    results = evaluate(settings)
    print((settings.out / "results.md").read_text().split("\n## ")[0])
    print(f"results: {settings.out / 'results.json'}, {settings.out / 'results.md'}, {settings.out / 'results.csv'}")
    return 0 if results["num_samples"] else 1
