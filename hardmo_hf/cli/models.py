"""``hardmo-hf convert ...`` / ``hardmo-hf push-model ...``: turn the authors' checkpoints into Hub folders and
upload them.

    hardmo-hf convert hmr2 CKPT --out DIR [--set FIELD=VALUE ...]
    hardmo-hf convert hmr  CKPT --out DIR [--flavor hardmo|bedlam] [--set FIELD=VALUE ...]
    hardmo-hf push-model DIR --repo-id OWNER/NAME [--dry-run] [--private]

CKPT is a Lightning ``.ckpt``, a ``.pt``/``.pth`` state dict or a ``.safetensors`` state dict. Sizes come from the
tensors; ``--set`` overrides the rest with config field names (``vit_config.num_attention_heads=4``,
``decoder_heads=4``, ...). Each group of sub-commands has a ``_register_*`` function below; add new ones to
:func:`register`.
"""

from __future__ import annotations

import argparse
import logging
import sys

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    _register_convert(subparsers)
    _register_push_model(subparsers)


# ------------------------------------------------------------------------------------------------------
# convert
# ------------------------------------------------------------------------------------------------------
def _register_convert(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an authors' checkpoint (HMR2 / HardMo-HMR / BEDLAM-HMR) into a Hub model folder",
        description="Convert an authors' checkpoint into a transformers Hub folder (config.json with auto_map, "
        "model.safetensors, custom code). SMPL data in the checkpoint is dropped, never packaged.",
    )
    kinds = parser.add_subparsers(dest="model_kind", metavar="MODEL", required=True)
    hmr2 = kinds.add_parser("hmr2", help="HMR 2.0 / HardMo-4DHumans (ViT-H + transformer decoder)")
    hmr = kinds.add_parser("hmr", help="HardMo-HMR or BEDLAM-HMR (HRNet + IEF regressor)")
    for sub in (hmr2, hmr):
        sub.add_argument("checkpoint", help="Lightning .ckpt, .pt/.pth or .safetensors state dict")
        sub.add_argument("--out", required=True, help="output folder (created)")
        sub.add_argument(
            "--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
            help="override a config field the tensors do not determine (JSON value); repeatable",
        )
    hmr.add_argument(
        "--flavor", choices=("hardmo", "bedlam"), default=None,
        help="upstream layout (default: detected from the key prefixes)",
    )
    parser.set_defaults(func=_run_convert)


def _run_convert(args: argparse.Namespace) -> int:
    from ..models.conversion_utils import parse_overrides

    overrides = parse_overrides(args.overrides)
    if args.model_kind == "hmr2":
        from ..models.convert_hmr2_to_hf import convert_hmr2_checkpoint

        model = convert_hmr2_checkpoint(args.checkpoint, out_dir=args.out, overrides=overrides)
        vit = model.config.vit_config
        summary = (
            f"ViT {vit.num_hidden_layers} layers x {vit.hidden_size} ({vit.num_attention_heads} heads), decoder "
            f"{model.config.decoder_depth} x {model.config.decoder_dim} ({model.config.decoder_heads} heads)"
        )
    else:
        from ..models.convert_hmr_to_hf import convert_hmr_checkpoint

        model = convert_hmr_checkpoint(args.checkpoint, out_dir=args.out, flavor=args.flavor, overrides=overrides)
        config = model.config
        summary = f"{config.flavor} flavor, HRNet-W{config.hrnet_width}, {config.num_joints} joints, {config.num_betas} betas"
    parameters = sum(p.numel() for p in model.parameters())
    print(f"converted {args.checkpoint} -> {args.out}: {summary}; {parameters / 1e6:.1f}M parameters")
    return 0


# ------------------------------------------------------------------------------------------------------
# push-model
# ------------------------------------------------------------------------------------------------------
def _register_push_model(subparsers) -> None:
    parser = subparsers.add_parser(
        "push-model",
        help="check a converted model folder and upload it to the Hugging Face Hub",
        description="Check a converted model folder (config.json with auto_map, model.safetensors without SMPL "
        "data, preprocessor_config.json, README.md, flat model code; no body-model files) and upload it with "
        "huggingface_hub. The token comes from `hf auth login` or HF_TOKEN.",
    )
    parser.add_argument("folder", help="the folder `hardmo-hf convert` wrote")
    parser.add_argument("--repo-id", required=True, help="target model repository, OWNER/NAME (created if needed)")
    parser.add_argument("--dry-run", action="store_true", help="check and list the files, upload nothing")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--commit-message", default=None, help="commit message of the upload")
    parser.set_defaults(func=_run_push_model)


def _run_push_model(args: argparse.Namespace) -> int:
    from ..model_hub import check_hub_folder, check_repo_id, push_model_folder

    check_repo_id(args.repo_id)
    report = check_hub_folder(args.folder)
    print(report.summary())
    if not report.ok:
        raise ValueError(f"{args.folder} is not ready to upload ({len(report.problems)} problems listed above)")
    if args.dry_run:
        print(f"dry run: would upload {len(report.files)} files to https://huggingface.co/{args.repo_id}")
        return 0
    try:
        push_model_folder(
            args.folder, args.repo_id, private=args.private, commit_message=args.commit_message
        )
    except Exception as exc:  # noqa: BLE001 (network / auth / permission errors end the command with their message)
        print(f"hardmo-hf push-model: upload to {args.repo_id} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"uploaded {len(report.files)} files to https://huggingface.co/{args.repo_id}")
    return 0
