#!/usr/bin/env python
"""The work any builder of HardMo's output format must do, with nothing else: a lower bound of the build's time.

Run by ``bench_build.py --floor`` as a subprocess: ``python benchmarks/build_floor.py INPUT BUILT WORKERS``.
``WORKERS`` forked processes share the input files and the shards of ``BUILT`` (a finished build of ``INPUT``);
each, in its share:

1. reads every input file once (images and labels: their bytes go into the shards or are parsed);
2. unpickles every label with the restricted unpickler (required for pickles from outside);
3. writes the build's own tables (loaded into memory before the clock starts, so no parsing, filtering or
   Arrow conversion is counted) to Parquet with the shard writer's options;
4. computes the sha256 of each file written (the manifest's).

It prints one line, ``floor_seconds <wall seconds from the start signal until every process is done>``. Not
counted: interpreter start and imports, planning, filters, checks, Arrow conversion, row grouping, card,
manifest and preview. A real build can only be slower.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _share(items: list, worker: int, workers: int) -> list:
    return items[worker::workers]


def _work(files: list[str], tables: list, scratch: str, start, done) -> None:
    import pyarrow.parquet as pq

    from hardmo_hf.data.shards import file_sha256, parquet_writer_options
    from hardmo_hf.safe_pickle import PickleLoadError, UnsafePickleError, load_pickle

    start.wait()
    for path in files:
        if path.endswith(".pyd"):
            try:
                load_pickle(path)
            except (PickleLoadError, UnsafePickleError):  # the input's deliberately bad labels: rejects
                pass
        else:
            with open(path, "rb", buffering=0) as handle:
                handle.read()
    for number, table in enumerate(tables):
        target = os.path.join(scratch, f"{os.getpid()}-{number}.parquet")
        with pq.ParquetWriter(target, table.schema, **parquet_writer_options(table.schema)) as writer:
            writer.write_table(table, row_group_size=len(table))
        file_sha256(target)
    done.put(time.perf_counter())


def main(argv=None) -> int:
    source, built, workers, scratch = argv or sys.argv[1:]
    workers = int(workers)
    import pyarrow.parquet as pq

    files = sorted(os.path.join(d, n) for d, _, names in os.walk(source) for n in names if not n.startswith("."))
    shards = sorted(str(p) for p in Path(built).rglob("*.parquet") if "/.build/" not in str(p))
    context = multiprocessing.get_context("fork")
    start, done = context.Event(), context.Queue()
    processes = []
    for worker in range(workers):
        tables = [pq.ParquetFile(path).read() for path in _share(shards, worker, workers)]
        process = context.Process(target=_work, args=(_share(files, worker, workers), tables, scratch, start, done))
        process.start()
        processes.append(process)
        del tables
    time.sleep(0.5)  # every process has its tables and imports
    began = time.perf_counter()
    start.set()
    finished = max(done.get() for _ in processes)
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"floor worker failed with exit code {process.exitcode}")
    print(f"floor_seconds {finished - began:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
