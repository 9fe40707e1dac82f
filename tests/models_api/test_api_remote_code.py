"""The processor saved in a Hub folder works as remote code without hardmo_hf, with identical results."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import torch

from hardmo_hf.models.image_processing_hardmo import HardMoImageProcessor

KINDS = ("hmr2", "hmr", "bedlam")

REMOTE_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["hardmo_hf"] = None  # any import of hardmo_hf fails: the folder must be self-contained
    import numpy as np, torch
    from transformers import AutoImageProcessor
    data = np.load("inputs.npz")
    images = [data["image0"], data["image1"]]
    boxes = [data["boxes0"], data["boxes1"]]
    names = [name for name in data.files if name.startswith("outputs/")]
    outputs = {name.split("/", 1)[1]: torch.from_numpy(data[name]) for name in names}
    results = {}
    for kind in sys.argv[1:]:
        processor = AutoImageProcessor.from_pretrained(kind, trust_remote_code=True)
        assert type(processor).__module__.startswith("transformers_modules."), type(processor).__module__
        inputs = processor(images=images, boxes=boxes, return_tensors="pt")
        for name, value in inputs.items():
            results[f"{kind}/{name}"] = value.numpy()
        people = processor.post_process(outputs, inputs)
        for m, image_people in enumerate(people):
            for k, person in enumerate(image_people):
                for name, value in person.items():
                    results[f"{kind}/person{m}_{k}/{name}"] = value
    try:
        import hardmo_hf  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("hardmo_hf was importable in the remote-code process")
    np.savez("outputs.npz", **results)
    """
)


def test_remote_code_processor_matches_the_package(converted_dirs, rgb_image, tmp_path):
    work = tmp_path / "isolated"
    work.mkdir()
    images = [rgb_image, np.ascontiguousarray(rgb_image[40:, 100:])]
    boxes = [
        np.array([[10, 20, 110, 230], [150.5, 30.25, 300, 200]], np.float32),
        np.array([[5, 5, 150, 190]], np.float32),
    ]
    generator = torch.Generator().manual_seed(0)
    rotations = torch.linalg.qr(torch.randn(3, 24, 3, 3, generator=generator)).Q
    rotations = rotations * torch.linalg.det(rotations)[..., None, None]  # proper rotations
    outputs = {
        "global_orient": rotations[:, :1],
        "body_pose": rotations[:, 1:],
        "betas": torch.randn(3, 10, generator=generator),
        "pred_cam": torch.tensor([[0.9, 0.05, -0.1], [0.6, -0.2, 0.15], [1.2, 0.0, 0.3]]),
        "focal_length": torch.full((3, 2), 5000.0),
    }
    expected = {}
    for kind in KINDS:
        shutil.copytree(converted_dirs[kind], work / kind)
        processor = HardMoImageProcessor.from_pretrained(converted_dirs[kind])
        inputs = processor(images=images, boxes=boxes, return_tensors="pt")
        expected.update({f"{kind}/{name}": value.numpy() for name, value in inputs.items()})
        for m, image_people in enumerate(processor.post_process(outputs, inputs)):
            for k, person in enumerate(image_people):
                expected.update({f"{kind}/person{m}_{k}/{name}": value for name, value in person.items()})
    np.savez(
        work / "inputs.npz",
        image0=images[0],
        image1=images[1],
        boxes0=boxes[0],
        boxes1=boxes[1],
        **{f"outputs/{name}": value.numpy() for name, value in outputs.items()},
    )
    (work / "remote.py").write_text(REMOTE_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"), TRANSFORMERS_VERBOSITY="error")
    result = subprocess.run(
        [sys.executable, "remote.py", *KINDS], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    remote = dict(np.load(work / "outputs.npz"))
    assert set(remote) == set(expected)
    assert {key.split("/")[0] for key in remote if key.endswith("pixel_values")} == set(KINDS)
    for key, value in expected.items():
        assert np.array_equal(remote[key], value), key
