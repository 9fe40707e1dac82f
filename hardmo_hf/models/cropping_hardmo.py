"""Person crops made exactly the way the upstream HMR code makes them, in NumPy (no OpenCV, no scikit-image).

Two crop rules exist upstream, and a model must be fed with the rule it was trained with:

``"hmr2"`` -- 4D-Humans ``ViTDetDataset`` (HMR 2.0, HardMo-4DHumans, and HardMo-HMR in the authors' code):
    1. box ``xyxy`` (px) -> centre ``((x1 + x2) / 2, (y1 + y2) / 2)`` and size ``(x2 - x1, y2 - y1)``;
    2. the size is grown to the aspect ratio ``bbox_aspect_ratio = (w, h)`` (``(192, 256)`` for the ViT
       models; ``None`` keeps the raw box), and the square window side is the longer side of the result;
    3. if the window is more than 2.2x larger than the output patch, the whole image is first blurred with a
       Gaussian of sigma ``(side / size / 2 - 1) / 2`` (scikit-image ``gaussian``: edge-replicating border,
       truncated at 4 sigma) to avoid aliasing; the blurred image stays in float;
    4. one bilinear affine warp (OpenCV ``warpAffine`` semantics, zero border) maps the window onto the
       ``size x size`` patch: ``x_patch = (x_img - cx) * size / side + size / 2``.

``"spin"`` -- SPIN's ``crop`` as used by BEDLAM-HMR:
    1. box -> centre as above and a square window whose side is the longer box side (the multi-person
       tracker's box format), i.e. ``scale = side / 200``;
    2. the window corners are truncated to integer pixels: ``ul = trunc(c - side / 2)``,
       ``br = trunc(c + side / 2)``; the pixels ``[ul, br)`` are copied (zeros outside the image);
    3. the integer window is resized to ``size x size`` with scikit-image ``resize`` semantics (Gaussian
       anti-aliasing with sigma ``(factor - 1) / 2`` when shrinking, mirror border; then bilinear
       interpolation on pixel areas).

Coordinates: pixel ``(row i, column j)`` has its centre at ``x = j, y = i``; boxes use the same continuous
coordinates (a box covering the whole ``W x H`` image is ``[0, 0, W, H]``).

How close to upstream: every step above reproduces the upstream library call, including OpenCV's
fixed-point details (sampling positions rounded to 1/32 pixel, integer bilinear weights and round-half-up for
``uint8`` images). Compared with OpenCV 4.x and scikit-image on test images the patches agree exactly for
``uint8`` warps, and to about 1e-12 (float64 round-off) for the blurred and SPIN paths; see
``docs/models_inference.md``.
"""

from __future__ import annotations

import numpy as np

from .constants_hardmo import BBOX_SCALE_UNIT  # upstream "scale" = box size / 200 px

# OpenCV ``warpAffine`` fixed-point constants (imgproc/imgwarp.cpp): sampling positions are computed with
# AB_BITS fractional bits and quantised to INTER_BITS fractional bits; uint8 bilinear weights use
# INTER_REMAP_COEF_BITS.
_AB_BITS = 10
_INTER_BITS = 5
_INTER_TAB_SIZE = 1 << _INTER_BITS
_INTER_REMAP_COEF_BITS = 15
_GAUSSIAN_TRUNCATE = 4.0  # scipy.ndimage.gaussian_filter default (used by scikit-image)


# ----------------------------------------------------------------------------------------------------------
# Crop windows from boxes
# ----------------------------------------------------------------------------------------------------------
def hmr2_crop_window(box_xyxy, bbox_aspect_ratio=None) -> tuple[np.ndarray, float]:
    """Square crop window of the ``"hmr2"`` rule for one box.

    Args:
        box_xyxy: ``(4,)`` box ``[x1, y1, x2, y2]`` in image pixels.
        bbox_aspect_ratio: target ``(width, height)`` aspect the box is grown to, or ``None``.

    Returns:
        ``(center, side)``: ``center`` ``(2,)`` float32 px and ``side`` (float) px of the square window.
        Upstream holds boxes in float32; the arithmetic below keeps its dtypes (NumPy 1.x promotion rules,
        under which the upstream code was written and run).
    """
    box = np.asarray(box_xyxy, dtype=np.float32)
    center = (box[2:4] + box[0:2]) / 2.0
    size = (box[2:4] - box[0:2]) / BBOX_SCALE_UNIT * BBOX_SCALE_UNIT  # upstream: scale = wh / 200, then scale * 200
    w, h = float(size[0]), float(size[1])
    if bbox_aspect_ratio is not None:
        w_t, h_t = bbox_aspect_ratio
        if h / w < h_t / w_t:
            h = max(w * h_t / w_t, h)
        else:
            w = max(h * w_t / h_t, w)
    return center, max(w, h)


