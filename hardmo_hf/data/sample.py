"""A small, realistic pipeline output for the quickstart, the tests and the benchmarks.

:func:`make_sample_pipeline_output` writes the label-tree layout of ``docs/pipeline_output_format.md``:
dance and martial-arts classes (all seven Foot-P2 classes among them), several subjects and clips, a few
frames per clip, one or two people per frame, synthetic JPEG frames in which the drawn stick figures are
exactly the labelled keypoints (COCO-WholeBody 133 -> label-44 + fingertips), SMPL pseudo-labels with the
authors' shape quirks, optimized Foot / Hand label trees for some samples, a subject map, and a set of
deliberately bad records (one per reject reason, listed in the returned :class:`SampleSummary`).

The output is a pure function of the arguments: the same seed gives the same bytes.
"""

from __future__ import annotations

import io
import json
import logging
import math
import pickle
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from ..constants import (
    BBOX_SCALE_UNIT,
    DANCE_CLASSES,
    NUM_BETAS,
    NUM_SMPL_BODY_JOINTS,
    P2_CLASSES,
    WHOLEBODY_LEFT_HAND,
    WHOLEBODY_RIGHT_HAND,
)
from .keypoint_convert import fingertips_from_wholebody133, label44_from_wholebody133

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_SAMPLE_CLASSES", "SampleSummary", "make_sample_pipeline_output"]

# The seven P2 classes plus two more dance styles and three martial arts.
DEFAULT_SAMPLE_CLASSES = P2_CLASSES + ("hip_hop", "breaking", "taijiquan", "changquan", "bagua")
BOX_EXPANSION = 1.2  # scale = 1.2 x the tight keypoint box / 200, as in SPIN / 4D-Humans labels
PICKLE_PROTOCOL = 4
JPEG_QUALITY = 90

# A pickle that would run a shell command if it were loaded with plain pickle.load (protocol 0 opcodes).
MALICIOUS_PICKLE = b"cos\nsystem\n(S'echo malicious pickle executed >&2; exit 13'\ntR."


@dataclass
class SampleSummary:
    """What :func:`make_sample_pipeline_output` wrote and what a reader / the filters must make of it."""

    root: str
    seed: int
    classes: list[str]
    num_clips: int
    num_subjects: int
    num_images: int  # image files in normal/ (good frames and the bad-record frames)
    label_files: dict[str, int]  # subset -> .pyd files written
    expected_records: dict[str, int]  # subset -> records a reader yields (label files that are valid)
    expected_rejects: dict[str, int]  # reader reject reason -> count (all subsets)
    expected_filter: dict[str, int]  # filter outcome -> count on the normal records (paper threshold 0.5)
    bad_records: list[dict] = field(default_factory=list)  # {"path", "reason"} for each deliberate bad record

    @property
    def input_records(self) -> int:
        """Label files plus images without a label: what ``input = accepted + rejected`` counts."""
        return sum(self.label_files.values()) + self.expected_rejects.get("missing_label", 0)

    def to_json(self) -> dict:
        return {**asdict(self), "input_records": self.input_records}


# ----------------------------------------------------------------------------------------------------
# Synthetic people: a 2D skeleton in COCO-WholeBody-133 and an SMPL pseudo-label
# ----------------------------------------------------------------------------------------------------
def _direction(angle: float) -> np.ndarray:
    """Unit vector in image coordinates (y down); angle 0 points down, positive turns towards image right."""
    return np.array([math.sin(angle), math.cos(angle)])


def _perp_right(vector: np.ndarray) -> np.ndarray:
    """The unit vector 90 degrees from ``vector`` that points to the image right when ``vector`` points up."""
    v = vector / (np.linalg.norm(vector) + 1e-9)
    return np.array([-v[1], v[0]])


@dataclass
class _Person:
    """A synthetic dancer: where it stands, how big it is, its colours and its motion parameters."""

    root_x: float
    hip_y: float
    height: float
    colors: tuple
    phase: float
    style: dict
    betas: np.ndarray


