#!/usr/bin/env python
"""Build speed and memory, as ratios against baselines measured in the same run.

1. Time: ``hardmo-hf build INPUT --workers 2`` vs ``cp -r INPUT`` of the same input (goal <= 2.0x). Both run
   as subprocesses from a synced, warm page cache, alternating, writing under ``--scratch``; the medians and the
   fastest runs are compared. CPU seconds (user + system) are printed too: on a VM, ``cp -r`` of ~18k small
   files to disk is bound by the kernel's file creation, whose cost swings by 20x with the file system's state
   (ext4 with ``discard`` after many deletions), so ``--scratch /dev/shm`` (tmpfs) gives the steadier
   comparison. A third line copies the build's own output (``cp -r`` of the dataset: one row per person repeats
   a frame's bytes, and Foot / Hand rows carry their own copy, so the output is ~2.4x the input's bytes).
   A fourth line is a lower bound of any build (``build_floor.py``): the work the output format requires, with
   nothing else, in ``--workers`` processes (read every input file once, unpickle every label with the
   restricted unpickler, write the build's own tables, already in memory, to Parquet, sha256 each file), plus
   the start of an interpreter that imports what a datatrove build needs (pyarrow, datatrove's executor, the
   build module). What a real build spends above it is parsing, checking, filtering, Arrow conversion, the
   plan and the card.
2. Memory: peak memory of the whole build (main process and its forked pool workers: the sum of their PSS,
   sampled every 20 ms) on a 1x and a 4x input (goal: within 10 %).

Inputs are sample pipeline outputs (``hardmo_hf.data.sample``), made once into --work and reused::

    python benchmarks/bench_build.py --work /tmp/hardmo-bench            # 5,040 frames at 1280x720 + 1x/4x
    python benchmarks/bench_build.py --work DIR --skip-memory --repeats 5

Not a test: it prints numbers (machines are noisy, so only ratios from one run mean anything).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_input(path: Path, clips_per_class: int, frames_per_clip: int, size: tuple[int, int]) -> Path:
    from hardmo_hf.data.sample import make_sample_pipeline_output

    marker = path / ".complete"
    if marker.exists():
        return path
    if path.exists():
        shutil.rmtree(path)
    print(f"generating {path} ({clips_per_class} clips/class x {frames_per_clip} frames, {size[0]}x{size[1]})...",
          flush=True)
    make_sample_pipeline_output(path, clips_per_class=clips_per_class, frames_per_clip=frames_per_clip,
                                image_size=size, progress=True)
    marker.write_text("")
    return path


# HardMo-Foot > 500K and HardMo-Hand > 400K samples of ~7M: the share of samples with an optimized label.
PAPER_SHARE = {"foot": 0.5 / 7, "hand": 0.4 / 7}


def paper_proportions(source: Path, target: Path) -> Path:
    """A copy of ``source`` keeping only the paper's share of optimized Foot / Hand labels (hash-chosen).

    The sample generator gives about half of all samples an optimized label, far more than HardMo (~7 % and
    ~6 %); optimized rows are extra rows (with their own copy of the image bytes) and extra label reads.
    """
    import hashlib

    if (target / ".complete").exists():
        return target
    if target.exists():
        shutil.rmtree(target)
    share = lambda rel: int.from_bytes(hashlib.sha256(rel.encode()).digest()[:8], "big") / 2**64
    for directory, _, names in os.walk(source):
        rel_dir = Path(directory).relative_to(source)
        subset = rel_dir.parts[0] if rel_dir.parts else None
        for name in names:
            rel = (rel_dir / name).as_posix()
            if subset in PAPER_SHARE and share(rel) >= PAPER_SHARE[subset]:
                continue
            (target / rel_dir).mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(directory, name), target / rel)
    (target / ".complete").write_text("")
    return target


def input_size(path: Path) -> tuple[int, int]:
    files = size = 0
    for directory, _, names in os.walk(path):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(directory, name))
    return files, size


def _sync():
    subprocess.run(["sync"], check=True)


def _timed(cmd: list[str], env=None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the command and its children) of ``cmd``, from a synced cache."""
    _sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def build_command(source: Path, out: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "hardmo_hf.cli", "build", str(source), "--out", str(out), "--workers",
            str(workers), "--no-progress"]


