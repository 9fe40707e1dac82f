"""The ``hardmo-hf`` command.

Every sub-command lives in its own module of this package and exposes ``register(subparsers)``, which adds
its parser and sets ``func``. Modules keep heavy imports (torch, datasets, gradio) inside the functions they
run, so ``hardmo-hf --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Sub-command modules, in the order they appear in ``--help``.
COMMAND_MODULES = (
    "quickstart",
    "data",
    "models",
    "evaluation",
    "training",
    "pipeline",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hardmo-hf",
        description="HardMo on the Hugging Face stack: dataset, models, benchmarks, demo.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError) as exc:
        # Bad input: a clear message naming the file and the problem, no stack trace.
        print(f"hardmo-hf {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
