"""Train/test splits, the shard layout on disk, and the four configs that read it.

Splits
    * ``normal``, ``foot_p1``, ``hand``: subject-disjoint. A subject's split is a pure function of its id and
      the seed (:func:`subject_split`: a SHA-256 of ``"<seed>:<subject_id>"`` compared with the test fraction),
      so it does not depend on the order of the input or on which build task sees the subject, and a subject
      lands in the same split in every subset (no subject of the Normal test split is in the Foot or Hand
      train split either). The test fraction is the expected share of *subjects*; the share of rows varies.
    * ``foot_p2`` (inter-class, the paper's Protocol 2): train = the Foot rows of
      ``FOOT_P2_TRAIN_CLASSES``, test = the Foot rows of ``FOOT_P2_TEST_CLASSES``, whatever their subject
      split; other classes are not used.

Layout
    ``data/<subset>/<subject split>/<category>/<task:05d>-<part:04d>.parquet``. Foot rows are stored once:
    ``foot_p1`` reads every class folder of one subject split (``data/foot/train/*/``), ``foot_p2`` reads the
    folders of its classes in both subject splits (``data/foot/*/ballet/`` ...), so P2 reuses P1's files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from ..constants import (
    CONFIG_SUBSET,
    CONFIGS,
    DEFAULT_SPLIT_SEED,
    DEFAULT_TEST_FRACTION,
    FOOT_P2_TEST_CLASSES,
    FOOT_P2_TRAIN_CLASSES,
    SPLITS,
    SUBSETS,
)

__all__ = [
    "DATA_DIR",
    "Folder",
    "check_category_name",
    "check_split_options",
    "config_data_files",
    "config_split",
    "p2_split",
    "parse_shard_path",
    "shard_folder",
    "subject_split",
    "subject_unit_interval",
]

DATA_DIR = "data"
SUBJECT_DISJOINT_CONFIGS = ("normal", "foot_p1", "hand")
# A category becomes a folder name and a glob path component: keep it to plain characters.
_CATEGORY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

Folder = tuple[str, str, str]  # (subset, subject split, category)


def check_split_options(test_fraction: float, seed: int) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"split seed must be a non-negative integer, got {seed!r}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test fraction must be in (0, 1), got {test_fraction!r}")


def subject_unit_interval(subject_id: str, seed: int = DEFAULT_SPLIT_SEED) -> float:
    """A number in [0, 1) that depends only on ``seed`` and ``subject_id`` (SHA-256, not Python's hash)."""
    digest = hashlib.sha256(f"{seed}:{subject_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def subject_split(
    subject_id: str, test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = DEFAULT_SPLIT_SEED
) -> str:
    """``"test"`` for about ``test_fraction`` of all subjects, ``"train"`` for the others (deterministic)."""
    if not subject_id:
        raise ValueError("subject_id is empty")
    return "test" if subject_unit_interval(subject_id, seed) < test_fraction else "train"


def p2_split(category: str) -> str | None:
    """The Foot Protocol 2 split of a class (``None``: not used by P2)."""
    if category in FOOT_P2_TRAIN_CLASSES:
        return "train"
    if category in FOOT_P2_TEST_CLASSES:
        return "test"
    return None


def check_category_name(category: str) -> None:
    """Raise ``ValueError`` unless ``category`` is safe as a folder name and a glob component."""
    if not isinstance(category, str) or not _CATEGORY_RE.match(category) or category in (".", ".."):
        raise ValueError(
            f"category {category!r} cannot name a shard folder (letters, digits, '_', '-', '.'; "
            "starting with a letter or digit)"
        )


def shard_folder(subset: str, split: str, category: str) -> str:
    """``data/<subset>/<split>/<category>`` (POSIX, relative to the dataset root)."""
    if subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r} (expected one of {SUBSETS})")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (expected one of {SPLITS})")
    check_category_name(category)
    return f"{DATA_DIR}/{subset}/{split}/{category}"


def parse_shard_path(path: str) -> Folder:
    """``(subset, split, category)`` of a shard path ``data/<subset>/<split>/<category>/<file>.parquet``."""
    parts = PurePosixPath(path).parts
    if len(parts) != 5 or parts[0] != DATA_DIR or parts[1] not in SUBSETS or parts[2] not in SPLITS:
        raise ValueError(f"{path}: not a shard path data/<subset>/<split>/<category>/<file>.parquet")
    return parts[1], parts[2], parts[3]


def config_split(config: str, folder: Folder) -> str | None:
    """The split of ``config`` that reads the shards of ``folder`` (``None``: the config does not read it)."""
    subset, split, category = folder
    if CONFIG_SUBSET[config] != subset:
        return None
    if config == "foot_p2":
        return p2_split(category)
    return split


def config_data_files(folders: Iterable[Folder]) -> dict[str, dict[str, list[str]]]:
    """The ``data_files`` globs of each config and split, for the folders that exist.

    A split with no folder is left out (``datasets`` refuses a glob that matches nothing); a config with no
    split at all is left out too.
    """
    present = set(folders)
    out: dict[str, dict[str, list[str]]] = {}
    for config in CONFIGS:
        subset = CONFIG_SUBSET[config]
        splits: dict[str, list[str]] = {}
        for split in SPLITS:
            if config == "foot_p2":
                classes = FOOT_P2_TRAIN_CLASSES if split == "train" else FOOT_P2_TEST_CLASSES
                globs = [f"{DATA_DIR}/{subset}/*/{category}/*.parquet" for category in classes
                         if any(f[0] == subset and f[2] == category for f in present)]
            else:
                globs = ([f"{DATA_DIR}/{subset}/{split}/*/*.parquet"]
                         if any(f[0] == subset and f[1] == split for f in present) else [])
            if globs:
                splits[split] = globs
        if splits:
            out[config] = splits
    return out
