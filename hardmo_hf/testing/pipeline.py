"""Synthetic ground truth for the annotation pipeline: poses, cameras, detections and corrupted labels.

Used by the pipeline tests, the benchmark and the sample-data script. Everything is generated from the
synthetic SMPL stand-in (:mod:`hardmo_hf.testing.smpl`) through the pipeline's own keypoint model, so the
"detections" are exactly what an ideal detector would see plus controlled noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..constants import NUM_SMPL_JOINTS, SMPLX45_TO_WHOLEBODY33
from ..pipeline.camera import project
from ..pipeline.fitting import FIT_MODEL_JOINTS, FitBatch
from ..pipeline.kinematics import SMPLKeypointModel
from ..pipeline.priors import JOINT_ANGLE_LIMITS
from ..pipeline.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

# Joints perturbed by each corruption, with the range of the perturbation angle in degrees.
CORRUPTIONS = {
    "foot": {4: (5, 15), 5: (5, 15), 7: (20, 45), 8: (20, 45), 10: (10, 30), 11: (10, 30)},
    "hand": {
        3: (3, 8),
        6: (3, 8),
        9: (3, 8),
        13: (5, 12),
        14: (5, 12),
        16: (8, 20),
        17: (8, 20),
        18: (8, 20),
        19: (8, 20),
        20: (25, 50),
        21: (25, 50),
    },
}
LABEL_NOISE_DEG = 2.0  # every joint of a label is off by about this much (HMR-style residual error)


def sample_poses(rng: np.random.Generator, count: int) -> np.ndarray:
    """(count,72) axis-angle poses: upright people turned up to +-100 deg from the camera (camera frame: x
    right, y down), each limited joint uniform in the middle half of its :data:`JOINT_ANGLE_LIMITS` box."""
    pose = np.zeros((count, NUM_SMPL_JOINTS, 3))
    for joint, (lo, hi) in JOINT_ANGLE_LIMITS.items():
        pose[:, joint] = rng.uniform(0.5 * np.asarray(lo), 0.5 * np.asarray(hi), size=(count, 3))
    yaw = rng.uniform(-100, 100, size=count) * math.pi / 180
    tilt = rng.normal(scale=0.08, size=(count, 3))
    upright = axis_angle_to_rotmat(torch.tensor([math.pi, 0.0, 0.0], dtype=torch.float64))
    turn = axis_angle_to_rotmat(torch.from_numpy(np.stack([np.zeros(count), yaw, np.zeros(count)], -1)))
    root = axis_angle_to_rotmat(torch.from_numpy(tilt)) @ upright @ turn
    pose[:, 0] = rotmat_to_axis_angle(root).numpy()
    return pose.reshape(count, -1).astype(np.float32)


def perturb_joints(
    rng: np.random.Generator, pose: np.ndarray, joints_deg: dict[int, tuple[float, float]]
) -> np.ndarray:
    """Rotate each listed joint by a random axis and an angle drawn uniformly in its (low, high) degrees."""
    pose = pose.reshape(len(pose), NUM_SMPL_JOINTS, 3).copy()
    joints = list(joints_deg)
    axis = rng.normal(size=(len(pose), len(joints), 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    lows = np.array([joints_deg[j][0] for j in joints])
    highs = np.array([joints_deg[j][1] for j in joints])
    angle = rng.uniform(lows, highs, size=(len(pose), len(joints))) * math.pi / 180
    delta = axis_angle_to_rotmat(torch.from_numpy(axis * angle[..., None]))
    current = axis_angle_to_rotmat(torch.from_numpy(pose[:, joints].astype(np.float64)))
    pose[:, joints] = rotmat_to_axis_angle(current @ delta).numpy()
    return pose.reshape(len(pose), -1).astype(np.float32)


def add_label_noise(
    rng: np.random.Generator, pose: np.ndarray, degrees: float = LABEL_NOISE_DEG
) -> np.ndarray:
    """Small rotation noise on every body joint (not the root), as a stand-in for a good regressor's error."""
    joints = {j: (0.5 * degrees, 1.5 * degrees) for j in range(1, NUM_SMPL_JOINTS)}
    return perturb_joints(rng, pose, joints)


