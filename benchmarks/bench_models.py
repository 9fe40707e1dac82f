"""CPU inference benchmark of the full-size HardMo models (random weights).

For HardMo-4DHumans (ViT-H/16 + decoder, 256 px crops) and HardMo-HMR (HRNet-W48 + IEF, 224 px crops), at
batch 1 and 8, in float32 and bfloat16 (weights cast with ``model.to(torch.bfloat16)``; SMPL-side geometry
stays float32):

* throughput (images/s, median of ``--repeats`` timed runs after one warm-up) and peak resident memory
  (RSS sampled every 2 ms during the forward pass; also the increase over the RSS before it);
* for the ViT-H backbone, achieved FLOP/s (FLOPs counted once with ``torch.utils.flop_counter`` on the meta
  device) as a fraction of a plain ``torch.matmul`` of the MLP's shape ((B*192, 1280) @ (1280, 5120)) timed
  in the same run and dtype. Goals: >= 0.9 in float32, >= 0.5 in bfloat16;
* the bfloat16 / float32 throughput ratio (goal >= 2.5) and the largest deviation of the bfloat16 outputs from
  the float32 ones (rotation matrices, betas, weak-perspective camera, camera translation);
* for the HRNet, the same with ``channels_last`` memory format.

Every ratio is measured within the run (machines are noisy). Usage::

    python benchmarks/bench_models.py [--models hmr2 hmr] [--batches 1 8] [--repeats 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import statistics
import threading
import time
from pathlib import Path

import torch

logger = logging.getLogger("bench_models")
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


class PeakRSS:
    """Samples the resident set size in a background thread while the ``with`` block runs."""

    def __enter__(self):
        self.before = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def build(kind: str, channels_last: bool = False):
    """Full-size model with random weights; the read-outs get visible weight so outputs depend on the image,
    and HRNet BatchNorm statistics are calibrated on noise images (random running statistics would let the
    activations blow up through the residual stages, which no trained model does)."""
    from hardmo_hf.models.configuration_hardmo import HardMoHMR2Config, HardMoHMRConfig
    from hardmo_hf.models.modeling_hardmo import HardMoHMR2Model, HardMoHMRModel

    torch.manual_seed(0)
    model = HardMoHMR2Model(HardMoHMR2Config()) if kind == "hmr2" else HardMoHMRModel(HardMoHMRConfig())
    with torch.no_grad():
        for layer in (model.head.decpose, model.head.decshape, model.head.deccam):
            layer.weight.normal_(0.0, 0.02)
        norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        if norms:
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None  # cumulative average over the calibration batch
            model.train()
            model(torch.randn(4, 3, model.config.image_size, model.config.image_size, generator=torch.Generator().manual_seed(1)))
            for norm in norms:
                norm.momentum = 0.1
    model.eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def time_forward(model, pixels, repeats: int, baseline=None) -> dict:
    """Median seconds over ``repeats`` runs after a warm-up, peak RSS and its increase, the last output.

    With ``baseline`` (a callable returning FLOP/s), it is timed right before every model run, so the two
    rates see the same machine load; its median is returned as ``baseline_flops``.
    """
    with torch.inference_mode():
        output = model(pixels)
        times, rates = [], []
        with PeakRSS() as memory:
            for _ in range(repeats):
                if baseline is not None:
                    rates.append(baseline())
                start = time.perf_counter()
                output = model(pixels)
                times.append(time.perf_counter() - start)
    return {
        "seconds": statistics.median(times), "peak": memory.peak, "increase": memory.peak - memory.before,
        "output": output, "baseline_flops": statistics.median(rates) if rates else None,
    }


def matmul_flops_per_second(rows: int, dtype: torch.dtype, repeats: int = 3) -> float:
    """Plain ``torch.matmul`` (rows, 1280) @ (1280, 5120): the ViT-H MLP shape."""
    a = torch.randn(rows, 1280).to(dtype)
    b = torch.randn(1280, 5120).to(dtype)
    torch.matmul(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    return 2 * rows * 1280 * 5120 * repeats / (time.perf_counter() - start)


def vit_flops_per_image() -> tuple[int, int]:
    """FLOPs of one 256x192 forward of the ViT-H backbone and of the whole HMR2 model (meta device)."""
    from torch.utils.flop_counter import FlopCounterMode

    from hardmo_hf.models.configuration_hardmo import HardMoHMR2Config
    from hardmo_hf.models.modeling_hardmo import HardMoHMR2Model

    with torch.device("meta"):
        model = HardMoHMR2Model(HardMoHMR2Config()).eval()
        pixels = torch.empty(1, 3, 256, 256)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.head(model.backbone(pixels[..., 32:224]).feature_maps[-1])
    by_module = counter.get_flop_counts()
    backbone = sum(by_module.get("VitPoseBackbone", {}).values())
    total = counter.get_total_flops()
    return backbone, total


def deviation(reference, other) -> dict[str, float]:
    rotations = lambda out: torch.cat([out.global_orient, out.body_pose], dim=1)  # noqa: E731
    return {
        "rotations": float((rotations(other) - rotations(reference)).abs().max()),
        "betas": float((other.betas - reference.betas).abs().max()),
        "pred_cam": float((other.pred_cam - reference.pred_cam).abs().max()),
        "pred_cam_t": float((other.pred_cam_t - reference.pred_cam_t).abs().max()),
    }


def bench_model(kind: str, batches: list[int], repeats: int) -> dict:
    size = 256 if kind == "hmr2" else 224
    variants = [("float32", False), ("bfloat16", False)]
    if kind == "hmr":
        variants += [("float32", True), ("bfloat16", True)]
    result = {"model": kind, "runs": []}
    if kind == "hmr2":
        backbone_flops, total_flops = vit_flops_per_image()
        result["vit_flops_per_image"] = backbone_flops
        result["model_flops_per_image"] = total_flops
    outputs = {}
    for channels_last in sorted({cl for _, cl in variants}):
        start = time.perf_counter()
        fp32_model = build(kind, channels_last)
        logger.info("%s built in %.1fs (channels_last=%s)", kind, time.perf_counter() - start, channels_last)
        for dtype_name, _ in [v for v in variants if v[1] == channels_last]:
            model = fp32_model if dtype_name == "float32" else copy.deepcopy(fp32_model).to(torch.bfloat16)
            for batch in batches:
                pixels = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(batch))
                if channels_last:
                    pixels = pixels.contiguous(memory_format=torch.channels_last)
                dtype = torch.float32 if dtype_name == "float32" else torch.bfloat16
                baseline = (lambda: matmul_flops_per_second(batch * 192, dtype)) if kind == "hmr2" else None  # noqa: E731
                timing = time_forward(model, pixels, repeats, baseline)
                seconds, output = timing["seconds"], timing["output"]
                run = {
                    "dtype": dtype_name, "channels_last": channels_last, "batch": batch, "seconds": seconds,
                    "images_per_s": batch / seconds, "peak_rss_gib": timing["peak"] / 2**30,
                    "rss_increase_gib": timing["increase"] / 2**30,
                }
                if kind == "hmr2":
                    # All FLOPs of the model (>98% in the ViT-H) over the whole forward time.
                    achieved = result["model_flops_per_image"] * batch / seconds
                    run.update(
                        achieved_gflops=achieved / 1e9, matmul_gflops=timing["baseline_flops"] / 1e9,
                        fraction_of_matmul=achieved / timing["baseline_flops"],
                    )
                result["runs"].append(run)
                outputs[(dtype_name, channels_last, batch)] = output
                logger.info("%s %s", kind, json.dumps(run))
            if model is not fp32_model:
                del model
        del fp32_model
    for channels_last in sorted({cl for _, cl in variants}):
        for batch in batches:
            fp32, bf16 = outputs[("float32", channels_last, batch)], outputs[("bfloat16", channels_last, batch)]
            speed = {r["dtype"]: r["images_per_s"] for r in result["runs"] if r["batch"] == batch and r["channels_last"] == channels_last}
            result.setdefault("bf16", []).append(
                {"batch": batch, "channels_last": channels_last, "speedup": speed["bfloat16"] / speed["float32"],
                 "max_abs_deviation": deviation(fp32, bf16)}
            )
    return result


def print_report(results: list[dict]) -> None:
    for result in results:
        print(f"\n== {result['model']} ==")
        if "vit_flops_per_image" in result:
            print(f"FLOPs/image: ViT-H backbone {result['vit_flops_per_image'] / 1e9:.1f} G, whole model "
                  f"{result['model_flops_per_image'] / 1e9:.1f} G")
        for run in result["runs"]:
            line = (f"{run['dtype']:8s} {'channels_last' if run['channels_last'] else 'contiguous':13s} batch {run['batch']}: "
                    f"{run['images_per_s']:7.3f} img/s  peak RSS {run['peak_rss_gib']:.2f} GiB (+{run['rss_increase_gib']:.2f})")
            if "fraction_of_matmul" in run:
                line += (f"  {run['achieved_gflops']:.1f} GFLOP/s = {run['fraction_of_matmul']:.2f} x matmul "
                         f"({run['matmul_gflops']:.1f} GFLOP/s)")
            print(line)
        for entry in result["bf16"]:
            dev = ", ".join(f"{k} {v:.2e}" for k, v in entry["max_abs_deviation"].items())
            print(f"bf16 vs fp32 ({'channels_last' if entry['channels_last'] else 'contiguous'}, batch {entry['batch']}): "
                  f"{entry['speedup']:.2f}x throughput; max |bf16 - fp32|: {dev}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["hmr2", "hmr"], choices=["hmr2", "hmr"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, mkldnn {torch.backends.mkldnn.is_available()}")
    results = [bench_model(kind, args.batches, args.repeats) for kind in args.models]
    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