STARTUP_COMMAND = [sys.executable, "-c", "import pyarrow.parquet, datatrove.executor, hardmo_hf.data.build"]


def floor_seconds(source: Path, built: Path, workers: int, scratch: Path) -> tuple[float, float]:
    """``(start-up, required work)`` wall seconds of a lower bound of the build (see the module docstring)."""
    startup, _ = _timed(STARTUP_COMMAND, env=_env())
    scratch.mkdir(parents=True, exist_ok=True)
    _sync()
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "build_floor.py"), str(source), str(built),
                             str(workers), str(scratch)], env=_env(), capture_output=True, text=True, check=False)
    shutil.rmtree(scratch)
    if result.returncode != 0:
        raise RuntimeError(f"build_floor.py failed:\n{result.stderr[-3000:]}")
    work = float(result.stdout.split("floor_seconds")[-1])
    return startup, work


def bench_time(source: Path, scratch: Path, workers: int, repeats: int) -> dict:
    """Wall and CPU seconds of ``cp -r`` of the input, of the build, and of ``cp -r`` of the build's output,
    and the build's lower bound (:func:`floor_seconds`), alternating, ``repeats`` times each.

    The input is read once before, so that neither command pays for a cold page cache the other warmed.
    """
    times = {name: [] for name in ("cp", "build", "cp_output", "cp_cpu", "build_cpu", "cp_output_cpu",
                                   "floor_startup", "floor_work", "floor")}
    scratch.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "cf", "/dev/null", "-C", str(source.parent), source.name], check=True)
    for repeat in range(repeats):
        built = scratch / f"build-{repeat}"
        for name in ("cp", "build", "cp_output"):
            target = scratch / f"{name}-{repeat}"
            if target.exists():
                shutil.rmtree(target)
            if name == "cp":
                cmd = ["cp", "-r", str(source), str(target)]
            elif name == "build":
                cmd = build_command(source, target, workers)
            else:
                cmd = ["cp", "-r", str(built), str(target)]
            wall, cpu = _timed(cmd, env=_env() if name == "build" else None)
            times[name].append(wall)
            times[f"{name}_cpu"].append(cpu)
            if name != "build":
                shutil.rmtree(target)
        startup, work = floor_seconds(source, built, workers, scratch / f"floor-{repeat}")
        times["floor_startup"].append(startup)
        times["floor_work"].append(work)
        times["floor"].append(startup + work)
        shutil.rmtree(built)
    return times


