"""Ingest: raw per-clip pipeline outputs (frames, person tracks, whole-body keypoints, SMPL predictions) ->
the authors' label tree.

Input layout (``RAW``; see ``docs/pipeline.md`` for every accepted file form)::

    RAW/<class>/<clip_id>/frames/<number>.jpg|jpeg|png   video frames; frame index = number - frame_file_start
    RAW/<class>/<clip_id>/tracks.json|tracks.jsonl|tracks.npz|labels/|tracks.txt   person tracks
    RAW/<class>/<clip_id>/keypoints.json                 MMPose whole-body predictions
    RAW/<class>/<clip_id>/smpl.npz|smpl.pkl              HMR 2.0 SMPL predictions

Output: ``<normal_root>/<class>/<clip_id>/<frame:06d>.<ext>`` (the frame image, linked or copied) and
``<frame:06d>_<person>.pyd`` per kept person, ``person`` being the track id.

Per frame, in this order (every dropped record is counted with its reason, see :data:`DROP_REASONS`):

1. detections of other classes than ``person_class``, below ``min_detection_confidence``, with a longest box
   side under ``min_box_size`` px, or on a frame with no image are dropped;
2. two boxes with the same track id on one frame: the more confident one is kept;
3. a frame with more than ``max_people`` remaining people is *crowded* and dropped whole (the paper's
   filtering of overly crowded scenes); a frame with no remaining people is dropped (no people);
4. a detection without a track id gets a fresh person id (larger than every track id of the clip) and
   counts as a track of one frame; tracks seen on fewer than ``min_track_frames`` frames are dropped;
5. keypoint instances and SMPL predictions are matched one-to-one to the remaining boxes by IoU >=
   ``match_iou`` (greedy by IoU; an instance without a box uses the box of its keypoints scoring >=
   ``keypoint_box_min_score``); SMPL predictions that carry a ``track_id`` are matched by id, and those
   given by HMR 2.0's crop centre by centre distance <= ``match_center_distance`` x the box's longest side;
6. a person with both keypoints and an SMPL label is written; the rest are dropped.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.writers import write_label
from .association import box_iou, greedy_match, keypoint_box
from .config import IngestConfig
from .hmr2_predictions import SMPLPrediction, find_smpl_file, read_hmr2_predictions
from .labels import make_label, place_image
from .mmpose_json import KEYPOINTS_FILE_NAME, KeypointInstance, read_mmpose_json
from .tracks import Detection, find_tracks_file, read_tracks

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
FRAMES_DIR_NAME = "frames"

# Why a record did not make it into the label tree (keys of the report's "dropped" counters).
DROP_REASONS = {
    "not_person": "detection of another class than the person class",
    "low_detection_confidence": "detection confidence below min_detection_confidence",
    "small_box": "longest box side below min_box_size px",
    "missing_frame_image": "no frame image for this frame index",
    "duplicate_track_id": "a more confident box on the same frame has the same track id",
    "crowded_frame": "more than max_people people on the frame",
    "short_track": "track seen on fewer than min_track_frames frames",
    "no_keypoints": "no keypoint instance matched the person box",
    "no_smpl_label": "no SMPL prediction matched the person box",
    "no_person_detected": "keypoints/SMPL on a frame without any person detection",
    "no_matching_person": "keypoints/SMPL that matched no kept person box",
    "person_without_keypoints": "SMPL prediction matched a person that has no keypoints",
    "person_without_smpl_label": "keypoint instance matched a person that has no SMPL prediction",
}
# Why a frame image was not written (keys of the report's frames.dropped counter).
FRAME_DROP_REASONS = {
    "no_person_detected": "no person detection on the frame",
    "crowded_frame": "more than max_people people on the frame",
    "no_kept_person": "every detection of the frame was dropped by the filters",
    "no_complete_person": "no person on the frame had both keypoints and an SMPL label",
}
RECORD_KINDS = ("detections", "keypoint_instances", "smpl_predictions")


@dataclass(frozen=True)
class ClipInput:
    category: str
    clip_id: str
    directory: Path

    @property
    def name(self) -> str:
        return f"{self.category}/{self.clip_id}"


@dataclass
class Tally:
    """Counts of one kind of input record: input = written + sum(dropped)."""

    input: int = 0
    written: int = 0
    dropped: Counter = field(default_factory=Counter)

    def balanced(self) -> bool:
        return self.input == self.written + sum(self.dropped.values())

    def to_json(self) -> dict:
        return {"input": self.input, "written": self.written, "dropped": dict(sorted(self.dropped.items()))}

    def add(self, other: Tally) -> None:
        self.input += other.input
        self.written += other.written
        self.dropped.update(other.dropped)

    @classmethod
    def from_json(cls, data: dict) -> Tally:
        return cls(data["input"], data["written"], Counter(data["dropped"]))


@dataclass
class ClipResult:
    clip: str
    frames: Tally = field(default_factory=Tally)
    records: dict = field(default_factory=lambda: {kind: Tally() for kind in RECORD_KINDS})
    dropped: list = field(default_factory=list)  # one dict per dropped record (source, kind, reason)

    def drop(self, kind: str, source: str, reason: str, frame: int | None = None) -> None:
        self.records[kind].dropped[reason] += 1
        self.dropped.append(
            {"clip": self.clip, "kind": kind, "source": source, "frame": frame, "reason": reason}
        )

    def to_json(self) -> dict:
        return {
            "clip": self.clip,
            "frames": self.frames.to_json(),
            **{kind: tally.to_json() for kind, tally in self.records.items()},
        }


def discover_clips(raw_root: Path) -> list[ClipInput]:
    """Every ``<class>/<clip_id>/`` folder of ``raw_root`` holding a ``frames/`` folder, sorted."""
    raw_root = Path(raw_root)
    if not raw_root.is_dir():
        raise FileNotFoundError(f"{raw_root}: raw pipeline folder not found")
    clips = [
        ClipInput(frames.parent.parent.name, frames.parent.name, frames.parent)
        for frames in sorted(raw_root.glob(f"*/*/{FRAMES_DIR_NAME}"))
        if frames.is_dir()
    ]
    if not clips:
        raise ValueError(
            f"{raw_root}: no clips found (expected <class>/<clip_id>/{FRAMES_DIR_NAME}/ folders)"
        )
    return clips


_DIGITS = re.compile(r"^(\d+)$")


def index_frames(frames_dir: Path, frame_file_start: int) -> dict[int, Path]:
    """0-based frame index -> image file (file stems are frame numbers starting at ``frame_file_start``)."""
    frames = {}
    for path in sorted(frames_dir.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        match = _DIGITS.match(path.stem)
        if match is None:
            raise ValueError(f"{path}: frame images must be named by their frame number (e.g. 000001.jpg)")
        index = int(match.group(1)) - frame_file_start
        if index < 0:
            raise ValueError(f"{path}: frame number below frame_file_start={frame_file_start}")
        if index in frames:
            raise ValueError(f"{path}: two images for frame {index} ({frames[index].name})")
        frames[index] = path
    return frames


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def ingest_clip(clip: ClipInput, normal_root: Path, config: IngestConfig) -> ClipResult:
    """Process one clip (see module docstring); writes its labels and images, returns its accounting."""
    result = ClipResult(clip.name)
    frames = index_frames(clip.directory / FRAMES_DIR_NAME, config.frame_file_start)
    result.frames.input = len(frames)
    tracks_path = find_tracks_file(clip.directory)
    image_size = _image_size(next(iter(frames.values()))) if frames and tracks_path.is_dir() else None
    detections = read_tracks(tracks_path, image_size)
    keypoints_path = clip.directory / KEYPOINTS_FILE_NAME
    if not keypoints_path.is_file():
        raise FileNotFoundError(f"{keypoints_path}: MMPose keypoints not found")
    instances = read_mmpose_json(keypoints_path)
    predictions = read_hmr2_predictions(find_smpl_file(clip.directory))
    for kind, records in zip(RECORD_KINDS, (detections, instances, predictions)):
        result.records[kind].input = len(records)

    # 1. per-detection filters
    kept: list[Detection] = []
    for det in detections:
        side = max(det.box[2] - det.box[0], det.box[3] - det.box[1])
        if det.class_id != config.person_class:
            reason = "not_person"
        elif det.confidence < config.min_detection_confidence:
            reason = "low_detection_confidence"
        elif side < config.min_box_size:
            reason = "small_box"
        elif det.frame not in frames:
            reason = "missing_frame_image"
        else:
            kept.append(det)
            continue
        result.drop("detections", det.source, reason, det.frame)
    frames_with_detections = {det.frame for det in detections}

    # 2. duplicate track ids, 3. crowded frames
    by_frame: dict[int, list[Detection]] = defaultdict(list)
    for det in kept:
        by_frame[det.frame].append(det)
    crowded_frames = set()
    for frame in sorted(by_frame):
        people = sorted(by_frame[frame], key=lambda d: -d.confidence)
        seen, unique = set(), []
        for det in people:
            if det.track_id is not None and det.track_id in seen:
                result.drop("detections", det.source, "duplicate_track_id", frame)
                continue
            if det.track_id is not None:
                seen.add(det.track_id)
            unique.append(det)
        if len(unique) > config.max_people:
            crowded_frames.add(frame)
            for det in unique:
                result.drop("detections", det.source, "crowded_frame", frame)
            unique = []
        by_frame[frame] = unique

    # 4. person ids for untracked boxes, short tracks
    next_id = 1 + max((det.track_id for det in detections if det.track_id is not None), default=-1)
    person_of: dict[int, int] = {}  # id(detection) -> person id
    track_frames: Counter = Counter()
    for frame in sorted(by_frame):
        for det in by_frame[frame]:
            if det.track_id is None:
                person_of[id(det)] = next_id
                next_id += 1
            else:
                person_of[id(det)] = det.track_id
            track_frames[person_of[id(det)]] += 1
    for frame in sorted(by_frame):
        people = []
        for det in by_frame[frame]:
            if track_frames[person_of[id(det)]] < config.min_track_frames:
                result.drop("detections", det.source, "short_track", frame)
            else:
                people.append(det)
        by_frame[frame] = people

    # 5. association, 6. writing
    instances_by_frame: dict[int, list[KeypointInstance]] = defaultdict(list)
    for inst in instances:
        instances_by_frame[inst.frame].append(inst)
    predictions_by_frame: dict[int, list[SMPLPrediction]] = defaultdict(list)
    for pred in predictions:
        predictions_by_frame[pred.frame].append(pred)

    clip_out = Path(normal_root) / clip.category / clip.clip_id
    all_frames = sorted(set(frames) | set(instances_by_frame) | set(predictions_by_frame))
    for frame in all_frames:
        people = by_frame.get(frame, [])
        frame_instances = instances_by_frame.get(frame, [])
        frame_predictions = predictions_by_frame.get(frame, [])
        if not people:
            if frame not in frames:
                reason = "missing_frame_image"
            elif frame in crowded_frames:
                reason = "crowded_frame"
            elif frame not in frames_with_detections:
                reason = "no_person_detected"
            else:
                reason = "no_matching_person"
            for inst in frame_instances:
                result.drop("keypoint_instances", inst.source, reason, frame)
            for pred in frame_predictions:
                result.drop("smpl_predictions", pred.source, reason, frame)
            if frame in frames:
                result.frames.dropped[reason if reason != "no_matching_person" else "no_kept_person"] += 1
            continue

        boxes = np.stack([det.box for det in people])
        instance_of = _match_instances(frame_instances, boxes, config)
        prediction_of = _match_predictions(frame_predictions, people, boxes, person_of, config)
        written_any = False
        for p, det in enumerate(people):
            inst, pred = instance_of.get(p), prediction_of.get(p)
            if inst is None or pred is None:
                result.drop(
                    "detections", det.source, "no_keypoints" if inst is None else "no_smpl_label", frame
                )
                if inst is not None:
                    result.drop("keypoint_instances", inst.source, "person_without_smpl_label", frame)
                if pred is not None:
                    result.drop("smpl_predictions", pred.source, "person_without_keypoints", frame)
                continue
            label = make_label(
                inst.keypoints,
                pred.global_orient,
                pred.body_pose,
                pred.betas,
                det.box,
                det.confidence,
                config.box_scale_factor,
            )
            write_label(clip_out / f"{frame:06d}_{person_of[id(det)]}.pyd", label)
            for kind in RECORD_KINDS:
                result.records[kind].written += 1
            written_any = True
        matched_instances = {id(inst) for inst in instance_of.values()}
        for inst in frame_instances:
            if id(inst) not in matched_instances:
                result.drop("keypoint_instances", inst.source, "no_matching_person", frame)
        matched_predictions = {id(pred) for pred in prediction_of.values()}
        for pred in frame_predictions:
            if id(pred) not in matched_predictions:
                result.drop("smpl_predictions", pred.source, "no_matching_person", frame)
        if written_any:
            image = frames[frame]
            place_image(image, clip_out / f"{frame:06d}{image.suffix.lower()}", config.image_mode)
            result.frames.written += 1
        else:
            result.frames.dropped["no_complete_person"] += 1
    for kind, tally in [("frames", result.frames)] + list(result.records.items()):
        if not tally.balanced():  # a bug, never bad input: fail loudly
            raise AssertionError(f"{clip.name}: {kind} accounting does not add up: {tally.to_json()}")
    return result


def _match_instances(
    instances: list[KeypointInstance], boxes: np.ndarray, config: IngestConfig
) -> dict[int, KeypointInstance]:
    if not instances:
        return {}
    inst_boxes = []
    for inst in instances:
        box = (
            inst.box if inst.box is not None else keypoint_box(inst.keypoints, config.keypoint_box_min_score)
        )
        inst_boxes.append(box if box is not None else np.zeros(4, dtype=np.float32))
    iou = box_iou(boxes, np.stack(inst_boxes))
    return {p: instances[i] for p, i in greedy_match(iou, config.match_iou)}


def _match_predictions(
    predictions: list[SMPLPrediction],
    people: list[Detection],
    boxes: np.ndarray,
    person_of: dict,
    config: IngestConfig,
) -> dict[int, SMPLPrediction]:
    matches: dict[int, SMPLPrediction] = {}
    by_track = [pred for pred in predictions if pred.track_id is not None]
    if by_track:
        index_of_person = {person_of[id(det)]: p for p, det in enumerate(people)}
        for pred in by_track:
            p = index_of_person.get(pred.track_id)
            if p is not None and p not in matches:
                matches[p] = pred
    by_box = [pred for pred in predictions if pred.track_id is None and pred.box is not None]
    free = [p for p in range(len(people)) if p not in matches]
    if by_box and free:
        iou = box_iou(boxes[free], np.stack([pred.box for pred in by_box]))
        for r, c in greedy_match(iou, config.match_iou):
            matches[free[r]] = by_box[c]
    by_centre = [
        pred for pred in predictions if pred.track_id is None and pred.box is None and pred.center is not None
    ]
    free = [p for p in range(len(people)) if p not in matches]
    if by_centre and free:
        centres = 0.5 * (boxes[free, :2] + boxes[free, 2:])
        sides = (boxes[free, 2:] - boxes[free, :2]).max(1)
        distance = np.linalg.norm(
            centres[:, None] - np.stack([pred.center for pred in by_centre])[None], axis=-1
        )
        closeness = 1.0 - distance / (sides[:, None] * config.match_center_distance)
        for r, c in greedy_match(closeness, 0.0):
            matches[free[r]] = by_centre[c]
    return matches


def write_clip_reports(results: list[ClipResult], report_path: Path, dropped_path: Path) -> None:
    """One task's accounting: a JSON with per-clip tallies and a JSONL of every dropped record."""
    report_path.parent.mkdir(parents=True, exist_ok=True)
    with open(dropped_path, "w") as f:
        for result in results:
            f.writelines(json.dumps(row) + "\n" for row in result.dropped)
    report_path.write_text(json.dumps([r.to_json() for r in results], indent=1))


def merge_ingest_reports(report_paths: list[Path], config: IngestConfig) -> dict:
    """Sum the per-task reports into the ingest report (raises if a clip is missing or counts disagree)."""
    totals = {"frames": Tally(), **{kind: Tally() for kind in RECORD_KINDS}}
    clips = []
    for path in report_paths:
        for clip in json.loads(Path(path).read_text()):
            clips.append(clip)
            for key, tally in totals.items():
                tally.add(Tally.from_json(clip[key]))
    for key, tally in totals.items():
        if not tally.balanced():
            raise AssertionError(f"ingest accounting does not add up for {key}: {tally.to_json()}")
    return {
        "config": asdict(config),
        "drop_reasons": DROP_REASONS,
        "frame_drop_reasons": FRAME_DROP_REASONS,
        "clips": len(clips),
        **{key: tally.to_json() for key, tally in totals.items()},
        "per_clip": sorted(clips, key=lambda c: c["clip"]),
    }
