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
from .block import RecordBlock
from .record import PersonRecord, Reject

__all__ = [
    "FILTER_OUTCOMES",
    "FilterConfig",
    "RecordFilter",
    "filter_block",
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
    :func:`filter_block` runs the exact rule (and writes its messages) only for the others.
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


def _surely_plausible_rows(body_pose: np.ndarray) -> np.ndarray:
    """``(n,)`` bool: whether each ``(n, 69)`` body pose (rad) is well inside the rule of :func:`pose_violations`
    (``False``: unsure, the exact rule decides)."""
    pose = np.asarray(body_pose, dtype=np.float64).reshape(len(body_pose), -1)
    return (np.concatenate((pose, pose * pose), axis=1) @ _INSIDE_A.T <= _INSIDE_B).all(axis=1)


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


def filter_block(block: RecordBlock, config: FilterConfig = FilterConfig(), sample_ids: list[str] | None = None
                 ) -> tuple[RecordBlock, np.ndarray, list[tuple[int, Reject]], Counter]:
    """Apply the filters to every row of ``block`` at once (``block`` is not modified). ``sample_ids``: the
    block's :meth:`~hardmo_hf.data.block.RecordBlock.sample_ids`, when the caller already has them.

    Returns:
        ``(kept, kept_rows, rejects, outcomes)``: the kept rows as a new block (confidences suppressed, SMPL flags
        updated), their row numbers in ``block`` (ascending), ``(row, Reject)`` for the others (ascending), and
        how many rows each of the :data:`FILTER_OUTCOMES` applied to (marks and reject reasons; not the totals).
    """
    columns = block.columns
    n = len(block)
    outcomes: Counter = Counter()
    changed: dict[str, np.ndarray] = {}
    threshold = config.confidence_threshold
    suppressed = np.zeros(n, dtype=bool)
    if threshold > 0:
        for name in ("keypoints_2d", "hand_keypoints_2d"):
            confidence = columns[name][:, :, 2]
            weak = (confidence < threshold) & (confidence != 0)
            rows = weak.any(axis=1)
            if rows.any():
                array = columns[name].copy()
                array[:, :, 2][weak] = 0.0
                changed[name] = array
                suppressed |= rows
        outcomes["keypoints_suppressed"] = int(suppressed.sum())
    keypoints = changed.get("keypoints_2d", columns["keypoints_2d"])

    has_betas = columns["has_betas"].copy()
    has_pose = columns["has_body_pose"].copy()
    last_reason: dict[int, tuple[str, str]] = {}  # row -> the last SMPL outcome and its detail
    betas_bad = has_betas & (np.abs(columns["betas"]) > config.max_abs_beta).any(axis=1)
    if betas_bad.any():
        has_betas &= ~betas_bad
        outcomes["betas_out_of_range"] = int(betas_bad.sum())
        for row in np.flatnonzero(betas_bad).tolist():
            largest = float(np.abs(columns["betas"][row]).max())
            last_reason[row] = ("betas_out_of_range", f"max |beta| = {largest:.2f} > {config.max_abs_beta}")
    if config.check_pose and has_pose.any():
        unsure = np.flatnonzero(has_pose & ~_surely_plausible_rows(columns["body_pose"]))
        for row in unsure.tolist():
            violations = pose_violations(columns["body_pose"][row])
            if violations:
                has_pose[row] = False
                outcomes["implausible_pose"] += 1
                last_reason[row] = ("implausible_pose", "; ".join(violations))

    rejected: dict[int, Reject] = {}
    sources = columns["source"]
    sample_ids = block.sample_ids() if sample_ids is None else sample_ids
    if config.invalid_smpl == "reject":
        for row, (reason, detail) in last_reason.items():
            rejected[row] = Reject(sources[row], reason, detail, sample_ids[row])
    live = np.ones(n, dtype=bool)
    live[list(rejected)] = False
    apart = live & (has_pose != has_betas)
    outcomes["pose_betas_not_simultaneous"] = int(apart.sum())
    has_pose &= ~apart
    has_betas &= ~apart

    confident = np.count_nonzero(keypoints[:, :, 2] > 0, axis=1)
    few = live & (confident < config.min_keypoints)
    outcomes["few_keypoints"] = int(few.sum())
    for row in np.flatnonzero(few).tolist():
        detail = f"{int(confident[row])} keypoints with confidence > 0 after the {threshold} threshold " \
                 f"(at least {config.min_keypoints} needed)"
        rejected[row] = Reject(sources[row], "few_keypoints", detail, sample_ids[row])

    live &= ~few
    kept_rows = np.flatnonzero(live)
    filtered = RecordBlock({**columns, **changed, "has_body_pose": has_pose, "has_betas": has_betas}, block.valid)
    kept = filtered if len(kept_rows) == n else filtered.take(kept_rows)
    outcomes = +outcomes  # drop the zero counts
    return kept, kept_rows, sorted(rejected.items()), outcomes


def filter_record(record: PersonRecord, config: FilterConfig = FilterConfig()) -> tuple[PersonRecord | Reject, list[str]]:
    """:func:`filter_block` for one record (``record`` is not modified; a filtered copy is returned).

    Returns:
        ``(kept record or Reject, outcomes)`` where ``outcomes`` lists the :data:`FILTER_OUTCOMES` that
        applied (marks and/or the reject reason).
    """
    block, bad = RecordBlock.from_records([record])
    if bad:
        raise ValueError(f"{record.source}: {bad[0][1]}")
    kept, _, rejects, counts = filter_block(block, config, [record.sample_id])
    outcomes = [name for name in FILTER_OUTCOMES if counts[name]]
    if rejects:
        return rejects[0][1], outcomes
    changes = {}
    for name in ("keypoints_2d", "hand_keypoints_2d"):
        if kept.columns[name] is not block.columns[name]:
            changes[name] = kept.columns[name][0]
    for name in ("has_body_pose", "has_betas"):
        value = bool(kept.columns[name][0])
        if value != bool(getattr(record, name)):
            changes[name] = value
    if not changes:
        return record, outcomes
    filtered = copy.copy(record)  # shallow, like dataclasses.replace, without re-running __init__ (30 fields)
    vars(filtered).update(changes)
    return filtered, outcomes


class RecordFilter:
    """:func:`filter_record` / :func:`filter_block` with running counts per outcome (``counts``), for one build
    task.

    >>> flt = RecordFilter(FilterConfig.paper())
    >>> kept_or_reject = flt(record)          # doctest: +SKIP
    >>> kept, rows, rejects = flt.filter_block(block, sample_ids)   # doctest: +SKIP
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

    def filter_block(self, block: RecordBlock, sample_ids: list[str] | None = None
                     ) -> tuple[RecordBlock, np.ndarray, list[tuple[int, Reject]]]:
        """:func:`filter_block` of ``block``, counted; returns ``(kept, kept_rows, rejects)``."""
        kept, kept_rows, rejects, outcomes = filter_block(block, self.config, sample_ids)
        self.counts.update(outcomes)
        self.counts["kept"] += len(kept_rows)
        self.counts["rejected"] += len(rejects)
        return kept, kept_rows, rejects
