"""The real app on 127.0.0.1, called through `gradio_client` like any API user would."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
trimesh = pytest.importorskip("trimesh")

from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from hardmo_hf.demo.examples import make_examples

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(demo_server):
    return Client(demo_server, verbose=False)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    return make_examples(tmp_path_factory.mktemp("examples"))[1]  # two martial artists with their boxes


def _glb_json(path) -> dict:
    data = Path(path).read_bytes()
    (json_len,) = struct.unpack_from("<I", data, 12)
    return json.loads(data[20 : 20 + json_len])


def test_predict_both_models_with_typed_boxes(client, example):
    overlay, glb_4d, glb_hmr, files, notice = client.predict(
        handle_file(str(example.path)),
        "Both (side by side)",
        0.5,
        example.boxes_text,
        ["2D keypoints", "Boxes"],
        api_name="/predict",
    )
    width, height = Image.open(example.path).size
    composite = Image.open(overlay)
    assert composite.width > 2 * width and composite.height > height  # two panels with a title band
    people = len(example.boxes_text.split(";"))
    for glb in (glb_4d, glb_hmr):
        scene = trimesh.load(glb)
        assert len(scene.geometry) == people
        assert all(len(g.vertices) == 6890 for g in scene.geometry.values())
        assert _glb_json(glb)["cameras"][0]["perspective"]["aspectRatio"] == pytest.approx(width / height)
    json_path = next(f for f in files if f.endswith(".json"))
    npz_path = next(f for f in files if f.endswith(".npz"))
    doc = json.loads(Path(json_path).read_text())
    frame = doc["frames"][0]
    assert frame["image_size"] == [height, width] and frame["box_source"] == "user"
    for name in ("HardMo-4DHumans", "HardMo-HMR"):
        entries = frame["models"][name]["people"]
        assert len(entries) == people
        assert len(entries[0]["global_orient"]) == 3 and len(entries[0]["body_pose"]) == 69
        assert np.array(entries[0]["keypoints_2d"]).shape == (33, 2)
    arrays = np.load(npz_path)
    assert arrays["HardMo-HMR/body_pose"].shape == (people, 69)
    assert arrays["HardMo-4DHumans/keypoints_2d"].shape == (people, 33, 2)
    assert np.isfinite(arrays["HardMo-HMR/camera_translation"]).all()
    typed = np.array([[float(v) for v in box.split(",")] for box in example.boxes_text.split(";")])
    assert np.allclose(arrays["HardMo-HMR/box"], typed)
    assert f"{people} people (from your boxes)" in notice


def test_predict_one_model_whole_image(client, tmp_path):
    photo = tmp_path / "plain.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 150, 3), dtype=np.uint8)).save(photo)
    overlay, glb_4d, glb_hmr, files, notice = client.predict(
        handle_file(str(photo)), "HardMo-HMR", 0.5, "", [], api_name="/predict"
    )
    assert Image.open(overlay).size == (150, 200)  # one model: the photo's own size
    assert glb_4d is None and glb_hmr is not None
    assert "whole image was used as one box" in notice
    arrays = np.load(next(f for f in files if f.endswith(".npz")))
    assert arrays["HardMo-HMR/box"].tolist() == [[0, 0, 150, 200]]
    assert "HardMo-4DHumans/box" not in arrays


@pytest.mark.parametrize(
    "case", ["non_image", "fake_jpeg", "truncated", "huge", "grayscale", "rgba", "cmyk", "exif"]
)
def test_awkward_uploads_get_clear_answers(client, bad_inputs, case):
    path, words = bad_inputs[case]
    if case in ("non_image", "fake_jpeg", "truncated"):
        with pytest.raises(AppError, match=words) as info:
            client.predict(handle_file(str(path)), "HardMo-HMR", 0.5, "", [], api_name="/predict")
        assert path.name in str(info.value) and "Traceback" not in str(info.value)
        return
    overlay, _, _, _files, notice = client.predict(
        handle_file(str(path)), "HardMo-HMR", 0.5, "", [], api_name="/predict"
    )
    assert words in notice
    size = Image.open(overlay).size
    if case == "huge":
        assert size[0] * size[1] <= 4_000_000
    if case == "exif":
        assert size == (240, 320)  # stored 320 x 240, shown rotated upright


def test_bad_parameters_are_explained(client, example):
    with pytest.raises(AppError, match="Box 1 .*four numbers"):
        client.predict(handle_file(str(example.path)), "HardMo-HMR", 0.5, "1,2,3", [], api_name="/predict")
    with pytest.raises(AppError, match="lies outside"):
        client.predict(
            handle_file(str(example.path)), "HardMo-HMR", 0.5, "5000,5000,6000,6000", [], api_name="/predict"
        )
    with pytest.raises(AppError, match="not in the list of choices"):  # Gradio checks the Radio choices
        client.predict(handle_file(str(example.path)), "ResNet", 0.5, "", [], api_name="/predict")


def test_video_endpoint(client, tmp_path, example):
    from hardmo_hf.demo.video import read_video, write_video

    frame = np.asarray(Image.open(example.path).convert("RGB").resize((192, 128)))
    clip = write_video(tmp_path / "clip.mp4", [np.roll(frame, 4 * k, axis=1) for k in range(6)], fps=12)
    video, files, notice = client.predict(
        handle_file(str(clip)), "HardMo-HMR", 0.5, "", 3, 2, ["Boxes"], api_name="/predict_video"
    )
    path = video["video"] if isinstance(video, dict) else video
    frames, fps = read_video(path, max_frames=10, stride=1)
    assert len(frames) == 3 and frames[0].pixels.shape[:2] == (128, 192) and fps == pytest.approx(6)
    arrays = np.load(next(f for f in files if f.endswith(".npz")))
    assert arrays["HardMo-HMR/frame_index"].tolist() == [0, 2, 4]
    assert "3 frames" in notice


def test_detector_path_without_smpl(detector_server, example):
    client = Client(detector_server, verbose=False)
    overlay, glb_4d, glb_hmr, files, notice = client.predict(
        handle_file(str(example.path)), "HardMo-HMR", 0.05, "", [], api_name="/predict"
    )
    assert glb_4d is None and glb_hmr is None  # no SMPL: no meshes
    assert "No SMPL body model" in notice
    doc = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())
    frame = doc["frames"][0]
    assert frame["box_source"] == "detector"
    people = frame["models"]["HardMo-HMR"]["people"]
    assert people, "the random detector at threshold 0.05 should return boxes"
    assert all(p["score"] >= 0.05 for p in people) and "keypoints_2d" not in people[0]
    assert len(people[0]["body_pose"]) == 69
    # A threshold above every score finds nobody: the photo comes back with a notice, not an error.
    overlay, _, _, files, notice = client.predict(
        handle_file(str(example.path)), "HardMo-HMR", 0.95, "", [], api_name="/predict"
    )
    assert "No person found" in notice
    assert (
        np.abs(
            np.asarray(Image.open(overlay).convert("RGB"), float)
            - np.asarray(Image.open(example.path), float)
        ).mean()
        < 2
    )