@dataclass
class FittingProblem:
    """Ground truth, a corrupted label, and the detections an optimizer sees (numpy, float32).

    gt_pose / label_pose (N,72) axis-angle; betas (N,10); keypoints (N,35,3) detected px + confidence in the
    fitting layout; clean_keypoints (N,35,2) noise-free projections of the ground truth; box_size (N,) px;
    camera_scale (N,) px/m and camera_translation (N,2) px of the ground-truth camera.
    """

    gt_pose: np.ndarray
    label_pose: np.ndarray
    betas: np.ndarray
    keypoints: np.ndarray
    clean_keypoints: np.ndarray
    box_size: np.ndarray
    camera_scale: np.ndarray
    camera_translation: np.ndarray

    def batch(self, pose: np.ndarray | None = None) -> FitBatch:
        return FitBatch(
            torch.from_numpy(self.label_pose if pose is None else pose),
            torch.from_numpy(self.betas),
            torch.from_numpy(self.keypoints),
            torch.from_numpy(self.box_size),
        )


def render_keypoints(
    model: SMPLKeypointModel, pose: np.ndarray, betas: np.ndarray, scale: np.ndarray, translation: np.ndarray
) -> np.ndarray:
    """(N,45,2) px: the smplx-45 joints of ``pose`` seen through a weak-perspective camera."""
    with torch.no_grad():
        rotations = axis_angle_to_rotmat(torch.from_numpy(pose).reshape(-1, NUM_SMPL_JOINTS, 3))
        joints = model(rotations, model.rest(torch.from_numpy(betas)))
        return project(joints, torch.from_numpy(scale), torch.from_numpy(translation)).numpy()


def make_fitting_problem(
    model: SMPLKeypointModel,
    count: int,
    corruption: str,
    seed: int = 0,
    noise: float = 0.004,
    outlier_fraction: float = 0.1,
    image_size: tuple[int, int] = (640, 480),
) -> FittingProblem:
    """Sample ground truth, project it, and corrupt the label at the ankles (``foot``) or the arms and
    wrists (``hand``) per :data:`CORRUPTIONS`, on top of small noise on every joint.

    Detections: the ground-truth projection + Gaussian noise (``noise`` x box side) with confidence in
    [0.6, 1]; an ``outlier_fraction`` of points is moved far away and given confidence < 0.2.
    """
    rng = np.random.default_rng(seed)
    gt_pose = sample_poses(rng, count)
    betas = rng.normal(scale=0.8, size=(count, 10)).astype(np.float32)
    label_pose = perturb_joints(rng, add_label_noise(rng, gt_pose), CORRUPTIONS[corruption])
    scale = rng.uniform(150, 250, size=count).astype(np.float32)
    joints = render_keypoints(model, gt_pose, betas, scale, np.zeros((count, 2), np.float32))
    centre = 0.5 * (joints.min(1) + joints.max(1))
    target = np.array(image_size, dtype=np.float32) / 2 + rng.uniform(-40, 40, size=(count, 2))
    translation = (target - centre).astype(np.float32)
    clean = joints[:, list(FIT_MODEL_JOINTS)] + translation[:, None]
    extent = clean.max(1) - clean.min(1)
    box_size = (1.2 * extent.max(-1)).astype(np.float32)
    detected = clean + rng.normal(scale=noise, size=clean.shape) * box_size[:, None, None]
    confidence = rng.uniform(0.6, 1.0, size=clean.shape[:2])
    outliers = rng.random(clean.shape[:2]) < outlier_fraction
    detected[outliers] += (
        rng.uniform(-0.3, 0.3, size=(int(outliers.sum()), 2)) * np.repeat(box_size, outliers.sum(1))[:, None]
    )
    confidence[outliers] = rng.uniform(0.0, 0.2, size=int(outliers.sum()))
    keypoints = np.concatenate([detected, confidence[..., None]], -1).astype(np.float32)
    return FittingProblem(
        gt_pose, label_pose, betas, keypoints, clean.astype(np.float32), box_size, scale, translation
    )


