"""Optimizing mined labels and writing them to the Foot / Hand trees.

An optimized label is the raw label with its SMPL pose replaced (``body_pose`` (72,) axis-angle, global
orientation first; betas unchanged) and an ``extra_info["optimization"]`` record::

    {"stages": ["foot"] | ["hand_body", "hand"], "objective_before": [..], "objective_after": [..],
     "improved": [..], "camera": [s px/m, t_x px, t_y px],
     "target_error_before": e0, "target_error_after": e1, "body_error_before": b0, "body_error_after": b1}

(errors: mean keypoint distance / box side over detections with confidence >= 0.5; ``target`` = ankles, toes
and heels for Foot, wrists and fingertips for Hand; ``before`` uses the least-squares camera of the raw label,
``after`` the optimized camera). The raw label stays in ``normal/``, so the dataset carries both.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from ..data.writers import write_label
from .camera import fit_weak_perspective, project
from .fitting import FIT_BODY, FIT_CAMERA, FIT_FOOT, FIT_HAND, FitBatch, LabelFitter, keypoint_errors
from .label_tree import NORMAL_TREE, SampleRef, fit_batch, load_label

REPORT_CONFIDENCE = 0.5
TARGET_POINTS = {"foot": FIT_FOOT, "hand": FIT_HAND}


def _errors(fitter: LabelFitter, batch: FitBatch, pose, scale, translation, rows) -> np.ndarray:
    with torch.no_grad():
        rest = fitter.model.rest(batch.betas)
        points = project(fitter.keypoints(pose, rest), scale, translation)
        error, _ = keypoint_errors(points, batch.keypoints, batch.box_size, rows, REPORT_CONFIDENCE)
    return error.cpu().numpy()


def optimize_batch(
    fitter: LabelFitter, batch: FitBatch, stage: str, hand_stages=("hand_body", "hand")
) -> dict:
    """Run the ``foot`` stage or the hand stages on a batch; returns the new poses and per-sample records."""
    batch = fitter.to_device(batch)
    results = [fitter.fit_foot(batch)] if stage == "foot" else fitter.fit_hand(batch, tuple(hand_stages))
    final = results[-1]
    with torch.no_grad():
        rest = fitter.model.rest(batch.betas)
        points = fitter.keypoints(batch.pose, rest)
        conf = batch.keypoints[:, list(FIT_CAMERA), 2]
        weights = torch.where(conf >= REPORT_CONFIDENCE, conf, torch.zeros_like(conf))
        scale0, trans0, _ = fit_weak_perspective(
            points[:, list(FIT_CAMERA)], batch.keypoints[:, list(FIT_CAMERA), :2], weights
        )
    target, body = TARGET_POINTS[stage], FIT_BODY
    return {
        "pose": final.pose.cpu().numpy(),
        "camera": torch.cat([final.camera_scale[:, None], final.camera_translation], 1).cpu().numpy(),
        "valid": results[0].valid.cpu().numpy(),
        "objective_before": np.stack([r.objective_before.cpu().numpy() for r in results], 1),
        "objective_after": np.stack([r.objective_after.cpu().numpy() for r in results], 1),
        "improved": np.stack([r.improved.cpu().numpy() for r in results], 1),
        "target_error_before": _errors(fitter, batch, batch.pose, scale0, trans0, target),
        "target_error_after": _errors(
            fitter, batch, final.pose, final.camera_scale, final.camera_translation, target
        ),
        "body_error_before": _errors(fitter, batch, batch.pose, scale0, trans0, body),
        "body_error_after": _errors(
            fitter, batch, final.pose, final.camera_scale, final.camera_translation, body
        ),
        "stages": [r.stage for r in results],
    }


def _number(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


def optimize_samples(
    fitter: LabelFitter,
    refs: list[SampleRef],
    out_root: Path,
    stage: str,
    hand_stages=("hand_body", "hand"),
    batch_size: int = 1024,
    progress=None,
) -> dict:
    """Optimize ``refs`` (labels of ``out_root/normal``) and write them to ``out_root/<stage>``.

    Returns a summary for the stage report: counts, per-sample errors before/after, and timing.
    """
    normal_tree, out_tree = Path(out_root) / NORMAL_TREE, Path(out_root) / stage
    summary = {
        "samples": len(refs),
        "written": 0,
        "skipped": {},
        "valid_camera": 0,
        "improved_per_stage": None,
        "seconds": 0.0,
        "target_error_before": [],
        "target_error_after": [],
        "body_error_before": [],
        "body_error_after": [],
    }
    for start in range(0, len(refs), batch_size):
        chunk, raws, labels = [], [], []
        for ref in refs[start : start + batch_size]:
            path = ref.label_path(normal_tree)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: mined sample {ref.sample_id} has no label in {normal_tree}")
            raw, label = load_label(path)
            if not label.has_body_pose:
                summary["skipped"]["no_smpl_label"] = summary["skipped"].get("no_smpl_label", 0) + 1
                continue
            chunk.append(ref)
            raws.append(raw)
            labels.append(label)
        if not chunk:
            continue
        began = time.perf_counter()
        out = optimize_batch(fitter, fit_batch(labels), stage, hand_stages)
        summary["seconds"] += time.perf_counter() - began
        improved = out["improved"].sum(0).tolist()
        summary["improved_per_stage"] = [
            a + b for a, b in zip(summary["improved_per_stage"] or [0] * len(improved), improved)
        ]
        summary["valid_camera"] += int(out["valid"].sum())
        for i, (ref, raw) in enumerate(zip(chunk, raws)):
            record = {
                "stages": out["stages"],
                "objective_before": [round(float(v), 6) for v in out["objective_before"][i]],
                "objective_after": [round(float(v), 6) for v in out["objective_after"][i]],
                "improved": [bool(v) for v in out["improved"][i]],
                "camera": [round(float(v), 4) for v in out["camera"][i]],
            }
            for key in ("target_error_before", "target_error_after", "body_error_before", "body_error_after"):
                record[key] = _number(out[key][i])
                summary[key].append(record[key])
            write_label(ref.label_path(out_tree), optimized_label(raw, out["pose"][i], record))
            summary["written"] += 1
        if progress is not None:
            progress.update(len(chunk))
    return summary


def optimized_label(raw: dict, pose: np.ndarray, record: dict) -> dict:
    """The raw label with the optimized pose (72,) and the optimization record in ``extra_info``."""
    label = {key: value for key, value in raw.items() if key != "global_orient"}
    label["body_pose"] = np.asarray(pose, dtype=np.float32).reshape(72)
    label["has_body_pose"] = 1.0
    extra = raw.get("extra_info")
    extra = dict(extra) if isinstance(extra, dict) else ({} if extra is None else {"raw_extra_info": extra})
    extra["optimization"] = record
    label["extra_info"] = extra
    return label


def merge_optimize_summaries(summaries: list[dict], stage: str, hand_stages) -> dict:
    """The stage report: counts, improvement, error statistics before/after, frames per second."""
    stages = ["foot"] if stage == "foot" else list(hand_stages)
    skipped: dict[str, int] = {}
    for s in summaries:
        for reason, count in s["skipped"].items():
            skipped[reason] = skipped.get(reason, 0) + count
    seconds = sum(s["seconds"] for s in summaries)
    written = sum(s["written"] for s in summaries)
    improved = [
        sum((s["improved_per_stage"] or [0] * len(stages))[k] for s in summaries) for k in range(len(stages))
    ]
    report = {
        "stage": stage,
        "stages": stages,
        "samples": sum(s["samples"] for s in summaries),
        "written": written,
        "skipped": skipped,
        "valid_camera": sum(s["valid_camera"] for s in summaries),
        "improved_per_stage": dict(zip(stages, improved)),
        "optimization_seconds_summed_over_tasks": round(seconds, 3),
        "labels_per_second_per_task": round(written / seconds, 2) if seconds > 0 else None,
        "error_unit": "mean keypoint distance / box side (confidence >= 0.5)",
    }
    for key in ("target_error", "body_error"):
        for when in ("before", "after"):
            values = np.array(
                [v for s in summaries for v in s[f"{key}_{when}"] if v is not None], dtype=float
            )
            report[f"{key}_{when}"] = {
                "mean": float(values.mean()) if values.size else None,
                "median": float(np.median(values)) if values.size else None,
                "count": int(values.size),
            }
    return report
