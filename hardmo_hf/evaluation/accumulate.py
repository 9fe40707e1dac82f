"""Streaming accumulation of the HardMo metrics over a split, overall and per action class.

Memory is flat in the number of samples: per-sample values are summed as they arrive (float64), PCK keeps
per-keypoint counts. One :class:`EvaluationBatch` per model batch goes in; :meth:`MetricAccumulator.result`
gives the split averages the way the authors' ``Evaluator`` does: 3D errors are means over samples of the
per-sample mean over joints; PCK is per-keypoint accuracy over the split, averaged over keypoints.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch

from ..constants import EVAL_BODY_JOINTS, EVAL_FOOT_JOINTS, NUM_LABEL_KEYPOINTS
from . import metrics as M

METRES_TO_MM = 1000.0

# PCK keypoint sets. ``body`` and ``foot`` follow the authors' EvaluatorPCK (Table S-1); ``body_all`` is every
# point of the 44-point label layout with a confident GT (in practice the BODY_25 rows, the J19 rows being
# empty in 2D), which is what the authors' EvaluatorPCK_hand reports as "body" next to the hand (Table S-2);
# ``hand`` is both wrists + the 10 fingertips.
PCK_SETS = ("body", "foot", "hand", "body_all")
# 3D joint sets: name -> label-44 indices.
JOINT_SETS = {"body": EVAL_BODY_JOINTS, "foot": EVAL_FOOT_JOINTS}


@dataclass
class EvaluationBatch:
    """One batch of predictions and labels, in the units the metrics expect.

    3D (metres, SMPL model frame, no camera translation); ``gt_*`` come from the label's SMPL parameters:
        pred_joints44, gt_joints44: (B,44,3) label layout (J19 rows NaN without a J19 regressor)
        pred_root, gt_root: (B,3) the alignment root (label joint 39, or the SMPL pelvis fallback)
        pred_rotmat, gt_rotmat: (B,24,3,3) local SMPL rotations, global orientation first
        has_smpl: (B,) bool, the label's SMPL parameters are valid (3D metrics and angle bias use only these)
    2D (full-image pixels):
        pred_keypoints_2d: (B,44,2) projected label-layout joints
        pred_fingertips_2d: (B,10,2) projected smplx fingertips
        gt_keypoints_2d: (B,44,3) px + confidence; gt_fingertips_2d: (B,10,3) px + confidence
        pck_normalizer: (B,) px (``scale * 200`` or the longest image side)
        box_center: (B,2) px, box_size: (B,) px: the model's crop box (for the crop-frame ``kpl2``)
    categories: action class of each sample (per-class breakdown).
    """

    pred_joints44: torch.Tensor
    gt_joints44: torch.Tensor
    pred_root: torch.Tensor
    gt_root: torch.Tensor
    pred_rotmat: torch.Tensor
    gt_rotmat: torch.Tensor
    has_smpl: torch.Tensor
    pred_keypoints_2d: torch.Tensor
    pred_fingertips_2d: torch.Tensor
    gt_keypoints_2d: torch.Tensor
    gt_fingertips_2d: torch.Tensor
    pck_normalizer: torch.Tensor
    box_center: torch.Tensor
    box_size: torch.Tensor
    categories: list[str]

    def __post_init__(self) -> None:
        b = self.pred_joints44.shape[0]
        expected = {
            "pred_joints44": (b, NUM_LABEL_KEYPOINTS, 3), "gt_joints44": (b, NUM_LABEL_KEYPOINTS, 3),
            "pred_root": (b, 3), "gt_root": (b, 3), "pred_rotmat": (b, 24, 3, 3), "gt_rotmat": (b, 24, 3, 3),
            "has_smpl": (b,), "pred_keypoints_2d": (b, NUM_LABEL_KEYPOINTS, 2), "pred_fingertips_2d": (b, 10, 2),
            "gt_keypoints_2d": (b, NUM_LABEL_KEYPOINTS, 3), "gt_fingertips_2d": (b, 10, 3),
            "pck_normalizer": (b,), "box_center": (b, 2), "box_size": (b,),
        }
        for name, shape in expected.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise ValueError(f"EvaluationBatch.{name}: expected shape {shape}, got {got}")
        if len(self.categories) != b:
            raise ValueError(f"EvaluationBatch.categories: expected {b} entries, got {len(self.categories)}")


def per_sample_metrics(batch: EvaluationBatch, thresholds=M.PCK_THRESHOLDS) -> dict:
    """All per-sample values of one batch.

    Returns a dict with
        ``mpjpe_body``, ``pa_mpjpe_body``, ``mpjpe_foot``, ``pa_mpjpe_foot`` (B,) mm (NaN where ``has_smpl`` is
        False), ``angle_bias`` (B,) degrees (NaN likewise), ``has_smpl`` (B,) bool, ``kpl2`` (B,), and
        ``pck`` = {set: (correct (T,B,K), valid (B,K))}.
    """
    out: dict = {}
    pred = M.center_on(batch.pred_joints44, batch.pred_root)
    gt = M.center_on(batch.gt_joints44, batch.gt_root)
    nan = torch.full_like(batch.pred_root[:, 0], float("nan"))
    has = batch.has_smpl.to(torch.bool)
    for name, joints in JOINT_SETS.items():
        idx = list(joints)
        out[f"mpjpe_{name}"] = torch.where(has, METRES_TO_MM * M.mpjpe(pred[:, idx], gt[:, idx]), nan)
        out[f"pa_mpjpe_{name}"] = torch.where(has, METRES_TO_MM * M.pa_mpjpe(pred[:, idx], gt[:, idx]), nan)
    out["angle_bias"] = torch.where(has, M.angle_bias(batch.pred_rotmat, batch.gt_rotmat), nan)
    out["has_smpl"] = has

    gt_crop = torch.cat(
        [M.full_image_to_crop(batch.gt_keypoints_2d[..., :2], batch.box_center, batch.box_size),
         batch.gt_keypoints_2d[..., 2:]], dim=-1)
    pred_crop = M.full_image_to_crop(batch.pred_keypoints_2d, batch.box_center, batch.box_size)
    out["kpl2"] = M.keypoint_l2(pred_crop, gt_crop)

    pred_hand = M.hand_keypoints(batch.pred_keypoints_2d, batch.pred_fingertips_2d)
    gt_hand = M.hand_keypoints(batch.gt_keypoints_2d, batch.gt_fingertips_2d)
    sets = {
        "body": (batch.pred_keypoints_2d[:, list(EVAL_BODY_JOINTS)], batch.gt_keypoints_2d[:, list(EVAL_BODY_JOINTS)]),
        "foot": (batch.pred_keypoints_2d[:, list(EVAL_FOOT_JOINTS)], batch.gt_keypoints_2d[:, list(EVAL_FOOT_JOINTS)]),
        "hand": (pred_hand, gt_hand),
        "body_all": (batch.pred_keypoints_2d, batch.gt_keypoints_2d),
    }
    out["pck"] = {
        name: M.pck_hits(p, g, batch.pck_normalizer, thresholds=thresholds) for name, (p, g) in sets.items()
    }
    return out


class _Group:
    """Sums for one group of samples (the whole split or one action class)."""

    SCALARS = ("mpjpe_body", "pa_mpjpe_body", "mpjpe_foot", "pa_mpjpe_foot", "angle_bias", "kpl2")

    def __init__(self):
        self.num_samples = 0
        self.sums = dict.fromkeys(self.SCALARS, 0.0)
        self.counts = dict.fromkeys(self.SCALARS, 0)
        self.pck_correct: dict[str, torch.Tensor] = {}
        self.pck_valid: dict[str, torch.Tensor] = {}

    def add(self, values: dict, mask: torch.Tensor) -> None:
        self.num_samples += int(mask.sum())
        has_smpl = values["has_smpl"] & mask
        for name in self.SCALARS:
            # 3D values and angle bias exist only where the label has SMPL parameters; a NaN prediction there
            # still counts (and shows up as NaN in the result) rather than being dropped.
            rows = mask if name == "kpl2" else has_smpl
            v = values[name][rows].double()
            self.sums[name] += float(v.sum())
            self.counts[name] += int(v.numel())
        for name, (correct, valid) in values["pck"].items():
            c = correct[:, mask].sum(dim=1).to(torch.int64)  # (T,K)
            n = valid[mask].sum(dim=0).to(torch.int64)  # (K,)
            if name in self.pck_correct:
                self.pck_correct[name] += c
                self.pck_valid[name] += n
            else:
                self.pck_correct[name] = c.clone()
                self.pck_valid[name] = n.clone()

    def result(self, thresholds) -> dict:
        def mean(name):
            return self.sums[name] / self.counts[name] if self.counts[name] else float("nan")

        res = {
            "num_samples": self.num_samples,
            "num_samples_3d": self.counts["mpjpe_body"],
            "mpjpe": {"body": mean("mpjpe_body"), "foot": mean("mpjpe_foot")},
            "pa_mpjpe": {"body": mean("pa_mpjpe_body"), "foot": mean("pa_mpjpe_foot")},
            "angle_bias": mean("angle_bias"),
            "kpl2": mean("kpl2"),
            "pck": {},
            "pck_per_keypoint": {},
            "pck_num_keypoints": {},
        }
        for name in self.pck_correct:
            per_kp, avg = M.pck_from_counts(self.pck_correct[name], self.pck_valid[name])
            res["pck"][name] = {_thr_key(t): float(avg[i]) for i, t in enumerate(thresholds)}
            res["pck_per_keypoint"][name] = {
                _thr_key(t): [None if torch.isnan(a) else float(a) for a in per_kp[i]] for i, t in enumerate(thresholds)
            }
            res["pck_num_keypoints"][name] = [int(n) for n in self.pck_valid[name]]
        return res


def _thr_key(threshold: float) -> str:
    """The threshold as the authors' metric names print it (``0.01``, ``0.05``, ``0.1``)."""
    return f"{threshold}"


