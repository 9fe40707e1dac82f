"""``hardmo-hf push DIR --repo-id ORG/hardmo``: upload a built dataset to the Hugging Face Hub.

The dataset folder is validated first (:func:`hardmo_hf.data.validate.validate`); then the repo is created if
needed (``HfApi.create_repo(repo_type="dataset", exist_ok=True)``) and the card, preview, manifest, stats,
rejects and shards are uploaded in one ``HfApi.create_commit`` (resumable: rerunning an interrupted push does
not send again the files the Hub already has). The uploaded card's load snippets name ``repo_id`` instead of
the build's placeholder (:func:`hardmo_hf.data.card.card_for_repo`). The build's working folder ``.build/`` is
never uploaded. ``dry_run`` stops after
validation and lists what would be uploaded, without contacting the Hub.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .card import CARD_NAME, card_for_repo
from .report import format_table

__all__ = ["UPLOAD_PATTERNS", "PushResult", "files_to_upload", "push"]

# fnmatch patterns (``*`` also matches ``/``) of what a dataset repo holds.
UPLOAD_PATTERNS = ["README.md", "preview.png", "manifest.json", "stats.json", "rejects.jsonl", "data/*.parquet"]
IGNORE_PATTERNS = [".build/*", "*.tmp"]


@dataclass
class PushResult:
    repo_id: str
    dry_run: bool
    files: list[tuple[str, int]]  # (path in repo, bytes)
    validation: object | None = None  # ValidationReport
    url: str | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.validation is None or self.validation.ok

    def text(self) -> str:
        parts = []
        if self.validation is not None:
            parts.append(self.validation.text())
        total = sum(size for _, size in self.files)
        shards = sum(1 for path, _ in self.files if path.endswith(".parquet"))
        listing = [[path, size] for path, size in self.files if not path.endswith(".parquet")]
        listing.append([f"data/ ({shards:,} Parquet shards)", sum(s for p, s in self.files if p.endswith(".parquet"))])
        parts.append(format_table(["file", "bytes"], listing,
                                  title=f"{'Would upload' if self.dry_run else 'Uploaded'} to "
                                        f"datasets/{self.repo_id}: {len(self.files):,} files, "
                                        f"{total / 2**20:,.1f} MiB"))
        parts += self.messages
        return "\n\n".join(parts)


def files_to_upload(root) -> list[tuple[str, int]]:
    """``(path in repo, bytes)`` of every file ``push`` uploads from the dataset folder ``root``, sorted."""
    from huggingface_hub.utils import filter_repo_objects

    root = Path(root)
    paths = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".build")
        for name in files:
            paths.append(Path(directory, name).relative_to(root).as_posix())
    kept = filter_repo_objects(sorted(paths), allow_patterns=UPLOAD_PATTERNS, ignore_patterns=IGNORE_PATTERNS)
    return [(path, (root / path).stat().st_size) for path in kept]


def push(root, repo_id: str, *, dry_run: bool = False, private: bool = False, revision: str | None = None,
         validate_first: bool = True, workers: int = 1, token: str | None = None,
         commit_message: str | None = None) -> PushResult:
    """Validate ``root`` and upload it to the dataset repo ``repo_id`` (see the module docstring)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from .validate import validate

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    if repo_id.count("/") != 1:
        raise ValueError(f"--repo-id must be ORG/NAME, got {repo_id!r}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise ValueError(f"invalid --repo-id {repo_id!r}: {exc}") from None
    result = PushResult(repo_id=repo_id, dry_run=dry_run, files=files_to_upload(root))
    if not any(path == "README.md" for path, _ in result.files):
        raise FileNotFoundError(f"{root / 'README.md'} is missing: is {root} a dataset built by `hardmo-hf build`?")
    if validate_first:
        result.validation = validate(root, workers=workers)
        if not result.validation.ok:
            result.messages.append("Not uploading: the dataset does not validate.")
            return result
    if dry_run:
        result.messages.append("Dry run: nothing was uploaded.")
        return result

    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(token=token)
    repo = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    if revision:
        api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
    shards = sum(1 for path, _ in result.files if path.endswith(".parquet"))
    # one commit: the files as built, except the card, whose load snippets now name this repo
    card = card_for_repo((root / CARD_NAME).read_text(encoding="utf-8"), repo_id).encode("utf-8")
    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(root / path))
                  for path, _ in result.files if path != CARD_NAME]
    operations.append(CommitOperationAdd(path_in_repo=CARD_NAME, path_or_fileobj=card))
    api.create_commit(
        repo_id=repo_id, repo_type="dataset", revision=revision, operations=operations,
        commit_message=commit_message or f"Upload HardMo dataset ({shards:,} shards)",
    )
    result.url = str(repo)
    result.messages.append(f"Done: {result.url}")
    return result
