"""Validation shared by the readers: images, person-label dicts, subject maps, sample names.

Every check raises :class:`RecordError` with a short machine-readable ``reason`` (the ``Reject.reason`` the
record ends up with) and a human-readable ``detail``. Reject reasons used by the readers:

``missing_image``, ``missing_label``, ``unreadable_image``, ``unsupported_image_format``, ``duplicate_image``,
``unreadable_label``, ``unsafe_pickle``, ``wrong_type``, ``wrong_shape``, ``non_finite``, ``missing_key``,
``unknown_keys``, ``invalid_bbox``, ``duplicate_sample_id``, ``bad_file_name``, ``unexpected_file``,
``missing_subject``, ``missing_raw_label``, ``invalid_raw_label``, ``multiple_labels_in_person_file``,
``unparsable_name``, ``truncated_tar``, ``unknown_member``, ``unreadable_npz``, ``unsupported_convention``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ...constants import (
    DANCE_CLASSES,
    MARTIAL_ARTS_CLASSES,
    NUM_BETAS,
    NUM_FINGERTIPS,
    NUM_LABEL_KEYPOINTS,
    NUM_SMPL_BODY_JOINTS,
    NUM_WHOLEBODY_KEYPOINTS,
    SUBSETS,
)
from ..keypoint_convert import fingertips_from_wholebody133, label44_from_wholebody133
from ..npz_io import NpzArchive
from ..record import PersonRecord, Reject

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")  # in order of preference when a frame has several
IMAGE_CHECKS = ("decode", "header")


class RecordError(Exception):
    """One input record cannot be used: ``reason`` is the reject reason, ``detail`` explains it."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def reject(self, source: str, sample_id: str = "") -> Reject:
        return Reject(source=source, reason=self.reason, detail=self.detail, sample_id=sample_id)


# ----------------------------------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageInfo:
    format: str  # "jpeg" | "png"
    width: int
    height: int


def probe_image(data: bytes, check: str = "decode") -> ImageInfo:
    """Format and size of encoded image ``data``, proving it is readable; the bytes are never re-encoded.

    ``check="decode"`` decodes the whole stream (JPEG at 1/8 scale through libjpeg's DCT scaling, which still
    reads every byte; PNG through its chunk CRCs), so a truncated file is caught. ``check="header"`` only
    parses the header (format and size): common files by :func:`parse_image_header`, any other through PIL,
    which gives the same answer for the common ones.
    """
    if check not in IMAGE_CHECKS:
        raise ValueError(f"image check must be one of {IMAGE_CHECKS}, got {check!r}")
    if not data:
        raise RecordError("unreadable_image", "empty image file")
    if check == "header":
        info = parse_image_header(data)
        if info is not None:
            return info
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = (image.format or "").lower()
            width, height = image.size
            if fmt not in ("jpeg", "png"):
                raise RecordError("unsupported_image_format", f"{image.format} image (JPEG or PNG expected)")
            if check == "decode":
                if fmt == "jpeg":
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                    image.load()
                else:
                    image.verify()
    except RecordError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise RecordError("unreadable_image", f"{type(exc).__name__}: {exc}") from None
    if width <= 0 or height <= 0:
        raise RecordError("unreadable_image", f"image size {width}x{height}")
    return ImageInfo(fmt, int(width), int(height))


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IHDR_MODES = frozenset({(8, 0), (16, 0), (8, 2), (16, 2), (8, 4), (16, 4), (8, 6), (16, 6)})  # (depth, colour)
_JPEG_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended sequential, progressive (Huffman)
_JPEG_SKIPPED_MARKERS = frozenset({0xC4, 0xDD, 0xFE})  # DHT, DRI, COM: nothing in them changes format or size


