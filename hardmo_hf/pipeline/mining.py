"""Hard-case mining: which labels get feet or hands wrong.

The authors' criteria are unpublished; ours are transparent and computed per label from the label alone:

1. the SMPL label's keypoints (smplx joints: BODY_25 rows and fingertips) are placed in the image by the
   least-squares weak-perspective camera (:mod:`.camera`) fitted to the label's confident body keypoints,
   excluding the limb ends being judged (ankles, wrists): nose, eyes, ears, shoulders, elbows, hips, knees;
2. ``foot_error`` = mean distance between the projected and the detected toes and heels (BODY_25 rows
   19-24) over the detections with confidence >= ``min_confidence``, divided by the label box side
   (``scale * 200``); ``hand_error`` = the same over the wrists and the 10 fingertips;
3. a label is a Foot (Hand) hard case when its error exceeds ``foot_threshold`` (``hand_threshold``).
   A label with fewer than ``min_points`` confident points in a group, or without a camera (fewer than 3
   confident camera points), is not judged for that group and is counted as such.

Defaults: ``min_confidence`` 0.5 (the paper's keypoint threshold), ``foot_threshold`` 0.025 and
``hand_threshold`` 0.038 of the box side (6 and 9 px for a 240 px box; hands get more room because
fingertip detections are noisier). With them, the sample pipeline input
(:func:`hardmo_hf.testing.pipeline.make_sample_raw_input`, whose labels carry a gross foot / hand error at
8 % / 6.5 % on top of small errors everywhere) mines about 7.5 % Foot and 6 % Hand samples, the paper's
proportions (> 500K and > 400K of 7M). ``mine`` reports the distribution of both errors (quantiles and a
histogram) so thresholds can be chosen for other data.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..constants import EVAL_FOOT_JOINTS
from .camera import project
from .config import MiningConfig
from .fitting import FIT_CAMERA, FIT_HAND, FitBatch, LabelFitter, keypoint_errors

FOOT_CRITERION_POINTS = tuple(EVAL_FOOT_JOINTS)  # toes and heels (fitting-layout rows)
HAND_CRITERION_POINTS = FIT_HAND  # wrists and fingertips
HISTOGRAM_BINS = tuple(round(0.005 * i, 3) for i in range(41))  # 0 .. 0.2 box sides, then overflow
QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.925, 0.94, 0.95, 0.99)


def mining_errors(fitter: LabelFitter, batch: FitBatch, config: MiningConfig) -> dict[str, np.ndarray]:
    """Per-label criteria of a batch: ``foot`` and ``hand`` errors (NaN when not judged), ``camera_ok``."""
    batch = fitter.to_device(batch)
    rest = fitter.model.rest(batch.betas)
    with torch.no_grad():
        scale, translation, valid = fitter.initial_camera(batch, rest, FIT_CAMERA, config.min_confidence)
        points = project(fitter.keypoints(batch.pose, rest), scale, translation)
    out = {"camera_ok": valid.cpu().numpy()}
    for name, rows in (("foot", FOOT_CRITERION_POINTS), ("hand", HAND_CRITERION_POINTS)):
        error, count = keypoint_errors(points, batch.keypoints, batch.box_size, rows, config.min_confidence)
        error = torch.where(valid & (count >= config.min_points), error, torch.full_like(error, math.nan))
        out[name] = error.cpu().numpy()
        out[f"{name}_points"] = count.cpu().numpy()
    return out


def summarize(
    errors: np.ndarray, threshold: float, points: np.ndarray, camera_ok: np.ndarray, min_points: int
):
    """Counts, quantiles and histogram of one criterion over all labels."""
    judged = np.isfinite(errors)
    values = errors[judged]
    hard = int((values > threshold).sum())
    counts, _ = np.histogram(np.clip(values, 0, HISTOGRAM_BINS[-1] + 1e-9), bins=[*HISTOGRAM_BINS, math.inf])
    return {
        "threshold": threshold,
        "labels": int(errors.size),
        "judged": int(judged.sum()),
        "not_judged": {
            "no_camera": int((~camera_ok).sum()),
            "too_few_confident_points": int((camera_ok & (points < min_points)).sum()),
        },
        "hard": hard,
        "hard_fraction_of_labels": hard / errors.size if errors.size else 0.0,
        "hard_fraction_of_judged": hard / values.size if values.size else 0.0,
        "mean": float(values.mean()) if values.size else None,
        "quantiles": {str(q): float(np.quantile(values, q)) for q in QUANTILES} if values.size else {},
        "histogram": {
            "bin_edges": [*HISTOGRAM_BINS, "inf"],
            "counts": counts.tolist(),
            "unit": "box side (scale * 200 px)",
        },
    }


def write_mining_outputs(rows: list[dict], out_dir: Path, config: MiningConfig) -> dict:
    """Write ``foot.txt`` / ``hand.txt`` (sample ids, sorted), ``criteria.jsonl`` and ``report.json``.

    ``rows``: one dict per label, ``{"sample_id", "foot", "hand", "foot_points", "hand_points", "camera_ok"}``
    or ``{"sample_id", "skipped": reason}`` for labels that could not be judged at all (no SMPL label).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: r["sample_id"])
    skipped = Counter(r["skipped"] for r in rows if r.get("skipped"))
    all_rows, rows = rows, [r for r in rows if not r.get("skipped")]
    foot = np.array([r["foot"] if r["foot"] is not None else math.nan for r in rows], dtype=np.float64)
    hand = np.array([r["hand"] if r["hand"] is not None else math.nan for r in rows], dtype=np.float64)
    camera_ok = np.array([r["camera_ok"] for r in rows], dtype=bool)
    foot_points = np.array([r["foot_points"] for r in rows])
    hand_points = np.array([r["hand_points"] for r in rows])
    report = {
        "config": asdict(config),
        "labels": len(all_rows),
        "skipped": dict(sorted(skipped.items())),
        "foot": summarize(foot, config.foot_threshold, foot_points, camera_ok, config.min_points),
        "hand": summarize(hand, config.hand_threshold, hand_points, camera_ok, config.min_points),
    }
    for name, errors, threshold in (
        ("foot", foot, config.foot_threshold),
        ("hand", hand, config.hand_threshold),
    ):
        selected = [r["sample_id"] for r, e in zip(rows, errors) if np.isfinite(e) and e > threshold]
        _write_text(out_dir / f"{name}.txt", "".join(f"{s}\n" for s in selected))
    _write_text(out_dir / "criteria.jsonl", "".join(json.dumps(r) + "\n" for r in all_rows))
    _write_text(out_dir / "report.json", json.dumps(report, indent=1))
    return report


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