# ----------------------------------------------------------------------------------------------------
# Memory of a process tree
# ----------------------------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            found = [int(p) for p in handle.read().split()]
    except OSError:
        return []
    return found + [g for child in found for g in _children(child)]


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_memory(cmd: list[str], env=None, interval: float = 0.02) -> dict:
    """Run ``cmd``; the peak over time of the summed PSS of its process tree (shared pages counted once)."""
    _sync()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = {"tree_pss_mib": 0.0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            pids = [process.pid, *_children(process.pid)]
            total = sum(_pss_kib(p) for p in pids) / 1024
            peak["tree_pss_mib"] = max(peak["tree_pss_mib"], total)
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{stderr[-3000:]}")
    return peak


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for inputs (kept) and outputs")
    parser.add_argument("--scratch", type=Path, default=None,
                        help="where the timed commands write (default WORK/scratch; /dev/shm: tmpfs, steadier)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each timing and memory measurement")
    parser.add_argument("--time-size", default="1280x720", help="frame size of the timing input")
    parser.add_argument("--memory-size", default="640x360", help="frame size of the memory inputs")
    parser.add_argument("--skip-time", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-paper-share", action="store_true", help="time only the generator's input")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    size = lambda text: tuple(int(v) for v in text.lower().split("x"))

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    if not args.skip_time:
        generated = make_input(args.work / "time_input", 70, 6, size(args.time_size))
        inputs = [("sample generator's Foot/Hand share (~50 % of samples)", generated)]
        if not args.skip_paper_share:
            inputs.append(("the paper's Foot/Hand share (7 % / 6 %)",
                           paper_proportions(generated, args.work / "time_input_paper_share")))
        for label, source in inputs:
            files, nbytes = input_size(source)
            print(f"\n[time] 5,040 frames at {args.time_size}, {label}: {files:,} files, {nbytes / 2**20:,.0f} MiB")
            scratch = args.scratch / "hardmo-bench-build" if args.scratch else args.work / "scratch"
            times = bench_time(source, scratch, args.workers, args.repeats)
            cp, built = statistics.median(times["cp"]), statistics.median(times["build"])
            for name, label in (("cp", "cp -r input    "), ("build", f"build {args.workers} workers"),
                                ("cp_output", "cp -r output   ")):
                print(f"  {label}: {', '.join(f'{t:.2f}' for t in times[name])} s wall (median "
                      f"{statistics.median(times[name]):.2f} s); CPU {', '.join(f'{t:.2f}' for t in times[name + '_cpu'])} s")
            print(f"  RATIO build / cp -r = {built / cp:.2f}x of the medians, {min(times['build']) / min(times['cp']):.2f}x "
                  "of the fastest runs (the least disturbed)   (goal <= 2.0x)")
            print(f"  (build / cp -r of its own output: {built / statistics.median(times['cp_output']):.2f}x of the "
                  "medians)")
            floor = statistics.median(times["floor"])
            print(f"  floor          : {', '.join(f'{t:.2f}' for t in times['floor'])} s wall (median {floor:.2f} s: "
                  f"start-up {statistics.median(times['floor_startup']):.2f} s + required work "
                  f"{statistics.median(times['floor_work']):.2f} s)")
            print(f"  RATIO floor / cp -r = {floor / cp:.2f}x of the medians (no build can do better); "
                  f"build / floor = {built / floor:.2f}x")
    if not args.skip_memory:
        one = make_input(args.work / "memory_1x", 70, 6, size(args.memory_size))
        four = make_input(args.work / "memory_4x", 280, 6, size(args.memory_size))
        (args.work / "scratch").mkdir(parents=True, exist_ok=True)
        # A task covers a fixed number of units (constants.UNITS_PER_TASK): a 4x input makes 4x the tasks, each holding
        # the same row-group buffers and id lists, so the peak should not follow the input.
        # Which pages the forked workers copy varies from run to run (+-10 MiB): each size is built `--repeats`
        # times, alternating, and its peak is the largest.
        runs = {"1x": [], "4x": []}
        for _ in range(args.repeats):
            for name, source in (("1x", one), ("4x", four)):
                target = args.work / "scratch" / f"memory-{name}"
                if target.exists():
                    shutil.rmtree(target)
                runs[name].append(peak_memory(build_command(source, target, args.workers), env=_env())["tree_pss_mib"])
                shutil.rmtree(target)
        peaks = {name: max(values) for name, values in runs.items()}
        for name, source in (("1x", one), ("4x", four)):
            files, nbytes = input_size(source)
            print(f"\n[memory {name}] input {files:,} files, {nbytes / 2**20:,.0f} MiB: peak tree PSS "
                  f"{peaks[name]:.0f} MiB (runs: {', '.join(f'{v:.0f}' for v in runs[name])})")
        ratio = peaks["4x"] / peaks["1x"]
        print(f"  RATIO peak memory 4x / 1x = {ratio:.3f}   (goal <= 1.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
