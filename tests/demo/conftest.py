"""A real demo server on 127.0.0.1 with tiny converted models and the synthetic SMPL stand-in."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hardmo_hf.demo.results import MODEL_4DHUMANS, MODEL_HMR


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory) -> dict[str, str]:
    """Tiny random HardMo-4DHumans and HardMo-HMR saved as converted Hub folders."""
    from hardmo_hf.testing.models import make_tiny_model_dir

    root = tmp_path_factory.mktemp("tiny_models")
    return {
        MODEL_4DHUMANS: str(make_tiny_model_dir("hmr2", root / "hmr2")),
        MODEL_HMR: str(make_tiny_model_dir("hmr", root / "hmr")),
    }


@pytest.fixture(scope="session")
def tiny_detector_dir(tmp_path_factory) -> str:
    """A tiny randomly initialized RT-DETR (person = class 0) with its image processor, saved to a folder."""
    from hardmo_hf.testing.models import make_tiny_detector_dir

    return str(make_tiny_detector_dir(tmp_path_factory.mktemp("tiny_detector"), labels=("person", "bicycle"),
                                      width=16, num_queries=20, image_size=128, processor="RTDetrImageProcessor"))


def launch_demo(engine, tmp_path: Path):
    """Launch the real app on a free local port; returns (blocks, url)."""
    from hardmo_hf.demo.app import build_demo

    demo = build_demo(engine, examples_dir=tmp_path / "examples", output_root=tmp_path / "outputs")
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        ssr_mode=False,
    )
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def demo_server(tiny_model_dirs, synthetic_smpl_dir, tmp_path_factory):
    """Both tiny models, the synthetic SMPL, no detector (typed boxes or the whole image)."""
    from hardmo_hf.demo.config import DemoConfig
    from hardmo_hf.demo.engine import DemoEngine

    config = DemoConfig(model_locations=tiny_model_dirs, smpl_path=str(synthetic_smpl_dir), detector="none")
    demo, url = launch_demo(DemoEngine(config), tmp_path_factory.mktemp("demo_server"))
    yield url
    demo.close()


@pytest.fixture(scope="session")
def detector_server(tiny_model_dirs, tiny_detector_dir, tmp_path_factory):
    """HardMo-HMR with the tiny RT-DETR detector and no SMPL file (parameters and boxes only)."""
    from hardmo_hf.demo.config import DemoConfig
    from hardmo_hf.demo.engine import DemoEngine

    config = DemoConfig(model_locations=tiny_model_dirs, smpl_path=None, detector=tiny_detector_dir)
    demo, url = launch_demo(DemoEngine(config), tmp_path_factory.mktemp("detector_server"))
    yield url
    demo.close()


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory) -> Path:
    """Where screenshots go: $HARDMO_ARTIFACTS_DIR, else a temp folder (the path is printed)."""
    path = Path(os.environ.get("HARDMO_ARTIFACTS_DIR") or tmp_path_factory.mktemp("artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Each awkward upload and the words the answer must contain (error or notice)."""
    root = tmp_path_factory.mktemp("bad_inputs")
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, size=(240, 320, 3), dtype=np.uint8))

    text = root / "notes.txt"
    text.write_text("this is not an image\n" * 20)
    fake = root / "fake_photo.jpg"
    fake.write_bytes(b"\x00\x01garbage" * 200)
    truncated = root / "truncated.jpg"
    photo.save(root / "full.jpg", quality=95)
    data = (root / "full.jpg").read_bytes()
    truncated.write_bytes(data[: len(data) // 4])
    huge = root / "huge.png"
    Image.fromarray(np.zeros((2100, 2100, 3), np.uint8)).save(huge)  # 4.4 MP > the 4 MP default limit
    gray = root / "gray.png"
    photo.convert("L").save(gray)
    rgba = root / "rgba.png"
    photo.convert("RGBA").save(rgba)
    cmyk = root / "cmyk.jpg"
    photo.convert("CMYK").save(cmyk)
    rotated = root / "rotated.jpg"
    exif = photo.getexif()
    exif[0x0112] = 6
    photo.save(rotated, exif=exif)
    return {
        "non_image": (text, "not an image"),
        "fake_jpeg": (fake, "not an image"),
        "truncated": (truncated, "corrupt or truncated"),
        "huge": (huge, "downscaled"),
        "grayscale": (gray, "grayscale"),
        "rgba": (rgba, "Transparent areas"),
        "cmyk": (cmyk, "CMYK"),
        "exif": (rotated, "EXIF orientation"),
    }