def spin_crop_window(box_xyxy) -> tuple[np.ndarray, float]:
    """Square crop window of the ``"spin"`` rule: box centre, side = the longer box side.

    Returns ``(center, side)`` as :func:`hmr2_crop_window` (float64 centre: the tracker's arithmetic).
    """
    box = np.asarray(box_xyxy, dtype=np.float32)
    w, h = box[2] - box[0], box[3] - box[1]  # float32, as the detector's boxes
    center = np.array([float(box[0]) + float(w) / 2, float(box[1]) + float(h) / 2])
    return center, float(w if w / h > 1 else h)


# ----------------------------------------------------------------------------------------------------------
# Gaussian blur evaluated where it is needed (scipy.ndimage.gaussian_filter semantics)
# ----------------------------------------------------------------------------------------------------------
class _ImageWindow:
    """A ``height x width`` rectangle of an ``(H, W, C)`` image whose top-left pixel is image pixel
    ``(top, left)``; positions outside the image read 0."""

    def __init__(self, image: np.ndarray, top: int, left: int, height: int, width: int):
        self.image, self.top, self.left, self.height, self.width = image, int(top), int(left), height, width

    def gather(self, rows: np.ndarray, cols: np.ndarray, dtype=np.float64) -> np.ndarray:
        """``(len(rows), len(cols), C)`` values at window rows x columns."""
        img_h, img_w, channels = self.image.shape
        r, c = rows + self.top, cols + self.left
        r_ok, c_ok = (r >= 0) & (r < img_h), (c >= 0) & (c < img_w)
        if r_ok.all() and c_ok.all():
            return self.image.take(r, axis=0).take(c, axis=1).astype(dtype)
        out = np.zeros((len(rows), len(cols), channels), dtype=dtype)
        if r_ok.any() and c_ok.any():
            block = self.image.take(r[r_ok], axis=0).take(c[c_ok], axis=1)
            out[np.flatnonzero(r_ok)[:, None], np.flatnonzero(c_ok)[None, :]] = block
        return out

    def value_range(self) -> tuple[float, float]:
        """Minimum and maximum over the window (zeros included where it leaves the image)."""
        img_h, img_w = self.image.shape[:2]
        y0, y1 = max(0, self.top), min(img_h, self.top + self.height)
        x0, x1 = max(0, self.left), min(img_w, self.left + self.width)
        inside = self.image[y0:y1, x0:x1]
        lo, hi = (float(inside.min()), float(inside.max())) if inside.size else (0.0, 0.0)
        if y0 > self.top or x0 > self.left or y1 < self.top + self.height or x1 < self.left + self.width:
            lo, hi = min(lo, 0.0), max(hi, 0.0)
        return lo, hi


