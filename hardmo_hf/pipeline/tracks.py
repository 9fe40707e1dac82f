"""Readers for person tracks: ultralytics YOLO results and MOT-style text.

Every reader returns a list of :class:`Detection` with **0-based** frame indices (frame k = the k-th decoded
frame of the video, the k-th file of the clip's ``frames/`` folder) and boxes as ``x1, y1, x2, y2`` in
full-image pixels. Accepted files (one per clip, found by name; see ``docs/pipeline.md``):

``tracks.json`` / ``tracks.jsonl``: ultralytics results, one entry per frame (list index / line number =
    0-based frame). An entry is either the rows of ``results.boxes.data.tolist()``, i.e.
    ``[x1, y1, x2, y2, track_id, conf, cls]`` (7 numbers, tracked) or ``[x1, y1, x2, y2, conf, cls]``
    (6 numbers: the tracker had no id for that frame), or the list of dicts of ``results.summary()`` /
    ``results.to_json()`` (``{"class": 0, "confidence": .9, "box": {"x1":..}, "track_id": 3}``).
``tracks.npz``: ``frame_index`` (N,) 0-based and ``boxes`` (N,6) or (N,7) rows as above; in a (N,7) array a
    NaN or negative track id means "no id".
``labels/``: ultralytics ``save_txt=True, save_conf=True`` output for a video: one ``<name>_<frame>.txt`` per
    frame with **1-based** frame numbers (ultralytics counts video frames from 1) and rows
    ``cls xc yc w h conf [track_id]`` normalized to the image size.
``tracks.txt``: MOT challenge text, ``frame, id, left, top, width, height, conf[, x, y, z]`` with **1-based**
    frames, boxes in px as top-left + size, ``id = -1`` for an untracked detection; every row is a person.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import COCO_PERSON_CLASS

TRACK_FILE_NAMES = ("tracks.json", "tracks.jsonl", "tracks.npz", "labels", "tracks.txt")


@dataclass
class Detection:
    """One box from the person detector/tracker."""

    frame: int  # 0-based frame index
    box: np.ndarray  # (4,) x1, y1, x2, y2 px
    confidence: float
    class_id: int
    track_id: int | None  # None: the tracker gave no id on this frame
    source: str  # file and position, for reports


def find_tracks_file(clip_dir: Path) -> Path:
    """The clip's track file (exactly one of :data:`TRACK_FILE_NAMES`)."""
    found = [clip_dir / name for name in TRACK_FILE_NAMES if (clip_dir / name).exists()]
    if len(found) > 1:
        raise ValueError(f"{clip_dir}: several track files ({', '.join(p.name for p in found)}): keep one")
    if found:
        return found[0]
    raise FileNotFoundError(
        f"{clip_dir}: no person tracks found (expected one of {', '.join(TRACK_FILE_NAMES)})"
    )


def read_tracks(path: Path, image_size: tuple[int, int] | None = None) -> list[Detection]:
    """Read a track file by its name (see module docstring). ``image_size`` (width, height) in px is needed
    for the normalized ultralytics ``labels/`` text."""
    path = Path(path)
    if path.is_dir():
        if image_size is None:
            raise ValueError(f"{path}: normalized ultralytics labels need the frame size (no frames found)")
        return read_ultralytics_txt(path, image_size)
    if path.suffix == ".npz":
        return read_ultralytics_npz(path)
    if path.suffix in (".json", ".jsonl"):
        return read_ultralytics_json(path)
    if path.suffix == ".txt":
        return read_mot(path)
    raise ValueError(
        f"{path}: unknown track file type (expected .json, .jsonl, .npz, .txt or a labels/ folder)"
    )


def _row_to_detection(row, frame: int, source: str) -> Detection:
    values = [float(v) for v in row]
    if len(values) == 7:
        x1, y1, x2, y2, track, conf, cls = values
        track_id = None if not np.isfinite(track) or track < 0 else round(track)
    elif len(values) == 6:
        x1, y1, x2, y2, conf, cls = values
        track_id = None
    else:
        raise ValueError(
            f"{source}: a box row must have 6 ([x1,y1,x2,y2,conf,cls]) or 7 ([x1,y1,x2,y2,id,conf,cls]) "
            f"numbers, got {len(values)}"
        )
    box = np.array([x1, y1, x2, y2], dtype=np.float32)
    if not (np.all(np.isfinite(box)) and np.isfinite(conf)):
        raise ValueError(f"{source}: non-finite box or confidence {values}")
    return Detection(frame, box, conf, round(cls), track_id, source)


