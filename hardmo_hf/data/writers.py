"""Write :class:`~hardmo_hf.data.record.PersonRecord` s in the three non-tree input formats.

For tests and benchmarks: readers are tested on small files these make, and the build benchmarks compare
streaming the built dataset against 4D-Humans webdataset tars of the same samples. Each writer is the
inverse of its reader (up to the documented conversions) and deterministic: same records, same bytes.

* :func:`write_label`: one ``.pyd`` label of the pipeline output format (validated, written atomically);
* :func:`write_webdataset`: tar shards ``<key>.jpg|png`` + ``<key>.data.pyd`` (key
  ``<category>/<clip_id>/<frame:06d>``), one key per frame with a list of person dicts;
* :func:`write_spin_npz`: one SPIN-style (``pose``/``shape``/``openpose``/``part``, scale box/200) or
  4D-Humans-style (``body_pose``/``betas``/``body_keypoints_2d``/``extra_keypoints_2d``, scale px) ``.npz``;
* :func:`write_humandata`: one MMHuman3D HumanData ``.npz`` (190-point keypoints, optionally compressed
  through the mask, 4- or 5-column ``bbox_xywh``, ``smpl`` dict).

``write_spin_npz`` and ``write_humandata`` also write each frame's image once under ``image_root`` as
``<category>/<clip_id>/<frame:06d>.jpg|png`` (the original bytes).
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..constants import (
    BBOX_SCALE_UNIT,
    HUMANDATA_INDEX,
    HUMANDATA_LABEL44_NAMES,
    HUMANDATA_WHOLEBODY133_NAMES,
    NUM_HUMANDATA_KEYPOINTS,
    WHOLEBODY_FINGERTIPS,
)
from .record import PersonRecord

__all__ = ["frame_key", "write_humandata", "write_label", "write_spin_npz", "write_webdataset"]

PICKLE_PROTOCOL = 4
_EXTENSION = {"jpeg": "jpg", "png": "png"}


def frame_key(record: PersonRecord) -> str:
    """``<category>/<clip_id>/<frame:06d>``: the webdataset key and the image path stem of a frame."""
    return f"{record.category}/{record.clip_id}/{record.frame_index:06d}"


def _frames(records: Iterable[PersonRecord]):
    """Group consecutive records of the same frame; a frame must not come back later."""
    done: set[str] = set()
    key, group = None, []
    for record in records:
        current = frame_key(record)
        if current != key:
            if group:
                yield key, group
            if current in done:
                raise ValueError(f"records of frame {current} are not consecutive (sort records by frame)")
            done.add(current)
            key, group = current, []
        group.append(record)
    if group:
        yield key, group


def _person_dict(record: PersonRecord) -> dict:
    """The 4D-Humans / HardMo person dict of a record (float32 arrays)."""
    pose = np.concatenate([_or_zeros(record.global_orient, 3), _or_zeros(record.body_pose, 69)])
    person = {
        "keypoints_2d": record.keypoints_2d.astype(np.float32),
        "hand_keypoints_2d": record.hand_keypoints_2d.astype(np.float32),
        "center": np.asarray(record.center, dtype=np.float32),
        "scale": np.float32(record.scale),
        "body_pose": pose.astype(np.float32),
        "betas": _or_zeros(record.betas, 10).astype(np.float32),
        "has_body_pose": np.float32(record.has_body_pose),
        "has_betas": np.float32(record.has_betas),
        "extra_info": {"person_id": int(record.person_id)},
    }
    if record.keypoints_3d is not None:
        person["keypoints_3d"] = record.keypoints_3d.astype(np.float32)
    if record.wholebody_133 is not None:
        person["wholebody_keypoints_2d"] = record.wholebody_133.astype(np.float32)
    return person


def write_label(path, label: dict) -> Path:
    """Write one label of ``docs/pipeline_output_format.md`` to ``path`` (``<frame>_<person>.pyd``).

    The label is first checked as the label-tree reader checks it (a ``ValueError`` names the problem), then
    pickled with numpy float32 arrays and written under a temporary name that is renamed when complete, so
    a killed writer never leaves a half-written label.
    """
    from .readers._common import RecordError, parse_person_label

    path = Path(path)
    try:
        parse_person_label(label)
    except RecordError as exc:
        raise ValueError(f"{path}: {exc}") from None
    clean = {key: np.asarray(value, dtype=np.float32) if isinstance(value, (np.ndarray, list, tuple)) else value
             for key, value in label.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(pickle.dumps(clean, protocol=PICKLE_PROTOCOL))
    os.replace(temporary, path)
    return path


def _or_zeros(value, size: int) -> np.ndarray:
    return np.zeros(size, dtype=np.float32) if value is None else np.asarray(value, dtype=np.float32).reshape(size)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def write_webdataset(records: Iterable[PersonRecord], out_dir, frames_per_shard: int = 1000) -> list[Path]:
    """Write 4D-Humans tar shards ``000000.tar``, ``000001.tar``... into ``out_dir``; returns their paths.

    ``records`` must come grouped by frame (the readers yield them so). Person ids are kept in
    ``extra_info["person_id"]``, which the webdataset reader reads back.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    tar = None
    count = 0
    try:
        for key, people in _frames(records):
            if tar is None or count == frames_per_shard:
                if tar is not None:
                    tar.close()
                paths.append(out / f"{len(paths):06d}.tar")
                tar = tarfile.open(paths[-1], "w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 (closed below)
                count = 0
            first = people[0]
            _add(tar, f"{key}.{_EXTENSION[first.image_format]}", first.image_bytes)
            _add(tar, f"{key}.data.pyd", pickle.dumps([_person_dict(p) for p in people], protocol=PICKLE_PROTOCOL))
            count += 1
    finally:
        if tar is not None:
            tar.close()
    return paths


def _write_images(records: list[PersonRecord], image_root: Path) -> list[str]:
    """Write each frame's image once; returns every record's image path relative to ``image_root``."""
    names = []
    for record in records:
        name = f"{frame_key(record)}.{_EXTENSION[record.image_format]}"
        path = image_root / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(record.image_bytes)
        names.append(name)
    return names


def _stack(records, attribute: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.stack([np.zeros(shape, np.float32) if getattr(r, attribute) is None
                     else np.asarray(getattr(r, attribute), dtype=np.float32).reshape(shape) for r in records])


def write_spin_npz(records: Iterable[PersonRecord], npz_path, image_root=None, style: str = "spin",
                   compressed: bool = False) -> Path:
    """Write one annotation ``.npz`` (+ images). ``style="spin"``: scale box/200, SPIN key names;
    ``style="4dhumans"``: scale in px, 4D-Humans key names. Person ids go to ``personid``."""
    if style not in ("spin", "4dhumans"):
        raise ValueError(f"style must be 'spin' or '4dhumans', got {style!r}")
    records = list(records)
    npz_path = Path(npz_path)
    image_root = Path(image_root) if image_root is not None else npz_path.parent
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    keypoints = _stack(records, "keypoints_2d", (44, 3))
    pose = np.concatenate([_stack(records, "global_orient", (3,)), _stack(records, "body_pose", (69,))], axis=1)
    scale = np.array([r.scale for r in records], dtype=np.float32)
    arrays = {
        "imgname": np.array(_write_images(records, image_root)),
        "center": np.stack([np.asarray(r.center, dtype=np.float32) for r in records]),
        "hand_keypoints_2d": _stack(records, "hand_keypoints_2d", (10, 3)),
        "personid": np.array([r.person_id for r in records], dtype=np.int64),
    }
    if style == "spin":
        part = np.zeros((len(records), 24, 3), dtype=np.float32)
        part[:, :19] = keypoints[:, 25:]
        part[:, 19:] = keypoints[:, [0, 16, 15, 18, 17]]  # nose, left eye, right eye, left ear, right ear
        has_smpl = np.array([r.has_body_pose and r.has_betas for r in records], dtype=np.float32)
        arrays.update(scale=scale, openpose=keypoints[:, :25], part=part, pose=pose,
                      shape=_stack(records, "betas", (10,)), has_smpl=has_smpl)
        if any(r.keypoints_3d is not None for r in records):
            kp3d = _stack(records, "keypoints_3d", (44, 4))
            s = np.zeros((len(records), 24, 4), dtype=np.float32)
            s[:, :19] = kp3d[:, 25:]
            arrays["S"] = s
    else:
        arrays.update(
            scale=scale * BBOX_SCALE_UNIT, body_keypoints_2d=keypoints[:, :25], extra_keypoints_2d=keypoints[:, 25:],
            body_pose=pose, betas=_stack(records, "betas", (10,)),
            has_body_pose=np.array([r.has_body_pose for r in records], dtype=np.float32),
            has_betas=np.array([r.has_betas for r in records], dtype=np.float32),
        )
        if any(r.keypoints_3d is not None for r in records):
            kp3d = _stack(records, "keypoints_3d", (44, 4))
            arrays.update(body_keypoints_3d=kp3d[:, :25], extra_keypoints_3d=kp3d[:, 25:])
    (np.savez_compressed if compressed else np.savez)(npz_path, **arrays)
    return npz_path


def write_humandata(records: Iterable[PersonRecord], npz_path, image_root=None, compress_keypoints: bool = True,
                    bbox_columns: int = 5) -> Path:
    """Write one MMHuman3D HumanData ``.npz`` (+ images), as ``HumanData.dump`` does (``savez_compressed``).

    Keypoints go to the BODY_25 ``*_openpose`` points, the J19 points, the fingertip points and, when a record
    has ``wholebody_133``, the COCO-WholeBody points (the hand roots are not stored: HumanData has none).
    """
    if bbox_columns not in (4, 5):
        raise ValueError(f"bbox_columns must be 4 or 5, got {bbox_columns}")
    records = list(records)
    npz_path = Path(npz_path)
    image_root = Path(image_root) if image_root is not None else npz_path.parent
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    n = len(records)
    kp190 = np.zeros((n, NUM_HUMANDATA_KEYPOINTS, 3), dtype=np.float32)
    mask = np.zeros(NUM_HUMANDATA_KEYPOINTS, dtype=np.uint8)
    label44 = [HUMANDATA_INDEX[name] for name in HUMANDATA_LABEL44_NAMES]
    kp190[:, label44] = _stack(records, "keypoints_2d", (44, 3))
    tips = [HUMANDATA_INDEX[HUMANDATA_WHOLEBODY133_NAMES[i]] for i in WHOLEBODY_FINGERTIPS]
    kp190[:, tips] = _stack(records, "hand_keypoints_2d", (10, 3))
    mask[label44] = mask[tips] = 1
    if any(r.wholebody_133 is not None for r in records):
        wholebody = _stack(records, "wholebody_133", (133, 3))
        hand_roots = {91, 112}  # the body wrists stand in for them
        keep = [i for i in range(133) if i not in hand_roots]
        targets = [HUMANDATA_INDEX[HUMANDATA_WHOLEBODY133_NAMES[i]] for i in keep]
        kp190[:, targets] = wholebody[:, keep]
        mask[targets] = 1
    side = np.array([r.scale * BBOX_SCALE_UNIT for r in records], dtype=np.float32)
    center = np.stack([np.asarray(r.center, dtype=np.float32) for r in records])
    bbox = np.concatenate([center - side[:, None] / 2, side[:, None], side[:, None], np.ones((n, 1), np.float32)],
                          axis=1)[:, :bbox_columns]
    smpl = {
        "global_orient": _stack(records, "global_orient", (3,)),
        "body_pose": _stack(records, "body_pose", (69,)).reshape(n, 23, 3),
        "betas": _stack(records, "betas", (10,)),
    }
    arrays = {
        "__key_strict__": False, "__data_len__": n, "__keypoints_compressed__": compress_keypoints,
        "image_path": np.array(_write_images(records, image_root)),
        "bbox_xywh": bbox,
        "keypoints2d": kp190[:, mask == 1] if compress_keypoints else kp190,
        "keypoints2d_mask": mask,
        "smpl": np.array(smpl, dtype=object),
        "has_smpl": np.array([r.has_body_pose and r.has_betas for r in records], dtype=np.float32),
        "config": "hardmo",
    }
    np.savez_compressed(npz_path, **arrays)
    return npz_path