# ----------------------------------------------------------------------------------------------------
# A raw pipeline input: frames, tracks, MMPose keypoints and HMR 2.0 predictions for synthetic people
# ----------------------------------------------------------------------------------------------------
TRACK_FORMATS = ("json", "jsonl", "npz", "labels", "mot")
KEYPOINT_FORMATS = ("inferencer", "demo")
SMPL_FORMATS = ("npz_matrix", "pkl_axis_angle", "pkl_list")
# Paper proportions: Foot > 500K and Hand > 400K of 7M samples. The sample's labels get a gross foot / hand
# error at about these rates (plus small errors everywhere), which the default mining thresholds recover.
HARD_CASE_RATES = {"foot": 0.08, "hand": 0.065}


@dataclass
class RawSampleSummary:
    """What :func:`make_sample_raw_input` wrote and what ingest must make of it."""

    clips: int
    frames: int
    people_written: int  # labels ingest must write
    expected_drops: dict  # (kind, reason) -> count, kinds as in the ingest report
    gross_errors: dict  # "foot"/"hand" -> sample ids whose label got a gross error


def _wholebody133(joints2d: np.ndarray, rng: np.random.Generator, box_side: float) -> np.ndarray:
    """(45,2) px smplx joints -> (133,3) COCO-WholeBody with raw MMPose-like scores (some above 1)."""
    from ..constants import WHOLEBODY33_FROM_WHOLEBODY133

    points = np.zeros((133, 3), dtype=np.float64)
    points[list(WHOLEBODY33_FROM_WHOLEBODY133), :2] = joints2d[list(SMPLX45_TO_WHOLEBODY33)]
    points[list(WHOLEBODY33_FROM_WHOLEBODY133), 2] = rng.uniform(0.55, 1.15, size=33)
    nose = joints2d[24]
    theta = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    points[23:91, :2] = nose + 0.04 * box_side * np.stack([np.cos(theta), np.sin(theta)], -1)
    points[23:91, 2] = rng.uniform(0.3, 0.9, size=68)
    for root, wrist, tips in ((91, joints2d[20], joints2d[35:40]), (112, joints2d[21], joints2d[40:45])):
        points[root, :2] = wrist
        for finger in range(5):
            for k, t in enumerate((0.4, 0.6, 0.8)):
                points[root + 1 + 4 * finger + k, :2] = wrist + t * (tips[finger] - wrist)
        points[[root + 1 + 4 * f + k for f in range(5) for k in range(3)] + [root], 2] = rng.uniform(
            0.3, 0.9, 16
        )
    points[:, :2] += rng.normal(scale=0.004 * box_side, size=(133, 2))
    occluded = rng.random(133) < 0.05
    points[occluded, :2] += rng.uniform(-0.2, 0.2, size=(int(occluded.sum()), 2)) * box_side
    points[occluded, 2] = rng.uniform(0.05, 0.3, size=int(occluded.sum()))
    return points.astype(np.float32)


def _draw_frame(path, size, people_points) -> None:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (236, 232, 222))
    draw = ImageDraw.Draw(image)
    bones = [
        (5, 7),
        (7, 9),
        (6, 8),
        (8, 10),
        (5, 6),
        (11, 12),
        (5, 11),
        (6, 12),
        (11, 13),
        (13, 15),
        (12, 14),
        (14, 16),
        (15, 19),
        (16, 22),
        (15, 17),
        (16, 20),
    ]
    for points in people_points:
        for a, b in bones:
            draw.line([tuple(points[a, :2]), tuple(points[b, :2])], fill=(40, 60, 140), width=2)
        for x, y in points[:23, :2]:
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(200, 40, 40))
    image.save(path, quality=85)


