#!/usr/bin/env python
"""Streaming read speed of the built dataset, as ratios against baselines measured in the same run.

Decoded samples/s of ``load_dataset(DIR, "normal", split="train", streaming=True)`` (every sample's image
decoded by datasets' ``Image`` feature, the labels as Python lists) against:

1. a PIL loop decoding the same JPEG bytes (``Image.open(BytesIO(b)).load()``, the bytes in memory):
   goal >= 0.8x;
2. the same samples read from 4D-Humans-style webdataset tars (``<key>.jpg`` + ``<key>.data.pyd``), the way
   4D-Humans reads them: stream the tar, unpickle the person list, decode the frame once and emit one sample
   per person: goal >= 1.0x;
3. itself through a ``torch.utils.data.DataLoader`` with 2 workers vs 1 (each worker crops the person box to
   256x256 and batches 32 samples): goal >= 1.8x.

Every rate is measured ``--repeats`` times, interleaved with the others; the best of each is compared (the
run least disturbed by other processes). Inputs and datasets are made once into --work::

    python benchmarks/bench_streaming.py --work /tmp/hardmo-bench --sizes 1280x720,320x240
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import shutil
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CROP = 256


def prepare(work: Path, size: tuple[int, int], clips_per_class: int, frames_per_clip: int):
    """Sample input -> built dataset (default shard options) + webdataset tars of the normal/train samples."""
    import pyarrow.parquet as pq

    from hardmo_hf.data.build import BuildConfig, build
    from hardmo_hf.data.readers import label_tree
    from hardmo_hf.data.record import Reject
    from hardmo_hf.data.sample import make_sample_pipeline_output
    from hardmo_hf.data.writers import write_webdataset

    tag = f"{size[0]}x{size[1]}"
    source, dataset, tars = work / f"stream_input_{tag}", work / f"stream_{tag}" / "hardmo", work / f"tars_{tag}"
    if not (source / ".complete").exists():
        shutil.rmtree(source, ignore_errors=True)
        print(f"generating the {tag} input...", flush=True)
        make_sample_pipeline_output(source, clips_per_class=clips_per_class, frames_per_clip=frames_per_clip,
                                    image_size=size, include_bad_records=False, progress=True)
        (source / ".complete").write_text("")
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


def rate_pil(blobs) -> float:
    from PIL import Image

    start = time.perf_counter()
    for data in blobs:
        Image.open(io.BytesIO(data)).load()
    return len(blobs) / (time.perf_counter() - start)


def rate_datasets(dataset: Path, decode: bool = True) -> tuple[float, int]:
    from datasets import Image, load_dataset

    stream = load_dataset(str(dataset), "normal", split="train", streaming=True)
    if not decode:
        stream = stream.cast_column("image", Image(decode=False))
    start = time.perf_counter()
    count = 0
    for example in stream:
        count += 1
        if decode:
            assert example["image"].size[0] > 0
    return count / (time.perf_counter() - start), count


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


def rate_tars(tars) -> tuple[float, int]:
    start = time.perf_counter()
    count = sum(1 for _ in iter_tar_samples(tars))
    return count / (time.perf_counter() - start), count


def _crop(example):
    """Worker-side transform: the person's box, 256x256 uint8 CHW (what a training loader would do)."""
    import torch

    x0, y0, x1, y1 = example["bbox_xyxy"]
    crop = example["image"].convert("RGB").resize((CROP, CROP), box=(x0, y0, x1, y1))
    return {"pixels": torch.from_numpy(np.asarray(crop).transpose(2, 0, 1).copy()),
            "keypoints_2d": torch.tensor(example["keypoints_2d"])}


def rate_dataloader(dataset: Path, workers: int) -> float:
    import torch
    from datasets import load_dataset

    stream = load_dataset(str(dataset), "normal", split="train", streaming=True)
    stream = stream.map(_crop, remove_columns=list(stream.features))
    loader = torch.utils.data.DataLoader(stream, batch_size=32, num_workers=workers)
    iterator = iter(loader)
    first = next(iterator)  # workers started and warm
    count, start = 0, time.perf_counter()
    for batch in iterator:
        count += len(batch["pixels"])
    del first
    return count / (time.perf_counter() - start)


def bench_size(work: Path, size, repeats: int, clips_per_class: int, frames_per_clip: int, dataloader: bool):
    dataset, tars, blobs, num_files = prepare(work, size, clips_per_class, frames_per_clip)
    tag = f"{size[0]}x{size[1]}"
    print(f"\n[{tag}] {len(blobs):,} samples of normal/train in {num_files} shards, "
          f"mean JPEG {np.mean([len(b) for b in blobs]) / 1024:.0f} KiB; {len(tars)} tars")
    rates = {"pil": [], "datasets": [], "tars": []}
    for _ in range(repeats):
        rates["pil"].append(rate_pil(blobs))
        value, count = rate_datasets(dataset)
        assert count == len(blobs), (count, len(blobs))
        rates["datasets"].append(value)
        value, count = rate_tars(tars)
        assert count == len(blobs), (count, len(blobs))
        rates["tars"].append(value)
    overhead = rate_datasets(dataset, decode=False)[0]
    best = {k: max(v) for k, v in rates.items()}
    for name, values in rates.items():
        print(f"  {name:<9} samples/s: {', '.join(f'{v:,.0f}' for v in values)}  (best {best[name]:,.0f})")
    print(f"  datasets without image decode: {overhead:,.0f} samples/s = {1e6 / overhead:.0f} us per row")
    print(f"  RATIO datasets / PIL loop = {best['datasets'] / best['pil']:.3f}   (goal >= 0.8)")
    print(f"  RATIO datasets / webdataset tars = {best['datasets'] / best['tars']:.3f}   (goal >= 1.0)")
    if dataloader:
        loader = {1: [], 2: []}
        for _ in range(repeats):
            for workers in (1, 2):
                loader[workers].append(rate_dataloader(dataset, workers))
        for workers, values in loader.items():
            print(f"  DataLoader {workers} worker(s) samples/s: {', '.join(f'{v:,.0f}' for v in values)}")
        print(f"  RATIO DataLoader 2 workers / 1 worker = {max(loader[2]) / max(loader[1]):.2f}   (goal >= 1.8)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for inputs, datasets and tars (kept)")
    parser.add_argument("--sizes", default="1280x720,320x240", help="frame sizes to measure, comma-separated")
    parser.add_argument("--clips-per-class", type=int, default=10)
    parser.add_argument("--frames-per-clip", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-dataloader", action="store_true")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    for index, text in enumerate(args.sizes.split(",")):
        size = tuple(int(v) for v in text.lower().split("x"))
        bench_size(args.work, size, args.repeats, args.clips_per_class, args.frames_per_clip,
                   dataloader=not args.no_dataloader and index == 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
