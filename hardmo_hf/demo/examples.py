"""Example images for the demo's gallery, drawn on the fly (no photos are shipped with the package).

Each example is a stage with one to three mannequins: the synthetic SMPL stand-in
(:func:`hardmo_hf.testing.smpl.make_synthetic_smpl`, no licensed data) posed in a dance or martial-arts posture
and rendered with the demo's own renderer. Every example comes with the person boxes (xyxy px) of its
mannequins, so it works even where no person detector is available.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from ..constants import SMPL_JOINT_NAMES
from .inputs import format_boxes
from .render import Lighting, render_meshes

logger = logging.getLogger(__name__)

EXAMPLES_VERSION = 1  # bump when the drawings change, so cached files are redrawn

# Joint rotations as (joint name, (rx, ry, rz) degrees, applied as Rz @ Ry @ Rx) in the SMPL body frame
# (x to the body's left, y up, z forward). Unlisted joints stay in the rest T-pose.
POSES: dict[str, list[tuple[str, tuple[float, float, float]]]] = {
    "arabesque": [
        ("left_hip", (35, 0, 8)),
        ("left_knee", (5, 0, 0)),
        ("right_hip", (-4, 0, 0)),
        ("spine1", (-12, 0, 0)),
        ("left_shoulder", (0, -20, 20)),
        ("right_shoulder", (0, 25, 5)),
        ("left_elbow", (0, -10, 0)),
        ("right_elbow", (0, 15, 0)),
        ("head", (-10, 0, 0)),
    ],
    "horse_stance_punch": [
        ("left_hip", (-60, 0, 30)),
        ("right_hip", (-60, 0, -30)),
        ("left_knee", (85, 0, 0)),
        ("right_knee", (85, 0, 0)),
        ("left_ankle", (-20, 0, 0)),
        ("right_ankle", (-20, 0, 0)),
        ("right_shoulder", (0, 80, 0)),
        ("left_shoulder", (0, 10, -60)),
        ("left_elbow", (0, -120, 0)),
    ],
    "high_kick": [
        ("right_hip", (-95, 0, -5)),
        ("right_knee", (10, 0, 0)),
        ("left_knee", (8, 0, 0)),
        ("spine1", (10, 0, 0)),
        ("left_shoulder", (0, 0, -30)),
        ("right_shoulder", (0, 0, 40)),
        ("left_elbow", (0, -70, 0)),
        ("right_elbow", (0, 70, 0)),
    ],
    "hip_hop": [
        ("left_hip", (-25, 0, 15)),
        ("right_hip", (-10, 0, -20)),
        ("left_knee", (50, 0, 0)),
        ("right_knee", (25, 0, 0)),
        ("spine2", (0, 15, 0)),
        ("left_shoulder", (0, 0, 60)),
        ("right_shoulder", (0, 0, -50)),
        ("left_elbow", (0, -90, 0)),
        ("right_elbow", (0, 80, 0)),
        ("neck", (0, 20, 0)),
    ],
    "tango_lead": [
        ("left_hip", (-20, 0, 0)),
        ("left_knee", (25, 0, 0)),
        ("right_hip", (10, 0, 0)),
        ("left_shoulder", (0, 30, 15)),
        ("right_shoulder", (0, -30, -15)),
        ("left_elbow", (0, -80, 0)),
    ],
}

# (file stem, [(pose, yaw degrees, x m, z m, RGB)], background colours (wall, floor))
SCENES = (
    ("ballet_solo", [("arabesque", 70, 0.0, 4.2, (0.85, 0.55, 0.62))], ((62, 52, 80), (120, 96, 70))),
    (
        "martial_arts_pair",
        [
            ("horse_stance_punch", 25, -0.75, 4.6, (0.85, 0.82, 0.74)),
            ("high_kick", -40, 0.85, 5.0, (0.35, 0.38, 0.45)),
        ],
        ((150, 140, 120), (90, 70, 50)),
    ),
    (
        "dance_trio",
        [
            ("hip_hop", 10, -1.3, 5.6, (0.80, 0.45, 0.30)),
            ("tango_lead", -15, 0.0, 5.0, (0.30, 0.50, 0.70)),
            ("arabesque", -60, 1.35, 6.0, (0.55, 0.70, 0.40)),
        ],
        ((40, 44, 60), (70, 70, 80)),
    ),
)

IMAGE_SIZE = (512, 768)  # (H, W) px
CAMERA_HEIGHT = 1.1  # m above the floor


@dataclass
class Example:
    """One gallery entry: the image file and its person boxes as typed text (``x1,y1,x2,y2; ...``)."""

    path: Path
    boxes_text: str


def _rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    """Rz @ Ry @ Rx for angles in degrees."""
    x, y, z = np.radians([rx, ry, rz])
    rot_x = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    rot_y = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rot_z = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return rot_z @ rot_y @ rot_x


def _body_pose(pose: str) -> torch.Tensor:
    """(1, 23, 3, 3) rotation matrices of joints 1..23 for a named pose."""
    mats = np.tile(np.eye(3), (23, 1, 1))
    for joint, angles in POSES[pose]:
        mats[SMPL_JOINT_NAMES.index(joint) - 1] = _rotation(*angles)
    return torch.tensor(mats[None], dtype=torch.float32)


def _background(size: tuple[int, int], wall: tuple[int, int, int], floor: tuple[int, int, int], horizon: int):
    """A stage: a lit wall with a vertical gradient over a floor with boards in perspective."""
    height, width = size
    rows = np.arange(height, dtype=np.float32)[:, None, None]
    wall_rgb = np.asarray(wall, np.float32) * (0.75 + 0.5 * (rows / max(horizon, 1)))
    floor_rgb = np.asarray(floor, np.float32) * (0.8 + 0.4 * (rows - horizon) / max(height - horizon, 1))
    pixels = np.where(rows < horizon, wall_rgb, floor_rgb) * np.ones((1, width, 1), np.float32)
    cols = np.arange(width, dtype=np.float32)[None, :]
    spot = np.exp(
        -(((cols - width / 2) / (0.45 * width)) ** 2) - ((rows[..., 0] - 0.3 * height) / height) ** 2
    )
    pixels *= (0.7 + 0.45 * spot)[..., None]
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for k in range(-12, 13):  # floor boards converging to the vanishing point
        draw.line(
            [(width / 2 + k * 12, horizon), (width / 2 + k * 160, height)],
            fill=tuple(int(0.8 * c) for c in floor),
        )
    return np.asarray(image.filter(ImageFilter.GaussianBlur(0.8)))


def draw_example(body_model, faces: np.ndarray, scene) -> tuple[np.ndarray, np.ndarray]:
    """Render one scene; returns the (H, W, 3) uint8 image and (N, 4) xyxy px boxes of its people."""
    _, people, (wall, floor) = scene
    height, width = IMAGE_SIZE
    focal = 1.1 * width
    horizon = int(height / 2 - focal * 0.05)
    image = _background(IMAGE_SIZE, wall, floor, horizon)
    flip = _rotation(180, 0, 0)  # SMPL (y up, facing +z) -> camera frame (y down, facing the camera)
    meshes, colors, boxes = [], [], []
    shadows = Image.new("L", (width, height), 0)
    shade = ImageDraw.Draw(shadows)
    for pose, yaw, x, z, rgb in people:
        orient = torch.tensor((flip @ _rotation(0, yaw, 0))[None, None], dtype=torch.float32)
        with torch.no_grad():
            out = body_model(orient, _body_pose(pose), torch.zeros(1, 10))
        verts = out.vertices[0].numpy().astype(np.float64)
        verts += np.array([x, CAMERA_HEIGHT - verts[:, 1].max(), z])  # feet on the floor
        meshes.append(verts)
        colors.append(rgb)
        uv = focal * verts[:, :2] / verts[:, 2:] + np.array([width / 2, height / 2])
        (x1, y1), (x2, y2) = uv.min(axis=0), uv.max(axis=0)
        pad_x, pad_y = 0.06 * (x2 - x1), 0.04 * (y2 - y1)
        boxes.append(
            [max(0, x1 - pad_x), max(0, y1 - pad_y), min(width, x2 + pad_x), min(height, y2 + pad_y)]
        )
        foot_v = focal * CAMERA_HEIGHT / z + height / 2
        foot_u = focal * x / z + width / 2
        half = 0.35 * focal / z
        shade.ellipse([foot_u - half, foot_v - half * 0.25, foot_u + half, foot_v + half * 0.25], fill=110)
    shadow = np.asarray(shadows.filter(ImageFilter.GaussianBlur(6)), dtype=np.float32)[..., None] / 255.0
    image = (image * (1.0 - 0.6 * shadow)).astype(np.uint8)
    lighting = Lighting(direction=(-0.4, -0.8, -0.6), ambient=0.3, diffuse=0.75, specular=0.1)
    image = render_meshes(image, meshes, faces, focal, colors=colors, opacity=1.0, lighting=lighting)
    return image, np.asarray(boxes, dtype=np.float32)


def make_examples(out_dir: str | Path) -> list[Example]:
    """Draw the gallery into ``out_dir`` (JPEG files plus ``examples.json``); reuse it if already there."""
    from ..models.body_model_hardmo import SMPLBodyModel
    from ..testing.smpl import make_synthetic_smpl

    out_dir = Path(out_dir)
    index = out_dir / "examples.json"
    if index.is_file():
        stored = json.loads(index.read_text())
        if stored.get("version") == EXAMPLES_VERSION and all(
            (out_dir / e["file"]).is_file() for e in stored["examples"]
        ):
            return [Example(out_dir / e["file"], e["boxes"]) for e in stored["examples"]]
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as smpl_dir:
        body_model = SMPLBodyModel(make_synthetic_smpl(smpl_dir))
    faces = body_model.faces
    entries = []
    for scene in SCENES:
        image, boxes = draw_example(body_model, faces, scene)
        path = out_dir / f"{scene[0]}.jpg"
        Image.fromarray(image).save(path, quality=90)
        entries.append({"file": path.name, "boxes": format_boxes(boxes)})
    index.write_text(json.dumps({"version": EXAMPLES_VERSION, "examples": entries}, indent=1))
    logger.info("drew %d example images into %s", len(entries), out_dir)
    return [Example(out_dir / e["file"], e["boxes"]) for e in entries]