def make_sample_raw_input(
    root,
    model: SMPLKeypointModel,
    classes: tuple[str, ...] = ("jazz", "samba", "taijiquan"),
    clips_per_class: int = 2,
    frames_per_clip: int = 8,
    people_per_clip: int = 2,
    seed: int = 0,
    image_size: tuple[int, int] = (320, 240),
    edge_cases: bool = True,
    hard_case_rates: dict | None = None,
) -> RawSampleSummary:
    """Write a raw pipeline input (``docs/pipeline.md``) for synthetic people under ``root``.

    Clips cycle through every accepted file form (:data:`TRACK_FORMATS`, :data:`KEYPOINT_FORMATS`,
    :data:`SMPL_FORMATS`). SMPL labels are the ground truth + small errors on every joint, and a gross foot
    or hand error at :data:`HARD_CASE_RATES`. With ``edge_cases``, each clip also holds, on frames
    0-6 (``frames_per_clip >= 8``): a non-person box, a low-confidence box, a crowded frame, a frame without
    detections, an untracked box, an MMPose instance without a box, and a person HMR 2.0 missed; the
    summary lists what ingest must drop and why. A ``subjects.json`` maps clips to subjects (two clips per subject).
    """
    import json
    import pickle
    from collections import Counter
    from pathlib import Path

    root = Path(root)
    rng = np.random.default_rng(seed)
    rates = dict(HARD_CASE_RATES if hard_case_rates is None else hard_case_rates)
    width, height = image_size
    drops: Counter = Counter()
    gross = {"foot": [], "hand": []}
    written = frames_total = 0
    subjects = {}
    clip_index = 0
    if edge_cases and frames_per_clip < 8:
        raise ValueError("edge cases need at least 8 frames per clip")
    for category in classes:
        for c in range(clips_per_class):
            clip_id = f"clip{c:03d}"
            name = f"{category}/{clip_id}"
            subjects[name] = f"{category}_subject{c // 2}"
            clip_dir = root / category / clip_id
            (clip_dir / "frames").mkdir(parents=True, exist_ok=True)
            track_format = TRACK_FORMATS[clip_index % len(TRACK_FORMATS)]
            keypoint_format = KEYPOINT_FORMATS[clip_index % len(KEYPOINT_FORMATS)]
            smpl_format = SMPL_FORMATS[clip_index % len(SMPL_FORMATS)]
            clip_index += 1
            betas = rng.normal(scale=0.8, size=(people_per_clip, 10)).astype(np.float32)
            track_ids = [3 + 2 * p for p in range(people_per_clip)]
            frame_boxes: list[list] = []  # per frame: rows [x1,y1,x2,y2,id|None,conf,cls]
            instances: list[list] = []  # per frame: MMPose instance dicts
            smpl_rows: list[dict] = []
            for frame in range(frames_per_clip):
                frames_total += 1
                gt = sample_poses(rng, people_per_clip)
                label = add_label_noise(rng, gt)
                hard = {}
                for kind in ("foot", "hand"):
                    hard[kind] = rng.random(people_per_clip) < rates[kind]
                    if hard[kind].any():
                        label[hard[kind]] = perturb_joints(rng, label[hard[kind]], CORRUPTIONS[kind])
                scale = np.full(people_per_clip, 0.8 * height / 1.9, dtype=np.float32)
                joints = render_keypoints(model, gt, betas, scale, np.zeros((people_per_clip, 2), np.float32))
                centre = 0.5 * (joints.min(1) + joints.max(1))
                slots = (np.arange(people_per_clip) + 0.5) / people_per_clip * width
                target = np.stack(
                    [
                        slots + rng.uniform(-8, 8, people_per_clip),
                        np.full(people_per_clip, height / 2) + rng.uniform(-5, 5, people_per_clip),
                    ],
                    -1,
                )
                joints = joints + (target - centre)[:, None]
                rows, frame_instances, drawn = [], [], []
                for p in range(people_per_clip):
                    points = _wholebody133(joints[p], rng, 0.8 * height)
                    body = joints[p][list(SMPLX45_TO_WHOLEBODY33[:23])]  # what the detector sees: the person
                    box = np.concatenate([body.min(0), body.max(0)])
                    pad = 0.05 * (box[2:] - box[:2])
                    box = np.concatenate([box[:2] - pad, box[2:] + pad])
                    track = track_ids[p]
                    rows.append([*box.tolist(), track, float(rng.uniform(0.8, 0.95)), 0])
                    frame_instances.append(
                        {
                            "keypoints": points[:, :2].tolist(),
                            "keypoint_scores": points[:, 2].tolist(),
                            "bbox": [(box + rng.uniform(-2, 2, 4)).tolist()],
                            "bbox_score": 0.9,
                        }
                    )
                    smpl_rows.append(
                        {
                            "frame_index": frame,
                            "pose": label[p],
                            "betas": betas[p],
                            "bbox": box + rng.uniform(-3, 3, 4),
                            "person": p,
                        }
                    )
                    drawn.append(points)
                    for kind in ("foot", "hand"):
                        if hard[kind][p]:
                            gross[kind].append(f"{name}/{frame:06d}_{track}")
                frame_people_written = people_per_clip
                if edge_cases and frame == 0:  # a car: not a person
                    rows.append([5.0, 5.0, 60.0, 40.0, 99, 0.9, 2])
                    drops["detections", "not_person"] += track_format != "mot"
                    if track_format == "mot":
                        rows.pop()
                if edge_cases and frame == 1:  # a weak detection
                    rows.append([200.0, 10.0, 260.0, 120.0, 98, 0.3, 0])
                    drops["detections", "low_detection_confidence"] += 1
                if edge_cases and frame == 2:  # a crowd: the whole frame goes
                    for k in range(6):
                        rows.append([10.0 + 50 * k, 150.0, 55.0 + 50 * k, 235.0, 50 + k, 0.85, 0])
                    drops["detections", "crowded_frame"] += len(rows)
                    drops["keypoint_instances", "crowded_frame"] += people_per_clip
                    drops["smpl_predictions", "crowded_frame"] += people_per_clip
                    frame_people_written = 0
                if edge_cases and frame == 3:  # the detector saw nobody
                    rows = []
                    drops["keypoint_instances", "no_person_detected"] += people_per_clip
                    drops["smpl_predictions", "no_person_detected"] += people_per_clip
                    frame_people_written = 0
                if edge_cases and frame == 4:  # the tracker lost person 0 on this frame
                    rows[0][4] = None
                if edge_cases and frame == 5:  # an MMPose instance without a box
                    del frame_instances[0]["bbox"], frame_instances[0]["bbox_score"]
                if edge_cases and frame == 6 and people_per_clip > 1:  # HMR 2.0 missed person 1
                    smpl_rows.pop()
                    drops["detections", "no_smpl_label"] += 1
                    drops["keypoint_instances", "person_without_smpl_label"] += 1
                    frame_people_written -= 1
                written += frame_people_written
                frame_boxes.append(rows)
                instances.append(frame_instances)
                _draw_frame(clip_dir / "frames" / f"{frame + 1:06d}.jpg", image_size, drawn)
            _write_tracks(clip_dir, track_format, frame_boxes, image_size)
            _write_keypoints(clip_dir, keypoint_format, instances)
            _write_smpl(clip_dir, smpl_format, smpl_rows, pickle)
    (root / "subjects.json").write_text(json.dumps(subjects, indent=1))
    return RawSampleSummary(
        clips=clip_index,
        frames=frames_total,
        people_written=written,
        expected_drops={f"{k}/{r}": v for (k, r), v in sorted(drops.items()) if v},
        gross_errors=gross,
    )


