#!/usr/bin/env python
"""Streaming read speed of the built dataset, as ratios against baselines measured in the same run.

Decoded samples/s of ``load_dataset(DIR, "normal", split="train", streaming=True)``, read two ways:

* ``datasets``: ``iter(stream)``, every row's image decoded by datasets' ``Image`` feature, labels as Python lists;
* ``iter_samples``: ``hardmo_hf.data.streaming.iter_samples(stream)``, the same stream read as Arrow batches of 64,
  arrays as numpy, each frame decoded once for the rows (people) that share it;

against:

1. a PIL loop decoding every row's JPEG bytes (``Image.open(BytesIO(b)).load()``, the bytes in memory):
   goal >= 0.8x (with two people in a frame, ``iter_samples`` decodes fewer images than this loop: compare the
   two readers on equal terms with ``--single-person``);
2. the same samples read from 4D-Humans-style webdataset tars (``<key>.jpg`` + ``<key>.data.pyd``), the way
   4D-Humans reads them: stream the tar, unpickle the person list, decode the frame once and emit one sample
   per person: goal >= 1.0x;
3. itself through a ``torch.utils.data.DataLoader`` with 2 workers vs 1 (each worker crops the person box to
   256x256 and batches 32 samples; the stream's ``.map`` and ``SampleStream``): goal >= 1.8x.

The four readers take turns on blocks of 100 samples, so that each compared pair of blocks ran under the same
machine load; the ratios are medians over the block pairs of ``--repeats`` passes. DataLoader rates are the
best of ``--repeats`` runs. Inputs and datasets are made once into --work::

    python benchmarks/bench_streaming.py --work /tmp/hardmo-bench --sizes 1280x720,320x240
"""

from __future__ import annotations

import argparse
import io
import os

os.environ.setdefault("LOGURU_LEVEL", "WARNING")  # datatrove's per-task logging during the builds
import pickle
import shutil
import statistics
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CROP = 256
READERS = ("datasets", "iter_samples", "tars", "pil")


def one_person_per_frame(source: Path, target: Path) -> None:
    """Copy a label tree keeping only the labels of the lowest person id of every frame."""
    from hardmo_hf.data.readers.label_tree import LABEL_NAME

    for directory, _, names in os.walk(source):
        rel = Path(directory).relative_to(source)
        first: dict[str, int] = {}
        for match in filter(None, map(LABEL_NAME.match, names)):
            frame, person = match["frame"], int(match["person"])
            first[frame] = min(first.get(frame, person), person)
        (target / rel).mkdir(parents=True, exist_ok=True)
        for name in names:
            match = LABEL_NAME.match(name)
            if match is None or int(match["person"]) == first[match["frame"]]:
                shutil.copy2(Path(directory, name), target / rel / name)


def prepare(work: Path, size: tuple[int, int], clips_per_class: int, frames_per_clip: int, single_person: bool):
    """Sample input -> built dataset (default shard options) + webdataset tars of the normal/train samples."""
    import pyarrow.parquet as pq

    from hardmo_hf.data.build import BuildConfig, build
    from hardmo_hf.data.readers import label_tree
    from hardmo_hf.data.record import Reject
    from hardmo_hf.data.sample import make_sample_pipeline_output
    from hardmo_hf.data.writers import write_webdataset

    tag = f"{size[0]}x{size[1]}"
    source = work / f"stream_input_{tag}"
    if not (source / ".complete").exists():
        shutil.rmtree(source, ignore_errors=True)
        print(f"generating the {tag} input...", flush=True)
        make_sample_pipeline_output(source, clips_per_class=clips_per_class, frames_per_clip=frames_per_clip,
                                    image_size=size, include_bad_records=False, progress=True)
        (source / ".complete").write_text("")
    if single_person:
        tag += "_single"
        single = work / f"stream_input_{tag}"
        if not (single / ".complete").exists():
            shutil.rmtree(single, ignore_errors=True)
            one_person_per_frame(source, single)
            (single / ".complete").write_text("")
        source = single
    dataset, tars = work / f"stream_{tag}" / "hardmo", work / f"tars_{tag}"
    if not (dataset / "manifest.json").exists():
        shutil.rmtree(dataset.parent, ignore_errors=True)
        build(BuildConfig(str(source), str(dataset)), workers=2, progress=False)
    # the samples of normal/train in the order datasets streams them (files sorted, rows in order)
    files = sorted(dataset.glob("data/normal/train/*/*.parquet"))
    ids, blobs = [], []
    for path in files:
        table = pq.read_table(path, columns=["sample_id", "image"])
        ids += table.column("sample_id").to_pylist()
        blobs += [bytes(b) for b in table.column("image").combine_chunks().field("bytes").to_pylist()]
    if not tars.exists():
        wanted = set(ids)
        records = [r for unit in label_tree.list_units(source, subsets="normal")
                   for r in label_tree.read_unit(source, unit, subsets="normal")
                   if not isinstance(r, Reject) and r.sample_id in wanted]
        write_webdataset(records, tars, frames_per_shard=500)
    return dataset, sorted(tars.glob("*.tar")), blobs, len(files)


