"""The paper's label filters, applied to each :class:`~hardmo_hf.data.record.PersonRecord` at build time.

In the order of the authors' training code (``load_tars_as_webdataset``):

1. **Confidence threshold** (``confidence_threshold``; paper 0.5, authors' code 0.3): 2D keypoints whose
   confidence is below it get confidence 0 (their x, y are kept), in ``keypoints_2d`` and
   ``hand_keypoints_2d``. ``wholebody_133`` keeps the detector's raw scores. Outcome ``keypoints_suppressed``
   (a mark: the record is kept).
2. **Unusual shape**: any ``|beta| > max_abs_beta`` (3) makes the betas invalid (``betas_out_of_range``).
3. **Unusual pose**: a body pose that fails :func:`pose_is_plausible` is invalid (``implausible_pose``).
   The authors test poses against an AMASS pose histogram that is not distributed; this package uses the
   documented joint-limit rule of :func:`pose_is_plausible` instead.
4. **Pose and betas together**: a record keeps its SMPL label only if both are valid; otherwise both flags
   are cleared (``pose_betas_not_simultaneous``).
5. **Few keypoints**: a record is kept only if more than 4 of its ``keypoints_2d`` have confidence > 0
   after step 1 (``few_keypoints``: a reject).

Rejects vs marks: step 5 always rejects (the authors drop such samples). Steps 2-4 *mark* the SMPL label
invalid and keep the record for its 2D supervision (``invalid_smpl="mark"``, the authors' code); with
``invalid_smpl="reject"`` (the paper's wording, "discard") a record whose SMPL label was valid in the input
and is invalidated by step 2 or 3 is rejected instead. Only the label the record carries is tested; the
raw labels of optimized samples (``raw_*``) are kept as they are.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..constants import (
    CONFIDENCE_THRESHOLD_CODE,
    CONFIDENCE_THRESHOLD_PAPER,
    DEFAULT_CONFIDENCE_THRESHOLD,
    MAX_ABS_BETA,
    MIN_CONFIDENT_KEYPOINTS,
    NUM_SMPL_BODY_JOINTS,
    SMPL_BODY_JOINT_MAX_ROTATION_DEG,
    SMPL_HINGE_JOINT_LIMITS,
    SMPL_JOINT_NAMES,
)
from .record import PersonRecord, Reject

__all__ = [
    "FILTER_OUTCOMES",
    "FilterConfig",
    "RecordFilter",
    "filter_record",
    "pose_is_plausible",
    "pose_violations",
]

# Every outcome a filter can count; "kept" and "rejected" are totals.
FILTER_OUTCOMES = (
    "keypoints_suppressed", "betas_out_of_range", "implausible_pose", "pose_betas_not_simultaneous",
    "few_keypoints", "kept", "rejected",
)
_AXES = "xyz"


@dataclass(frozen=True)
class FilterConfig:
    """Filter settings. ``FilterConfig.paper()`` (threshold 0.5) is the default; ``authors_code()`` uses 0.3."""

    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
    min_keypoints: int = MIN_CONFIDENT_KEYPOINTS  # keep if at least this many keypoints have confidence > 0
    max_abs_beta: float = MAX_ABS_BETA
    check_pose: bool = True
    invalid_smpl: str = "mark"  # "mark" | "reject"

    def __post_init__(self):
        if not 0.0 <= self.confidence_threshold <= 1.0:
            raise ValueError(f"confidence_threshold must be in [0, 1], got {self.confidence_threshold}")
        if self.invalid_smpl not in ("mark", "reject"):
            raise ValueError(f"invalid_smpl must be 'mark' or 'reject', got {self.invalid_smpl!r}")
        if self.min_keypoints < 0 or self.max_abs_beta <= 0:
            raise ValueError("min_keypoints must be >= 0 and max_abs_beta > 0")

    @classmethod
    def paper(cls, **overrides) -> FilterConfig:
        return cls(confidence_threshold=CONFIDENCE_THRESHOLD_PAPER, **overrides)

    @classmethod
    def authors_code(cls, **overrides) -> FilterConfig:
        return cls(confidence_threshold=CONFIDENCE_THRESHOLD_CODE, **overrides)


def _canonical_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """The same rotations as ``(..., 3)`` axis-angle vectors with angle in [0, pi]."""
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    wrapped = np.mod(angle, 2 * np.pi)
    wrapped = np.where(wrapped > np.pi, wrapped - 2 * np.pi, wrapped)  # negative: flip the axis
    factor = np.divide(wrapped, angle, out=np.ones_like(angle), where=angle > 1e-12)
    return rotvec * factor


def _well_inside_limits() -> tuple[np.ndarray, np.ndarray]:
    """``(A, b)`` such that ``A @ concat(pose, pose**2) <= b`` (``pose`` ``(69,)`` rad) holds only for poses that
    pass :func:`pose_violations` with room to spare (a margin of 1e-6 of each limit).

    Rows: each joint's squared angle, each hinge's squared off-axis norm (both sums of squares), then each
    hinge's flexion from below and from above (linear). Limits below 180 degrees keep every raw angle under
    pi, where the canonical rotation vector is the pose itself. One matrix product tests a typical pose;
    :func:`filter_record` runs the exact rule (and writes its messages) only for the others.
    """
    n = 3 * NUM_SMPL_BODY_JOINTS
    rows, bounds = [], []

    def shrink(limit_deg: float) -> float:
        limit = np.radians(limit_deg)
        return limit - 1e-6 * abs(limit) - 1e-12

    for joint, limit in enumerate(SMPL_BODY_JOINT_MAX_ROTATION_DEG):
        row = np.zeros(2 * n)
        row[n + 3 * joint:n + 3 * joint + 3] = 1.0
        rows.append(row)
        bounds.append(shrink(min(limit, 180.0)) ** 2)
    for joint, (axis, sign, low, high, others, off_limit) in SMPL_HINGE_JOINT_LIMITS.items():
        base = 3 * (joint - 1)
        off, below, above = np.zeros(2 * n), np.zeros(2 * n), np.zeros(2 * n)
        off[[n + base + a for a in others]] = 1.0
        below[base + axis], above[base + axis] = -sign, sign  # -flexion <= -low, flexion <= high
        rows += [off, below, above]
        bounds += [shrink(off_limit) ** 2, shrink(-low), shrink(high)]
    return np.array(rows), np.array(bounds)


_INSIDE_A, _INSIDE_B = _well_inside_limits()


def _surely_plausible(body_pose: np.ndarray) -> bool:
    """Whether ``body_pose`` ``(69,)`` rad is well inside the rule of :func:`pose_violations` (``False``: unsure)."""
    pose = np.asarray(body_pose, dtype=np.float64).reshape(-1)
    return bool((_INSIDE_A @ np.concatenate((pose, pose * pose)) <= _INSIDE_B).all())


def pose_violations(body_pose: np.ndarray) -> list[str]:
    """The joint-limit violations of one SMPL ``body_pose`` ``(69,)`` (axis-angle, rad, joints 1..23).

    The rule (limits in :mod:`hardmo_hf.constants`):

    * every body joint's rotation angle (wrapped to [0, 180] degrees) is at most
      ``SMPL_BODY_JOINT_MAX_ROTATION_DEG`` (shoulders are unlimited);
    * knees and elbows are hinges (``SMPL_HINGE_JOINT_LIMITS``): the rotation-vector component about the
      hinge axis, signed so that flexion is positive, lies in [-25, 165] degrees (no bending the wrong way),
      and the components about the limited other axes have norm <= 60 degrees (no sideways knee).
    """
    pose = np.asarray(body_pose, dtype=np.float64).reshape(NUM_SMPL_BODY_JOINTS, 3)
    rot = np.degrees(_canonical_rotvec(pose))
    angles = np.linalg.norm(rot, axis=-1)
    found = []
    for index, (angle, limit) in enumerate(zip(angles, SMPL_BODY_JOINT_MAX_ROTATION_DEG)):
        if angle > limit:
            found.append(f"{SMPL_JOINT_NAMES[index + 1]} rotates {angle:.0f} deg (limit {limit:.0f})")
    for joint, (axis, sign, low, high, others, off_limit) in SMPL_HINGE_JOINT_LIMITS.items():
        vector = rot[joint - 1]
        flexion = sign * vector[axis]
        name = SMPL_JOINT_NAMES[joint]
        if not low <= flexion <= high:
            found.append(f"{name} flexion {flexion:.0f} deg outside [{low:.0f}, {high:.0f}]")
        off = float(np.linalg.norm(vector[list(others)]))
        if off > off_limit:
            axes = "".join(_AXES[a] for a in others)
            found.append(f"{name} bends {off:.0f} deg about {axes} (limit {off_limit:.0f})")
    return found


def pose_is_plausible(body_pose: np.ndarray) -> bool:
    """Whether ``body_pose`` ``(69,)`` passes the joint-limit rule of :func:`pose_violations`."""
    return not pose_violations(body_pose)


def filter_record(record: PersonRecord, config: FilterConfig = FilterConfig()) -> tuple[PersonRecord | Reject, list[str]]:
    """Apply the filters to ``record`` (unchanged; a filtered copy is returned).

    Returns:
        ``(kept record or Reject, outcomes)`` where ``outcomes`` lists the :data:`FILTER_OUTCOMES` that
        applied (marks and/or the reject reason).
    """
    outcomes: list[str] = []
    changes: dict = {}
    threshold = config.confidence_threshold
    keypoints = record.keypoints_2d
    if threshold > 0:
        suppressed = False
        for name in ("keypoints_2d", "hand_keypoints_2d"):
            array = getattr(record, name)
            confidence = array[:, 2]
            weak = (confidence < threshold) & (confidence != 0)
            if weak.any():
                array = array.copy()
                array[weak, 2] = 0.0
                changes[name] = array
                suppressed = True
        if suppressed:
            outcomes.append("keypoints_suppressed")
        keypoints = changes.get("keypoints_2d", keypoints)

    has_betas, has_pose = bool(record.has_betas), bool(record.has_body_pose)
    detail = ""
    if has_betas and record.betas is not None and (np.abs(record.betas) > config.max_abs_beta).any():
        has_betas = False
        outcomes.append("betas_out_of_range")
        detail = f"max |beta| = {float(np.abs(record.betas).max()):.2f} > {config.max_abs_beta}"
    if config.check_pose and has_pose and record.body_pose is not None and not _surely_plausible(record.body_pose):
        violations = pose_violations(record.body_pose)
        if violations:
            has_pose = False
            outcomes.append("implausible_pose")
            detail = "; ".join(violations)
    if config.invalid_smpl == "reject" and outcomes and outcomes[-1] in ("betas_out_of_range", "implausible_pose"):
        return Reject(record.source, outcomes[-1], detail, record.sample_id), outcomes
    if has_pose != has_betas:
        outcomes.append("pose_betas_not_simultaneous")
        has_pose = has_betas = False
    if has_pose != record.has_body_pose:
        changes["has_body_pose"] = has_pose
    if has_betas != record.has_betas:
        changes["has_betas"] = has_betas

    confident = np.count_nonzero(keypoints[:, 2] > 0)
    if confident < config.min_keypoints:
        outcomes.append("few_keypoints")
        detail = f"{confident} keypoints with confidence > 0 after the {threshold} threshold " \
                 f"(at least {config.min_keypoints} needed)"
        return Reject(record.source, "few_keypoints", detail, record.sample_id), outcomes
    if not changes:
        return record, outcomes
    filtered = copy.copy(record)  # shallow, like dataclasses.replace, without re-running __init__ (30 fields)
    vars(filtered).update(changes)
    return filtered, outcomes


class RecordFilter:
    """:func:`filter_record` with running counts per outcome (``counts``), for one build task.

    >>> flt = RecordFilter(FilterConfig.paper())
    >>> kept_or_reject = flt(record)          # doctest: +SKIP
    >>> flt.counts["few_keypoints"]           # doctest: +SKIP
    """

    def __init__(self, config: FilterConfig = FilterConfig()):
        self.config = config
        self.counts: Counter = Counter({outcome: 0 for outcome in FILTER_OUTCOMES})

    def __call__(self, record: PersonRecord) -> PersonRecord | Reject:
        result, outcomes = filter_record(record, self.config)
        self.counts.update(outcomes)
        self.counts["rejected" if isinstance(result, Reject) else "kept"] += 1
        return result
