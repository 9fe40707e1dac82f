"""The Hugging Face Space folder (``spaces/hardmo-demo``): checks and upload.

The Space runs ``app.py``, which imports the demo from the ``hardmo-hf`` package that its
``requirements.txt`` installs. Licensed SMPL files never go into the Space repo: the check refuses any
``.pkl`` / ``.npz`` / ``.npy`` file, and the README explains how the running Space gets SMPL from a secret.
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = (
    "title",
    "emoji",
    "sdk",
    "sdk_version",
    "app_file",
    "python_version",
    "license",
    "models",
    "datasets",
    "tags",
)
REQUIRED_FILES = ("README.md", "app.py", "requirements.txt")
FORBIDDEN_SUFFIXES = (".pkl", ".npz", ".npy", ".pt", ".pth", ".ckpt", ".safetensors")
IGNORED_PARTS = ("__pycache__", ".ipynb_checkpoints", ".gradio", "flagged")


def default_space_dir() -> Path:
    """``spaces/hardmo-demo`` of the source checkout this package runs from."""
    path = Path(__file__).resolve().parents[2] / "spaces" / "hardmo-demo"
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path}: no Space folder next to the package (installed from a wheel?); pass --space-dir."
        )
    return path


def space_files(space_dir: Path) -> list[Path]:
    """The files that would be uploaded (caches excluded), sorted."""
    return sorted(
        p
        for p in space_dir.rglob("*")
        if p.is_file()
        and not any(part in IGNORED_PARTS or part.startswith(".") for part in p.relative_to(space_dir).parts)
        and p.suffix != ".pyc"
    )


def read_space_header(space_dir: Path) -> dict:
    """The YAML metadata of the Space README."""
    from huggingface_hub import SpaceCard

    readme = space_dir / "README.md"
    if not readme.is_file():
        raise FileNotFoundError(f"{readme}: the Space needs a README.md with its YAML header")
    return SpaceCard.load(readme).data.to_dict()


def check_space_folder(space_dir: str | Path) -> list[Path]:
    """Validate the Space folder and return its files; raises ``ValueError`` naming each problem."""
    space_dir = Path(space_dir)
    if not space_dir.is_dir():
        raise FileNotFoundError(f"{space_dir}: not a folder")
    problems = [f"{name} is missing" for name in REQUIRED_FILES if not (space_dir / name).is_file()]
    header = read_space_header(space_dir) if (space_dir / "README.md").is_file() else {}
    problems += [f"README.md header has no {field!r}" for field in REQUIRED_FIELDS if field not in header]
    if header.get("sdk") not in (None, "gradio"):
        problems.append(f"README.md header: sdk must be 'gradio', got {header.get('sdk')!r}")
    app_file = header.get("app_file")
    if app_file and not (space_dir / app_file).is_file():
        problems.append(f"README.md header: app_file {app_file!r} does not exist")
    files = space_files(space_dir)
    problems += [
        f"{p.relative_to(space_dir)}: weights or body-model data must not be uploaded (SMPL is licensed; models "
        "live in their own repos)"
        for p in files
        if p.suffix.lower() in FORBIDDEN_SUFFIXES
    ]
    if problems:
        raise ValueError(f"{space_dir} is not a valid Space folder: " + "; ".join(problems))
    try:
        import gradio

        if str(header.get("sdk_version")) != gradio.__version__:
            logger.warning(
                "README.md pins sdk_version %s but gradio %s is installed here",
                header.get("sdk_version"),
                gradio.__version__,
            )
    except ImportError:
        pass
    return files


def push_space(space_dir: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Create the Space repo if needed and upload the folder; returns the Space URL."""
    from huggingface_hub import HfApi

    space_dir = Path(space_dir)
    files = check_space_folder(space_dir)
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    api.upload_folder(
        folder_path=str(space_dir),
        repo_id=repo_id,
        repo_type="space",
        allow_patterns=[str(p.relative_to(space_dir)) for p in files],
        commit_message="Update the HardMo demo Space",
    )
    return f"https://huggingface.co/spaces/{repo_id}"
