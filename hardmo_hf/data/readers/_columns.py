"""Records from column arrays: the shared second half of the two ``.npz`` readers (SPIN / HumanData)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..record import PersonRecord, Reject, format_sample_id
from ._common import (
    RecordError,
    SampleNamer,
    as_text,
    parse_person_label,
    probe_image,
    record_from_label,
    subject_for,
)

_OPTIONAL = ("hand_keypoints_2d", "wholebody_keypoints_2d", "keypoints_3d", "body_pose", "betas", "extra_info")


def label_from_columns(columns: dict, i: int, scale_factor: float) -> dict:
    """The person dict of row ``i`` (``columns`` hold rows of the label layout; ``None`` = absent key)."""
    label = {"keypoints_2d": columns["keypoints_2d"][i], "center": columns["center"][i],
             "scale": np.asarray(columns["scale"][i], dtype=np.float64) * scale_factor}
    for key in _OPTIONAL:
        if columns.get(key) is not None:
            label[key] = columns[key][i]
    for flag, key in (("has_body_pose", "body_pose"), ("has_betas", "betas")):
        if columns.get(flag) is not None and key in label:
            label[flag] = columns[flag][i]
    return label


def read_image_file(path: Path, check: str):
    """``(bytes, ImageInfo)`` of ``path``, or the :class:`RecordError` every row of that image gets."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return RecordError("missing_image", f"{path} does not exist")
    except OSError as exc:
        return RecordError("unreadable_image", f"{path}: {exc}")
    try:
        return data, probe_image(data, check)
    except RecordError as exc:
        return RecordError(exc.reason, f"{path}: {exc.detail}")


def records_from_columns(
    columns: dict, *, person_ids: np.ndarray, scale_factor: float, name: str, start: int, stop: int,
    image_root: Path, namer: SampleNamer, subjects, opts, source_format: str,
    row_errors: list[RecordError | None] | None = None,
) -> Iterator[PersonRecord | Reject]:
    """Records and rejects of rows ``start:stop`` (``columns`` hold exactly those rows).

    ``person_ids`` is indexed by absolute row; ``row_errors`` (relative rows) rejects rows up front.
    Consecutive rows of the same image read it once.
    """
    seen: set[str] = set()
    image_key, image = None, None
    for i, row in enumerate(range(start, stop)):
        source = f"{name}[{row}]"
        imgname = as_text(columns["imgname"][i])
        sample_id = ""
        try:
            category, clip_id, frame = namer.parse(imgname)
            person_id = int(person_ids[row])
            sample_id = format_sample_id(category, clip_id, frame, person_id)
            if sample_id in seen:
                raise RecordError("duplicate_sample_id", f"sample id {sample_id} already read in {name}")
            seen.add(sample_id)
            if row_errors is not None and row_errors[i] is not None:
                raise row_errors[i]
            subject = subject_for(category, clip_id, subjects)
            label = parse_person_label(label_from_columns(columns, i, scale_factor), strict_keys=opts.strict_keys)
            if imgname != image_key:
                image_key, image = imgname, read_image_file(image_root / imgname, opts.image_check)
            if isinstance(image, RecordError):
                raise image
            image_bytes, info = image
        except RecordError as exc:
            yield exc.reject(source, sample_id)
            continue
        yield record_from_label(
            label, category=category, clip_id=clip_id, frame_index=frame, person_id=person_id, subject_id=subject,
            image_bytes=image_bytes, image_width=info.width, image_height=info.height, image_format=info.format,
            is_foot=opts.subset == "foot", is_hand=opts.subset == "hand", subset=opts.subset,
            source=source, source_format=source_format,
        )
