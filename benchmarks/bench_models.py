"""CPU inference benchmark of the full-size HardMo models (random weights).

For HardMo-4DHumans (ViT-H/16 + decoder, 256 px crops) and HardMo-HMR (HRNet-W48 + IEF, 224 px crops), at
batch 1 and 8, in float32 and bfloat16 (weights cast with ``model.to(torch.bfloat16)``; SMPL-side geometry
stays float32):

* throughput (images/s, median of ``--repeats`` timed runs after one warm-up; all variants of a model are
  timed in round-robin order so that load changes on a shared machine hit them alike) and peak memory
  (the variant's weights plus the largest RSS increase during its forward pass, RSS sampled every 2 ms);
* for the ViT-H backbone, achieved FLOP/s (FLOPs counted once with ``torch.utils.flop_counter`` on the meta
  device) as a fraction of a plain ``torch.matmul`` of the MLP's shape ((B*192, 1280) @ (1280, 5120)) timed
  in the same run and dtype. Goals: >= 0.9 in float32, >= 0.5 in bfloat16;
* the bfloat16 / float32 throughput ratio (goal >= 2.5) and the largest deviation of the bfloat16 outputs from
  the float32 ones (rotation matrices, betas, weak-perspective camera, camera translation);
* for the HRNet, the same with ``channels_last`` memory format (weights and input).

Random weights: the read-outs get std 0.02 so the outputs depend on the image, and the HRNet's BatchNorm
statistics are calibrated on noise with damped residual branches, like a trained network (raw random
statistics make activations explode).

Every ratio is measured within the run (machines are noisy). Usage::

    python benchmarks/bench_models.py [--models hmr2 hmr] [--batches 1 8] [--repeats 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import functools
import json
import logging
import os
import resource
import statistics
import threading
import time
from pathlib import Path

import torch

logger = logging.getLogger("bench_models")
PAGE = os.sysconf("SC_PAGE_SIZE")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def _malloc_trim():
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: RSS increases may then be hidden by the allocator's cache
        return lambda: None
    return lambda: libc.malloc_trim(0)


release_free_memory = _malloc_trim()


class PeakRSS:
    """Samples the resident set size in a background thread while the ``with`` block runs.

    Freed heap memory is handed back to the OS first, so the increase is what the block allocates (activations)
    rather than being hidden by memory the allocator kept from an earlier run.
    """

    def __enter__(self):
        release_free_memory()
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


def build(kind: str):
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
            # Like a trained ResNet, residual branches add small corrections: damp each block's last BN.
            from hardmo_hf.models.hrnet_hardmo import HRNetBasicBlock, HRNetBottleneck

            for block in model.modules():
                if isinstance(block, (HRNetBasicBlock, HRNetBottleneck)):
                    last = block.bn2 if isinstance(block, HRNetBasicBlock) else block.bn3
                    last.weight.uniform_(0.1, 0.3)
            weights = {id(n): n.weight.clone() for n in norms}
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None  # cumulative average over the calibration batch
            model.train()
            model(torch.randn(4, 3, model.config.image_size, model.config.image_size, generator=torch.Generator().manual_seed(1)))
            for norm in norms:
                norm.momentum = 0.1
                norm.weight.copy_(weights[id(norm)])
    return model.eval()


def time_variants(variants: dict, inputs: dict, repeats: int, baselines: dict | None = None) -> dict:
    """Time every variant ``repeats`` times in round-robin order (so load changes hit all of them alike).

    Returns ``name -> {"seconds": median, "increase": largest RSS increase during its forward, "output",
    "baseline_flops": median FLOP/s of its baseline timed right before each of its runs}``.
    """
    results = {name: {"times": [], "rates": [], "increase": 0} for name in variants}
    with torch.inference_mode():
        for name, model in variants.items():  # warm-up
            results[name]["output"] = model(inputs[name])
        for _ in range(repeats):
            for name, model in variants.items():
                if baselines:
                    results[name]["rates"].append(baselines[name]())
                with PeakRSS() as memory:
                    start = time.perf_counter()
                    results[name]["output"] = model(inputs[name])
                    results[name]["times"].append(time.perf_counter() - start)
                results[name]["increase"] = max(results[name]["increase"], memory.peak - memory.before)
    for entry in results.values():
        entry["seconds"] = statistics.median(entry.pop("times"))
        rates = entry.pop("rates")
        entry["baseline_flops"] = statistics.median(rates) if rates else None
    return results


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
    rotations = lambda out: torch.cat([out.global_orient, out.body_pose], dim=1)
    return {
        "rotations": float((rotations(other) - rotations(reference)).abs().max()),
        "betas": float((other.betas - reference.betas).abs().max()),
        "pred_cam": float((other.pred_cam - reference.pred_cam).abs().max()),
        "pred_cam_t": float((other.pred_cam_t - reference.pred_cam_t).abs().max()),
    }


def bench_model(kind: str, batches: list[int], repeats: int) -> dict:
    size = 256 if kind == "hmr2" else 224
    layouts = (False, True) if kind == "hmr" else (False,)
    start = time.perf_counter()
    fp32 = build(kind)
    logger.info("%s built in %.1fs", kind, time.perf_counter() - start)
    variants = {}
    for channels_last in layouts:
        base = fp32 if not channels_last else copy.deepcopy(fp32).to(memory_format=torch.channels_last)
        variants[("float32", channels_last)] = base
        variants[("bfloat16", channels_last)] = copy.deepcopy(base).to(torch.bfloat16)
    result = {"model": kind, "runs": [], "bf16": []}
    if kind == "hmr2":
        result["vit_flops_per_image"], result["model_flops_per_image"] = vit_flops_per_image()
    for batch in batches:
        pixels = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(batch))
        inputs = {
            key: pixels.contiguous(memory_format=torch.channels_last) if key[1] else pixels for key in variants
        }
        baselines = None
        if kind == "hmr2":
            baselines = {key: functools.partial(matmul_flops_per_second, batch * 192, DTYPES[key[0]]) for key in variants}
        timings = time_variants(variants, inputs, repeats, baselines)
        for (dtype_name, channels_last), timing in timings.items():
            model = variants[(dtype_name, channels_last)]
            weights = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
            run = {
                "dtype": dtype_name, "channels_last": channels_last, "batch": batch, "seconds": timing["seconds"],
                "images_per_s": batch / timing["seconds"], "weights_gib": weights / 2**30,
                "forward_rss_increase_gib": timing["increase"] / 2**30,
                "peak_memory_gib": (weights + timing["increase"]) / 2**30,
            }
            if kind == "hmr2":
                # All FLOPs of the model (>98% in the ViT-H) over the whole forward time.
                achieved = result["model_flops_per_image"] * batch / timing["seconds"]
                run.update(
                    achieved_gflops=achieved / 1e9, matmul_gflops=timing["baseline_flops"] / 1e9,
                    fraction_of_matmul=achieved / timing["baseline_flops"],
                )
            result["runs"].append(run)
            logger.info("%s %s", kind, json.dumps(run))
        for channels_last in layouts:
            reference, half = timings[("float32", channels_last)], timings[("bfloat16", channels_last)]
            result["bf16"].append({
                "batch": batch, "channels_last": channels_last, "speedup": reference["seconds"] / half["seconds"],
                "max_abs_deviation": deviation(reference["output"], half["output"]),
            })
    for batch in batches:
        speed = {}
        for run in result["runs"]:
            if run["batch"] == batch:
                speed[run["dtype"]] = max(speed.get(run["dtype"], 0.0), run["images_per_s"])
        result.setdefault("best_bf16_over_best_fp32", {})[batch] = speed["bfloat16"] / speed["float32"]
    result["process_peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return result


def print_report(results: list[dict]) -> None:
    for result in results:
        print(f"\n== {result['model']} == (process peak RSS {result['process_peak_rss_gib']:.2f} GiB)")
        if "vit_flops_per_image" in result:
            print(f"FLOPs/image: ViT-H backbone {result['vit_flops_per_image'] / 1e9:.1f} G, whole model "
                  f"{result['model_flops_per_image'] / 1e9:.1f} G")
        for run in result["runs"]:
            line = (f"{run['dtype']:8s} {'channels_last' if run['channels_last'] else 'contiguous':13s} batch {run['batch']}: "
                    f"{run['images_per_s']:7.3f} img/s  peak memory {run['peak_memory_gib']:.2f} GiB (weights "
                    f"{run['weights_gib']:.2f} + forward {run['forward_rss_increase_gib']:.2f})")
            if "fraction_of_matmul" in run:
                line += (f"  {run['achieved_gflops']:.1f} GFLOP/s = {run['fraction_of_matmul']:.2f} x matmul "
                         f"({run['matmul_gflops']:.1f} GFLOP/s)")
            print(line)
        for batch, ratio in result["best_bf16_over_best_fp32"].items():
            print(f"batch {batch}: fastest bfloat16 variant / fastest float32 variant = {ratio:.2f}x")
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
