"""CPU inference benchmark of the full-size HardMo models (random weights).

For HardMo-4DHumans (ViT-H/16 + decoder, 256 px crops) and HardMo-HMR (HRNet-W48 + IEF, 224 px crops), at
batch 1 and 8, these inference paths (SMPL-side geometry always stays float32):

* ``float32 eager``: the model as loaded, the baseline of every ratio;
* ``bfloat16 eager``: weights cast with ``model.to(torch.bfloat16)`` (= ``from_pretrained(..., dtype=torch.bfloat16)``);
* ``bfloat16 prepared``: ``model.prepare_for_inference(torch.bfloat16)``, the offered bf16 path (HRNet: BatchNorms
  folded into the convolutions, ``channels_last``; ViT: eager bf16 attention instead of ``sdpa``);
* ``float32 prepared``: ``model.prepare_for_inference()``, the same rewrites in float32, for the apples-to-apples
  ratio (HMR only: for HMR2 the float32 preparation changes nothing, so it equals ``float32 eager``);
* with ``--compile``, ``float32 compiled`` and ``bfloat16 compiled``: ``prepare_for_inference(dtype, compile=True)``
  (inductor, frozen weights); the first call per batch size, which compiles, is reported as compile time.

Measured:

* throughput (images/s, median of ``--repeats`` timed runs after one warm-up, wall clock or ``--clock cpu``; all variants of a model are
  timed in round-robin order so that load changes on a shared machine hit them alike) and peak memory
  (the variant's weights plus the largest RSS increase during its forward pass, RSS sampled every 2 ms; not for
  compiled variants, whose frozen weight copies live in the compiled graph: see the process peak RSS);
* for the ViT-H backbone, achieved FLOP/s (FLOPs counted once with ``torch.utils.flop_counter`` on the meta
  device) as a fraction of a plain ``torch.matmul`` of the MLP's shape ((B*192, 1280) @ (1280, 5120)) timed
  in the same run and dtype. Goals: >= 0.9 in float32, >= 0.5 in bfloat16;
* each bf16 variant's throughput over ``float32 eager`` (goal >= 2.5) and over the float32 variant with the same
  optimisation (apples to apples), and its largest deviation from the ``float32 eager`` outputs (rotation
  matrices, betas, weak-perspective camera, camera translation).

Random weights: the read-outs get std 0.02 so the outputs depend on the image, and the HRNet's BatchNorm
statistics are calibrated on noise with damped residual branches, like a trained network (raw random
statistics make activations explode).

Every ratio is measured within the run (machines are noisy). Usage::

    python benchmarks/bench_models.py [--models hmr2 hmr] [--batches 1 8] [--repeats 2] [--compile] [--json out.json]
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
# The clock of the timed runs: wall time, or (``--clock cpu``, with ``--threads 1``) the CPU time of the calling
# thread, which runs all of torch's work then and which a busy machine's other jobs do not inflate (the memory
# sampler's thread is not counted): per-core throughput.
CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
CLOCK = [CLOCKS["wall"]]


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


def time_variants(variants: dict, inputs: torch.Tensor, repeats: int, baselines: dict | None = None) -> dict:
    """Time every variant ``repeats`` times in round-robin order (so load changes hit all of them alike).

    Returns ``name -> {"seconds": median, "warmup_seconds": the first call (compiles a compiled variant),
    "increase": largest RSS increase during its forward, "output", "baseline_flops": median FLOP/s of its
    baseline timed right before each of its runs}``.
    """
    results = {name: {"times": [], "rates": [], "increase": 0} for name in variants}
    with torch.inference_mode():
        for name, model in variants.items():  # warm-up
            start = time.perf_counter()
            results[name]["output"] = model(inputs)
            results[name]["warmup_seconds"] = time.perf_counter() - start
            logger.info("%s warm-up %.1fs", name, results[name]["warmup_seconds"])
        for _ in range(repeats):
            for name, model in variants.items():
                if baselines:
                    results[name]["rates"].append(baselines[name]())
                with PeakRSS() as memory:
                    start = CLOCK[0]()
                    results[name]["output"] = model(inputs)
                    results[name]["times"].append(CLOCK[0]() - start)
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
    start = CLOCK[0]()
    for _ in range(repeats):
        torch.matmul(a, b)
    return 2 * rows * 1280 * 5120 * repeats / (CLOCK[0]() - start)


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


def build_variants(kind: str, compile_models: bool) -> dict:
    """``(dtype name, path) -> callable model`` for the inference paths in the module docstring."""
    start = time.perf_counter()
    fp32 = build(kind)
    logger.info("%s built in %.1fs", kind, time.perf_counter() - start)
    variants = {
        ("float32", "eager"): fp32,
        ("bfloat16", "eager"): copy.deepcopy(fp32).to(torch.bfloat16),
        ("bfloat16", "prepared"): copy.deepcopy(fp32).prepare_for_inference(torch.bfloat16),
    }
    if kind == "hmr":
        variants[("float32", "prepared")] = copy.deepcopy(fp32).prepare_for_inference()
    if compile_models:
        for dtype_name, dtype in DTYPES.items():
            variants[(dtype_name, "compiled")] = copy.deepcopy(fp32).prepare_for_inference(dtype, compile=True)
    return variants


def weight_bytes(model) -> int:
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))


def bench_model(kind: str, batches: list[int], repeats: int, compile_models: bool = False) -> dict:
    size = 256 if kind == "hmr2" else 224
    variants = build_variants(kind, compile_models)
    result = {"model": kind, "runs": [], "bf16": []}
    if kind == "hmr2":
        result["vit_flops_per_image"], result["model_flops_per_image"] = vit_flops_per_image()
    for batch in batches:
        pixels = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(batch))
        baselines = None
        if kind == "hmr2":
            baselines = {key: functools.partial(matmul_flops_per_second, batch * 192, DTYPES[key[0]]) for key in variants}
        timings = time_variants(variants, pixels, repeats, baselines)
        for (dtype_name, path), timing in timings.items():
            run = {
                "dtype": dtype_name, "path": path, "batch": batch, "seconds": timing["seconds"],
                "images_per_s": batch / timing["seconds"], "warmup_seconds": timing["warmup_seconds"],
            }
            if path != "compiled":  # a compiled module's frozen, prepacked weight copies are not counted here
                weights = weight_bytes(variants[(dtype_name, path)])
                run.update(
                    weights_gib=weights / 2**30, forward_rss_increase_gib=timing["increase"] / 2**30,
                    peak_memory_gib=(weights + timing["increase"]) / 2**30,
                )
            if kind == "hmr2":
                # All FLOPs of the model (>98% in the ViT-H) over the whole forward time.
                achieved = result["model_flops_per_image"] * batch / timing["seconds"]
                run.update(
                    achieved_gflops=achieved / 1e9, matmul_gflops=timing["baseline_flops"] / 1e9,
                    fraction_of_matmul=achieved / timing["baseline_flops"],
                )
            result["runs"].append(run)
            logger.info("%s %s", kind, json.dumps(run))
        reference = timings[("float32", "eager")]
        for (dtype_name, path), timing in timings.items():
            if dtype_name != "bfloat16":
                continue
            same = timings.get(("float32", path), reference)  # float32 prepared = eager for HMR2
            result["bf16"].append({
                "batch": batch, "path": path,
                "over_fp32_eager": reference["seconds"] / timing["seconds"],
                "over_fp32_same_path": same["seconds"] / timing["seconds"],
                "max_abs_deviation": deviation(reference["output"], timing["output"]),
            })
    result["process_peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return result


def print_report(results: list[dict]) -> None:
    for result in results:
        print(f"\n== {result['model']} == (process peak RSS {result['process_peak_rss_gib']:.2f} GiB)")
        if "vit_flops_per_image" in result:
            print(f"FLOPs/image: ViT-H backbone {result['vit_flops_per_image'] / 1e9:.1f} G, whole model "
                  f"{result['model_flops_per_image'] / 1e9:.1f} G")
        for run in result["runs"]:
            line = f"{run['dtype']:8s} {run['path']:8s} batch {run['batch']}: {run['images_per_s']:7.3f} img/s"
            if "peak_memory_gib" in run:
                line += (f"  peak memory {run['peak_memory_gib']:.2f} GiB (weights {run['weights_gib']:.2f} + forward "
                         f"{run['forward_rss_increase_gib']:.2f})")
            if "fraction_of_matmul" in run:
                line += (f"  {run['achieved_gflops']:.1f} GFLOP/s = {run['fraction_of_matmul']:.2f} x matmul "
                         f"({run['matmul_gflops']:.1f} GFLOP/s)")
            if run["path"] == "compiled":
                line += f"  (first call, compiling: {run['warmup_seconds']:.0f} s)"
            print(line)
        for entry in result["bf16"]:
            dev = ", ".join(f"{k} {v:.2e}" for k, v in entry["max_abs_deviation"].items())
            same = f", {entry['over_fp32_same_path']:.2f}x float32 {entry['path']}" if entry["path"] != "eager" else ""
            print(f"bfloat16 {entry['path']:8s} batch {entry['batch']}: {entry['over_fp32_eager']:.2f}x float32 eager{same} "
                  f"(goal 2.5x); max |bf16 - fp32|: {dev}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["hmr2", "hmr"], choices=["hmr2", "hmr"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="also time prepare_for_inference(..., compile=True)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="time forwards by wall clock or by the main thread's CPU time (use cpu with "
                             "--threads 1 on a busy machine)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu" and torch.get_num_threads() != 1:
        parser.error("--clock cpu needs --threads 1 (it times the calling thread only)")
    CLOCK[0] = CLOCKS[args.clock]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, mkldnn {torch.backends.mkldnn.is_available()}")
    print(f"load average at start: {os.getloadavg()}")
    results = [bench_model(kind, args.batches, args.repeats, args.compile) for kind in args.models]
    print(f"load average at end: {os.getloadavg()}")
    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