def parse_image_header(data: bytes) -> ImageInfo | None:
    """Format and size of a common JPEG or PNG read from its header bytes, without PIL (~5 us, ~5x cheaper).

    Handles what cameras, video decoders and image libraries usually write, and nothing else:

    * JPEG: SOI, then only JFIF APP0 (14 bytes or more), DQT, DHT, DRI, COM and one or more 8-bit SOF0/1/2
      segments (1, 3 or 4 components) up to the first SOS; the size is that of the last SOF, as PIL reads it.
    * PNG: the signature, then IHDR (13 bytes, correct CRC, non-palette colour type, filter method 0)
      directly followed by IDAT.

    Returns ``None`` for anything else (EXIF or other APPn segments, which can make a JPEG an MPO; other
    chunks before IDAT; a truncated or odd header; a size of 0 or beyond PIL's decompression-bomb limit), so
    that :func:`probe_image` asks PIL, which then gives its answer or its error. Where this returns an
    :class:`ImageInfo`, PIL's ``Image.open`` finds the same format and size.
    """
    size = None
    fmt = "jpeg"
    if data.startswith(b"\xff\xd8\xff"):
        pos, end = 2, len(data)
        while True:
            if pos + 4 > end or data[pos] != 0xFF:
                return None
            marker = data[pos + 1]
            if marker == 0xFF:  # fill byte before a marker
                pos += 1
                continue
            length = int.from_bytes(data[pos + 2:pos + 4], "big")  # includes its own two bytes
            segment = data[pos + 4:pos + 2 + length]
            if length < 2 or len(segment) != length - 2:
                return None
            if marker == 0xDA:  # start of scan: the header is over
                break
            if marker in _JPEG_SOF_MARKERS:
                if len(segment) < 6 or segment[0] != 8 or segment[5] not in (1, 3, 4):
                    return None
                size = (int.from_bytes(segment[3:5], "big"), int.from_bytes(segment[1:3], "big"))
            elif marker == 0xDB:  # DQT: PIL rejects a table that its length cuts short
                while segment:
                    table_length = 65 if segment[0] < 16 else 129
                    if len(segment) < table_length:
                        return None
                    segment = segment[table_length:]
            elif not (marker in _JPEG_SKIPPED_MARKERS or (marker == 0xE0 and segment.startswith(b"JFIF\0")
                                                              and len(segment) >= 14)):
                return None
            pos += 2 + length
    elif data.startswith(_PNG_SIGNATURE):
        fmt = "png"
        header = data[8:41]  # IHDR chunk (4 length, 4 type, 13 data, 4 CRC), then the next chunk's length and type
        if len(header) < 33 or header[:8] != b"\x00\x00\x00\rIHDR" or header[29:33] != b"IDAT":
            return None
        if zlib.crc32(header[4:21]) != int.from_bytes(header[21:25], "big"):
            return None
        if (header[16], header[17]) not in _PNG_IHDR_MODES or header[19] != 0:
            return None
        size = (int.from_bytes(header[8:12], "big"), int.from_bytes(header[12:16], "big"))
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    if Image.MAX_IMAGE_PIXELS is not None and size[0] * size[1] > Image.MAX_IMAGE_PIXELS:
        return None  # PIL warns, or refuses a decompression bomb
    return ImageInfo(fmt, size[0], size[1])


# ----------------------------------------------------------------------------------------------------
# Arrays
# ----------------------------------------------------------------------------------------------------
def squeezed_shape(shape: tuple, ndim: int) -> tuple:
    """``shape`` without leading 1s beyond ``ndim`` axes: the shape quirk labels have ((1,10) -> (10,))."""
    while len(shape) > ndim and shape[0] == 1:
        shape = shape[1:]
    return shape


