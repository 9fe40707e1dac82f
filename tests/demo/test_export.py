"""GLB, JSON and NPZ downloads, and the overlay video."""

import json
import struct

import numpy as np
import pytest

from hardmo_hf.demo.export import params_to_json, write_glb, write_params_json, write_params_npz
from hardmo_hf.demo.results import FrameResult, ModelResult, PersonResult


def _parse_glb(path):
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    json_len, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A and json_len % 4 == 0
    gltf = json.loads(data[20 : 20 + json_len])
    bin_len, bin_type = struct.unpack_from("<II", data, 20 + json_len)
    assert bin_type == 0x004E4942 and bin_len % 4 == 0
    binary = data[28 + json_len : 28 + json_len + bin_len]
    assert gltf["buffers"][0]["byteLength"] == len(binary)

    def accessor(index, dtype, width):
        acc = gltf["accessors"][index]
        view = gltf["bufferViews"][acc["bufferView"]]
        raw = binary[view["byteOffset"] : view["byteOffset"] + view["byteLength"]]
        values = np.frombuffer(raw, dtype=dtype).reshape(-1, width)
        assert len(values) == acc["count"]
        return values

    return gltf, accessor


def test_glb_holds_every_person_in_gltf_axes(tmp_path):
    rng = np.random.default_rng(0)
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]])
    meshes = [
        rng.normal(size=(4, 3)).astype(np.float32) + [0, 0, 5],
        rng.normal(size=(4, 3)).astype(np.float32) + [1, 0, 6],
    ]
    path = write_glb(
        tmp_path / "people.glb", meshes, faces, names=["a", "b"], image_size=(480, 640), focal_length=800.0
    )
    gltf, accessor = _parse_glb(path)
    assert [m["name"] for m in gltf["meshes"]] == ["a", "b"]
    assert (
        len(gltf["materials"]) == 2
        and gltf["materials"][0]["pbrMetallicRoughness"]["baseColorFactor"]
        != gltf["materials"][1]["pbrMetallicRoughness"]["baseColorFactor"]
    )
    for k, mesh in enumerate(gltf["meshes"]):
        prim = mesh["primitives"][0]
        positions = accessor(prim["attributes"]["POSITION"], np.float32, 3)
        assert np.allclose(positions, meshes[k] * [1, -1, -1])  # OpenCV -> glTF axes
        assert np.allclose(gltf["accessors"][prim["attributes"]["POSITION"]]["min"], positions.min(axis=0))
        normals = accessor(prim["attributes"]["NORMAL"], np.float32, 3)
        assert np.allclose(np.linalg.norm(normals, axis=1), 1, atol=1e-5)
        assert accessor(prim["indices"], np.uint32, 1).reshape(-1, 3).tolist() == faces.tolist()
    camera = gltf["cameras"][0]["perspective"]
    assert camera["yfov"] == pytest.approx(2 * np.arctan(240 / 800))
    assert camera["aspectRatio"] == pytest.approx(640 / 480)

    trimesh = pytest.importorskip("trimesh")
    scene = trimesh.load(path)
    assert len(scene.geometry) == 2
    assert sum(len(g.vertices) for g in scene.geometry.values()) == 8


def _person(k, with_body=True):
    rng = np.random.default_rng(k)
    return PersonResult(
        box=np.array([10, 20, 110, 220], np.float32) + k,
        score=0.9 if k == 0 else None,
        global_orient=rng.normal(size=3).astype(np.float32),
        body_pose=rng.normal(size=69).astype(np.float32),
        betas=rng.normal(size=10).astype(np.float32),
        camera_translation=np.array([0.1, 0.2, 12.0], np.float32),
        focal_length=1000.0,
        keypoints_2d=rng.uniform(0, 200, size=(33, 2)).astype(np.float32) if with_body else None,
    )


def test_params_json_and_npz(tmp_path):
    frames = [
        FrameResult(
            (240, 320), "detector", {"HardMo-HMR": ModelResult("HardMo-HMR", [_person(0), _person(1)])}
        ),
        FrameResult(
            (240, 320),
            "detector",
            {"HardMo-HMR": ModelResult("HardMo-HMR", [_person(2, with_body=False)])},
            frame_index=2,
            time_s=0.08,
        ),
    ]
    doc = json.loads(write_params_json(tmp_path / "p.json", frames, source="clip.mp4").read_text())
    assert doc == json.loads(json.dumps(params_to_json(frames, "clip.mp4")))
    assert doc["format"] == "hardmo-demo/1" and len(doc["frames"]) == 2
    first = doc["frames"][0]
    assert first["camera"] == {"focal_length": 1000.0, "principal_point": [160.0, 120.0]}
    person = first["models"]["HardMo-HMR"]["people"][0]
    assert len(person["global_orient"]) == 3 and len(person["body_pose"]) == 69 and len(person["betas"]) == 10
    assert np.array(person["keypoints_2d"]).shape == (33, 2)
    assert "keypoints_2d" not in doc["frames"][1]["models"]["HardMo-HMR"]["people"][0]

    arrays = np.load(write_params_npz(tmp_path / "p.npz", frames))
    assert arrays["HardMo-HMR/frame_index"].tolist() == [0, 0, 2]
    assert arrays["HardMo-HMR/person_index"].tolist() == [0, 1, 0]
    assert arrays["HardMo-HMR/body_pose"].shape == (3, 69)
    assert arrays["HardMo-HMR/keypoints_2d"].shape == (3, 33, 2)
    assert np.isnan(arrays["HardMo-HMR/keypoints_2d"][2]).all()
    assert np.isnan(arrays["HardMo-HMR/score"][1]) and arrays["HardMo-HMR/score"][0] == pytest.approx(0.9)
    assert arrays["image_size"].tolist() == [[240, 320], [240, 320]]
    assert np.allclose(
        arrays["HardMo-HMR/global_orient"][0], frames[0].models["HardMo-HMR"].people[0].global_orient
    )


def test_video_round_trip(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    from hardmo_hf.demo.inputs import DemoInputError
    from hardmo_hf.demo.video import read_video, write_video

    frames = [np.full((61, 81, 3), 20 * i, np.uint8) for i in range(10)]
    path = write_video(tmp_path / "clip.mp4", frames, fps=10)
    clip, fps = read_video(path, max_frames=3, stride=3)
    assert fps == pytest.approx(10)
    assert [f.index for f in clip] == [0, 3, 6] and clip[1].time_s == pytest.approx(0.3)
    assert clip[0].pixels.shape == (62, 82, 3)  # padded to even sides for yuv420p
    assert abs(int(clip[2].pixels.mean()) - 120) <= 3
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(DemoInputError, match="notes.mp4: not a video"):
        read_video(bad)