class MetricAccumulator:
    """Accumulates :func:`per_sample_metrics` over batches; :meth:`result` gives split and per-class averages."""

    def __init__(self, thresholds: tuple[float, ...] = M.PCK_THRESHOLDS):
        self.thresholds = tuple(thresholds)
        self.overall = _Group()
        self.by_category: dict[str, _Group] = defaultdict(_Group)

    def update(self, batch: EvaluationBatch) -> dict:
        """Add one batch; returns its per-sample values (for a per-sample report)."""
        values = per_sample_metrics(batch, self.thresholds)
        all_rows = torch.ones(len(batch.categories), dtype=torch.bool, device=batch.pred_root.device)
        self.overall.add(values, all_rows)
        for category in sorted(set(batch.categories)):
            mask = torch.tensor([c == category for c in batch.categories], dtype=torch.bool, device=all_rows.device)
            self.by_category[category].add(values, mask)
        return values

    @property
    def num_samples(self) -> int:
        return self.overall.num_samples

    def result(self) -> dict:
        res = self.overall.result(self.thresholds)
        res["per_category"] = {name: group.result(self.thresholds) for name, group in sorted(self.by_category.items())}
        for group in res["per_category"].values():
            # Per-keypoint detail only for the whole split, to keep results.json readable.
            group.pop("pck_per_keypoint")
            group.pop("pck_num_keypoints")
        return res