def _summary_to_detection(item: dict, frame: int, source: str) -> Detection:
    try:
        b = item["box"]
        box = [b["x1"], b["y1"], b["x2"], b["y2"]]
        conf, cls = item["confidence"], item["class"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{source}: an ultralytics summary dict needs box.x1..y2, confidence, class ({exc})")
    track = item.get("track_id")
    return _row_to_detection([*box, -1 if track is None else track, conf, cls], frame, source)


def _frame_entry(entry, frame: int, source: str) -> list[Detection]:
    if entry is None:
        return []
    if not isinstance(entry, list):
        raise ValueError(f"{source}: frame {frame} must be a list of boxes, got {type(entry).__name__}")
    detections = []
    for row_index, row in enumerate(entry):
        where = f"{source}[frame {frame}, box {row_index}]"
        if isinstance(row, dict):
            detections.append(_summary_to_detection(row, frame, where))
        elif isinstance(row, list):
            detections.append(_row_to_detection(row, frame, where))
        else:
            raise ValueError(
                f"{where}: expected a list of numbers or a summary dict, got {type(row).__name__}"
            )
    return detections


def read_ultralytics_json(path: Path) -> list[Detection]:
    """``tracks.json`` (a list over frames) or ``tracks.jsonl`` (one frame per line)."""
    text = path.read_text()
    try:
        if path.suffix == ".jsonl":
            frames = [json.loads(line) if line.strip() else [] for line in text.splitlines()]
        else:
            frames = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(frames, list):
        raise ValueError(f"{path}: expected a list with one entry per frame, got {type(frames).__name__}")
    detections = []
    for frame, entry in enumerate(frames):
        detections.extend(_frame_entry(entry, frame, str(path)))
    return detections


def read_ultralytics_npz(path: Path) -> list[Detection]:
    try:
        with np.load(path, allow_pickle=False) as data:
            frames, boxes = np.asarray(data["frame_index"]), np.asarray(data["boxes"], dtype=np.float64)
    except KeyError as exc:
        raise ValueError(f"{path}: needs arrays 'frame_index' (N,) and 'boxes' (N,6|7) ({exc})") from exc
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable npz ({exc})") from exc
    if boxes.ndim != 2 or boxes.shape[1] not in (6, 7) or frames.shape != (boxes.shape[0],):
        raise ValueError(
            f"{path}: 'boxes' must be (N,6) or (N,7) and 'frame_index' (N,), got {boxes.shape} and {frames.shape}"
        )
    return [
        _row_to_detection(row, int(frame), f"{path}[{i}]")
        for i, (frame, row) in enumerate(zip(frames, boxes))
    ]


_FRAME_NUMBER = re.compile(r"(\d+)$")


def read_ultralytics_txt(folder: Path, image_size: tuple[int, int]) -> list[Detection]:
    """ultralytics ``save_txt`` + ``save_conf`` folder for a video (1-based frame in the file name)."""
    width, height = image_size
    detections = []
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise ValueError(f"{folder}: no ultralytics .txt label files")
    for file in files:
        match = _FRAME_NUMBER.search(file.stem)
        if match is None:
            raise ValueError(f"{file}: file name must end in the frame number (<video>_<frame>.txt)")
        frame = int(match.group(1)) - 1
        if frame < 0:
            raise ValueError(f"{file}: ultralytics video frame numbers start at 1, got {match.group(1)}")
        for line_number, line in enumerate(file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{file}:{line_number}"
            try:
                values = [float(v) for v in line.split()]
            except ValueError as exc:
                raise ValueError(f"{where}: not a row of numbers ({exc})") from exc
            if len(values) not in (6, 7):
                raise ValueError(
                    f"{where}: expected 'cls xc yc w h conf [id]' (export with save_conf=True), "
                    f"got {len(values)} numbers"
                )
            cls, xc, yc, w, h, conf = values[:6]
            track = values[6] if len(values) == 7 else -1
            box = [(xc - w / 2) * width, (yc - h / 2) * height, (xc + w / 2) * width, (yc + h / 2) * height]
            detections.append(_row_to_detection([*box, track, conf, cls], frame, where))
    return detections


def read_mot(path: Path) -> list[Detection]:
    """MOT challenge text (1-based frames, tlwh px, id -1 = untracked)."""
    detections = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{line_number}"
        try:
            values = [float(v) for v in line.replace(",", " ").split()]
        except ValueError as exc:
            raise ValueError(f"{where}: not a row of numbers ({exc})") from exc
        if len(values) < 7:
            raise ValueError(
                f"{where}: MOT rows need frame,id,left,top,width,height,conf, got {len(values)} values"
            )
        frame, track, left, top, width, height, conf = values[:7]
        if frame < 1 or frame != int(frame):
            raise ValueError(f"{where}: MOT frame numbers are integers starting at 1, got {frame}")
        box = [left, top, left + width, top + height]
        detections.append(_row_to_detection([*box, track, conf, COCO_PERSON_CLASS], int(frame) - 1, where))
    return detections
