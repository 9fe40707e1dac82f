#!/usr/bin/env python
"""Cost of the exact upstream crops, as ratios against a plain PIL crop measured in the same run.

For each preset (``hmr2``: HardMo-4DHumans, ``hmr``: HardMo-HMR, ``bedlam``: BEDLAM-HMR) and three person
boxes in a 1920x1080 image (a person 800 px tall, the whole image, a small far-away person), it times
``HardMoImageProcessor(images, boxes)`` (crop, anti-aliasing where upstream blurs, normalisation) and, as the
baseline, PIL's bilinear ``Image.transform`` of the same square window to the same size plus the same
normalisation (what a quick re-implementation would do: no anti-aliasing, no OpenCV fixed point).
Medians of ``--repeat`` runs; the ratio says what exactness costs on this machine.

    python benchmarks/bench_processor.py [--repeat 7]

Not a test: it prints numbers (machines are noisy, so only ratios from one run mean anything).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BOXES = {
    "person 800 px": [800, 200, 1100, 1000],
    "whole image": [0, 0, 1920, 1080],
    "person 120 px": [900, 500, 960, 620],
}


def _median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _pil_crop(image, center, side, size, mean, std):
    from PIL import Image

    scale = side / size
    x0, y0 = center[0] - side / 2, center[1] - side / 2
    affine = (scale, 0, x0, 0, scale, y0)  # output px -> image px
    patch = image.transform((size, size), Image.Transform.AFFINE, affine, Image.Resampling.BILINEAR)
    array = np.asarray(patch, np.float32).transpose(2, 0, 1)
    return (array / 255.0 - mean) / std


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from PIL import Image

    from hardmo_hf.models.image_processing_hardmo import HardMoImageProcessor

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1080, 0:1920]
    base = np.stack([xx / 8, yy / 5, (xx + yy) / 12], axis=-1)
    array = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    pil_image = Image.fromarray(array)
    print(f"{'preset':<8} {'box':<15} {'processor ms':>13} {'PIL crop ms':>12} {'ratio':>7}")
    for preset in ("hmr2", "hmr", "bedlam"):
        processor = HardMoImageProcessor.from_preset(preset)
        mean = np.asarray(processor.image_mean, np.float32)[:, None, None]
        std = np.asarray(processor.image_std, np.float32)[:, None, None]
        for name, box in BOXES.items():
            inputs = processor(images=array, boxes=[box])
            center, side = inputs["box_center"][0], float(inputs["box_size"][0])
            exact = _median_ms(lambda p=processor, b=box: p(images=array, boxes=[b]), args.repeat)
            plain = _median_ms(
                lambda c=center, s=side, p=processor: _pil_crop(pil_image, c, s, p.image_size, mean, std),
                args.repeat,
            )
            print(f"{preset:<8} {name:<15} {exact:>13.1f} {plain:>12.1f} {exact / plain:>6.1f}x")


if __name__ == "__main__":
    main()
