"""The ways the demo starts: the Space's app.py, `hardmo-hf demo`, and its queue settings."""

from __future__ import annotations

import runpy
import threading
import time
import urllib.request

import pytest

from hardmo_hf.demo.space import default_space_dir

from .conftest import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def demo_env(monkeypatch, tiny_model_dirs, synthetic_smpl_dir, tmp_path):
    env = {
        "HARDMO_4DHUMANS_MODEL": tiny_model_dirs["HardMo-4DHumans"],
        "HARDMO_HMR_MODEL": tiny_model_dirs["HardMo-HMR"],
        "HARDMO_SMPL_PATH": str(synthetic_smpl_dir),
        "HARDMO_DETECTOR": "none",
        "HARDMO_DEMO_CONCURRENCY": "2",
        "TMPDIR": str(tmp_path),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_space_app_builds_the_demo_with_a_bounded_queue(demo_env):
    import gradio as gr

    namespace = runpy.run_path(str(default_space_dir() / "app.py"), run_name="space_app")
    demo = namespace["demo"]
    assert isinstance(demo, gr.Blocks)
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    assert {"predict", "predict_video"} <= set(fns)
    for name in ("predict", "predict_video"):
        assert fns[name].queue and fns[name].concurrency_id == "inference"
    assert demo._queue.default_concurrency_limit == 2  # HARDMO_DEMO_CONCURRENCY
    assert demo._queue.max_size == 32


def test_cli_demo_serves_the_page(demo_env, monkeypatch):
    """`hardmo-hf demo --port N` serves the app (run in a thread: the command blocks like the real one)."""
    from hardmo_hf.cli import main
    from hardmo_hf.demo import app

    launched = []

    def build_and_remember(*args, **kwargs):
        launched.append(build_demo(*args, **kwargs))
        return launched[-1]

    build_demo = app.build_demo
    monkeypatch.setattr(app, "build_demo", build_and_remember)
    port = free_port()
    thread = threading.Thread(target=main, args=(["demo", "--port", str(port)],), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as response:
                    config = response.read().decode()
                break
            except OSError:
                if not thread.is_alive() or time.monotonic() > deadline:
                    pytest.fail(f"`hardmo-hf demo` did not come up on port {port}")
                time.sleep(0.25)
        assert '"predict"' in config and "HardMo-HMR" in config
    finally:
        for demo in launched:
            demo.close()


def test_cli_help_lists_the_demo_commands():
    from hardmo_hf.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["demo", "--port", "7999", "--share", "--smpl-path", "/x"])
    assert args.port == 7999 and args.share and args.smpl_path == "/x"
    args = parser.parse_args(["push-space", "--repo-id", "a/b", "--dry-run"])
    assert args.repo_id == "a/b" and args.dry_run