def _style_for(category: str, rng: np.random.Generator) -> dict:
    """Motion amplitudes for a class: dance styles lift legs and arms, martial arts stance wide."""
    dance = category in DANCE_CLASSES
    return {
        "arm_amp": rng.uniform(0.6, 1.4) if dance else rng.uniform(0.4, 1.0),
        "leg_lift": rng.uniform(0.2, 1.2) if category in ("ballet", "jazz", "chinese_dance", "breaking")
        else rng.uniform(0.05, 0.5),
        "stance": rng.uniform(0.05, 0.2) if dance else rng.uniform(0.25, 0.45),
        "lean": rng.uniform(-0.15, 0.15),
    }


def _skeleton(person: _Person, t: float, rng: np.random.Generator) -> np.ndarray:
    """``(133, 2)`` COCO-WholeBody pixel positions of ``person`` at time ``t`` (frames)."""
    h = person.height
    s = person.style
    w = person.phase + 0.9 * t
    pts = np.zeros((133, 2))
    pelvis = np.array([person.root_x, person.hip_y])
    up = -_direction(s["lean"] + 0.08 * math.sin(w))  # torso direction (towards the head)
    right = _perp_right(up)  # image right = the person's left (they face the camera)
    neck = pelvis + 0.30 * h * up
    head_dir = -_direction(s["lean"] + 0.15 * math.sin(0.7 * w))
    nose = neck + 0.10 * h * head_dir
    # body 0-16: nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles (left = image right)
    pts[0] = nose
    pts[1], pts[2] = nose + 0.025 * h * right + 0.02 * h * head_dir, nose - 0.025 * h * right + 0.02 * h * head_dir
    pts[3], pts[4] = nose + 0.05 * h * right + 0.005 * h * head_dir, nose - 0.05 * h * right + 0.005 * h * head_dir
    shoulders = {+1: neck + 0.11 * h * right, -1: neck - 0.11 * h * right}
    hips = {+1: pelvis + 0.07 * h * right, -1: pelvis - 0.07 * h * right}
    pts[5], pts[6] = shoulders[+1], shoulders[-1]
    pts[11], pts[12] = hips[+1], hips[-1]
    for side, (elbow_i, wrist_i) in ((+1, (7, 9)), (-1, (8, 10))):
        arm = side * (0.5 + s["arm_amp"] * (0.6 + 0.5 * math.sin(w + (0 if side > 0 else 1.3))))
        bend = side * rng.uniform(0.1, 0.9)
        pts[elbow_i] = pts[5 if side > 0 else 6] + 0.17 * h * _direction(arm)
        pts[wrist_i] = pts[elbow_i] + 0.15 * h * _direction(arm + bend)
    for side, (knee_i, ankle_i) in ((+1, (13, 15)), (-1, (14, 16))):
        lifted = side == (1 if math.sin(0.5 * w) > 0 else -1)
        thigh = side * s["stance"] + (side * s["leg_lift"] * abs(math.sin(0.5 * w)) if lifted else 0.0)
        knee_bend = -side * rng.uniform(0.0, 0.5)
        pts[knee_i] = pts[11 if side > 0 else 12] + 0.24 * h * _direction(thigh)
        pts[ankle_i] = pts[knee_i] + 0.23 * h * _direction(thigh + knee_bend)
    # feet 17-22: left big toe, small toe, heel, right big toe, small toe, heel
    for side, ankle_i, base in ((+1, 15, 17), (-1, 16, 20)):
        shin = pts[ankle_i] - pts[ankle_i - 2]
        shin_angle = math.atan2(shin[0], shin[1])
        toe_dir = _direction(shin_angle + side * 1.2)
        pts[base] = pts[ankle_i] + 0.07 * h * toe_dir
        pts[base + 1] = pts[ankle_i] + 0.06 * h * _direction(shin_angle + side * 1.5)
        pts[base + 2] = pts[ankle_i] + 0.025 * h * _direction(shin_angle - side * 0.4)
    # face 23-90: the 68 iBUG points on and inside a head ellipse around the nose
    centre = nose - 0.01 * h * head_dir
    rx, ry = 0.055 * h, 0.07 * h
    down = -head_dir

    def face(u, v):  # u: -1 (image left = person's right) .. 1, v: -1 (top) .. 1 (chin)
        return centre + u * rx * right + v * ry * down

    contour = [face(math.cos(a), math.sin(a) * 0.9 + 0.1) for a in np.linspace(math.pi, 0, 17)]
    brows = [face(u, -0.45) for u in np.linspace(-0.8, -0.2, 5)] + [face(u, -0.45) for u in np.linspace(0.2, 0.8, 5)]
    bridge = [face(0, v) for v in np.linspace(-0.3, 0.05, 4)]
    nostrils = [face(u, 0.15) for u in np.linspace(-0.25, 0.25, 5)]
    eyes = []
    for cx in (-0.45, 0.45):
        eyes += [face(cx + 0.18 * math.cos(a), -0.25 + 0.08 * math.sin(a))
                 for a in np.linspace(math.pi, -math.pi, 6, endpoint=False)]
    mouth = [face(0.35 * math.cos(a), 0.5 + 0.12 * math.sin(a)) for a in np.linspace(math.pi, -math.pi, 12, endpoint=False)]
    lips = [face(0.22 * math.cos(a), 0.5 + 0.05 * math.sin(a)) for a in np.linspace(math.pi, -math.pi, 8, endpoint=False)]
    pts[23:91] = np.array(contour + brows + bridge + nostrils + eyes + mouth + lips)
    # hands 91-111 (left), 112-132 (right): wrist root, then thumb..pinky with 4 points each
    for side, wrist_i, elbow_i, block in ((+1, 9, 7, WHOLEBODY_LEFT_HAND), (-1, 10, 8, WHOLEBODY_RIGHT_HAND)):
        forearm = pts[wrist_i] - pts[elbow_i]
        angle = math.atan2(forearm[0], forearm[1])
        pts[block[0]] = pts[wrist_i]
        for finger, spread in enumerate((-0.9, -0.35, 0.0, 0.3, 0.6)):
            direction = _direction(angle + side * spread)
            base = pts[wrist_i] + 0.03 * h * _direction(angle + side * spread * 0.6)
            for joint in range(4):
                pts[block[1 + 4 * finger + joint]] = base + (joint + 1) * 0.012 * h * direction
    return pts