def paired_blocks(dataset: Path, tars, blobs, block: int = 100) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU seconds per sample of the :data:`READERS`, measured block by block in lockstep.

    The machine's load changes by the second, so the readers take turns on blocks of ``block`` samples
    (datasets stream, ``iter_samples``, tar reader, PIL loop over the bytes of the same rows) and each block is compared with its
    neighbours. CPU time (``time.process_time``: this process, all its threads) is what a reader costs on a
    machine of its own; wall time is what it took here. The first sample of each stream (setup) is not timed.
    """
    from datasets import load_dataset
    from PIL import Image

    from hardmo_hf.data.streaming import iter_samples

    split = load_dataset(str(dataset), "normal", split="train", streaming=True)
    stream, fast = iter(split), iter_samples(split)
    samples = iter_tar_samples(tars)
    next(stream)
    next(fast)
    next(samples)
    times = {clock: {name: [] for name in READERS} for clock in ("wall", "cpu")}

    def timed(name, work):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        times["wall"][name].append((time.perf_counter() - wall) / block)
        times["cpu"][name].append((time.process_time() - cpu) / block)

    def read(iterator):
        for _ in range(block):
            assert next(iterator)["image"].size[0] > 0

    def read_tars():
        for _ in range(block):
            next(samples)

    def decode(chunk):
        for data in chunk:  # each image freed before the next, as in the other two readers
            Image.open(io.BytesIO(data)).load()

    for start in range(1, len(blobs) - block + 1, block):
        timed("datasets", lambda: read(stream))
        timed("iter_samples", lambda: read(fast))
        timed("tars", read_tars)
        timed("pil", lambda chunk=blobs[start:start + block]: decode(chunk))
    return times


def rate_datasets_without_decode(dataset: Path) -> float:
    from datasets import Image, load_dataset

    stream = load_dataset(str(dataset), "normal", split="train", streaming=True).cast_column("image",
                                                                                           Image(decode=False))
    iterator = iter(stream)
    next(iterator)
    start, count = time.perf_counter(), 0
    for _ in iterator:
        count += 1
    return count / (time.perf_counter() - start)


def iter_tar_samples(tars):
    """4D-Humans-style: stream each tar, group members by key, decode the frame once, one sample per person."""
    from PIL import Image

    for path in tars:
        with tarfile.open(path, "r|") as archive:
            key, parts = None, {}
            for member in archive:
                if not member.isfile():
                    continue
                stem, ext = _split_key(member.name)
                if stem != key and parts:
                    yield from _samples(parts, Image)
                    parts = {}
                key = stem
                parts[ext] = archive.extractfile(member).read()
            if parts:
                yield from _samples(parts, Image)


def _split_key(name: str) -> tuple[str, str]:
    """webdataset naming: the key is the path up to the first dot of the file name, the rest the extension."""
    directory, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{directory}/{stem}" if directory else stem), ext


def _samples(parts, image_module):
    image = image_module.open(io.BytesIO(parts.get("jpg") or parts.get("png")))
    image.load()
    for person in pickle.loads(parts["data.pyd"]):
        yield {"image": image, **person}


def _crop(example):
    """Worker-side transform: the person's box, 256x256 uint8 CHW (what a training loader would do)."""
    import torch

    x0, y0, x1, y1 = example["bbox_xyxy"]
    crop = example["image"].convert("RGB").resize((CROP, CROP), box=(x0, y0, x1, y1))
    return {"pixels": torch.from_numpy(np.asarray(crop).transpose(2, 0, 1).copy()),
            "keypoints_2d": torch.tensor(example["keypoints_2d"])}


