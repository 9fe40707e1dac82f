"""The weak-perspective camera that ties an SMPL label to its image.

HardMo labels carry no camera: ``body_pose`` is SMPL axis-angle with the global orientation in the camera
frame as HMR 2.0 predicts it (x right, y down, z away from the camera), and the 2D keypoints are in image
pixels. To compare the two, the pipeline uses a weak-perspective (scaled orthographic) camera

    u = s * X + t_x,    v = s * Y + t_y        (X, Y in metres, s in px/m, t in px)

which is what HMR-style models assume for a person-sized crop (HMR 2.0's focal length of 5000 px on a
256 px crop puts the body ~50x its depth extent away; perspective effects are ~2 %). The camera is fitted
in closed form by confidence-weighted least squares on body keypoints (:func:`fit_weak_perspective`) and
then refined jointly with the pose during optimization.
"""

from __future__ import annotations

import torch


def project(points: torch.Tensor, scale: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """(B,N,3) m -> (B,N,2) px with (B,) scale in px/m and (B,2) translation in px."""
    return scale[:, None, None] * points[..., :2] + translation[:, None, :]


def fit_weak_perspective(
    points: torch.Tensor, keypoints: torch.Tensor, weights: torch.Tensor, min_points: int = 3
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least-squares weak-perspective camera: argmin_{s,t} sum_i w_i |s X_i[:2] + t - x_i|^2.

    Args:
        points: (B,N,3) model points in metres.
        keypoints: (B,N,2) detected points in px.
        weights: (B,N) non-negative weights (0 = ignore the point).
        min_points: a sample needs at least this many weighted points for a valid fit.

    Returns:
        scale (B,) px/m, translation (B,2) px, valid (B,) bool. Invalid samples (too few points, degenerate
        or negative scale) get scale 1 and translation 0; callers must check ``valid``.
    """
    xy = points[..., :2]
    w = weights.clamp_min(0)
    total = w.sum(-1, keepdim=True)  # (B,1)
    safe_total = total.clamp_min(1e-12)
    mean_model = (w[..., None] * xy).sum(1) / safe_total
    mean_image = (w[..., None] * keypoints).sum(1) / safe_total
    centred_model = xy - mean_model[:, None]
    centred_image = keypoints - mean_image[:, None]
    numerator = (w[..., None] * centred_model * centred_image).sum((1, 2))
    denominator = (w[..., None] * centred_model**2).sum((1, 2))
    scale = numerator / denominator.clamp_min(1e-12)
    enough = (w > 0).sum(-1) >= min_points
    valid = enough & (denominator > 1e-10) & (scale > 0)
    scale = torch.where(valid, scale, torch.ones_like(scale))
    translation = mean_image - scale[:, None] * mean_model
    translation = torch.where(valid[:, None], translation, torch.zeros_like(translation))
    return scale, translation, valid