def _border_map(idx: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Map integer positions onto ``[0, n)`` with scipy's border ``mode`` (``nearest`` or ``mirror``)."""
    if mode == "nearest":
        return np.clip(idx, 0, n - 1)
    if mode == "mirror":  # d c b | a b c d | c b a
        if n == 1:
            return np.zeros_like(idx)
        period = 2 * n - 2
        idx = np.abs(idx) % period
        return np.where(idx >= n, period - idx, idx)
    raise ValueError(f"unknown border mode {mode!r}")


def _gaussian_weights(sigma: float) -> tuple[np.ndarray, int]:
    """scipy's 1-D Gaussian kernel (truncated at 4 sigma, normalised) and its radius."""
    radius = int(_GAUSSIAN_TRUNCATE * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    return phi / phi.sum(), radius


def _blur_at(window: _ImageWindow, rows: np.ndarray, cols: np.ndarray, sigmas, mode: str) -> np.ndarray:
    """``gaussian_filter(window, (sigma_y, sigma_x, 0), mode=mode)`` evaluated at ``rows x cols`` only.

    Each value is computed with exactly scipy's arithmetic (axis 0 then axis 1; per axis the centre tap,
    then symmetric tap pairs from the outermost in), so the result equals filtering the whole window and
    indexing it, at a fraction of the cost for large windows. Axes with sigma <= 1e-15 are not filtered.
    """
    sigma_y, sigma_x = sigmas
    if sigma_x > 1e-15:
        weights_x, radius_x = _gaussian_weights(sigma_x)
        col_taps = {k: _border_map(cols + k, window.width, mode) for k in range(-radius_x, radius_x + 1)}
        needed_cols = np.unique(np.concatenate(list(col_taps.values())))
    else:
        needed_cols = cols
    # Axis 0 at the needed rows and columns. Window columns outside the image are all zeros, and so is
    # their vertical blur: only columns inside the image are filtered.
    vertical = np.zeros((len(rows), len(needed_cols), window.image.shape[2]))
    in_image = (needed_cols + window.left >= 0) & (needed_cols + window.left < window.image.shape[1])
    filtered_cols = needed_cols[in_image]
    if sigma_y > 1e-15:
        weights_y, radius_y = _gaussian_weights(sigma_y)
        row_taps = {k: _border_map(rows + k, window.height, mode) for k in range(-radius_y, radius_y + 1)}
        needed_rows = np.unique(np.concatenate(list(row_taps.values())))
        source = window.gather(needed_rows, filtered_cols)  # every pixel the taps read, gathered once

        def row_tap(k):
            return source.take(np.searchsorted(needed_rows, row_taps[k]), axis=0)

        acc = row_tap(0) * weights_y[radius_y]
        for k in range(radius_y, 0, -1):
            pair = row_tap(-k)
            pair += row_tap(k)
            pair *= weights_y[radius_y - k]
            acc += pair
    else:
        acc = window.gather(rows, filtered_cols)
    vertical[:, in_image] = acc
    if sigma_x <= 1e-15:
        return vertical

    # Axis 1 at the requested columns (columns first in memory, so that each tap is a block copy).
    by_column = np.ascontiguousarray(vertical.transpose(1, 0, 2))

    def column_tap(k):
        return by_column.take(np.searchsorted(needed_cols, col_taps[k]), axis=0)

    out = column_tap(0) * weights_x[radius_x]
    for k in range(radius_x, 0, -1):
        pair = column_tap(-k)
        pair += column_tap(k)
        pair *= weights_x[radius_x - k]
        out += pair
    return out.transpose(1, 0, 2)


# ----------------------------------------------------------------------------------------------------------
# Bilinear affine warp (cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT=0) semantics)
# ----------------------------------------------------------------------------------------------------------
def _invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine map, computed the way ``cv2.invertAffineTransform``/``warpAffine`` do."""
    d = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    d = 1.0 / d if d != 0 else 0.0
    a11, a22 = m[1, 1] * d, m[0, 0] * d
    a12, a21 = -m[0, 1] * d, -m[1, 0] * d
    b1 = -a11 * m[0, 2] - a12 * m[1, 2]
    b2 = -a21 * m[0, 2] - a22 * m[1, 2]
    return np.array([[a11, a12, b1], [a21, a22, b2]], dtype=np.float64)


def _sampling_grid(inv: np.ndarray, out_w: int, out_h: int):
    """Source positions of every output pixel in 1/32 px fixed point, as OpenCV's ``WarpAffineInvoker``."""
    ab_scale = 1 << _AB_BITS
    round_delta = ab_scale // _INTER_TAB_SIZE // 2
    xs = np.arange(out_w, dtype=np.float64)
    ys = np.arange(out_h, dtype=np.float64)
    adelta = np.rint(inv[0, 0] * xs * ab_scale).astype(np.int64)
    bdelta = np.rint(inv[1, 0] * xs * ab_scale).astype(np.int64)
    x0 = np.rint((inv[0, 1] * ys + inv[0, 2]) * ab_scale).astype(np.int64) + round_delta
    y0 = np.rint((inv[1, 1] * ys + inv[1, 2]) * ab_scale).astype(np.int64) + round_delta
    shift = _AB_BITS - _INTER_BITS
    fx_fixed = (x0[:, None] + adelta[None, :]) >> shift  # (out_h, out_w) source x in 1/32 px
    fy_fixed = (y0[:, None] + bdelta[None, :]) >> shift
    return (
        fx_fixed >> _INTER_BITS,
        fy_fixed >> _INTER_BITS,
        fx_fixed & (_INTER_TAB_SIZE - 1),
        fy_fixed & (_INTER_TAB_SIZE - 1),
    )


def _compact(indices: np.ndarray, n: int) -> np.ndarray:
    """Sorted distinct entries of ``indices`` that lie in ``[0, n)``."""
    flat = indices.ravel()
    present = np.zeros(n, dtype=bool)
    present[flat[(flat >= 0) & (flat < n)]] = True
    return np.flatnonzero(present)


def _slots(kept: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """Position of each ``idx`` in ``kept``; ``len(kept)`` (a zero slot) for positions outside ``[0, n)``."""
    lookup = np.full(n + 2, len(kept), dtype=np.int64)  # entries 0 and n + 1 stand for "outside"
    lookup[kept + 1] = np.arange(len(kept))
    return lookup[np.clip(idx + 1, 0, n + 1)]


def _bilinear(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int, grid):
    """OpenCV bilinear ``remap`` of an image known only at ``rows x cols`` (``values``), zero outside
    ``[0, n_rows) x [0, n_cols)``, at the fixed-point positions ``grid = (ix, iy, fx, fy)``."""
    ix, iy, fx, fy = grid
    channels = values.shape[2]
    padded = np.zeros((len(rows) + 1, len(cols) + 1, channels), dtype=values.dtype)
    padded[:-1, :-1] = values
    flat = padded.reshape(-1, channels)  # one row per pixel: gathers are block copies
    stride = len(cols) + 1
    y0, y1 = _slots(rows, iy, n_rows) * stride, _slots(rows, iy + 1, n_rows) * stride
    x0, x1 = _slots(cols, ix, n_cols), _slots(cols, ix + 1, n_cols)
    shape = (*ix.shape, channels)
    p00, p01 = flat.take(y0 + x0, axis=0).reshape(shape), flat.take(y0 + x1, axis=0).reshape(shape)
    p10, p11 = flat.take(y1 + x0, axis=0).reshape(shape), flat.take(y1 + x1, axis=0).reshape(shape)
    wx1, wy1 = fx[..., None], fy[..., None]
    wx0, wy0 = _INTER_TAB_SIZE - wx1, _INTER_TAB_SIZE - wy1
    if values.dtype == np.uint8:
        # OpenCV's uint8 table: weight (a/32)(b/32) * 2**15 = a*b*32, exact integers summing to 2**15.
        scale = (1 << _INTER_REMAP_COEF_BITS) // (_INTER_TAB_SIZE * _INTER_TAB_SIZE)
        acc = (
            p00.astype(np.int64) * (wy0 * wx0 * scale)
            + p01.astype(np.int64) * (wy0 * wx1 * scale)
            + p10.astype(np.int64) * (wy1 * wx0 * scale)
            + p11.astype(np.int64) * (wy1 * wx1 * scale)
        )
        out = (acc + (1 << (_INTER_REMAP_COEF_BITS - 1))) >> _INTER_REMAP_COEF_BITS
        return np.clip(out, 0, 255).astype(np.uint8)
    # Float images: float weights (exact multiples of 1/1024), summed in OpenCV's order.
    denom = float(_INTER_TAB_SIZE * _INTER_TAB_SIZE)
    return (
        p00.astype(np.float64) * (wy0 * wx0 / denom)
        + p01.astype(np.float64) * (wy0 * wx1 / denom)
        + p10.astype(np.float64) * (wy1 * wx0 / denom)
        + p11.astype(np.float64) * (wy1 * wx1 / denom)
    )


def warp_affine_bilinear(image: np.ndarray, matrix: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Warp an ``(H, W, C)`` image with the forward 2x3 ``matrix`` (image px -> output px), bilinear.

    Same result as ``cv2.warpAffine(image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR,
    borderMode=cv2.BORDER_CONSTANT, borderValue=0)``: sampling positions are quantised to 1/32 px, pixels
    outside the image count as 0, ``uint8`` images use OpenCV's integer weights (sum 2**15) with
    round-half-up and stay ``uint8``; float images are interpolated in float64.
    """
    if image.ndim != 3:
        raise ValueError(f"expected an (H, W, C) image, got shape {image.shape}")
    height, width = image.shape[:2]
    grid = _sampling_grid(_invert_affine(np.asarray(matrix, dtype=np.float64)), out_w, out_h)
    ix, iy = grid[0], grid[1]
    rows, cols = _compact(np.stack([iy, iy + 1]), height), _compact(np.stack([ix, ix + 1]), width)
    return _bilinear(image[np.ix_(rows, cols)], rows, cols, height, width, grid)


def _solve_lu(a: list[list[float]], b: list[float]) -> list[float]:
    """Solve ``a x = b`` by Gaussian elimination with partial pivoting, in OpenCV's operation order.

    ``cv2.getAffineTransform`` solves its 6x6 system this way (``cv::solve`` with ``DECOMP_LU``); matching
    the order keeps the warp matrix, and so OpenCV's rounded sampling positions, bit-identical.
    """
    n = len(b)
    for i in range(n):
        k = max(range(i, n), key=lambda r: (abs(a[r][i]), -r))  # first row with the largest pivot
        if abs(a[k][i]) < np.finfo(np.float64).eps * 10:
            raise ValueError("degenerate crop window")
        if k != i:
            a[i], a[k] = a[k], a[i]
            b[i], b[k] = b[k], b[i]
        d = -1.0 / a[i][i]
        for j in range(i + 1, n):
            alpha = a[j][i] * d
            for c in range(i + 1, n):
                a[j][c] += alpha * a[i][c]
            b[j] += alpha * b[i]
    for i in range(n - 1, -1, -1):
        acc = b[i]
        for c in range(i + 1, n):
            acc -= a[i][c] * b[c]
        b[i] = acc / a[i][i]
    return b


def _patch_matrix(center: np.ndarray, side: float, size: int) -> np.ndarray:
    """Forward affine map image px -> patch px of the ``"hmr2"`` rule (``gen_trans_from_patch_cv``).

    Upstream solves it with ``cv2.getAffineTransform`` from three float32 points -- the window centre,
    centre + half a side down, centre + half a side right -- and their places in the patch. The result is a
    scale and a translation up to float64 round-off, which is reproduced here as well.
    """
    center64 = np.array([float(center[0]), float(center[1])])
    src = np.zeros((3, 2), dtype=np.float32)
    src[0] = center64
    src[1] = center64 + np.array([0, side * 0.5], dtype=np.float32)
    src[2] = center64 + np.array([side * 0.5, 0], dtype=np.float32)
    dst_center = np.array([size * 0.5, size * 0.5], dtype=np.float32)
    dst = np.stack(
        [
            dst_center,
            dst_center + np.array([0, size * 0.5], dtype=np.float32),
            dst_center + np.array([size * 0.5, 0], dtype=np.float32),
        ]
    )
    a: list[list[float]] = []
    b: list[float] = []
    for (x, y), (u, v) in zip(src.astype(np.float64).tolist(), dst.astype(np.float64).tolist()):
        a.append([x, y, 1.0, 0.0, 0.0, 0.0])
        a.append([0.0, 0.0, 0.0, x, y, 1.0])
        b.extend([u, v])
    return np.array(_solve_lu(a, b), dtype=np.float64).reshape(2, 3)


def crop_hmr2(
    image: np.ndarray, center: np.ndarray, side: float, size: int, antialias: bool = True
) -> np.ndarray:
    """``"hmr2"`` crop of one window: ``(H, W, C)`` uint8 image -> ``(size, size, C)`` float64, 0..255.

    Without blurring the patch holds OpenCV's rounded ``uint8`` values; with the anti-aliasing blur it holds
    the unrounded float values, as upstream.
    """
    height, width = image.shape[:2]
    grid = _sampling_grid(_invert_affine(_patch_matrix(center, side, size)), size, size)
    ix, iy = grid[0], grid[1]
    # The warp reads pixels [ix, ix + 1] x [iy, iy + 1] only.
    rows, cols = _compact(np.stack([iy, iy + 1]), height), _compact(np.stack([ix, ix + 1]), width)
    factor = side * 1.0 / size / 2.0
    if antialias and factor > 1.1:
        # Upstream blurs the whole image (edge-replicating border); the blur is evaluated at those pixels.
        sigma = (factor - 1.0) / 2.0
        values = _blur_at(_ImageWindow(image, 0, 0, height, width), rows, cols, (sigma, sigma), "nearest")
    else:
        values = image[np.ix_(rows, cols)]
    return _bilinear(values, rows, cols, height, width, grid).astype(np.float64)


# ----------------------------------------------------------------------------------------------------------
# SPIN crop (BEDLAM)
# ----------------------------------------------------------------------------------------------------------
def _spin_transform(center, scale: float, res: int) -> np.ndarray:
    h = BBOX_SCALE_UNIT * scale
    t = np.zeros((3, 3))
    t[0, 0] = float(res) / h
    t[1, 1] = float(res) / h
    t[0, 2] = res * (-float(center[0]) / h + 0.5)
    t[1, 2] = res * (-float(center[1]) / h + 0.5)
    t[2, 2] = 1
    return t


def spin_window_corners(center, side: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer corners ``ul``, ``br`` (x, y) of the SPIN window: image pixels ``[ul, br)`` are cropped."""
    scale = float(np.float32(side)) / BBOX_SCALE_UNIT  # BEDLAM: bbox[2] / 200. with a float32 bbox
    inv = np.linalg.inv(_spin_transform(center, scale, size))
    ul = np.dot(inv, np.array([0.0, 0.0, 1.0]))[:2].astype(int)
    br = np.dot(inv, np.array([float(size), float(size), 1.0]))[:2].astype(int)
    return ul, br


def _zoom_taps(n: int, out_n: int):
    """Source rows of ``scipy.ndimage.zoom(order=1, mode="mirror", grid_mode=True)`` along one axis:
    lower and upper neighbour (mirrored into ``[0, n)``) and the weight of the upper one."""
    coords = (np.arange(out_n, dtype=np.float64) + 0.5) * (n / out_n) - 0.5
    lower = np.floor(coords)
    frac = coords - lower
    lower = lower.astype(np.int64)
    return _border_map(lower, n, "mirror"), _border_map(lower + 1, n, "mirror"), frac


def crop_spin(
    image: np.ndarray, center: np.ndarray, side: float, size: int, antialias: bool = True
) -> np.ndarray:
    """``"spin"`` crop of one window: ``(H, W, C)`` uint8 image -> ``(size, size, C)`` float64, 0..255.

    The integer window is resized like ``skimage.transform.resize(window, (size, size))``: Gaussian
    anti-aliasing (sigma ``(n / size - 1) / 2`` per shrunk axis, mirror border) when the window is larger
    than the patch, then bilinear interpolation on pixel areas, clipped to the window's value range.
    """
    ul, br = spin_window_corners(center, side, size)
    n_rows, n_cols = int(br[1] - ul[1]), int(br[0] - ul[0])
    if n_rows < 1 or n_cols < 1:
        raise ValueError(f"box of side {side:.3f} px is too small to crop")
    window = _ImageWindow(image, ul[1], ul[0], n_rows, n_cols)
    r0, r1, fr = _zoom_taps(n_rows, size)
    c0, c1, fc = _zoom_taps(n_cols, size)
    rows, cols = np.unique(np.concatenate([r0, r1])), np.unique(np.concatenate([c0, c1]))
    if antialias and (size < n_rows or size < n_cols):
        sigmas = (max(0.0, (n_rows / size - 1) / 2), max(0.0, (n_cols / size - 1) / 2))
        values = _blur_at(window, rows, cols, sigmas, "mirror")
    else:
        values = window.gather(rows, cols)
    fr, fc = fr[:, None, None], fc[None, :, None]
    by_row = values[np.searchsorted(rows, r0)] * (1.0 - fr) + values[np.searchsorted(rows, r1)] * fr
    out = by_row[:, np.searchsorted(cols, c0)] * (1.0 - fc) + by_row[:, np.searchsorted(cols, c1)] * fc
    return np.clip(out, *window.value_range())