def _confidences(rng: np.random.Generator) -> np.ndarray:
    """MMPose-like scores: confident body, a few weak points, noisier face and hands."""
    conf = np.empty(133)
    conf[:17] = rng.uniform(0.75, 0.98, 17)
    weak = rng.random(17) < 0.08
    conf[:17][weak] = rng.uniform(0.1, 0.45, weak.sum())
    conf[17:23] = rng.uniform(0.5, 0.95, 6)
    conf[23:91] = rng.uniform(0.4, 0.9, 68)
    conf[91:] = rng.uniform(0.3, 0.9, 42)
    return conf


def _smpl_pose(rng: np.random.Generator, lean: float) -> np.ndarray:
    """A plausible ``(72,)`` SMPL axis-angle pose (global orientation first): facing the camera."""
    pose = rng.normal(0.0, 0.12, (NUM_SMPL_BODY_JOINTS + 1, 3))
    pose[0] = [math.pi, 0.0, lean]  # SMPL y-up -> camera y-down, facing the camera
    pose[[4, 5], 0] = rng.uniform(0.05, 1.2, 2)  # knees flex about +x
    pose[[4, 5], 1:] *= 0.3
    pose[18, 1] = -rng.uniform(0.1, 1.5)  # left elbow flexes about -y
    pose[19, 1] = rng.uniform(0.1, 1.5)  # right elbow about +y
    pose[[1, 2], 0] = -rng.uniform(0.0, 1.2, 2)  # hips: legs forward
    pose[[16, 17], 2] = [-1.0, 1.0] * rng.uniform(0.3, 1.2, 2)  # shoulders: arms down from the T-pose
    return pose.reshape(-1).astype(np.float32)


def _tight_box(kp: np.ndarray) -> tuple[np.ndarray, float]:
    visible = kp[kp[:, 2] > 0]
    lo, hi = visible[:, :2].min(0), visible[:, :2].max(0)
    center = (lo + hi) / 2
    scale = BOX_EXPANSION * float((hi - lo).max()) / BBOX_SCALE_UNIT
    return center.astype(np.float32), scale


