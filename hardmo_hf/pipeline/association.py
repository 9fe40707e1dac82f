"""Box overlap and one-to-one matching of keypoint instances and SMPL predictions to person tracks."""

from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,4) x (M,4) boxes ``x1,y1,x2,y2`` -> (N,M) intersection over union (0 for empty boxes)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    intersection = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)


def greedy_match(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """One-to-one matches (row, column) by decreasing IoU, keeping pairs with IoU >= ``threshold``.

    Greedy matching equals the optimal assignment whenever boxes of different people overlap less than
    ``threshold`` with each other's partners, which is the case the crowding filter leaves us with; it is
    deterministic (ties broken by row, then column).
    """
    if iou.size == 0:
        return []
    rows, cols = np.nonzero(iou >= threshold)
    order = sorted(zip(-iou[rows, cols], rows.tolist(), cols.tolist()))
    used_rows, used_cols, matches = set(), set(), []
    for _, r, c in order:
        if r not in used_rows and c not in used_cols:
            used_rows.add(r)
            used_cols.add(c)
            matches.append((r, c))
    return sorted(matches)


def keypoint_box(keypoints: np.ndarray, min_score: float) -> np.ndarray | None:
    """Tight box (4,) around keypoints scoring at least ``min_score`` (None if fewer than two)."""
    confident = keypoints[keypoints[:, 2] >= min_score, :2]
    if confident.shape[0] < 2:
        return None
    return np.concatenate([confident.min(0), confident.max(0)]).astype(np.float32)
