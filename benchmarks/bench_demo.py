"""End-to-end CPU latency of the demo: detector, HardMo-HMR (full size, random weights) and rendering.

Goals (issue 5): one person end to end under 2 s on the CPU; rendering one person at 1024 px under 0.3 s.
Machines are noisy, so every number is also given relative to a plain float32 matmul measured in the same
run (``ref``: milliseconds of a 1024 x 1024 x 1024 matmul), which tells a slow machine from a slow demo.

    python benchmarks/bench_demo.py [--threads N] [--repeats R] [--detector FOLDER|default|none]

The detector defaults to a randomly initialized RT-DETR shaped like the default one (R18-vd, 640 px), the model to
a randomly initialized HardMo-HMR with HRNet-W48, and the body model to the synthetic SMPL stand-in (the
same topology as SMPL: 6890 vertices, 13776 faces).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hardmo_hf.demo.config import DemoConfig
from hardmo_hf.demo.engine import DemoEngine
from hardmo_hf.demo.examples import make_examples
from hardmo_hf.demo.export import frame_meshes
from hardmo_hf.demo.inputs import load_image, parse_boxes
from hardmo_hf.demo.render import render_meshes
from hardmo_hf.demo.results import MODEL_HMR


def timed(fn, repeats: int) -> tuple[float, object]:
    """Best-of-``repeats`` seconds after one warm-up call (the least disturbed run), and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def reference_matmul_ms(repeats: int) -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    seconds, _ = timed(lambda: a @ b, repeats)
    return 1000 * seconds


def save_full_size_hmr(folder: Path) -> Path:
    from hardmo_hf.models.configuration_hardmo import HardMoHMRConfig
    from hardmo_hf.models.conversion_utils import write_hub_folder
    from hardmo_hf.models.modeling_hardmo import HardMoHMRModel

    torch.manual_seed(0)
    model = HardMoHMRModel(HardMoHMRConfig()).eval()  # HRNet-W48, the released size
    return write_hub_folder(model, folder)


def save_full_size_detector(folder: Path) -> Path:
    """A random RT-DETR with the architecture of the default detector (``PekingU/rtdetr_r18vd``, 640 px)."""
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessor

    torch.manual_seed(0)
    backbone = {
        "model_type": "rt_detr_resnet",
        "layer_type": "basic",
        "depths": [2, 2, 2, 2],
        "hidden_sizes": [64, 128, 256, 512],
        "out_features": ["stage2", "stage3", "stage4"],
    }
    config = RTDetrConfig(
        backbone_config=backbone,
        encoder_in_channels=[128, 256, 512],
        decoder_layers=3,
        id2label={0: "person", 1: "other"},
        label2id={"person": 0, "other": 1},
    )
    RTDetrForObjectDetection(config).eval().save_pretrained(folder)
    RTDetrImageProcessor().save_pretrained(folder)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--detector", default="default", help="'default' (random RT-DETR R18-vd), 'none', or a folder"
    )
    parser.add_argument("--screenshot", type=Path, default=None, help="save the 1024 px render here (PNG)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from PIL import Image

    from hardmo_hf.testing.smpl import make_synthetic_smpl

    work = Path(tempfile.mkdtemp(prefix="bench_demo_"))
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; building models in {work} ...",
        flush=True,
    )
    ref_ms = reference_matmul_ms(args.repeats + 2)
    smpl = make_synthetic_smpl(work / "smpl")
    hmr_dir = save_full_size_hmr(work / "hmr_w48")
    detector = args.detector
    if detector == "default":
        detector = str(save_full_size_detector(work / "rtdetr"))
    config = DemoConfig(model_locations={MODEL_HMR: str(hmr_dir)}, smpl_path=str(smpl), detector=detector)
    engine = DemoEngine(config, device="cpu")
    engine.warm_up([MODEL_HMR])
    examples = {e.path.stem: e for e in make_examples(work / "examples")}

    rows = []
    for label, stem in (("1 person", "ballet_solo"), ("3 people", "dance_trio")):
        example = examples[stem]
        image = load_image(example.path).pixels
        boxes = parse_boxes(example.boxes_text, image.shape[:2])
        if not engine.detector.is_fallback:
            det_s, _ = timed(lambda image=image: engine.detect(image, 0.5), args.repeats)
        else:
            det_s = 0.0
        model_s, frame = timed(
            lambda image=image, boxes=boxes: engine.run(image, [MODEL_HMR], boxes=boxes), args.repeats
        )
        meshes = frame_meshes(frame, MODEL_HMR)
        focal = frame.models[MODEL_HMR].people[0].focal_length
        render_s, _ = timed(
            lambda image=image, meshes=meshes, focal=focal: render_meshes(image, meshes, engine.faces, focal),
            args.repeats,
        )
        size = f"{image.shape[1]}x{image.shape[0]}"
        rows.append((label, size, det_s, model_s, render_s))

    # Rendering alone: one posed person (the gallery's arabesque, zero betas) about 900 px tall at 1024 px.
    from hardmo_hf.demo.examples import _body_pose, _rotation

    body = engine.body_model
    with torch.no_grad():
        orient = torch.tensor((_rotation(180, 0, 0) @ _rotation(0, 30, 0))[None, None], dtype=torch.float32)
        vertices = body(orient, _body_pose("arabesque"), torch.zeros(1, 10)).vertices[0].numpy()
    canvas = np.full((1024, 1024, 3), 128, np.uint8)
    focal = 1024 * 5000.0 / 256.0
    height_m = float(np.ptp(vertices[:, 1]))
    vertices = vertices - vertices.mean(axis=0) + np.array([0.0, 0.0, focal * height_m / 900.0])
    render_1024_s, rendered = timed(
        lambda: render_meshes(canvas, [vertices], engine.faces, focal), args.repeats + 2
    )
    if args.screenshot:
        Image.fromarray(rendered).save(args.screenshot)

    print(f"\nreference: 1024^3 float32 matmul = {ref_ms:.1f} ms (ref)\n")
    print(f"{'case':10} {'image':>9} {'detector':>16} {'HardMo-HMR':>16} {'render':>16} {'total':>16} goal")
    for label, size, det_s, model_s, render_s in rows:
        total = det_s + model_s + render_s
        cells = [f"{1000 * s:7.0f} ms {1000 * s / ref_ms:5.1f}x" for s in (det_s, model_s, render_s, total)]
        goal = f"< 2 s: {'OK' if total < 2.0 else 'MISSED'}" if label == "1 person" else ""
        print(f"{label:10} {size:>9} " + " ".join(f"{c:>16}" for c in cells) + f" {goal}")
    verdict = "OK" if render_1024_s < 0.3 else "MISSED"
    print(
        f"\nrender only, 1 person at 1024x1024: {1000 * render_1024_s:.0f} ms = {1000 * render_1024_s / ref_ms:.1f} ref "
        f"(goal < 300 ms: {verdict})"
    )
    print(
        "(detector time: RT-DETR incl. its image processor; model time: crops + HRNet-W48 + SMPL + post-processing)"
    )
    if args.screenshot:
        print(f"render saved to {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