def _draw(draw: ImageDraw.ImageDraw, kp133: np.ndarray, person: _Person) -> None:
    """Draw the figure through exactly the keypoints of ``kp133`` (limbs, torso, head, feet, fingers)."""
    p = [tuple(map(float, xy)) for xy in kp133[:, :2]]
    h = person.height
    limb_width = max(2, int(0.035 * h))
    body_color, left_color, right_color = person.colors
    draw.polygon([p[5], p[6], p[12], p[11]], fill=body_color)
    for a, b, color in ((5, 7, left_color), (7, 9, left_color), (6, 8, right_color), (8, 10, right_color),
                        (11, 13, left_color), (13, 15, left_color), (12, 14, right_color), (14, 16, right_color),
                        (5, 6, body_color), (11, 12, body_color)):
        draw.line([p[a], p[b]], fill=color, width=limb_width)
    neck = ((p[5][0] + p[6][0]) / 2, (p[5][1] + p[6][1]) / 2)
    draw.line([neck, p[0]], fill=body_color, width=limb_width)
    xs, ys = kp133[23:91, 0], kp133[23:91, 1]
    draw.ellipse([xs.min(), ys.min() - 0.04 * h, xs.max(), ys.max()], fill=(230, 190, 160), outline=body_color)
    for i in (1, 2, 3, 4):
        draw.ellipse([p[i][0] - 1.5, p[i][1] - 1.5, p[i][0] + 1.5, p[i][1] + 1.5], fill=(20, 20, 20))
    draw.line(p[23:40], fill=(120, 80, 60), width=1)
    for ankle, toes in ((15, (17, 18, 19)), (16, (20, 21, 22))):
        for toe in toes:
            draw.line([p[ankle], p[toe]], fill=(40, 40, 40), width=max(1, limb_width // 2))
    for block in (WHOLEBODY_LEFT_HAND, WHOLEBODY_RIGHT_HAND):
        for finger in range(5):
            chain = [p[block[0]]] + [p[block[1 + 4 * finger + j]] for j in range(4)]
            draw.line(chain, fill=(230, 190, 160), width=1)


def _background(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    width, height = size
    top, bottom = rng.integers(40, 200, 3), rng.integers(40, 200, 3)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    pixels = (top[None, None, :] * (1 - ramp) + bottom[None, None, :] * ramp).repeat(width, axis=1)
    floor = int(height * 0.8)
    pixels[floor:] = pixels[floor:] * 0.6 + 40
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, "PNG")
    else:
        image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------------
# The generator
# ----------------------------------------------------------------------------------------------------
def _label_dict(kp133: np.ndarray, pose: np.ndarray, betas: np.ndarray, rng: np.random.Generator) -> dict:
    """A raw label as the pipeline writes it, with the authors' shape quirks on some labels."""
    keypoints_2d = label44_from_wholebody133(kp133)
    center, scale = _tight_box(keypoints_2d)
    return {
        "keypoints_2d": keypoints_2d,
        "hand_keypoints_2d": fingertips_from_wholebody133(kp133),
        "wholebody_keypoints_2d": kp133.astype(np.float32),
        "center": center[None] if rng.random() < 0.3 else center,  # (1,2) quirk
        "scale": np.float32(scale) if rng.random() < 0.5 else np.array([scale], dtype=np.float32),
        "body_pose": pose,
        "betas": betas[None] if rng.random() < 0.3 else betas,  # (1,10) quirk
        "has_body_pose": 1,
        "has_betas": 1,
    }


def _optimized(raw: dict, subset: str, rng: np.random.Generator) -> dict:
    """An optimized label: Foot refines the leg chain (full dict), Hand the arm chain (SMPL keys only)."""
    pose = raw["body_pose"].reshape(-1, 3).copy()
    joints = (4, 5, 7, 8, 10, 11) if subset == "foot" else (18, 19, 20, 21)
    pose[list(joints)] += rng.normal(0.0, 0.05, (len(joints), 3))
    betas = (np.asarray(raw["betas"]).reshape(-1) + rng.normal(0.0, 0.05, NUM_BETAS)).astype(np.float32)
    smpl = {"body_pose": pose.reshape(-1).astype(np.float32), "betas": betas[None],  # optimizer writes (1,10)
            "has_body_pose": 1, "has_betas": 1}
    if subset == "foot":
        return {**raw, **smpl}
    return smpl


def _write_pickle(path: Path, value) -> None:
    path.write_bytes(pickle.dumps(value, protocol=PICKLE_PROTOCOL))


def make_sample_pipeline_output(
    out_dir,
    *,
    seed: int = 0,
    frames_per_clip: int = 3,
    clips_per_class: int = 2,
    classes=DEFAULT_SAMPLE_CLASSES,
    image_size: tuple[int, int] = (320, 240),
    include_bad_records: bool = True,
    progress: bool = False,
) -> SampleSummary:
    """Write a sample pipeline output into ``out_dir`` (created; must be empty or absent).

    Args:
        seed: everything (poses, images, subjects, subset membership) derives from it.
        frames_per_clip: good frames per clip (``000000``, ``000001``, ...).
        clips_per_class: clips per class; clip ids ``0001``, ``0002``... repeat across classes, as in the
            authors' tree. Total good frames = ``len(classes) * clips_per_class * frames_per_clip``
            (the default 12 classes x 70 clips x 6 frames = 5,040 frames for benchmarks).
        classes: class folder names; dance styles get dancers' subjects, the rest martial artists'.
        image_size: ``(width, height)`` of the frames in px.
        include_bad_records: add the deliberately bad records (see :class:`SampleSummary.bad_records`).
        progress: show a progress bar over the clips.
    """
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    if frames_per_clip < 1 or clips_per_class < 1 or not classes:
        raise ValueError("frames_per_clip, clips_per_class and classes must be positive / non-empty")
    classes = list(classes)
    for subset in ("normal", "foot", "hand"):
        (out / subset).mkdir(parents=True, exist_ok=True)

    # Subjects: dancers and martial artists are different people; some people appear in several clips.
    rng = np.random.default_rng([seed, 0])
    clips = [(category, f"{clip + 1:04d}") for category in classes for clip in range(clips_per_class)]
    subjects: dict[str, str] = {}
    for group, prefix in ((True, "dancer"), (False, "martial_artist")):
        group_clips = [c for c in clips if (c[0] in DANCE_CLASSES) == group]
        if not group_clips:
            continue
        n_subjects = max(2, math.ceil(0.75 * len(group_clips)))
        order = [i % n_subjects for i in range(len(group_clips))]
        order = [order[i] for i in rng.permutation(len(order))]
        for (category, clip_id), index in zip(group_clips, order):
            subjects[f"{category}/{clip_id}"] = f"{prefix}_{index + 1:03d}"
    (out / "subjects.json").write_text(json.dumps(subjects, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    counts = Counter()
    records = Counter()
    bar = tqdm(total=len(clips), desc="sample clips", unit="clip", disable=not progress)
    for class_index, category in enumerate(classes):
        for clip_index in range(clips_per_class):
            clip_id = f"{clip_index + 1:04d}"
            written = _write_clip(out, category, clip_id, [seed, 1, class_index, clip_index], frames_per_clip,
                                  image_size)
            counts.update(written)
            bar.update()
    bar.close()
    records.update({"normal": counts["normal"], "foot": counts["foot"], "hand": counts["hand"]})
    label_files = {"normal": counts["normal"], "foot": counts["foot"], "hand": counts["hand"]}
    expected_rejects: Counter = Counter()
    expected_filter: Counter = Counter()
    bad: list[dict] = []
    images = counts["images"]
    if include_bad_records:
        extra = _write_bad_records(out, classes, subjects, [seed, 2], image_size)
        for subset, n in extra["label_files"].items():
            label_files[subset] += n
        for subset, n in extra["records"].items():
            records[subset] += n
        images += extra["images"]
        expected_rejects.update(extra["rejects"])
        expected_filter.update(extra["filter"])
        bad = extra["bad"]
    logger.info("wrote a sample pipeline output to %s: %d images, %s label files", out, images, label_files)
    return SampleSummary(
        root=str(out), seed=seed, classes=classes, num_clips=len(clips), num_subjects=len(set(subjects.values())),
        num_images=images, label_files=label_files, expected_records=dict(records),
        expected_rejects=dict(sorted(expected_rejects.items())), expected_filter=dict(sorted(expected_filter.items())),
        bad_records=bad,
    )


def _new_person(rng: np.random.Generator, category: str, slot: int, n_people: int, size) -> _Person:
    width, height = size
    figure = height * (0.62 if n_people == 1 else 0.5) * rng.uniform(0.9, 1.05)
    x = width * ((0.5 if n_people == 1 else (0.3, 0.7)[slot]) + rng.uniform(-0.06, 0.06))
    palette = rng.integers(30, 230, (3, 3))
    betas = np.clip(rng.normal(0.0, 0.7, NUM_BETAS), -2.5, 2.5).astype(np.float32)
    return _Person(root_x=x, hip_y=height * 0.52 + figure * 0.02, height=figure,
                   colors=tuple(tuple(int(c) for c in color) for color in palette),
                   phase=rng.uniform(0, 2 * math.pi), style=_style_for(category, rng), betas=betas)


def _person_ids(category: str, n: int) -> list[int]:
    """The authors' person ids: 10000000, 10000001... for dance, 1, 2... for martial arts."""
    base = 10_000_000 if category in DANCE_CLASSES else 1
    return [base + i for i in range(n)]


def _frame_people(rng, people, frame, size):
    """Keypoints (133,3) of every person present in ``frame``, with confidences; off-image points get 0."""
    width, height = size
    out = []
    for slot, person in enumerate(people):
        if slot > 0 and rng.random() < 0.15:
            continue  # the second dancer left the frame
        xy = _skeleton(person, frame, rng)
        conf = _confidences(rng)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
        conf[~inside] = 0.0
        out.append((slot, person, np.concatenate([xy, conf[:, None]], axis=1).astype(np.float32)))
    return out


def _write_clip(out: Path, category: str, clip_id: str, seed, frames: int, size) -> Counter:
    rng = np.random.default_rng(seed)
    n_people = 2 if rng.random() < 0.35 else 1
    people = [_new_person(rng, category, slot, n_people, size) for slot in range(n_people)]
    pids = _person_ids(category, n_people)
    fmt = "png" if rng.random() < 0.1 else "jpeg"
    ext = ".png" if fmt == "png" else str(rng.choice([".jpeg", ".jpg"], p=[0.8, 0.2]))
    dirs = {subset: out / subset / category / clip_id for subset in ("normal", "foot", "hand")}
    dirs["normal"].mkdir(parents=True)
    written = Counter()
    for frame in range(frames):
        image = _background(size, rng)
        draw = ImageDraw.Draw(image)
        present = _frame_people(rng, people, frame, size)
        for slot, person, kp133 in present:
            _draw(draw, kp133, person)
        (dirs["normal"] / f"{frame:06d}{ext}").write_bytes(_encode(image, fmt))
        written["images"] += 1
        for slot, person, kp133 in present:
            pid = pids[slot]
            raw = _label_dict(kp133, _smpl_pose(rng, person.style["lean"]), person.betas, rng)
            name = f"{frame:06d}_{pid}.pyd"
            _write_pickle(dirs["normal"] / name, [raw] if rng.random() < 0.2 else raw)
            written["normal"] += 1
            # Every clip has Foot samples (frame 0 always) and Hand samples (the last frame always).
            for subset, chance, always in (("foot", 0.45, frame == 0), ("hand", 0.35, frame == frames - 1)):
                if always or rng.random() < chance:
                    dirs[subset].mkdir(parents=True, exist_ok=True)
                    _write_pickle(dirs[subset] / name, _optimized(raw, subset, rng))
                    written[subset] += 1
    return written


def _write_bad_records(out: Path, classes, subjects, seed, size) -> dict:
    """One deliberately bad record per reader reject reason, plus three records the filters act on.

    They live in extra frames (>= 000800) of the first clip of a non-P2 class, so the P2 classes stay clean.
    """
    rng = np.random.default_rng(seed)
    host = next((c for c in classes if c not in P2_CLASSES), classes[0])
    clip_id = "0001"
    normal = out / "normal" / host / clip_id
    normal.mkdir(parents=True, exist_ok=True)
    pid = _person_ids(host, 1)[0]
    person = _new_person(rng, host, 0, 1, size)
    bad: list[dict] = []
    rejects: Counter = Counter()
    filt: Counter = Counter()
    result = {"label_files": Counter(), "records": Counter(), "images": 0}

    def frame(index: int, with_image=True, fmt_ext=".jpeg"):
        image = _background(size, rng)
        kp133 = _frame_people(rng, [person], index, size)[0][2]
        _draw(ImageDraw.Draw(image), kp133, person)
        data = _encode(image, "jpeg")
        if with_image:
            (normal / f"{index:06d}{fmt_ext}").write_bytes(data)
            result["images"] += 1
        return kp133, data

    def label(index: int, value, reason: str | None, name: str | None = None, raw_bytes: bytes | None = None):
        path = normal / (name or f"{index:06d}_{pid}.pyd")
        if raw_bytes is not None:
            path.write_bytes(raw_bytes)
        else:
            _write_pickle(path, value)
        result["label_files"]["normal"] += 1
        rel = str(path.relative_to(out))
        if reason is None:
            result["records"]["normal"] += 1
        else:
            rejects[reason] += 1
            bad.append({"path": rel, "reason": reason})

    def good(kp133):
        return _label_dict(kp133, _smpl_pose(rng, 0.0), person.betas, rng)

    # Reader rejects
    kp, data = frame(901, with_image=False)
    (normal / "000901.jpeg").write_bytes(data[: int(len(data) * 0.6)])  # truncated JPEG
    result["images"] += 1
    label(901, good(kp), "unreadable_image")
    kp, _ = frame(902)
    nan_label = good(kp)
    nan_label["keypoints_2d"] = nan_label["keypoints_2d"].copy()
    nan_label["keypoints_2d"][3, 0] = np.nan
    label(902, nan_label, "non_finite")
    kp, _ = frame(903)
    label(903, {**good(kp), "keypoints_2d": good(kp)["keypoints_2d"][:40]}, "wrong_shape")
    kp, _ = frame(904, with_image=False)
    label(904, good(kp), "missing_image")
    frame(905)  # an image without a label
    rejects["missing_label"] += 1
    bad.append({"path": f"normal/{host}/{clip_id}/000905.jpeg", "reason": "missing_label"})
    kp, _ = frame(906)
    label(906, None, "unsafe_pickle", raw_bytes=MALICIOUS_PICKLE)
    kp, _ = frame(907)
    label(907, {**good(kp), "track_score": np.float32(0.9)}, "unknown_keys")
    # duplicate id: 908.jpeg + 908_<pid>.pyd claim the sample id of 000908.jpeg + 000908_<pid>.pyd
    kp, data = frame(908)
    label(908, good(kp), None)
    (normal / "908.jpeg").write_bytes(data)
    result["images"] += 1
    label(908, good(kp), "duplicate_sample_id", name=f"908_{pid}.pyd")
    # an optimized Foot label whose raw label does not exist
    foot = out / "foot" / host / clip_id
    foot.mkdir(parents=True, exist_ok=True)
    kp, _ = frame(950, with_image=False)
    _write_pickle(foot / f"000950_{pid}.pyd", _optimized(good(kp), "foot", rng))
    result["label_files"]["foot"] += 1
    rejects["missing_raw_label"] += 1
    bad.append({"path": f"foot/{host}/{clip_id}/000950_{pid}.pyd", "reason": "missing_raw_label"})

    # Valid records that the filters act on (with the paper's 0.5 threshold)
    kp, _ = frame(801)
    few = good(kp)
    few["keypoints_2d"] = few["keypoints_2d"].copy()
    few["keypoints_2d"][4:, 2] = 0.0  # only 4 keypoints left
    label(801, few, None)
    filt["few_keypoints"] += 1
    kp, _ = frame(802)
    wide = good(kp)
    wide["betas"] = np.asarray(wide["betas"]).reshape(-1).copy()
    wide["betas"][2] = 4.5
    label(802, wide, None)
    filt["betas_out_of_range"] += 1
    kp, _ = frame(803)
    broken = good(kp)
    broken["body_pose"] = broken["body_pose"].copy()
    broken["body_pose"][3 * 4] = -1.2  # left knee bent forwards by 69 degrees
    label(803, broken, None)
    filt["implausible_pose"] += 1
    result.update(rejects=rejects, filter=filt, bad=bad)
    return result