def rate_dataloader(dataset: Path, workers: int, limit: int, reader: str = "datasets") -> float:
    """Samples/s of a DataLoader (batches of 32) over ``limit`` samples, once every worker has sent a batch.

    ``reader``: ``datasets`` (the stream itself, ``.map(_crop)``) or ``iter_samples`` (``SampleStream``).
    """
    import torch
    from datasets import load_dataset

    from hardmo_hf.data.streaming import SampleStream

    stream = load_dataset(str(dataset), "normal", split="train", streaming=True)
    if reader == "datasets":
        source = stream.map(_crop, remove_columns=list(stream.features))
    else:
        source = SampleStream(stream, transform=_crop)
    loader = torch.utils.data.DataLoader(source, batch_size=32, num_workers=workers)
    iterator = iter(loader)
    for _ in range(workers):  # batches come from the workers in turn: after these, every worker is up
        next(iterator)
    count, start = 0, time.perf_counter()
    for batch in iterator:
        count += len(batch["pixels"])
        if count >= limit:
            break
    rate = count / (time.perf_counter() - start)
    del iterator
    return rate


def bench_size(work: Path, size, repeats: int, clips_per_class: int, frames_per_clip: int, dataloader: bool,
               single_person: bool):
    dataset, tars, blobs, num_files = prepare(work, size, clips_per_class, frames_per_clip, single_person)
    tag = f"{size[0]}x{size[1]}" + (", one person per frame" if single_person else ", 1-2 people per frame")
    print(f"\n[{tag}] {len(blobs):,} samples of normal/train in {num_files} shards, "
          f"mean JPEG {np.mean([len(b) for b in blobs]) / 1024:.0f} KiB; {len(tars)} tars")
    times = {clock: {name: [] for name in READERS} for clock in ("wall", "cpu")}
    for _ in range(repeats):
        for clock, by_reader in paired_blocks(dataset, tars, blobs).items():
            for name, values in by_reader.items():
                times[clock][name] += values
    overhead = rate_datasets_without_decode(dataset)
    for clock, by_reader in times.items():
        print(f"  {clock} time, samples/s (median over {len(by_reader['pil'])} blocks): "
              + ", ".join(f"{name} {1 / statistics.median(values):,.0f}" for name, values in by_reader.items()))
    print(f"  datasets without image decode: {overhead:,.0f} samples/s = {1e6 / overhead:.0f} us per row (wall)")
    for reader in ("datasets", "iter_samples"):
        for other, goal in (("pil", 0.8), ("tars", 1.0)):
            label = "PIL loop" if other == "pil" else "webdataset tars"
            for clock, by_reader in times.items():
                ratios = [b / a for a, b in zip(by_reader[reader], by_reader[other])]
                print(f"  RATIO {reader} / {label} ({clock} time) = {statistics.median(ratios):.3f}   "
                      f"(goal >= {goal})")
    if dataloader:
        for reader in ("datasets", "iter_samples"):
            loader = {1: [], 2: []}
            for _ in range(repeats):  # alternate, so each 2-worker run has a 1-worker run under similar load
                for workers in (1, 2):
                    loader[workers].append(rate_dataloader(dataset, workers, min(1280, len(blobs) // 2), reader))
            for workers, values in loader.items():
                print(f"  DataLoader ({reader}) {workers} worker(s) samples/s: {', '.join(f'{v:,.0f}' for v in values)}")
            ratios = [two / one for one, two in zip(loader[1], loader[2])]
            print(f"  RATIO DataLoader ({reader}) 2 workers / 1 worker = {statistics.median(ratios):.2f} (median of "
                  f"pairs; best runs {max(loader[2]) / max(loader[1]):.2f})   (goal >= 1.8)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for inputs, datasets and tars (kept)")
    parser.add_argument("--sizes", default="1280x720,320x240", help="frame sizes to measure, comma-separated")
    parser.add_argument("--clips-per-class", type=int, default=10)
    parser.add_argument("--frames-per-clip", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-dataloader", action="store_true")
    parser.add_argument("--single-person", action="store_true",
                        help="keep one person per frame: the tars then decode as many images as the dataset (a "
                             "tar reader decodes a frame once for all its people; a row per person decodes it "
                             "per row)")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    for index, text in enumerate(args.sizes.split(",")):
        size = tuple(int(v) for v in text.lower().split("x"))
        bench_size(args.work, size, args.repeats, args.clips_per_class, args.frames_per_clip,
                   dataloader=not args.no_dataloader and index == 0, single_person=args.single_person)
    return 0


if __name__ == "__main__":
    sys.exit(main())
