"""The "human-mesh-recovery" pipeline task: boxes or detector in, per-person results out."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

import hardmo_hf  # noqa: F401  (registers the task)
from hardmo_hf.constants import PIPELINE_TASK
from hardmo_hf.detection import PersonDetector
from hardmo_hf.pipelines import HumanMeshRecoveryPipeline


@pytest.fixture(scope="module")
def pipeline_factory():
    from transformers import pipeline

    def make(folder, **kwargs):
        return pipeline(PIPELINE_TASK, model=str(folder), **kwargs)

    return make


def test_pipeline_with_boxes_equals_the_step_by_step_path(converted_dirs, pipeline_factory, rgb_image):
    from transformers import AutoImageProcessor, AutoModel

    pipe = pipeline_factory(converted_dirs["hmr2"], detector="none")
    assert isinstance(pipe, HumanMeshRecoveryPipeline)
    boxes = [[10, 20, 110, 230], [150.5, 30.25, 300, 200]]
    people = pipe(Image.fromarray(rgb_image), boxes=boxes)
    processor = AutoImageProcessor.from_pretrained(converted_dirs["hmr2"])
    model = AutoModel.from_pretrained(converted_dirs["hmr2"]).eval()
    inputs = processor(images=rgb_image, boxes=boxes, return_tensors="pt")
    with torch.no_grad():
        expected = processor.post_process(model(pixel_values=inputs["pixel_values"]), inputs)[0]
    assert len(people) == 2
    for person, reference in zip(people, expected):
        assert person["box_source"] == "user" and np.isnan(person["score"])
        for name, value in reference.items():
            np.testing.assert_allclose(person[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_pipeline_detects_people_when_no_boxes_are_given(
    converted_dirs, pipeline_factory, tiny_detector_dir, rgb_image
):
    pipe = pipeline_factory(converted_dirs["hmr2"], detector=str(tiny_detector_dir))
    expected = PersonDetector(str(tiny_detector_dir)).detect(rgb_image, threshold=0.0)
    people = pipe(rgb_image, threshold=0.0)
    assert len(people) == len(expected) > 0
    assert all(person["box_source"] == "detector" for person in people)
    np.testing.assert_allclose([person["score"] for person in people], expected.scores, rtol=1e-6)
    np.testing.assert_allclose(np.stack([person["box"] for person in people]), expected.boxes, rtol=1e-6)
    assert pipe(rgb_image, threshold=1.0) == []


def test_pipeline_falls_back_to_the_whole_image(tiny_dirs, pipeline_factory, rgb_image):
    pipe = pipeline_factory(tiny_dirs["bedlam"], detector=PersonDetector("none"))
    people = pipe(rgb_image)
    assert len(people) == 1 and people[0]["box_source"] == "whole_image"
    assert people[0]["box"].tolist() == [0, 0, 320, 240]
    assert people[0]["body_pose"].shape == (63,) and people[0]["betas"].shape == (11,)
    assert pipe.detector.is_fallback and "switched off" in pipe.detector.fallback_reason


def test_pipeline_batches_paths_dicts_and_empty_box_lists(
    converted_dirs, pipeline_factory, rgb_image, tmp_path
):
    path = tmp_path / "dancer.png"
    Image.fromarray(rgb_image).save(path)
    pipe = pipeline_factory(converted_dirs["hmr2"], detector="none")
    results = pipe(
        [
            {"image": str(path), "boxes": [[10, 20, 110, 230], [150, 30, 300, 200]]},
            {"image": rgb_image, "boxes": np.zeros((0, 4))},
            str(path),
        ]
    )
    assert [len(people) for people in results] == [2, 0, 1]
    assert results[2][0]["box_source"] == "whole_image"
    with pytest.raises(ValueError, match="'image' key"):
        pipe({"picture": rgb_image})
    with pytest.raises(ValueError, match="box 1 of image 0"):
        pipe(rgb_image, boxes=[[10, 20, 110, 230], [50, 50, 40, 90]])


def test_pipeline_attaches_the_body_model(
    converted_dirs, pipeline_factory, rgb_image, synthetic_smpl_dir, monkeypatch
):
    monkeypatch.setenv("HARDMO_SMPL_PATH", str(synthetic_smpl_dir / "SMPL_NEUTRAL.pkl"))
    pipe = pipeline_factory(converted_dirs["hmr2"], detector="none")
    person = pipe(rgb_image, boxes=[[60, 10, 200, 235]])[0]
    assert person["vertices"].shape == (6890, 3) and person["keypoints_2d"].shape == (33, 2)
    assert np.all(person["vertices"][:, 2] > 0)  # in front of the camera


REGISTRATION_SCRIPT = textwrap.dedent(
    """
    import sys
    {imports}
    import numpy as np
    pipe = pipeline("human-mesh-recovery", model=sys.argv[1], detector="none")
    people = pipe(np.zeros((64, 48, 3), np.uint8), boxes=[[4, 4, 40, 60]])
    print(type(pipe).__name__, len(people), sorted(people[0])[:3])
    """
)


@pytest.mark.parametrize(
    "imports",
    [
        "import hardmo_hf\nfrom transformers import pipeline",
        "from transformers import pipeline\nimport hardmo_hf",
    ],
)
def test_import_hardmo_hf_registers_the_task(converted_dirs, tmp_path, imports):
    script = tmp_path / "run.py"
    script.write_text(REGISTRATION_SCRIPT.format(imports=imports))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    result = subprocess.run(
        [sys.executable, str(script), str(converted_dirs["hmr2"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().startswith("HumanMeshRecoveryPipeline 1 ['betas', 'body_pose', 'box']")
    assert "custom code" not in result.stdout + result.stderr  # no trust_remote_code prompt
