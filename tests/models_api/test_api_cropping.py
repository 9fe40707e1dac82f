"""Person crops: bit-level agreement with OpenCV / scikit-image references, and analytic expectations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hardmo_hf.models.cropping_hardmo import (
    crop_hmr2,
    crop_spin,
    hmr2_crop_window,
    spin_crop_window,
    spin_window_corners,
    warp_affine_bilinear,
)

REFERENCE = Path(__file__).with_name("data") / "crop_reference.npz"


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(REFERENCE))


@pytest.mark.parametrize("rule, aspect", [("hmr2", (192, 256)), ("hmr2_no_aspect", None)])
def test_hmr2_crops_match_opencv(reference, rule, aspect):
    """Every box (inside, partly outside, tiny, larger than the image: blurred) as cv2 + skimage make it."""
    image, boxes = reference["image"], reference["boxes"]
    size = reference[f"{rule}_crops"].shape[1]
    for k, box in enumerate(boxes):
        center, side = hmr2_crop_window(box, aspect)
        assert side == pytest.approx(reference[f"{rule}_sides"][k], abs=1e-9), k
        crop = crop_hmr2(image, center, side, size)
        np.testing.assert_allclose(crop, reference[f"{rule}_crops"][k], rtol=0, atol=1e-9, err_msg=f"box {k}")


def test_spin_crops_match_skimage(reference):
    image, boxes = reference["image"], reference["boxes"]
    size = reference["spin_crops"].shape[1]
    for k, box in enumerate(boxes):
        center, side = spin_crop_window(box)
        assert side == pytest.approx(reference["spin_sides"][k], abs=1e-9), k
        crop = crop_spin(image, center, side, size)
        np.testing.assert_allclose(crop, reference["spin_crops"][k], rtol=0, atol=1e-9, err_msg=f"box {k}")


def test_reference_covers_both_warp_paths(reference):
    """The reference must exercise the uint8 warp (rounded values) and the blurred float warp."""
    factors = reference["hmr2_sides"] / reference["hmr2_crops"].shape[1] / 2
    assert (factors > 1.1).sum() >= 3 and (factors <= 1.1).sum() >= 3
    blurred = reference["hmr2_crops"][factors > 1.1]
    assert np.any(blurred != np.round(blurred))


def _linear_image(height=60, width=80):
    yy, xx = np.mgrid[0:height, 0:width]
    return np.repeat((10 + xx + 2 * yy)[:, :, None], 3, axis=2).astype(np.uint8), (1.0, 2.0, 10.0)  # max 207


def test_hmr2_crop_of_a_gradient_is_the_gradient_at_the_mapped_points():
    """Bilinear sampling of a linear image is exact up to OpenCV's 1/32 px position grid and uint8 rounding:
    patch pixel (u, v) holds f(cx + (u - S/2) * side / S, cy + (v - S/2) * side / S)."""
    image, (a, b, c) = _linear_image()
    box = np.array([60.3, -10.6, 90.1, 30.2], np.float32)  # leaves the image right and top; no blur at S = 48
    center, side = hmr2_crop_window(box, (192, 256))
    size = 48
    crop = crop_hmr2(image, center, side, size)[:, :, 0]
    u = np.arange(size)
    x = center[0] + (u - size / 2) * side / size
    y = center[1] + (u - size / 2) * side / size
    expected = c + a * x[None, :] + b * y[:, None]
    inside = (x[None, :] >= 0) & (x[None, :] <= 79) & (y[:, None] >= 0) & (y[:, None] <= 59)
    tolerance = 0.5 + (a + b) / 64 + 1e-9  # uint8 rounding + half a 1/32 px step
    outside = ~_touches_image(x, y)
    assert inside.sum() > 100 and outside.sum() > 100
    assert np.abs(crop - expected)[inside].max() <= tolerance
    assert np.all(crop[outside] == 0)  # zero border


def _touches_image(x, y, width=80, height=60):
    """Patch pixels whose bilinear footprint reaches into the image (partial border samples)."""
    return (x[None, :] > -1) & (x[None, :] < width) & (y[:, None] > -1) & (y[:, None] < height)


def test_blurred_hmr2_crop_of_a_gradient_keeps_the_gradient():
    """A Gaussian blur leaves a linear image unchanged away from the borders; the blurred warp is float."""
    image, (a, b, c) = _linear_image()
    box = np.array([25.0, 20.0, 55.0, 40.0], np.float32)
    center, side = hmr2_crop_window(box, None)
    size = 8  # side 30 > 2.2 * 8: blurred
    crop = crop_hmr2(image, center, side, size)[:, :, 0]
    u = np.arange(size)
    x = center[0] + (u - size / 2) * side / size
    y = center[1] + (u - size / 2) * side / size
    expected = c + a * x[None, :] + b * y[:, None]
    assert np.abs(crop - expected).max() <= (a + b) / 64 + 1e-9
    assert np.any(crop != np.round(crop))


@pytest.mark.parametrize("box, size", [([20.0, 10.0, 40.0, 30.0], 40), ([10.0, 10.0, 70.0, 50.0], 16)])
def test_spin_crop_of_a_gradient_follows_the_integer_window(box, size):
    """SPIN: window [ul, br) on whole pixels, resized on pixel areas: output pixel o samples window coordinate
    (o + 0.5) * n / S - 0.5. Exact for a linear image away from the window border (blurred or not)."""
    image, (a, b, c) = _linear_image()
    center, side = spin_crop_window(box)
    ul, br = spin_window_corners(center, side, size)
    crop = crop_spin(image, center, side, size)[:, :, 0]
    n = br - ul
    o = np.arange(size)
    x = ul[0] + (o + 0.5) * n[0] / size - 0.5
    y = ul[1] + (o + 0.5) * n[1] / size - 0.5
    expected = c + a * x[None, :] + b * y[:, None]
    margin = 4 * max(0.0, (n[0] / size - 1) / 2) + 1  # stay clear of the mirror border
    keep_x = (x >= ul[0] + margin) & (x <= br[0] - 1 - margin)
    keep_y = (y >= ul[1] + margin) & (y <= br[1] - 1 - margin)
    assert keep_x.sum() >= 4 and keep_y.sum() >= 4
    np.testing.assert_allclose(crop[np.ix_(keep_y, keep_x)], expected[np.ix_(keep_y, keep_x)], atol=1e-9)


def test_crop_windows_follow_the_upstream_box_rules():
    # Wide box, HMR2 aspect 192:256: height grows to width * 4 / 3; the square side is that height.
    center, side = hmr2_crop_window([0, 0, 120, 30], (192, 256))
    assert side == pytest.approx(160.0) and tuple(center) == (60.0, 15.0)
    # Tall box: already taller than 4:3, the side is its height.
    assert hmr2_crop_window([10, 0, 40, 200], (192, 256))[1] == pytest.approx(200.0)
    # No aspect rule: the longer box side.
    assert hmr2_crop_window([0, 0, 120, 30], None)[1] == pytest.approx(120.0)
    # SPIN / tracker: square of the longer side; window corners truncate toward zero.
    center, side = spin_crop_window([-10.6, 5.0, 9.4, 45.0])
    assert side == pytest.approx(40.0) and center[0] == pytest.approx(-0.6)
    ul, br = spin_window_corners(center, side, 224)
    assert ul.tolist() == [-20, 5] and br.tolist() == [19, 45]


def test_warp_matches_a_pure_translation_exactly():
    """An integer translation reproduces the pixels; the zero border fills what lies outside."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    shifted = warp_affine_bilinear(image, np.array([[1.0, 0, -5], [0, 1.0, 3]]), 30, 20)
    assert np.array_equal(shifted[3:, :25], image[:17, 5:])
    assert np.all(shifted[:3] == 0) and np.all(shifted[:, 25:] == 0)