def _write_tracks(clip_dir, track_format, frame_boxes, image_size) -> None:
    import json

    width, height = image_size

    def ultralytics_row(row):  # boxes.data: 7 numbers with a track id, 6 without
        x1, y1, x2, y2, track, conf, cls = row
        return [x1, y1, x2, y2, conf, cls] if track is None else [x1, y1, x2, y2, track, conf, cls]

    if track_format == "json":
        (clip_dir / "tracks.json").write_text(
            json.dumps([[ultralytics_row(r) for r in rows] for rows in frame_boxes])
        )
    elif track_format == "jsonl":  # the results.summary() dict form
        lines = []
        for rows in frame_boxes:
            items = []
            for x1, y1, x2, y2, track, conf, cls in rows:
                item = {
                    "name": "person" if cls == 0 else "car",
                    "class": cls,
                    "confidence": conf,
                    "box": {"x1": x1, "y1": y1, "x2": x2, "y2": y2},
                }
                if track is not None:
                    item["track_id"] = track
                items.append(item)
            lines.append(json.dumps(items))
        (clip_dir / "tracks.jsonl").write_text("\n".join(lines) + "\n")
    elif track_format == "npz":
        frames = [f for f, rows in enumerate(frame_boxes) for _ in rows]
        data = [
            [x1, y1, x2, y2, np.nan if t is None else t, c, k]
            for rows in frame_boxes
            for x1, y1, x2, y2, t, c, k in rows
        ]
        np.savez(
            clip_dir / "tracks.npz",
            frame_index=np.array(frames, dtype=np.int64),
            boxes=np.array(data, dtype=np.float64).reshape(-1, 7),
        )
    elif track_format == "labels":
        folder = clip_dir / "labels"
        folder.mkdir(exist_ok=True)
        for frame, rows in enumerate(frame_boxes):
            if not rows:
                continue  # ultralytics writes no file for a frame without boxes
            lines = []
            for x1, y1, x2, y2, track, conf, cls in rows:
                values = [
                    cls,
                    (x1 + x2) / 2 / width,
                    (y1 + y2) / 2 / height,
                    (x2 - x1) / width,
                    (y2 - y1) / height,
                    conf,
                ]
                values += [] if track is None else [track]
                lines.append(" ".join(f"{v:.6g}" for v in values))
            (folder / f"video_{frame + 1}.txt").write_text("\n".join(lines) + "\n")
    elif track_format == "mot":
        lines = []
        for frame, rows in enumerate(frame_boxes):
            for x1, y1, x2, y2, track, conf, _ in rows:
                track = -1 if track is None else track
                lines.append(
                    f"{frame + 1},{track},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{conf:.3f},-1,-1,-1"
                )
        (clip_dir / "tracks.txt").write_text("\n".join(lines) + "\n")
    else:
        raise ValueError(f"unknown track format {track_format!r}")