def coerce_array(value, key: str, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a finite float32 array of ``shape``; leading singleton axes are dropped ((1,10) -> (10,))."""
    try:
        array = np.array(value, dtype=np.float32)  # float64 values beyond float32 become inf: rejected below
    except (TypeError, ValueError) as exc:
        raise RecordError("wrong_type", f"{key} is not numeric ({type(value).__name__}: {exc})") from None
    if array.shape != shape:
        if squeezed_shape(array.shape, len(shape)) != shape:
            raise RecordError("wrong_shape", f"{key} has shape {array.shape}, expected {shape}")
        array = array.reshape(shape)
    if not np.isfinite(array).all():
        raise RecordError("non_finite", f"{key} contains NaN or inf")
    return array


def coerce_flag(value, key: str) -> bool:
    """A 0/1 validity flag stored as bool, int, float or a one-element array."""
    if type(value) in (bool, int, float):  # the usual case, without numpy
        if not math.isfinite(value):
            raise RecordError("non_finite", f"{key} is NaN or inf")
        return value > 0
    try:
        array = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise RecordError("wrong_type", f"{key} is not a number ({type(value).__name__})") from None
    if array.size != 1:
        raise RecordError("wrong_shape", f"{key} has {array.size} values, expected 1")
    if not np.isfinite(array[0]):
        raise RecordError("non_finite", f"{key} is NaN or inf")
    return bool(array[0] > 0)


def coerce_scale(value, key: str = "scale") -> float:
    """Box size / 200 from a scalar or a per-axis ``(2,)`` pair (the square box's side is the larger)."""
    try:
        array = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise RecordError("wrong_type", f"{key} is not numeric ({type(value).__name__})") from None
    if array.size not in (1, 2):
        raise RecordError("wrong_shape", f"{key} has {array.size} values, expected 1 or 2")
    values = array.tolist()
    if not all(map(math.isfinite, values)):
        raise RecordError("non_finite", f"{key} contains NaN or inf")
    scale = max(values)
    if scale <= 0:
        raise RecordError("invalid_bbox", f"{key} = {values} is not positive")
    return scale


# ----------------------------------------------------------------------------------------------------
# Person labels (the 4D-Humans / HardMo person dict of .pyd files and webdataset .data.pyd lists)
# ----------------------------------------------------------------------------------------------------
KNOWN_LABEL_KEYS = frozenset({
    "keypoints_2d", "hand_keypoints_2d", "wholebody_keypoints_2d", "keypoints_3d",
    "body_pose", "global_orient", "betas", "has_body_pose", "has_betas",
    "center", "scale", "extra_info", "image_file",
})


@dataclass
class PersonLabel:
    """A validated person label (float32 arrays; units as in :class:`~hardmo_hf.data.record.PersonRecord`)."""

    keypoints_2d: np.ndarray  # (44,3)
    hand_keypoints_2d: np.ndarray  # (10,3)
    center: np.ndarray  # (2,)
    scale: float
    global_orient: np.ndarray  # (3,)
    body_pose: np.ndarray  # (69,)
    betas: np.ndarray  # (10,)
    has_body_pose: bool
    has_betas: bool
    wholebody_133: np.ndarray | None = None  # (133,3)
    keypoints_3d: np.ndarray | None = None  # (44,4)
    extra: dict = field(default_factory=dict)


def parse_person_label(label, *, strict_keys: bool = True) -> PersonLabel:
    """Validate one person dict (HARDMO_FACTS label keys) and normalise its shape quirks.

    Accepted shapes: ``keypoints_2d`` (44,3); ``wholebody_keypoints_2d`` (133,3) (used for ``keypoints_2d`` and
    the fingertips when those are absent); ``hand_keypoints_2d`` (10,3) (zeros when absent); ``center`` (2,) or
    (1,2); ``scale`` scalar, (1,) or (2,) (the larger side); ``betas`` (10,) or (1,10); ``body_pose`` (72,) or
    (24,3) with the global orientation first, or (69,) / (23,3) plus ``global_orient`` (3,);
    ``keypoints_3d`` (44,4). A missing ``body_pose`` / ``betas`` is zeros with its flag false.
    """
    if type(label) is not dict and not isinstance(label, Mapping):  # the ABC check only for other types
        raise RecordError("wrong_type", f"label is a {type(label).__name__}, expected a dict")
    extra: dict = {}
    if not KNOWN_LABEL_KEYS.issuperset(label):
        unknown = sorted(str(key) for key in label if key not in KNOWN_LABEL_KEYS)
        if strict_keys:
            raise RecordError("unknown_keys", f"unknown label keys {unknown}")
        extra["ignored_keys"] = unknown

    wholebody = None
    if "wholebody_keypoints_2d" in label:
        wholebody = coerce_array(label["wholebody_keypoints_2d"], "wholebody_keypoints_2d",
                                 (NUM_WHOLEBODY_KEYPOINTS, 3))
    if "keypoints_2d" in label:
        keypoints_2d = coerce_array(label["keypoints_2d"], "keypoints_2d", (NUM_LABEL_KEYPOINTS, 3))
    elif wholebody is not None:
        keypoints_2d = label44_from_wholebody133(wholebody)
    else:
        raise RecordError("missing_key", "label has neither keypoints_2d nor wholebody_keypoints_2d")
    if "hand_keypoints_2d" in label:
        hand = coerce_array(label["hand_keypoints_2d"], "hand_keypoints_2d", (NUM_FINGERTIPS, 3))
    elif wholebody is not None:
        hand = fingertips_from_wholebody133(wholebody)
    else:
        hand = np.zeros((NUM_FINGERTIPS, 3), dtype=np.float32)
    keypoints_3d = None
    if "keypoints_3d" in label:
        keypoints_3d = coerce_array(label["keypoints_3d"], "keypoints_3d", (NUM_LABEL_KEYPOINTS, 4))

    for key in ("center", "scale"):
        if key not in label:
            raise RecordError("missing_key", f"label has no {key}")
    center = coerce_array(label["center"], "center", (2,))
    scale = coerce_scale(label["scale"])

    global_orient, body_pose, has_body_pose = _parse_pose(label)
    if "betas" in label:
        betas = coerce_array(label["betas"], "betas", (NUM_BETAS,))
        has_betas = coerce_flag(label["has_betas"], "has_betas") if "has_betas" in label else True
    else:
        if "has_betas" in label and coerce_flag(label["has_betas"], "has_betas"):
            raise RecordError("missing_key", "has_betas is set but the label has no betas")
        betas, has_betas = np.zeros(NUM_BETAS, dtype=np.float32), False

    for key in ("extra_info", "image_file"):
        if key in label:
            extra[key] = label[key]
    return PersonLabel(
        keypoints_2d=keypoints_2d, hand_keypoints_2d=hand, center=center, scale=scale,
        global_orient=global_orient, body_pose=body_pose, betas=betas,
        has_body_pose=has_body_pose, has_betas=has_betas,
        wholebody_133=wholebody, keypoints_3d=keypoints_3d, extra=extra,
    )


def _parse_pose(label: Mapping) -> tuple[np.ndarray, np.ndarray, bool]:
    n_body = 3 * NUM_SMPL_BODY_JOINTS
    if "body_pose" not in label:
        if "has_body_pose" in label and coerce_flag(label["has_body_pose"], "has_body_pose"):
            raise RecordError("missing_key", "has_body_pose is set but the label has no body_pose")
        if "global_orient" in label:
            raise RecordError("missing_key", "global_orient is given without body_pose")
        return np.zeros(3, dtype=np.float32), np.zeros(n_body, dtype=np.float32), False
    try:
        pose = np.asarray(label["body_pose"])
        size = pose.size
    except (TypeError, ValueError):
        size = -1
    if size == n_body + 3:
        if "global_orient" in label:
            raise RecordError("wrong_shape", "body_pose has 72 values (global orientation first) and "
                                             "global_orient is also given")
        shape = (NUM_SMPL_BODY_JOINTS + 1, 3) if pose.shape[-1:] == (3,) else (n_body + 3,)
        full = coerce_array(label["body_pose"], "body_pose", shape).reshape(-1)
        global_orient, body_pose = full[:3], full[3:]
    elif size == n_body:
        if "global_orient" not in label:
            raise RecordError("missing_key", "body_pose has 69 values but the label has no global_orient")
        shape = (NUM_SMPL_BODY_JOINTS, 3) if pose.shape[-1:] == (3,) else (n_body,)
        body_pose = coerce_array(label["body_pose"], "body_pose", shape).reshape(-1)
        global_orient = coerce_array(label["global_orient"], "global_orient", (3,))
    else:
        shape = np.shape(label["body_pose"]) if size >= 0 else "?"
        raise RecordError("wrong_shape", f"body_pose has shape {shape}, expected (72,), (24,3), (69,) or (23,3)")
    has = coerce_flag(label["has_body_pose"], "has_body_pose") if "has_body_pose" in label else True
    return global_orient, body_pose, has


def record_from_label(label: PersonLabel, **fields) -> PersonRecord:
    """A :class:`PersonRecord` from a validated label plus identity/image/provenance ``fields``."""
    return PersonRecord(
        keypoints_2d=label.keypoints_2d, hand_keypoints_2d=label.hand_keypoints_2d,
        wholebody_133=label.wholebody_133, keypoints_3d=label.keypoints_3d,
        center=label.center, scale=label.scale,
        global_orient=label.global_orient, body_pose=label.body_pose, betas=label.betas,
        has_body_pose=label.has_body_pose, has_betas=label.has_betas,
        extra=dict(label.extra), **fields,
    )


# ----------------------------------------------------------------------------------------------------
# Subject maps
# ----------------------------------------------------------------------------------------------------
def load_subject_map(spec) -> dict[str, str] | None:
    """Load a clip -> subject map: ``None``, a mapping, or a ``.json`` / ``.csv`` file.

    * JSON: one object ``{"<category>/<clip_id>": "<subject_id>", ...}``.
    * CSV: a header ``category,clip_id,subject_id`` and one row per clip.

    Keys are ``<category>/<clip_id>`` because clip ids repeat across classes in the authors' layout.
    """
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        mapping = {str(k): str(v) for k, v in spec.items()}
        source = "subject map"
    else:
        path = Path(spec)
        source = str(path)
        if not path.is_file():
            raise FileNotFoundError(f"subject map {path} does not exist")
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ValueError(f"{path}: invalid JSON subject map ({exc})") from None
            if not isinstance(data, dict):
                raise ValueError(f"{path}: a subject map must be a JSON object "
                                 '{"<category>/<clip_id>": "<subject_id>"}')
            mapping = {}
            for key, value in data.items():
                if not isinstance(value, (str, int)):
                    raise TypeError(f"{path}: subject of {key!r} must be a string, got {type(value).__name__}")
                mapping[str(key)] = str(value)
        elif path.suffix.lower() == ".csv":
            mapping = {}
            with open(path, newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                if reader.fieldnames is None or set(reader.fieldnames) < {"category", "clip_id", "subject_id"}:
                    raise ValueError(f"{path}: a CSV subject map needs the header category,clip_id,subject_id "
                                     f"(got {reader.fieldnames})")
                for line, row in enumerate(reader, start=2):
                    key = f"{row['category']}/{row['clip_id']}"
                    subject = (row["subject_id"] or "").strip()
                    if key in mapping and mapping[key] != subject:
                        raise ValueError(f"{path}:{line}: clip {key} is mapped to two subjects "
                                         f"({mapping[key]!r} and {subject!r})")
                    mapping[key] = subject
        else:
            raise ValueError(f"{path}: subject map must be a .json or .csv file")
    for key, subject in mapping.items():
        if key.count("/") != 1 or not all(key.split("/")) or not subject:
            raise ValueError(f"{source}: bad entry {key!r} -> {subject!r} (keys are '<category>/<clip_id>', "
                             "subjects non-empty)")
    return mapping


def subject_for(category: str, clip_id: str, subject_map: Mapping[str, str] | None) -> str:
    """The subject of a clip: from the map, or the clip itself (``<category>/<clip_id>``) without one."""
    key = f"{category}/{clip_id}"
    if subject_map is None:
        return key
    try:
        return subject_map[key]
    except KeyError:
        raise RecordError("missing_subject", f"clip {key} is not in the subject map") from None


# ----------------------------------------------------------------------------------------------------
# Sample names (webdataset keys, npz image names)
# ----------------------------------------------------------------------------------------------------
_KNOWN_CLASSES = "|".join(re.escape(c) for c in sorted(DANCE_CLASSES + MARTIAL_ARTS_CLASSES, key=len, reverse=True))
DEFAULT_NAME_PATTERNS = (
    # .../<category>/<clip_id>/<frame>[.ext]
    r"^(?:.*/)?(?P<category>[^/]+)/(?P<clip_id>[^/]+)/(?P<frame>\d+)(?:\.[^/]*)?$",
    # <category>_<clip_id>_<frame>[.ext] (the authors' optimized-label names), known classes only
    rf"^(?:.*/)?(?P<category>{_KNOWN_CLASSES})_(?P<clip_id>[^/]+)_(?P<frame>\d+)(?:\.[^/]*)?$",
)


class SampleNamer:
    """Parse ``(category, clip_id, frame_index)`` from a webdataset key or an npz image name.

    Args:
        pattern: a regular expression with named groups ``clip_id`` and ``frame`` (digits) and, unless
            ``category`` is given, ``category``. Default: ``<category>/<clip_id>/<frame>.ext`` or
            ``<known category>_<clip_id>_<frame>``.
        category: a fixed category for every sample (overrides the ``category`` group).
    """

    def __init__(self, pattern: str | None = None, category: str | None = None):
        patterns = (pattern,) if pattern else DEFAULT_NAME_PATTERNS
        try:
            self._patterns = tuple(re.compile(p) for p in patterns)
        except re.error as exc:
            raise ValueError(f"invalid name pattern {pattern!r}: {exc}") from None
        for compiled in self._patterns:
            missing = {"clip_id", "frame"} - set(compiled.groupindex)
            if category is None:
                missing |= {"category"} - set(compiled.groupindex)
            if missing:
                raise ValueError(f"name pattern {compiled.pattern!r} lacks the named group(s) {sorted(missing)}")
        self.category = category

    def parse(self, name: str) -> tuple[str, str, int]:
        for compiled in self._patterns:
            match = compiled.match(name)
            if match:
                try:
                    frame = int(match.group("frame"))
                except ValueError:
                    continue
                category = self.category or match.group("category")
                return category, match.group("clip_id"), frame
        raise RecordError("unparsable_name", f"cannot read category/clip/frame from {name!r} "
                                             "(pass a name pattern with groups category, clip_id, frame)")


def parse_options(options_class, options: dict, reader: str):
    """A reader's frozen options dataclass from keyword ``options``; an unknown keyword is a ``TypeError`` that
    names the reader and lists its options."""
    try:
        return options_class(**options)
    except TypeError as exc:
        names = ", ".join(f.name for f in dataclasses.fields(options_class))
        raise TypeError(f"{reader} reader: {exc} (options: {names})") from None


def npz_row_units(root, key: str, chunk_size: int, kind: str) -> list[str]:
    """Row ranges ``"<file>[<start>:<stop>]"`` of every ``.npz`` of ``root`` (a file or a folder); each file
    must hold the per-row array ``key`` (else it is not a ``kind`` file)."""
    base, names = npz_files(root)
    units = []
    for name in names:
        with NpzArchive(base / name, source=name) as archive:
            if key not in archive:
                raise ValueError(f"{base / name}: no {key!r} array (not a {kind} file)")
            units += index_units(name, archive.shape(key)[0], chunk_size)
    return units


def check_option(name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


@dataclass(frozen=True)
class FlatSourceOptions:
    """The options of every reader whose files do not say a sample's category, subject or subset (tars, npz):
    ``name_pattern`` / ``category`` name the category and clip, ``subject_map`` the subject, ``subset`` which label
    the records carry; ``image_check`` and ``strict_keys`` as for every reader. Readers add their own fields."""

    name_pattern: str | None = None
    category: str | None = None
    subset: str = "normal"
    subject_map: str | None = None
    image_check: str = "decode"
    strict_keys: bool = True

    def __post_init__(self):
        check_option("subset", self.subset, SUBSETS)
        check_option("image_check", self.image_check, IMAGE_CHECKS)


# ----------------------------------------------------------------------------------------------------
# Index-range units of array files (.npz)
# ----------------------------------------------------------------------------------------------------
_INDEX_UNIT = re.compile(r"^(?P<name>.+)\[(?P<start>\d+):(?P<stop>\d+)\]$")


def npz_files(root) -> tuple[Path, list[str]]:
    """``(base, names)``: the ``.npz`` files of ``root`` (one file, or a folder searched recursively)."""
    root = Path(root)
    if root.is_file():
        return root.parent, [root.name]
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist")
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.npz") if p.is_file())
    if not names:
        raise ValueError(f"{root} holds no .npz files")
    return root, names


def index_units(name: str, length: int, chunk_size: int) -> list[str]:
    """``"<name>[<start>:<stop>]"`` units of ``chunk_size`` rows (zero-padded, so they sort in order)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    return [f"{name}[{start:09d}:{min(start + chunk_size, length):09d}]" for start in range(0, length, chunk_size)]


def parse_index_unit(unit: str) -> tuple[str, int, int]:
    match = _INDEX_UNIT.match(unit)
    if match is None:
        raise ValueError(f"unit must be '<file>[<start>:<stop>]', got {unit!r}")
    return match["name"], int(match["start"]), int(match["stop"])


def occurrence_index(names) -> np.ndarray:
    """For each name, how many times it appeared before (the person index of one-person-per-row files)."""
    seen: dict = {}
    out = np.empty(len(names), dtype=np.int64)
    for i, name in enumerate(names):
        out[i] = seen.get(name, 0)
        seen[name] = out[i] + 1
    return out


def as_text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


@lru_cache(maxsize=8)
def _subject_map_file(path: str, mtime_ns: int) -> dict[str, str]:
    return load_subject_map(path)


def cached_subject_map(path) -> dict[str, str] | None:
    """:func:`load_subject_map` of a file, read once per process (and again if the file changes)."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError("subject_map must be a path to a .json or .csv file")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"subject map {path} does not exist")
    return _subject_map_file(str(path), path.stat().st_mtime_ns)
