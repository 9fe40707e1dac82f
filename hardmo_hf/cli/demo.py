"""``hardmo-hf demo`` (run the Gradio demo locally) and ``hardmo-hf push-space`` (upload the Space)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the Gradio demo locally",
        description=(
            "Run the HardMo Gradio demo. Models, SMPL file and detector come from the options or the "
            "environment variables HARDMO_4DHUMANS_MODEL, HARDMO_HMR_MODEL, HARDMO_SMPL_PATH, HARDMO_DETECTOR."
        ),
    )
    demo.add_argument(
        "--port", type=int, default=None, help="server port (default: Gradio's, 7860 or the next free)"
    )
    demo.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0 for all)")
    demo.add_argument("--share", action="store_true", help="also open a public *.gradio.live link")
    demo.add_argument("--4dhumans-model", dest="model_4dhumans", help="HardMo-4DHumans folder or Hub id")
    demo.add_argument("--hmr-model", dest="model_hmr", help="HardMo-HMR folder or Hub id")
    demo.add_argument("--smpl-path", help="SMPL_NEUTRAL.pkl or its folder")
    demo.add_argument("--detector", help="person detector folder or Hub id ('none': whole image)")
    demo.set_defaults(func=run_demo)

    push = subparsers.add_parser(
        "push-space",
        help="upload the Gradio Space (spaces/hardmo-demo) to the Hub",
        description="Upload the Space folder to a Hugging Face Space repo (created if missing).",
    )
    push.add_argument("--repo-id", required=True, help="owner/name of the Space")
    push.add_argument(
        "--space-dir", type=Path, default=None, help="the Space folder (default: spaces/hardmo-demo)"
    )
    push.add_argument("--private", action="store_true", help="create the Space as private")
    push.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the cached login)")
    push.add_argument(
        "--dry-run", action="store_true", help="check the folder and list what would be uploaded"
    )
    push.set_defaults(func=run_push_space)


def run_demo(args: argparse.Namespace) -> int:
    overrides = {
        "HARDMO_4DHUMANS_MODEL": args.model_4dhumans,
        "HARDMO_HMR_MODEL": args.model_hmr,
        "HARDMO_SMPL_PATH": args.smpl_path,
        "HARDMO_DETECTOR": args.detector,
    }
    for name, value in overrides.items():
        if value:
            os.environ[name] = str(value)
    from ..demo.app import launch

    launch(port=args.port, share=args.share, server_name=args.host)
    return 0


def run_push_space(args: argparse.Namespace) -> int:
    from ..demo.space import check_space_folder, default_space_dir, push_space

    space_dir = args.space_dir or default_space_dir()
    files = check_space_folder(space_dir)
    if args.dry_run:
        print(f"Space folder {space_dir} is valid; would upload to spaces/{args.repo_id}:")
        for path in files:
            print(f"  {path.relative_to(space_dir)}  ({path.stat().st_size} bytes)")
        return 0
    url = push_space(space_dir, args.repo_id, private=args.private, token=args.token)
    print(f"Uploaded {len(files)} files to {url}")
    return 0
