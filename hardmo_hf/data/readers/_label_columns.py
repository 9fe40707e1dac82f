"""Person labels parsed many at a time: the same validation as :func:`._common.parse_person_label`, column by column.

A reader that holds many label dicts (the label tree: a chunk of a clip) parses them with
:func:`parse_person_labels`. Labels that share a layout (the same keys, array shapes and kinds: in practice every
label of a source) are stacked and checked with one numpy call per key. Any label the stacked path is not sure
of (another layout, a non-finite value, a non-positive scale, a flag that contradicts a missing array) is parsed
alone by ``parse_person_label``, which gives the exact result or the exact error: both paths give the same
values and the same errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...constants import (
    NUM_BETAS,
    NUM_FINGERTIPS,
    NUM_LABEL_KEYPOINTS,
    NUM_SMPL_BODY_JOINTS,
    NUM_WHOLEBODY_KEYPOINTS,
)
from ..keypoint_convert import fingertips_from_wholebody133
from ._common import KNOWN_LABEL_KEYS, PersonLabel, RecordError, parse_person_label, squeezed_shape

__all__ = ["LabelColumns", "parse_person_labels"]

_ARRAYS = {  # LabelColumns array -> per-row shape (float32)
    "keypoints_2d": (NUM_LABEL_KEYPOINTS, 3),
    "hand_keypoints_2d": (NUM_FINGERTIPS, 3),
    "center": (2,),
    "global_orient": (3,),
    "body_pose": (3 * NUM_SMPL_BODY_JOINTS,),
    "betas": (NUM_BETAS,),
    "wholebody_133": (NUM_WHOLEBODY_KEYPOINTS, 3),
    "keypoints_3d": (NUM_LABEL_KEYPOINTS, 4),
}
_EXTRA_KEYS = ("extra_info", "image_file")
_NUMBER_TYPES = (bool, int, float, np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_)
_NUMERIC_KINDS = "biuf"


@dataclass
class LabelColumns:
    """``n`` person labels as arrays ``(n, ...)`` (units and layouts of :class:`._common.PersonLabel`).

    ``errors[i]`` is the :class:`._common.RecordError` of label ``i`` or None; the arrays of a label with an error
    are zeros. ``has_wholebody_133`` / ``has_keypoints_3d`` tell which rows have those (zeros elsewhere).
    """

    keypoints_2d: np.ndarray
    hand_keypoints_2d: np.ndarray
    center: np.ndarray
    scale: np.ndarray  # (n,) float64, box side / 200
    global_orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    wholebody_133: np.ndarray
    keypoints_3d: np.ndarray
    has_body_pose: np.ndarray  # (n,) bool
    has_betas: np.ndarray
    has_wholebody_133: np.ndarray
    has_keypoints_3d: np.ndarray
    extra: list[dict]
    errors: list[RecordError | None]

    @classmethod
    def zeros(cls, n: int) -> LabelColumns:
        arrays = {name: np.zeros((n, *shape), np.float32) for name, shape in _ARRAYS.items()}
        flags = {name: np.zeros(n, dtype=bool) for name in ("has_body_pose", "has_betas", "has_wholebody_133",
                                                            "has_keypoints_3d")}
        return cls(**arrays, **flags, scale=np.zeros(n), extra=[{} for _ in range(n)], errors=[None] * n)

    def set_row(self, row: int, label: PersonLabel) -> None:
        """Store one label parsed by ``parse_person_label``."""
        for name in ("keypoints_2d", "hand_keypoints_2d", "center", "global_orient", "body_pose", "betas"):
            getattr(self, name)[row] = getattr(label, name)
        self.scale[row] = label.scale
        self.has_body_pose[row] = label.has_body_pose
        self.has_betas[row] = label.has_betas
        for name, flag in (("wholebody_133", "has_wholebody_133"), ("keypoints_3d", "has_keypoints_3d")):
            value = getattr(label, name)
            getattr(self, flag)[row] = value is not None
            if value is not None:
                getattr(self, name)[row] = value
        self.extra[row] = dict(label.extra)


def parse_person_labels(labels: Sequence, *, strict_keys: bool = True) -> LabelColumns:
    """Validate and normalise ``labels`` (person dicts) as ``parse_person_label`` does, one per row."""
    columns = LabelColumns.zeros(len(labels))
    groups: dict[frozenset, list[int]] = {}
    alone: list[int] = []
    for row, label in enumerate(labels):
        if type(label) is dict:
            groups.setdefault(frozenset(label), []).append(row)
        else:
            alone.append(row)
    for keys, rows in groups.items():
        if _stackable(keys):
            alone.extend(_parse_stacked(keys, [labels[row] for row in rows], np.array(rows), columns))
        else:
            alone.extend(rows)
    for row in sorted(alone):
        try:
            columns.set_row(row, parse_person_label(labels[row], strict_keys=strict_keys))
        except RecordError as exc:
            columns.errors[row] = exc
    return columns


@lru_cache(maxsize=64)
def _stackable(keys: frozenset) -> bool:
    """Whether labels with these keys can take the stacked path (the others are parsed alone)."""
    return (KNOWN_LABEL_KEYS.issuperset(keys) and {"keypoints_2d", "center", "scale"} <= keys
            and ("global_orient" not in keys or "body_pose" in keys))


def _spec(value):
    """What decides how a value is stacked: an array's shape and kind, or a scalar's type."""
    return (value.shape, value.dtype.kind) if type(value) is np.ndarray else type(value)


def _size(spec) -> int | None:
    """Number of values of a numeric array or scalar ``spec``; None for anything else."""
    if isinstance(spec, tuple):
        return int(np.prod(spec[0])) if spec[1] in _NUMERIC_KINDS else None
    return 1 if spec in _NUMBER_TYPES else None


class _Stacker:
    """Stacks one key of ``labels`` at a time, grouping rows by the value's shape and type (a source may mix
    ``(1,10)`` and ``(10,)`` betas); ``ok`` marks the rows still on the stacked path."""

    def __init__(self, labels: list[dict]):
        self.labels = labels
        self.ok = np.ones(len(labels), dtype=bool)

    def _groups(self, key: str) -> dict:
        groups: dict = {}
        for row, label in enumerate(self.labels):
            groups.setdefault(_spec(label[key]), []).append(row)
        return groups

    def _take(self, key: str, rows: list[int], dtype) -> np.ndarray:
        with np.errstate(over="ignore"):  # float64 beyond float32 becomes inf: not finite, parsed alone
            return np.array([self.labels[row][key] for row in rows], dtype=dtype)

    def array(self, key: str, shape: tuple, shape_of=None) -> np.ndarray:
        """``(m, *shape)`` float32, finite; ``shape_of(spec)`` picks the target shape per group (default ``shape``)."""
        m = len(self.labels)
        groups = self._groups(key)
        out = None if len(groups) == 1 else np.zeros((m, *shape), np.float32)
        for spec, rows in groups.items():
            target = shape_of(spec) if shape_of is not None else shape
            if (target is None or not isinstance(spec, tuple) or spec[1] not in _NUMERIC_KINDS
                    or squeezed_shape(spec[0], len(target)) != target):
                self.ok[rows] = False
                if out is None:
                    return np.zeros((m, *shape), np.float32)
                continue
            values = self._take(key, rows, np.float32).reshape(len(rows), *shape)
            if out is None:
                out = values
            else:
                out[rows] = values
        np.logical_and(self.ok, np.isfinite(out.reshape(m, -1)).all(axis=1), out=self.ok)
        return out

    def numbers(self, key: str, sizes: tuple[int, ...] = (1,)) -> np.ndarray:
        """``(m,)`` float64: the value (the largest of a pair), finite."""
        m = len(self.labels)
        out = np.zeros(m)
        for spec, rows in self._groups(key).items():
            size = _size(spec)
            if size not in sizes:
                self.ok[rows] = False
                continue
            values = self._take(key, rows, np.float64).reshape(len(rows), size)
            finite = np.isfinite(values).all(axis=1)
            self.ok[rows] &= finite
            out[rows] = np.where(finite, values.max(axis=1), 0.0)
        return out


def _pose_shape(spec, joints: int) -> tuple | None:
    """The shape ``coerce_array`` gives a ``body_pose`` of ``joints`` joints, or None for another size."""
    if not isinstance(spec, tuple) or _size(spec) != 3 * joints:
        return None
    return (joints, 3) if spec[0][-1:] == (3,) else (3 * joints,)


def _parse_stacked(keys: frozenset, labels: list[dict], rows: np.ndarray, columns: LabelColumns) -> list[int]:
    """Parse ``labels`` (all with the key set ``keys``) into ``columns[rows]``; returns the rows to parse alone."""
    stacker = _Stacker(labels)
    m = len(labels)
    columns.keypoints_2d[rows] = stacker.array("keypoints_2d", _ARRAYS["keypoints_2d"])
    if "wholebody_keypoints_2d" in keys:
        wholebody = stacker.array("wholebody_keypoints_2d", _ARRAYS["wholebody_133"])
        columns.wholebody_133[rows] = wholebody
        columns.has_wholebody_133[rows] = True
    if "hand_keypoints_2d" in keys:
        columns.hand_keypoints_2d[rows] = stacker.array("hand_keypoints_2d", _ARRAYS["hand_keypoints_2d"])
    elif "wholebody_keypoints_2d" in keys:
        columns.hand_keypoints_2d[rows] = fingertips_from_wholebody133(wholebody)
    if "keypoints_3d" in keys:
        columns.keypoints_3d[rows] = stacker.array("keypoints_3d", _ARRAYS["keypoints_3d"])
        columns.has_keypoints_3d[rows] = True
    columns.center[rows] = stacker.array("center", _ARRAYS["center"])
    scale = stacker.numbers("scale", sizes=(1, 2))
    stacker.ok &= scale > 0
    columns.scale[rows] = scale

    if "body_pose" in keys:
        n_body = 3 * NUM_SMPL_BODY_JOINTS
        if "global_orient" in keys:  # 69 values + global_orient (72 values would be an error)
            columns.body_pose[rows] = stacker.array(
                "body_pose", (NUM_SMPL_BODY_JOINTS, 3), lambda spec: _pose_shape(spec, NUM_SMPL_BODY_JOINTS)
            ).reshape(m, n_body)
            columns.global_orient[rows] = stacker.array("global_orient", (3,))
        else:  # 72 values, the global orientation first
            pose = stacker.array("body_pose", (NUM_SMPL_BODY_JOINTS + 1, 3),
                                 lambda spec: _pose_shape(spec, NUM_SMPL_BODY_JOINTS + 1)).reshape(m, n_body + 3)
            columns.global_orient[rows] = pose[:, :3]
            columns.body_pose[rows] = pose[:, 3:]
        columns.has_body_pose[rows] = stacker.numbers("has_body_pose") > 0 if "has_body_pose" in keys else True
    elif "has_body_pose" in keys:
        stacker.ok &= ~(stacker.numbers("has_body_pose") > 0)  # set without a body_pose: an error
    if "betas" in keys:
        columns.betas[rows] = stacker.array("betas", (NUM_BETAS,))
        columns.has_betas[rows] = stacker.numbers("has_betas") > 0 if "has_betas" in keys else True
    elif "has_betas" in keys:
        stacker.ok &= ~(stacker.numbers("has_betas") > 0)
    extra_keys = [key for key in _EXTRA_KEYS if key in keys]
    if extra_keys:
        for row, label in zip(rows.tolist(), labels):
            columns.extra[row] = {key: label[key] for key in extra_keys}

    redo = rows[~stacker.ok]
    if len(redo):  # the rows parsed alone start from zeros again
        for name in _ARRAYS:
            getattr(columns, name)[redo] = 0
        for name in ("has_body_pose", "has_betas", "has_wholebody_133", "has_keypoints_3d"):
            getattr(columns, name)[redo] = False
        for row in redo.tolist():
            columns.extra[row] = {}
    return redo.tolist()
