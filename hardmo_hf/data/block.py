"""Person records column by column: what a build task filters and writes.

A :class:`RecordBlock` holds ``n`` person records (one per row) as numpy arrays of shape ``(n, ...)`` and Python
lists, named like the dataset's columns (:mod:`hardmo_hf.data.schema`); units are those of
:class:`~hardmo_hf.data.record.PersonRecord`: keypoints full-image px + confidence, ``scale`` box side / 200 px,
SMPL axis-angle radians. The filters (:func:`hardmo_hf.data.filters.filter_block`) work on whole blocks with
numpy, and :meth:`RecordBlock.to_record_batch` turns a block into one Arrow record batch of the shard schema
without building a Python dict per row: the per-record work of a build is reading and unpickling its files.

Nullable columns (:data:`~hardmo_hf.data.schema.NULLABLE_COLUMNS`) hold zeros where the row has no value and a
boolean mask in :attr:`RecordBlock.valid`. Two columns are not written: ``source`` (the file a row came from, for
rejects) and ``image_format`` (``jpeg`` | ``png``, the extension of the stored image path).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

from ..constants import BBOX_SCALE_UNIT, WHOLEBODY33_FROM_WHOLEBODY133, category_group
from .arrow_arrays import binary_array, bool_array, fixed_list_array, numeric_array
from .keypoint_convert import wholebody33_from_label44
from .record import PersonRecord, Reject, format_sample_id
from .schema import ARRAY_COLUMNS, NULLABLE_COLUMNS

__all__ = ["BLOCK_ARRAYS", "CHUNK_ITEMS", "RecordBlock", "RecordChunk", "chunks_from_items"]

# Arrays a block stores (name -> per-row shape, float32); bbox_xyxy and the WholeBody-33 points are derived.
BLOCK_ARRAYS: dict[str, tuple[int, ...]] = {
    name: shape for name, shape in ARRAY_COLUMNS.items() if name not in ("bbox_xyxy", "wholebody33_keypoints_2d")
}
_STRINGS = ("category", "clip_id", "subject_id", "subset", "source", "image_format")
_INTS = {"image_width": np.int32, "image_height": np.int32, "frame_index": np.int64, "person_id": np.int64}
_SMPL_ARRAYS = ("global_orient", "body_pose", "betas")
# PersonRecord attribute of each stored array that is named differently
_RECORD_ATTRIBUTE = {"wholebody133_keypoints_2d": "wholebody_133"}
# Input records (rows and rejects) per chunk: enough to amortise the per-chunk numpy and Arrow calls, few enough
# that a chunk's images stay small next to a row group.
CHUNK_ITEMS = 256
_WHOLEBODY33_ROWS = np.array(WHOLEBODY33_FROM_WHOLEBODY133)
# Per-row size estimate (the shard writer's row-group and file targets): image bytes + this + valid arrays.
ROW_OVERHEAD_BYTES = 64
_ARRAY_BYTES = {name: 4 * int(np.prod(shape)) for name, shape in ARRAY_COLUMNS.items()}
_FIXED_ARRAY_BYTES = sum(size for name, size in _ARRAY_BYTES.items() if name not in NULLABLE_COLUMNS)


@cache
def _group_of(category: str) -> str:
    return category_group(category)


class RecordBlock:
    """``n`` person records as columns (see the module docstring).

    Attributes:
        columns: name -> ``(n, *shape)`` float32 array (:data:`BLOCK_ARRAYS`), ``(n,)`` int / bool array, or a
            list of ``n`` values (strings; ``image_bytes``: the encoded image of each row, shared by the rows of
            one frame); plus ``scale`` ``(n,)`` float64.
        valid: nullable column name -> ``(n,)`` bool, True where the row has a value.
    """

    __slots__ = ("columns", "valid")

    def __init__(self, columns: dict, valid: dict[str, np.ndarray]):
        self.columns = columns
        self.valid = valid

    def __len__(self) -> int:
        return len(self.columns["frame_index"])

    # ------------------------------------------------------------------------------------------------
    # Construction
    # ------------------------------------------------------------------------------------------------
    @classmethod
    def from_records(cls, records: Sequence[PersonRecord]) -> tuple[RecordBlock, list[tuple[int, str]]]:
        """A block of the well-formed ``records`` and ``(index, message)`` for each malformed one (an array of
        the wrong shape or a non-numeric value: ``invalid_record``). Rows keep the order of ``records``.

        A record's ``has_body_pose`` / ``has_betas`` hold only where its ``global_orient`` and ``body_pose`` /
        its ``betas`` are present; absent SMPL arrays are zeros.
        """
        bad: list[tuple[int, str]] = []
        try:
            return cls._stack(records), bad
        except (TypeError, ValueError):
            pass
        good = []
        for index, record in enumerate(records):  # find the culprits, one record at a time
            try:
                cls._stack([record])
                good.append(record)
            except (TypeError, ValueError) as exc:
                bad.append((index, str(exc)))
        return cls._stack(good), bad

    @classmethod
    def _stack(cls, records: Sequence[PersonRecord]) -> RecordBlock:
        n = len(records)
        columns: dict = {name: [getattr(r, name) for r in records] for name in _STRINGS}
        columns["image_bytes"] = [r.image_bytes for r in records]
        for name, dtype in _INTS.items():
            columns[name] = np.array([getattr(r, name) for r in records], dtype=dtype).reshape(n)
        columns["scale"] = np.array([r.scale for r in records], dtype=np.float64).reshape(n)
        valid: dict[str, np.ndarray] = {}
        smpl_present: dict[str, np.ndarray] = {}
        for name, shape in BLOCK_ARRAYS.items():
            values = [getattr(r, _RECORD_ATTRIBUTE.get(name, name)) for r in records]
            present = np.array([v is not None for v in values], dtype=bool).reshape(n)
            if not present.all():
                zeros = np.zeros(shape, np.float32)
                values = [zeros if v is None else v for v in values]
            try:
                array = np.array(values, dtype=np.float32) if n else np.zeros((0, *shape), np.float32)
            except (TypeError, ValueError) as exc:  # a non-numeric value, or rows of different shapes
                array = None
                if len(values) == 1:
                    raise ValueError(f"{name} is not a numeric array: {exc}") from None
            if array is None or array.shape != (n, *shape):
                for value in values:
                    if np.shape(value) != shape:
                        raise ValueError(f"{name} has shape {np.shape(value)}, expected {shape}")
            columns[name] = array
            if name in NULLABLE_COLUMNS:
                valid[name] = present
            elif name in _SMPL_ARRAYS:
                smpl_present[name] = present  # absent: no label (zeros, its flag cleared below)
            elif not present.all():
                raise ValueError(f"{name} is required")
        has_pose = np.array([bool(r.has_body_pose) for r in records], dtype=bool).reshape(n)
        has_betas = np.array([bool(r.has_betas) for r in records], dtype=bool).reshape(n)
        columns["has_body_pose"] = has_pose & smpl_present["global_orient"] & smpl_present["body_pose"]
        columns["has_betas"] = has_betas & smpl_present["betas"]
        for name in ("is_foot", "is_hand"):
            columns[name] = np.array([bool(getattr(r, name)) for r in records], dtype=bool).reshape(n)
        return cls(columns, valid)

    @classmethod
    def from_label_columns(cls, labels, rows: np.ndarray, fields: dict, raw=None, raw_rows: np.ndarray | None = None
                           ) -> RecordBlock:
        """A block of the labels at ``rows`` of ``labels`` (:class:`~hardmo_hf.data.readers._label_columns.LabelColumns`)
        with the per-row ``fields`` (identity, image, provenance and hard-case flags: lists of ``len(rows)``) and the
        raw labels of optimized rows at ``raw_rows`` of ``raw`` (their ``raw_*`` columns; -1: none)."""
        n = len(rows)
        columns: dict = {name: list(fields[name]) for name in (*_STRINGS, "image_bytes")}
        for name, dtype in _INTS.items():
            columns[name] = np.array(fields[name], dtype=dtype).reshape(n)
        for name in ("is_foot", "is_hand"):
            columns[name] = np.array(fields[name], dtype=bool).reshape(n)
        columns["scale"] = labels.scale[rows]
        for name in ("center", "keypoints_2d", "hand_keypoints_2d", "global_orient", "body_pose", "betas"):
            columns[name] = getattr(labels, name)[rows]
        columns["has_body_pose"] = labels.has_body_pose[rows]
        columns["has_betas"] = labels.has_betas[rows]
        columns["wholebody133_keypoints_2d"] = labels.wholebody_133[rows]
        columns["keypoints_3d"] = labels.keypoints_3d[rows]
        valid = {"wholebody133_keypoints_2d": labels.has_wholebody_133[rows],
                 "keypoints_3d": labels.has_keypoints_3d[rows]}
        has_raw = raw_rows >= 0 if raw is not None else np.zeros(n, dtype=bool)
        for name in ("global_orient", "body_pose", "betas"):
            if not has_raw.any():
                columns[f"raw_{name}"] = np.zeros((n, *BLOCK_ARRAYS[name]), np.float32)
                valid[f"raw_{name}"] = has_raw
                continue
            has = has_raw & (raw.has_betas if name == "betas" else raw.has_body_pose)[raw_rows]
            columns[f"raw_{name}"] = np.where(has[:, None], getattr(raw, name)[raw_rows], np.float32(0))
            valid[f"raw_{name}"] = has
        return cls(columns, valid)

    def to_records(self, source_format: str = "", extras: Sequence[dict] | None = None) -> list[PersonRecord]:
        """The rows as :class:`~hardmo_hf.data.record.PersonRecord` s (arrays are rows of the block's arrays)."""
        c = self.columns
        records = []
        for row in range(len(self)):
            arrays = {}
            for name in BLOCK_ARRAYS:
                mask = self.valid.get(name)
                arrays[_RECORD_ATTRIBUTE.get(name, name)] = c[name][row] if mask is None or mask[row] else None
            records.append(PersonRecord(
                category=c["category"][row], clip_id=c["clip_id"][row], frame_index=int(c["frame_index"][row]),
                person_id=int(c["person_id"][row]), subject_id=c["subject_id"][row],
                image_bytes=c["image_bytes"][row], image_width=int(c["image_width"][row]),
                image_height=int(c["image_height"][row]), image_format=c["image_format"][row],
                scale=float(c["scale"][row]), has_body_pose=bool(c["has_body_pose"][row]),
                has_betas=bool(c["has_betas"][row]), is_foot=bool(c["is_foot"][row]), is_hand=bool(c["is_hand"][row]),
                subset=c["subset"][row], source=c["source"][row], source_format=source_format,
                extra=dict(extras[row]) if extras is not None else {}, **arrays,
            ))
        return records

    @classmethod
    def concatenate(cls, blocks: Sequence[RecordBlock]) -> RecordBlock:
        """The rows of ``blocks``, one after the other (``blocks`` must not be empty)."""
        if len(blocks) == 1:
            return blocks[0]
        first = blocks[0]
        columns = {}
        for name, value in first.columns.items():
            if isinstance(value, list):
                columns[name] = [item for block in blocks for item in block.columns[name]]
            else:
                columns[name] = np.concatenate([block.columns[name] for block in blocks])
        valid = {name: np.concatenate([block.valid[name] for block in blocks]) for name in first.valid}
        return cls(columns, valid)

    def take(self, indices) -> RecordBlock:
        """The rows at ``indices`` (ints, in the given order)."""
        indices = np.asarray(indices, dtype=np.intp)
        picked = indices.tolist()
        columns = {name: ([value[i] for i in picked] if isinstance(value, list) else value[indices])
                   for name, value in self.columns.items()}
        return RecordBlock(columns, {name: mask[indices] for name, mask in self.valid.items()})

    def slice(self, start: int, stop: int) -> RecordBlock:
        """Rows ``start:stop`` (views of the arrays)."""
        return RecordBlock({name: value[start:stop] for name, value in self.columns.items()},
                           {name: mask[start:stop] for name, mask in self.valid.items()})

    # ------------------------------------------------------------------------------------------------
    # Derived columns
    # ------------------------------------------------------------------------------------------------
    def sample_ids(self) -> list[str]:
        """The sample id of each row (:func:`~hardmo_hf.data.record.format_sample_id`)."""
        c = self.columns
        return list(map(format_sample_id, c["category"], c["clip_id"], c["frame_index"].tolist(),
                        c["person_id"].tolist()))

    def image_paths(self) -> list[str]:
        """``<category>/<clip_id>/<frame:06d>.jpg|png``: the stored name of each row's image."""
        c = self.columns
        return [f"{category}/{clip}/{frame:06d}.{'png' if fmt == 'png' else 'jpg'}" for category, clip, frame, fmt in
                zip(c["category"], c["clip_id"], c["frame_index"].tolist(), c["image_format"])]

    def bbox_xyxy(self) -> np.ndarray:
        """``(n, 4)`` float32 square boxes ``center -+ 100 * scale`` px (computed in float64)."""
        half = 0.5 * BBOX_SCALE_UNIT * self.columns["scale"]
        center = self.columns["center"].astype(np.float64)
        cx, cy = center[:, 0], center[:, 1]
        return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1).astype(np.float32)

    def wholebody33(self) -> np.ndarray:
        """``(n, 33, 3)`` px: from the 133 COCO-WholeBody points where present, else from ``keypoints_2d`` (its
        BODY_25 rows) and the fingertips."""
        c = self.columns
        from_label = wholebody33_from_label44(c["keypoints_2d"], c["hand_keypoints_2d"])
        has_133 = self.valid["wholebody133_keypoints_2d"]
        if not has_133.any():
            return from_label
        from_133 = c["wholebody133_keypoints_2d"][:, _WHOLEBODY33_ROWS]
        return np.where(has_133[:, None, None], from_133, from_label)

    def row_nbytes(self) -> np.ndarray:
        """``(n,)`` int64 size estimate of each row in a shard: image bytes + arrays + a fixed overhead."""
        sizes = np.fromiter(map(len, self.columns["image_bytes"]), dtype=np.int64, count=len(self))
        sizes += ROW_OVERHEAD_BYTES + _FIXED_ARRAY_BYTES
        for name, mask in self.valid.items():
            sizes += _ARRAY_BYTES[name] * mask
        return sizes

    # ------------------------------------------------------------------------------------------------
    # Arrow
    # ------------------------------------------------------------------------------------------------
    def to_record_batch(self, schema: pa.Schema) -> pa.RecordBatch:
        """One Arrow record batch of the shard ``schema`` (:func:`hardmo_hf.data.schema.arrow_schema`)."""
        c = self.columns
        derived = {"bbox_xyxy": self.bbox_xyxy(), "wholebody33_keypoints_2d": self.wholebody33()}
        arrays = []
        for field in schema:
            name = field.name
            if name == "image":
                arrays.append(pa.StructArray.from_arrays(
                    [binary_array(c["image_bytes"]), binary_array(self.image_paths(), pa.string())],
                    fields=list(field.type)))
            elif name == "sample_id":
                arrays.append(binary_array(self.sample_ids(), pa.string()))
            elif name == "category_group":
                arrays.append(binary_array([_group_of(category) for category in c["category"]], pa.string()))
            elif name in ARRAY_COLUMNS:
                values = derived[name] if name in derived else c[name]
                mask = self.valid.get(name)
                arrays.append(fixed_list_array(values, ARRAY_COLUMNS[name],
                                               None if mask is None or mask.all() else ~mask))
            elif pa.types.is_string(field.type):
                arrays.append(binary_array(c[name], pa.string()))
            elif pa.types.is_boolean(field.type):
                arrays.append(bool_array(c[name]))
            else:  # int32 / int64 / float32 (scale, float64 here: rounded to nearest)
                arrays.append(numeric_array(c[name], field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


@dataclass
class RecordChunk:
    """A run of consecutive input records of one unit: the readable ones as a block, the others as rejects.

    ``positions`` ``(n,)`` gives each row's place among the chunk's records and ``rejects`` holds
    ``(position, Reject)``, so the build can report rejects in input order.
    """

    block: RecordBlock
    positions: np.ndarray
    rejects: list[tuple[int, Reject]]

    def __len__(self) -> int:
        """Input records in the chunk (rows + rejects)."""
        return len(self.block) + len(self.rejects)


def chunks_from_items(items: Iterable[tuple[int, PersonRecord | Reject]], size: int = CHUNK_ITEMS
                      ) -> Iterator[tuple[int, RecordChunk]]:
    """Group a reader's records and rejects (in order) into chunks of ``size`` input records.

    ``items`` are ``(unit number, record or reject)`` with units numbered from 1; yields ``(units finished,
    chunk)``. A record that cannot be stored (an array of the wrong shape, a non-numeric value) becomes an
    ``invalid_record`` reject.
    """
    records: list[PersonRecord] = []
    positions: list[int] = []
    rejects: list[tuple[int, Reject]] = []

    def chunk() -> RecordChunk:
        block, bad = RecordBlock.from_records(records)
        keep = np.ones(len(records), dtype=bool)
        for index, message in bad:
            keep[index] = False
            record = records[index]
            rejects.append((positions[index], Reject(record.source, "invalid_record", message, record.sample_id)))
        rejects.sort(key=lambda item: item[0])
        return RecordChunk(block, np.array(positions, dtype=np.int64)[keep], list(rejects))

    unit = 0
    for unit, item in items:
        position = len(records) + len(rejects)
        if isinstance(item, Reject):
            rejects.append((position, item))
        elif isinstance(item, PersonRecord):
            records.append(item)
            positions.append(position)
        else:
            raise TypeError(f"a reader yielded a {type(item).__name__} (PersonRecord or Reject expected)")
        if len(records) + len(rejects) == size:
            yield unit - 1, chunk()
            records, positions, rejects = [], [], []
    if records or rejects:
        yield unit, chunk()