def _ndarray(value) -> dict:
    """json_tricks' array encoding, as the MMPose demo writes it."""
    array = np.asarray(value, dtype=np.float32)
    return {"__ndarray__": array.tolist(), "dtype": "float32", "shape": list(array.shape), "Corder": True}


def _write_keypoints(clip_dir, keypoint_format, instances) -> None:
    import json

    if keypoint_format == "inferencer":
        data = [{"frame_id": frame, "instances": items} for frame, items in enumerate(instances)]
    else:
        encoded = []
        for frame, items in enumerate(instances):
            converted = []
            for item in items:
                item = dict(item)
                item["keypoints"] = _ndarray(item["keypoints"])
                converted.append(item)
            encoded.append({"frame_id": frame + 1, "instances": converted})
        meta = {
            "dataset_name": "coco_wholebody",
            "num_keypoints": 133,
            "sigmas": _ndarray(np.full(133, 0.05)),
        }
        data = {"meta_info": meta, "instance_info": encoded}
    (clip_dir / "keypoints.json").write_text(json.dumps(data))


def _write_smpl(clip_dir, smpl_format, rows, pickle) -> None:
    pose = np.stack([r["pose"] for r in rows]).reshape(-1, NUM_SMPL_JOINTS, 3)
    matrices = axis_angle_to_rotmat(torch.from_numpy(pose.astype(np.float64))).numpy().astype(np.float32)
    frames = np.array([r["frame_index"] for r in rows], dtype=np.int64)
    betas = np.stack([r["betas"] for r in rows])
    boxes = np.stack([r["bbox"] for r in rows]).astype(np.float32)
    if smpl_format == "npz_matrix":  # HMR 2.0 native: rotation matrices, boxes as centre + size
        centre = 0.5 * (boxes[:, :2] + boxes[:, 2:])
        size = (boxes[:, 2:] - boxes[:, :2]).max(1)
        np.savez(
            clip_dir / "smpl.npz",
            frame_index=frames,
            global_orient=matrices[:, :1],
            body_pose=matrices[:, 1:],
            betas=betas,
            box_center=centre,
            box_size=size,
        )
    elif smpl_format == "pkl_axis_angle":
        content = {
            "frame_index": frames,
            "pred_smpl_params": {
                "global_orient": pose[:, 0].astype(np.float32),
                "body_pose": pose[:, 1:].reshape(-1, 69).astype(np.float32),
                "betas": betas,
            },
            "bbox": boxes,
        }
        (clip_dir / "smpl.pkl").write_bytes(pickle.dumps(content, protocol=4))
    elif smpl_format == "pkl_list":
        content = [
            {"frame_index": int(f), "global_orient": m[:1], "body_pose": m[1:], "betas": b, "bbox": x}
            for f, m, b, x in zip(frames, matrices, betas, boxes)
        ]
        (clip_dir / "smpl.pkl").write_bytes(pickle.dumps(content, protocol=4))
    else:
        raise ValueError(f"unknown SMPL format {smpl_format!r}")
