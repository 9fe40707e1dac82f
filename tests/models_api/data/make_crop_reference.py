"""Regenerate ``crop_reference.npz``: person crops made with the libraries upstream calls.

Not run by the test suite (it needs OpenCV and scikit-image, which ``hardmo-hf`` does not depend on):

    python -m venv /tmp/cv && /tmp/cv/bin/pip install numpy opencv-python-headless scikit-image
    /tmp/cv/bin/python tests/models_api/data/make_crop_reference.py

The calls follow upstream's sequence (facts from 4D-Humans ``ViTDetDataset`` / ``generate_image_patch_cv2``
and BEDLAM ``Tester`` + ``image_utils.crop``; this script is written from those facts, not copied):

* ``hmr2``: float32 boxes -> centre, size; size grown to the (192, 256) aspect (or not); the square side
  is the longer side; ``skimage.filters.gaussian`` (``preserve_range=True``) when side / size / 2 > 1.1;
  the affine map from ``cv2.getAffineTransform`` of three float32 points; ``cv2.warpAffine`` bilinear,
  zero border.
* ``spin``: the tracker's square box (side = longer box side), ``scale = side / 200``, the integer window from
  SPIN's ``transform``, zeros outside the image, ``skimage.transform.resize`` to the patch size.

Stored: the synthetic image, the boxes and, per rule, the crops (float64, 0..255) and the window sides.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import skimage
from skimage.filters import gaussian
from skimage.transform import resize

OUT = Path(__file__).with_name("crop_reference.npz")
HMR2_SIZE, SPIN_SIZE = 32, 24
ASPECT = (192, 256)


def hmr2_side(box, aspect):
    w, h = (float(v) for v in (box[2:4] - box[0:2]) / 200.0 * 200)
    if aspect is not None:
        w_t, h_t = aspect
        if h / w < h_t / w_t:
            h = max(w * h_t / w_t, h)
        else:
            w = max(h * w_t / h_t, w)
    return max(w, h)


def crop_hmr2(img, box, size, aspect):
    box = np.asarray(box, np.float32)
    center = (box[2:4] + box[0:2]) / 2.0
    side = hmr2_side(box, aspect)
    src_img = img
    factor = side * 1.0 / size / 2.0
    if factor > 1.1:
        src_img = gaussian(img, sigma=(factor - 1) / 2, channel_axis=2, preserve_range=True)
    c = np.array([float(center[0]), float(center[1])])
    src = np.zeros((3, 2), np.float32)
    src[0], src[1], src[2] = (
        c,
        c + np.array([0, side * 0.5], np.float32),
        c + np.array([side * 0.5, 0], np.float32),
    )
    d = np.array([size * 0.5, size * 0.5], np.float32)
    dst = np.stack([d, d + np.array([0, size * 0.5], np.float32), d + np.array([size * 0.5, 0], np.float32)])
    trans = cv2.getAffineTransform(np.float32(src), np.float32(dst))
    patch = cv2.warpAffine(
        src_img, trans, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return patch.astype(np.float64), side


def crop_spin(img, box, size):
    box = np.asarray(box, np.float32)
    w, h = box[2] - box[0], box[3] - box[1]
    center = (float(box[0]) + float(w) / 2, float(box[1]) + float(h) / 2)
    side = float(w if w / h > 1 else h)
    scale = side / 200.0

    def to_image(pt):
        hh = 200 * scale
        t = np.array(
            [
                [size / hh, 0, size * (-center[0] / hh + 0.5)],
                [0, size / hh, size * (-center[1] / hh + 0.5)],
                [0, 0, 1.0],
            ]
        )
        return np.dot(np.linalg.inv(t), np.array([pt[0] - 1, pt[1] - 1, 1.0]))[:2].astype(int) + 1

    ul = to_image([1, 1]) - 1
    br = to_image([size + 1, size + 1]) - 1
    window = np.zeros((br[1] - ul[1], br[0] - ul[0], img.shape[2]))
    height, width = img.shape[:2]
    x0, x1 = max(0, ul[0]), min(width, br[0])
    y0, y1 = max(0, ul[1]), min(height, br[1])
    window[y0 - ul[1] : y1 - ul[1], x0 - ul[0] : x1 - ul[0]] = img[y0:y1, x0:x1]
    return resize(window, (size, size)), side


def main():
    rng = np.random.default_rng(7)
    height, width = 48, 64
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([xx * 4 % 256, yy * 5 % 256, rng.integers(0, 256, (height, width))], -1).astype(np.uint8)
    boxes = [
        [10.0, 6.0, 30.0, 44.0],  # tall, inside, integer corners
        [5.25, 20.5, 60.75, 30.25],  # wide, inside
        [20.3, 15.7, 23.9, 19.1],  # tiny: strong upsampling
        [-12.4, -8.8, 25.1, 40.6],  # leaves the image top-left
        [40.2, 10.9, 75.6, 60.3],  # leaves the image bottom-right
        [-30.0, -40.0, 95.0, 90.0],  # larger than the image: blurred before the warp (hmr2)
        [0.0, 0.0, 64.0, 48.0],  # the whole image
        [31.5, 23.5, 32.5, 24.5],  # a single pixel
    ]
    while len(boxes) < 24:  # random boxes that overlap the image (SPIN's crop breaks on windows outside it)
        x1, y1 = rng.uniform(-20, width - 4), rng.uniform(-20, height - 4)
        w = rng.uniform(2, 140)
        h = w * rng.uniform(0.4, 2.5)
        if x1 + w > 1 and y1 + h > 1:
            boxes.append([x1, y1, x1 + w, y1 + h])
    boxes = np.asarray(boxes, np.float32)
    out = {"image": image, "boxes": boxes}
    for name, aspect in (("hmr2", ASPECT), ("hmr2_no_aspect", None)):
        crops = [crop_hmr2(image, b, HMR2_SIZE, aspect) for b in boxes]
        out[f"{name}_crops"] = np.stack([c for c, _ in crops])
        out[f"{name}_sides"] = np.array([s for _, s in crops])
    crops = [crop_spin(image, b, SPIN_SIZE) for b in boxes]
    out["spin_crops"] = np.stack([c for c, _ in crops])
    out["spin_sides"] = np.array([s for _, s in crops])
    out["versions"] = np.array(
        [f"opencv {cv2.__version__}", f"scikit-image {skimage.__version__}", f"numpy {np.__version__}"]
    )
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {len(boxes)} boxes; {', '.join(out['versions'])}")


if __name__ == "__main__":
    main()
