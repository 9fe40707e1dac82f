"""Downloads of a demo run: a GLB scene of the meshes, and the per-person parameters as JSON and NPZ.

GLB axes: glTF is y-up with the camera looking down -z, so the scene is the full-image camera frame in
OpenGL axes: a camera-frame point ``(x, y, z)`` (OpenCV axes, see :mod:`hardmo_hf.demo.results`) is
written as ``(x, -y, -z)`` (a 180 degree rotation about x, which keeps the triangle winding). The scene
also holds a glTF perspective camera at the origin with the image's field of view, so a viewer that
honours it shows the meshes as they sit on the photo.

Parameter files (one entry per person and frame, all models of the run):

* JSON: ``{"format": "hardmo-demo/1", "units": {...}, "frames": [{"frame_index", "time_s", "image_size",
  "camera": {"focal_length", "principal_point"}, "box_source", "models": {NAME: {"people": [...]}}}]}``
  with per person ``box``, ``score``, ``global_orient``, ``body_pose``, ``betas``, ``camera_translation``,
  ``focal_length`` and, with the SMPL body model, ``keypoints_2d``.
* NPZ: per model ``NAME/KEY`` arrays with one row per person and frame: ``frame_index`` (N,),
  ``person_index`` (N,), ``box`` (N, 4), ``score`` (N,) (NaN where none), ``global_orient`` (N, 3),
  ``body_pose`` (N, 69), ``betas`` (N, 10), ``camera_translation`` (N, 3), ``focal_length`` (N,),
  ``keypoints_2d`` (N, 33, 2) (NaN where no body model); plus ``image_size`` (F, 2) ``(H, W)`` and
  ``frame_time_s`` (F,) per frame.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .render import person_color
from .results import FrameResult, PersonResult

PARAMS_FORMAT = "hardmo-demo/1"
UNITS = {
    "box": "xyxy, full-image px",
    "global_orient": "axis-angle, rad (3,)",
    "body_pose": "axis-angle, rad (69,) = SMPL joints 1..23",
    "betas": "SMPL shape (10,)",
    "camera_translation": "m (3,), full-image camera frame, OpenCV axes (x right, y down, z forward)",
    "focal_length": "px; principal point = image centre",
    "keypoints_2d": "WholeBody-33, full-image px (33, 2)",
}

# glTF constants
_FLOAT, _UINT32 = 5126, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_TRIANGLES = 4
_GLB_MAGIC, _GLB_VERSION = 0x46546C67, 2
_CHUNK_JSON, _CHUNK_BIN = 0x4E4F534A, 0x004E4942
_OPENCV_TO_GLTF = np.array([1.0, -1.0, -1.0], dtype=np.float32)


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices[faces]
    face_normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normal)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return (normals / np.maximum(length, 1e-12)).astype(np.float32)


def write_glb(
    path: str | Path,
    meshes: Sequence[np.ndarray],
    faces: np.ndarray,
    names: Sequence[str] | None = None,
    colors: Sequence[tuple[float, float, float]] | None = None,
    image_size: tuple[int, int] | None = None,
    focal_length: float | None = None,
) -> Path:
    """Write one binary glTF 2.0 file holding every mesh (one node each, its own colour).

    Args:
        meshes: per person (V, 3) camera-frame vertices in metres, OpenCV axes (converted, see module doc).
        faces: (F, 3) vertex indices shared by all meshes.
        names: node names, default ``person_0``, ``person_1``, ...
        colors: RGB in [0, 1] per mesh, default :func:`hardmo_hf.demo.render.person_color`.
        image_size, focal_length: (H, W) and px of the full-image camera; when given, a glTF camera with
            that field of view is added at the origin.
    """
    path = Path(path)
    faces = np.ascontiguousarray(faces, dtype=np.uint32)
    binary = bytearray()
    buffer_views: list[dict] = []
    accessors: list[dict] = []

    def add_view(data: bytes, target: int) -> int:
        while len(binary) % 4:
            binary.append(0)
        buffer_views.append(
            {"buffer": 0, "byteOffset": len(binary), "byteLength": len(data), "target": target}
        )
        binary.extend(data)
        return len(buffer_views) - 1

    index_view = add_view(faces.tobytes(), _ELEMENT_ARRAY_BUFFER)
    accessors.append(
        {"bufferView": index_view, "componentType": _UINT32, "count": int(faces.size), "type": "SCALAR"}
    )
    index_accessor = 0

    gltf_meshes, nodes, materials = [], [], []
    for k, vertices in enumerate(meshes):
        verts = np.ascontiguousarray(np.asarray(vertices, dtype=np.float32).reshape(-1, 3) * _OPENCV_TO_GLTF)
        normals = _vertex_normals(verts, faces.astype(np.int64))
        position_view = add_view(verts.tobytes(), _ARRAY_BUFFER)
        accessors.append(
            {
                "bufferView": position_view,
                "componentType": _FLOAT,
                "count": len(verts),
                "type": "VEC3",
                "min": verts.min(axis=0).tolist(),
                "max": verts.max(axis=0).tolist(),
            }
        )
        position_accessor = len(accessors) - 1
        normal_view = add_view(normals.tobytes(), _ARRAY_BUFFER)
        accessors.append(
            {"bufferView": normal_view, "componentType": _FLOAT, "count": len(verts), "type": "VEC3"}
        )
        rgb = colors[k] if colors is not None else person_color(k)
        materials.append(
            {
                "name": f"material_{k}",
                "pbrMetallicRoughness": {
                    "baseColorFactor": [float(c) for c in rgb] + [1.0],
                    "metallicFactor": 0.0,
                    "roughnessFactor": 0.6,
                },
                "doubleSided": True,
            }
        )
        name = names[k] if names is not None else f"person_{k}"
        gltf_meshes.append(
            {
                "name": name,
                "primitives": [
                    {
                        "attributes": {"POSITION": position_accessor, "NORMAL": len(accessors) - 1},
                        "indices": index_accessor,
                        "material": k,
                        "mode": _TRIANGLES,
                    }
                ],
            }
        )
        nodes.append({"name": name, "mesh": k})

    with_camera = image_size is not None and focal_length is not None
    if with_camera:
        nodes.append({"name": "image_camera", "camera": 0})  # at the origin, looking down -z
    gltf: dict = {
        "asset": {"version": "2.0", "generator": "hardmo-hf demo"},
        "scene": 0,
        "scenes": [{"nodes": list(range(len(nodes)))}],
        "nodes": nodes,
        "meshes": gltf_meshes,
        "materials": materials,
        "accessors": accessors,
        "bufferViews": buffer_views,
        "buffers": [{"byteLength": 0}],
    }
    if with_camera:
        height, width = image_size
        gltf["cameras"] = [
            {
                "type": "perspective",
                "perspective": {
                    "yfov": float(2.0 * np.arctan(height / (2.0 * focal_length))),
                    "aspectRatio": float(width / height),
                    "znear": 0.01,
                },
            }
        ]
    while len(binary) % 4:
        binary.append(0)
    gltf["buffers"][0]["byteLength"] = len(binary)
    json_chunk = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    json_chunk += b" " * (-len(json_chunk) % 4)
    total = 12 + 8 + len(json_chunk) + 8 + len(binary)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<III", _GLB_MAGIC, _GLB_VERSION, total))
        handle.write(struct.pack("<II", len(json_chunk), _CHUNK_JSON))
        handle.write(json_chunk)
        handle.write(struct.pack("<II", len(binary), _CHUNK_BIN))
        handle.write(bytes(binary))
    return path


def frame_meshes(frame: FrameResult, model_name: str) -> list[np.ndarray]:
    """The camera-frame vertices of every person of ``model_name`` in ``frame`` that has a mesh."""
    model = frame.models.get(model_name)
    if model is None:
        return []
    return [p.vertices for p in model.people if p.vertices is not None]


def _person_json(person: PersonResult) -> dict:
    out = {
        "box": _floats(person.box),
        "score": None if person.score is None else float(person.score),
        "global_orient": _floats(person.global_orient),
        "body_pose": _floats(person.body_pose),
        "betas": _floats(person.betas),
        "camera_translation": _floats(person.camera_translation),
        "focal_length": float(person.focal_length),
    }
    if person.keypoints_2d is not None:
        out["keypoints_2d"] = np.asarray(person.keypoints_2d, dtype=np.float64).round(3).tolist()
    return out


def _floats(values) -> list[float]:
    return [float(round(v, 6)) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def params_to_json(frames: Sequence[FrameResult], source: str | None = None) -> dict:
    """The JSON document of :func:`write_params_json` as a dict."""
    doc = {"format": PARAMS_FORMAT, "source": source, "units": UNITS, "frames": []}
    for frame in frames:
        focal = next((p.focal_length for m in frame.models.values() for p in m.people), None)
        doc["frames"].append(
            {
                "frame_index": frame.frame_index,
                "time_s": frame.time_s,
                "image_size": list(frame.image_size),
                "camera": {"focal_length": focal, "principal_point": list(frame.principal_point)},
                "box_source": frame.box_source,
                "models": {
                    name: {"people": [_person_json(p) for p in result.people]}
                    for name, result in frame.models.items()
                },
            }
        )
    return doc


def write_params_json(path: str | Path, frames: Sequence[FrameResult], source: str | None = None) -> Path:
    """Write the per-person parameters of every frame as JSON (layout in the module doc)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(params_to_json(frames, source), indent=1))
    return path


