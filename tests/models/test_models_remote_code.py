"""Saved folders load through AutoModel: locally after ``import hardmo_hf``, and as remote code without it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import torch

from hardmo_hf.testing.models import TINY_KINDS, make_tiny_model_dir

REMOTE_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["hardmo_hf"] = None  # make any import of hardmo_hf fail: the folder must be self-contained
    import numpy as np, torch
    from transformers import AutoConfig, AutoModel
    inputs = np.load("inputs.npz")
    results = {}
    for kind in sys.argv[1:]:
        config = AutoConfig.from_pretrained(kind, trust_remote_code=True)
        model = AutoModel.from_pretrained(kind, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
        assert type(config).__module__.startswith("transformers_modules."), type(config).__module__
        with torch.no_grad():
            out = model(torch.from_numpy(inputs[kind]))
        for field, value in out.items():
            if isinstance(value, torch.Tensor):
                results[f"{kind}/{field}"] = value.numpy()
    try:
        import hardmo_hf  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("hardmo_hf was importable in the remote-code process")
    np.savez("outputs.npz", **results)
    """
)


def test_remote_code_without_hardmo_hf_gives_identical_outputs(tmp_path):
    from transformers import AutoModel

    work = tmp_path / "isolated"
    work.mkdir()
    inputs, expected = {}, {}
    for kind in TINY_KINDS:
        folder = make_tiny_model_dir(kind, tmp_path / kind)
        config = json.loads((folder / "config.json").read_text())
        assert set(config["auto_map"]) == {"AutoConfig", "AutoModel"}
        shutil.copytree(folder, work / kind)
        model = AutoModel.from_pretrained(folder).eval()  # local classes, registered by `import hardmo_hf`
        assert type(model).__module__ == "hardmo_hf.models.modeling_hardmo"
        size = model.config.image_size
        inputs[kind] = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)
        with torch.no_grad():
            expected.update({f"{kind}/{k}": v.numpy() for k, v in model(torch.from_numpy(inputs[kind])).items()})
    np.savez(work / "inputs.npz", **inputs)
    (work / "remote.py").write_text(REMOTE_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"), TRANSFORMERS_VERBOSITY="error")
    result = subprocess.run(
        [sys.executable, "remote.py", *TINY_KINDS], check=False, cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = dict(np.load(work / "outputs.npz"))
    assert set(outputs) == set(expected)
    for key, value in expected.items():
        assert np.array_equal(outputs[key], value), key
