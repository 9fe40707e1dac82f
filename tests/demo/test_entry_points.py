"""The ways the demo starts: the Space's app.py, `hardmo-hf demo`, and its queue settings."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
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


def test_cli_demo_serves_the_page(demo_env):
    port = free_port()
    env = {**os.environ, **demo_env, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "hardmo_hf.cli", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as response:
                    config = response.read().decode()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.poll() is not None else ""
                    pytest.fail(f"`hardmo-hf demo` did not come up on port {port}:\n{output[-3000:]}")
                time.sleep(0.5)
        assert '"predict"' in config and "HardMo-HMR" in config
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_cli_help_lists_the_demo_commands():
    from hardmo_hf.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["demo", "--port", "7999", "--share", "--smpl-path", "/x"])
    assert args.port == 7999 and args.share and args.smpl_path == "/x"
    args = parser.parse_args(["push-space", "--repo-id", "a/b", "--dry-run"])
    assert args.repo_id == "a/b" and args.dry_run