def params_to_arrays(frames: Sequence[FrameResult]) -> dict[str, np.ndarray]:
    """The arrays of :func:`write_params_npz` (layout in the module doc)."""
    arrays: dict[str, np.ndarray] = {
        "image_size": np.array([f.image_size for f in frames], dtype=np.int64).reshape(-1, 2),
        "frame_time_s": np.array(
            [np.nan if f.time_s is None else f.time_s for f in frames], dtype=np.float64
        ),
    }
    model_names = list(dict.fromkeys(name for f in frames for name in f.models))
    for name in model_names:
        rows = [
            (f.frame_index, k, p)
            for f in frames
            if name in f.models
            for k, p in enumerate(f.models[name].people)
        ]
        people = [p for _, _, p in rows]
        nan33 = np.full((33, 2), np.nan, dtype=np.float32)
        arrays.update(
            {
                f"{name}/frame_index": np.array([r[0] for r in rows], dtype=np.int64),
                f"{name}/person_index": np.array([r[1] for r in rows], dtype=np.int64),
                f"{name}/box": _stack([p.box for p in people], (4,)),
                f"{name}/score": np.array(
                    [np.nan if p.score is None else p.score for p in people], dtype=np.float32
                ),
                f"{name}/global_orient": _stack([p.global_orient for p in people], (3,)),
                f"{name}/body_pose": _stack([p.body_pose for p in people], (69,)),
                f"{name}/betas": _stack([p.betas for p in people], (10,)),
                f"{name}/camera_translation": _stack([p.camera_translation for p in people], (3,)),
                f"{name}/focal_length": np.array([p.focal_length for p in people], dtype=np.float32),
                f"{name}/keypoints_2d": _stack(
                    [nan33 if p.keypoints_2d is None else p.keypoints_2d for p in people], (33, 2)
                ),
            }
        )
    return arrays


def _stack(values: list, shape: tuple[int, ...]) -> np.ndarray:
    if not values:
        return np.zeros((0, *shape), dtype=np.float32)
    return np.stack([np.asarray(v, dtype=np.float32).reshape(shape) for v in values])


def write_params_npz(path: str | Path, frames: Sequence[FrameResult]) -> Path:
    """Write the per-person parameters of every frame as a compressed NPZ (layout in the module doc)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **params_to_arrays(frames))
    return path
