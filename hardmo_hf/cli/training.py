"""``hardmo-hf train``: fine-tune a HardMo model on a HardMo split (transformers Trainer)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fine-tune a HardMo model on a HardMo split",
        description=(
            "Fine-tune a converted HardMo model (folder or Hub id) on a streaming HardMo split with the authors' "
            "recipe: HMR 2.0 augmentations, the model config's loss weights, AdamW with a constant learning rate "
            "(default 1e-5 for HardMo-4DHumans, 1e-4 with weight decay 1e-4 for HardMo-HMR). The 2D keypoint "
            "losses need the SMPL neutral model (--smpl or $HARDMO_SMPL_PATH). Writes a Hub-ready model folder."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="model folder or Hub repo id to start from")
    parser.add_argument("--dataset", default="hardmo", help="dataset folder or Hub dataset id")
    parser.add_argument("--config", default="foot_p2", choices=("normal", "foot_p1", "foot_p2", "hand"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--output-dir", type=Path, required=True, help="where the fine-tuned model folder goes")
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=8, help="per-device batch size")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the model type's (see above)")
    parser.add_argument("--weight-decay", type=float, default=None, help="default: 1e-4")
    parser.add_argument("--smpl", default=None, help="SMPL_NEUTRAL.pkl or its folder (default: $HARDMO_SMPL_PATH)")
    parser.add_argument("--j19", default=None, help="SMPL_to_J19.pkl (optional: HardMo's J19 rows carry no 2D labels)")
    parser.add_argument("--no-augment", action="store_true", help="train on plain crops")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-workers", type=int, default=2, help="DataLoader workers decoding and augmenting")
    parser.add_argument("--shuffle-buffer", type=int, default=256, help="streaming shuffle buffer (rows)")
    parser.add_argument("--logging-steps", type=int, default=10)
    parser.add_argument("--save-steps", type=int, default=None, help="also keep Trainer checkpoints every N steps")
    parser.add_argument("--device", default=None, choices=("cpu", "cuda"), help="default: cuda when available")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..training.trainer import TrainingSettings, train

    settings = TrainingSettings(
        model=args.model, output_dir=args.output_dir, dataset=args.dataset, config=args.config, split=args.split,
        max_steps=args.max_steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
        weight_decay=args.weight_decay, smpl=args.smpl, j19=args.j19, augment=not args.no_augment, seed=args.seed,
        num_workers=args.num_workers, shuffle_buffer=args.shuffle_buffer, logging_steps=args.logging_steps,
        save_steps=args.save_steps, device=args.device, bf16=args.bf16,
    )
    train(settings)
    print(f"fine-tuned model written to {settings.output_dir}")
    return 0
