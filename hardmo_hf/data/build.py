"""Build the HardMo dataset from a pipeline output: a datatrove pipeline of shard tasks and a final step.

::

    plan (main process)       list the reader's work units, cut them into tasks, write .build/plan.json
    WriteShards (N tasks)     read units -> filters -> rows -> Parquet shards of this task; rejects, counts
    FinalizeDataset (1 task)  cross-task duplicates, manifest.json, rejects.jsonl, stats.json, README.md card,
                              preview.png; fails unless input = accepted + rejected

Every task owns a contiguous slice of the sorted units and names its shards after its rank
(``<rank:05d>-<part:04d>.parquet``), so the output depends only on the input and the build options, never on
the number of workers or on scheduling: the same input gives the same bytes. datatrove's completion markers
(``.build/logs/shards/completions/``) make a killed build resumable: a rerun skips finished tasks, and an
unfinished task first deletes whatever it had written, then starts over.

``LocalPipelineExecutor`` runs it on one machine (``hardmo-hf build --workers N``); the same steps run under
datatrove's ``SlurmPipelineExecutor`` or ``RayPipelineExecutor`` (``docs/dataset.md``).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datatrove.pipeline.base import PipelineStep

from .. import __version__
from ..constants import (
    CONFIDENCE_THRESHOLD_CODE,
    CONFIDENCE_THRESHOLD_PAPER,
    CONFIGS,
    DEFAULT_CONFIDENCE_THRESHOLD,
    DEFAULT_SPLIT_SEED,
    DEFAULT_TEST_FRACTION,
    SPLITS,
    UNITS_PER_TASK,
)
from .arrow_arrays import binary_array, numeric_array, numeric_values
from .block import RecordBlock, RecordChunk, chunks_from_items
from .record import Reject
from .report import format_table
from .shards import (
    MANIFEST_NAME,
    MB,
    TMP_SUFFIX,
    ShardInfo,
    ShardOptions,
    file_sha256,
    parquet_writer_options,
    remove_task_outputs,
    write_json_atomic,
)
from .splits import check_category_name, check_split_options, config_split, subject_split

logger = logging.getLogger(__name__)

__all__ = [
    "AccountingError",
    "BuildConfig",
    "BuildPlan",
    "FinalizeDataset",
    "WriteShards",
    "build",
    "default_num_tasks",
    "finalize",
    "make_local_executors",
    "plan_build",
    "run_task",
    "summary_text",
]

BUILD_DIR = ".build"
PLAN_NAME = "plan.json"
STATS_NAME = "stats.json"
REJECTS_NAME = "rejects.jsonl"
PLAN_VERSION = 1
# Fault injection for the kill-and-resume tests: "<rank>:<records>" kills the whole build (its process
# group, SIGKILL) once task <rank> has handled that many input records (checked after each chunk: its rows are
# with the shard writer, its row groups maybe written, its files not finished).
KILL_ENV = "HARDMO_BUILD_KILL_AT"
PROGRESS_INTERVAL = 0.5  # seconds between a task's progress-file updates


# How images are checked at build time (the reader's ``image_check`` option, and ours):
#   complete  the reader parses the header; the build checks that the file ends where its format says (JPEG
#             end-of-image marker, PNG IEND chunk), and decodes the few that do not to decide. Catches truncated
#             files at a fraction of a decode's cost (default).
#   decode    the reader decodes every image (JPEG at 1/8 scale): also catches some corrupt scans; slower.
#   header    format and size only: truncated images get through (validate's full decode still finds them).
IMAGE_CHECKS = {"complete": "header", "decode": "decode", "header": "header"}  # ours -> the reader's option
_JPEG_SOI, _JPEG_EOI = b"\xff\xd8", b"\xff\xd9"
_PNG_IEND = b"IEND\xaeB`\x82"


def image_is_complete(data: bytes, fmt: str) -> bool:
    """Whether encoded image ``data`` is whole: its format's end marker closes it, or else it decodes."""
    tail = data.rstrip(b"\x00")  # some encoders pad the file
    if fmt == "jpeg" and data.startswith(_JPEG_SOI) and tail.endswith(_JPEG_EOI):
        return True
    if fmt == "png" and tail.endswith(_PNG_IEND):
        return True
    import io

    from PIL import Image

    try:  # no end marker where expected: a trailer after it (rare), or a truncated file
        if fmt == "png":
            with Image.open(io.BytesIO(data)) as image:
                image.verify()  # chunk CRCs, up to IEND
        with Image.open(io.BytesIO(data)) as image:
            image.load()
        return True
    except Exception:  # noqa: BLE001 - any decoder error means the file is not usable
        return False


def drop_incomplete_images(block: RecordBlock, positions: np.ndarray,
                           rejects: list[tuple[int, Reject]]) -> tuple[RecordBlock, np.ndarray]:
    """The rows of ``block`` whose image is whole (:func:`image_is_complete`, once per frame); the others are
    appended to ``rejects`` as ``(position, unreadable_image Reject)``."""
    columns = block.columns
    verdicts: dict[int, bool] = {}  # id of the bytes object (alive for the call) -> complete
    keep = np.ones(len(block), dtype=bool)
    for row, (data, fmt) in enumerate(zip(columns["image_bytes"], columns["image_format"])):
        complete = verdicts.get(id(data))
        if complete is None:
            complete = verdicts[id(data)] = image_is_complete(data, fmt)
        if not complete:
            keep[row] = False
            sample_id = block.slice(row, row + 1).sample_ids()[0]
            rejects.append((positions[row], Reject(columns["source"][row], "unreadable_image",
                                                   f"the {fmt} image of {sample_id} is truncated (no end marker, "
                                                   "does not decode)", sample_id)))
    if keep.all():
        return block, positions
    return block.take(np.flatnonzero(keep)), positions[keep]


class AccountingError(RuntimeError):
    """Some input record ended neither in the dataset nor in rejects.jsonl."""


@dataclass(frozen=True)
class BuildConfig:
    """What to build. Everything but ``workers`` determines the output bytes."""

    input_dir: str  # a folder, or one .tar / .npz file
    output_dir: str
    format: str = "auto"  # auto | label_tree | webdataset | npz | humandata
    reader_options: dict = field(default_factory=dict)  # the reader's OPTIONS, e.g. {"subject_map": "s.csv"}
    test_fraction: float = DEFAULT_TEST_FRACTION
    seed: int = DEFAULT_SPLIT_SEED
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
    row_group_mb: float = 100
    shard_mb: float = 512
    tasks: int | None = None  # None: default_num_tasks(number of units)
    image_check: str = "complete"  # complete | decode | header, see IMAGE_CHECKS

    def __post_init__(self):
        if self.image_check not in IMAGE_CHECKS:
            raise ValueError(f"image check must be one of {tuple(IMAGE_CHECKS)}, got {self.image_check!r}")
        check_split_options(self.test_fraction, self.seed)
        if self.confidence_threshold not in (CONFIDENCE_THRESHOLD_PAPER, CONFIDENCE_THRESHOLD_CODE):
            raise ValueError(f"confidence threshold must be {CONFIDENCE_THRESHOLD_PAPER} (paper) or "
                             f"{CONFIDENCE_THRESHOLD_CODE} (authors' code), got {self.confidence_threshold}")
        if self.tasks is not None and self.tasks < 1:
            raise ValueError(f"tasks must be >= 1, got {self.tasks}")
        if self.row_group_mb <= 0 or self.shard_mb <= 0:
            raise ValueError("--row-group-mb and --shard-mb must be positive")

    @property
    def shard_options(self) -> ShardOptions:
        return ShardOptions.from_mb(self.row_group_mb, self.shard_mb)


# ----------------------------------------------------------------------------------------------------
# The plan: units and tasks, persisted so every task (on any machine) sees the same partition
# ----------------------------------------------------------------------------------------------------
@dataclass
class BuildPlan:
    output_dir: str
    params: dict  # everything that determines the output (checked when a build is resumed)
    units: list[str]
    bounds: list[tuple[int, int]]  # per task: [start, end) into units

    @property
    def num_tasks(self) -> int:
        return len(self.bounds)

    @property
    def build_dir(self) -> Path:
        return Path(self.output_dir) / BUILD_DIR

    def units_of(self, rank: int) -> list[str]:
        start, end = self.bounds[rank]
        return self.units[start:end]

    def to_json(self) -> dict:
        return {"version": PLAN_VERSION, "params": self.params, "units": self.units,
                "bounds": [list(b) for b in self.bounds]}

    @classmethod
    def load(cls, output_dir) -> BuildPlan:
        path = Path(output_dir) / BUILD_DIR / PLAN_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: run the planning step (hardmo_hf.data.build.plan_build)")
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(str(output_dir), data["params"], data["units"], [tuple(b) for b in data["bounds"]])


def task_bounds(num_units: int, num_tasks: int) -> list[tuple[int, int]]:
    """Contiguous, balanced slices of ``num_units`` units for ``num_tasks`` tasks (sizes differ by <= 1)."""
    base, extra = divmod(num_units, num_tasks)
    bounds, start = [], 0
    for rank in range(num_tasks):
        end = start + base + (1 if rank < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def default_num_tasks(num_units: int) -> int:
    """One task per ``UNITS_PER_TASK`` units (at least 1), so that a task's slice, and its memory, is bounded.

    A function of the input only (not of the workers), so the default output is the same on any machine.
    """
    return max(1, -(-num_units // UNITS_PER_TASK))


def resolve_reader(input_path, fmt: str):
    """``(format name, reader module)`` for ``fmt`` (``auto``: detected from the input)."""
    from . import readers

    if fmt == "auto":
        fmt = readers.detect_format(input_path)
    return fmt, readers.get_reader(fmt)


def plan_build(config: BuildConfig, overwrite: bool = False) -> BuildPlan:
    """List the input's units, cut them into tasks and write ``<out>/.build/plan.json``.

    If ``<out>`` already holds a build with the same parameters and units, that plan is kept (the build
    resumes); a different one is an error unless ``overwrite``, which deletes the old output first.
    """
    input_dir = Path(config.input_dir).resolve()
    if not input_dir.exists():
        raise FileNotFoundError(f"input {input_dir} does not exist")
    out = Path(config.output_dir).resolve()
    if out == input_dir or input_dir in out.parents:
        raise ValueError(f"output {out} must not be inside the input {input_dir}")
    fmt, reader = resolve_reader(input_dir, config.format)
    unknown = sorted(set(config.reader_options) - set(reader.OPTIONS))
    if unknown:
        raise ValueError(f"option(s) {', '.join(unknown)} do not apply to {fmt} input "
                         f"({fmt} takes: {', '.join(reader.OPTIONS)})")
    if "image_check" in config.reader_options:
        raise ValueError("pass the image check as BuildConfig.image_check, not as a reader option")
    reader_options = dict(config.reader_options)
    if "image_check" in reader.OPTIONS:
        reader_options["image_check"] = IMAGE_CHECKS[config.image_check]
    units = list(reader.list_units(input_dir, **reader_options))
    if not units:
        raise ValueError(f"{input_dir}: no {fmt} input found (no work units)")
    if len(set(units)) != len(units):
        raise ValueError(f"{input_dir}: the {fmt} reader listed duplicate units")
    num_tasks = min(config.tasks or default_num_tasks(len(units)), len(units))
    params = {
        "input_dir": str(input_dir),
        "format": fmt,
        "reader_options": {k: (str(v) if isinstance(v, os.PathLike) else v)
                           for k, v in sorted(reader_options.items())},
        "image_check": config.image_check,
        "test_fraction": float(config.test_fraction),
        "seed": int(config.seed),
        "confidence_threshold": float(config.confidence_threshold),
        "shard_options": dataclasses.asdict(config.shard_options),
        "tasks": num_tasks,
        "schema_version": _schema_version(),
        "hardmo_hf_version": __version__,
        "units_sha256": hashlib.sha256("\n".join(units).encode()).hexdigest(),
    }
    plan = BuildPlan(str(out), params, units, task_bounds(len(units), num_tasks))
    plan_path = out / BUILD_DIR / PLAN_NAME
    if out.exists() and any(out.iterdir()):
        if plan_path.is_file() and not overwrite:
            old = BuildPlan.load(out)
            if old.params != params:
                changed = sorted(k for k in set(params) | set(old.params) if params.get(k) != old.params.get(k))
                raise ValueError(f"{out} holds a build with different parameters ({', '.join(changed)}); "
                                 "use a new --out or pass --overwrite")
            return old
        if not overwrite:
            raise FileExistsError(f"{out} exists and is not a hardmo-hf build; use a new --out or --overwrite")
        _remove_build_output(out)
    write_json_atomic(plan_path, plan.to_json())
    return plan


def _schema_version() -> int:
    from .schema import SCHEMA_VERSION

    return SCHEMA_VERSION


def _remove_build_output(out: Path) -> None:
    """Delete what a build writes into ``out`` (and nothing else)."""
    import shutil

    for name in ("data", BUILD_DIR):
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    for name in (MANIFEST_NAME, STATS_NAME, REJECTS_NAME, "README.md", "preview.png"):
        (out / name).unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------------
# One task
# ----------------------------------------------------------------------------------------------------
def _task_paths(build_dir: Path, rank: int) -> dict[str, Path]:
    tasks = build_dir / "tasks"
    return {
        "summary": tasks / f"{rank:05d}.json",
        "rejects": tasks / f"{rank:05d}.rejects.jsonl",
        "ids": tasks / f"{rank:05d}.ids.parquet",
        "progress": build_dir / "progress" / f"{rank:05d}",
    }


def sample_key_hash(subset: str, sample_id: str) -> int:
    """64-bit key of a row's identity (``subset`` + ``sample_id``), for finding duplicates across tasks."""
    return int.from_bytes(hashlib.blake2b(f"{subset}\0{sample_id}".encode(), digest_size=8).digest(), "big")


class _FolderStats:
    __slots__ = ("clips", "rows", "subjects")

    def __init__(self):
        self.rows = 0
        self.subjects: set[str] = set()
        self.clips: set[str] = set()

    def to_json(self) -> dict:
        return {"rows": self.rows, "subjects": sorted(self.subjects), "clips": sorted(self.clips)}


def run_task(output_dir, rank: int) -> dict:
    """Build the shards of task ``rank`` (idempotent: earlier partial output of the task is removed first)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .filters import FilterConfig, RecordFilter
    from .shards import ShardWriter

    plan = BuildPlan.load(output_dir)
    params = plan.params
    out = Path(plan.output_dir)
    paths = _task_paths(plan.build_dir, rank)
    for path in paths.values():
        path.unlink(missing_ok=True)
        path.with_name(path.name + TMP_SUFFIX).unlink(missing_ok=True)
    removed = remove_task_outputs(out, rank)
    if removed:
        logger.info("task %d: removed %d shard(s) of an earlier, unfinished run", rank, removed)
    paths["rejects"].parent.mkdir(parents=True, exist_ok=True)
    paths["progress"].parent.mkdir(parents=True, exist_ok=True)

    _, reader = resolve_reader(params["input_dir"], params["format"])
    record_filter = RecordFilter(FilterConfig(confidence_threshold=params["confidence_threshold"]))
    kill_after = _kill_point(rank)
    check_complete = params["image_check"] == "complete"
    counts = Counter(input=0, accepted=0, rejected=0)
    reasons: Counter = Counter()
    folders: dict[tuple, _FolderStats] = defaultdict(_FolderStats)
    seen: dict[tuple[str, str], str] = {}  # (subset, sample id) -> source, of the rows written
    good_categories: set[str] = set()  # class names already checked
    splits: dict[str, str] = {}  # subject -> split (a hash per subject, not per record)
    ids = {"key_hash": [], "subset": [], "sample_id": [], "source": []}
    shard_options = ShardOptions(**params["shard_options"])
    rejects_tmp = paths["rejects"].with_name(paths["rejects"].name + TMP_SUFFIX)

    with (open(rejects_tmp, "w", encoding="utf-8") as rejects,
          ShardWriter(out, rank, shard_options) as writer):

        def reject(item: Reject) -> None:
            counts["rejected"] += 1
            reasons[item.reason] += 1
            rejects.write(json.dumps(item.to_json(), sort_keys=True) + "\n")

        def accept(block: RecordBlock, sample_ids: list[str], positions: np.ndarray,
                   pending: list[tuple[int, Reject]]) -> int:
            """Write the rows that passed the filters (in order, in runs of one folder), except duplicates and
            unusable class names, which go to ``pending`` as ``(position, Reject)``; returns how many were written."""
            accepted = 0
            columns = block.columns
            sources, subsets, categories = columns["source"], columns["subset"], columns["category"]
            subjects, clips = columns["subject_id"], columns["clip_id"]
            run: list[int] = []
            run_folder = None
            for row, sample_id in enumerate(sample_ids):
                key = (subsets[row], sample_id)
                if key in seen:
                    pending.append((positions[row], Reject(sources[row], "duplicate_sample_id",
                                                           f"{key[0]} sample {sample_id} also comes from {seen[key]}",
                                                           sample_id)))
                    continue
                category = categories[row]
                if category not in good_categories:
                    try:
                        check_category_name(category)
                    except ValueError as exc:
                        pending.append((positions[row], Reject(sources[row], "invalid_record", str(exc), sample_id)))
                        continue
                    good_categories.add(category)
                seen[key] = sources[row]
                subject = subjects[row]
                split = splits.get(subject)
                if split is None:
                    split = splits[subject] = subject_split(subject, params["test_fraction"], params["seed"])
                folder = (key[0], split, category)
                accepted += 1
                if folder != run_folder:
                    if run:
                        writer.add(run_folder, block.take(run))
                    run, run_folder = [], folder
                run.append(row)
                stats = folders[folder]
                stats.rows += 1
                stats.subjects.add(subject)
                stats.clips.add(clips[row])
                ids["key_hash"].append(sample_key_hash(*key))
                ids["subset"].append(key[0])
                ids["sample_id"].append(sample_id)
                ids["source"].append(sources[row])
            if run:
                writer.add(run_folder, block.take(run) if len(run) < len(block) else block)
            return accepted

        units = plan.units_of(rank)

        def task_chunks() -> Iterator[RecordChunk]:
            """The task's records and rejects in chunks of about CHUNK_ITEMS, across units (a clip can be a few
            frames): a reader's own ``read_units_chunks`` where it has one, else its records grouped. Updates the
            progress file as units finish."""
            options = params["reader_options"]
            if hasattr(reader, "read_units_chunks"):
                chunks = reader.read_units_chunks(params["input_dir"], units, **options)
            else:
                chunks = chunks_from_items((number, item) for number, unit in enumerate(units, start=1)
                                           for item in reader.read_unit(params["input_dir"], unit, **options))
            last_progress, read = time.monotonic(), 0
            for done, chunk in chunks:
                read += len(chunk)
                yield chunk
                if time.monotonic() - last_progress >= PROGRESS_INTERVAL:
                    paths["progress"].write_text(f"{done} {read}\n")  # small writes are slow: throttled
                    last_progress = time.monotonic()
            paths["progress"].write_text(f"{len(units)} {read}\n")

        for chunk in task_chunks():
            counts["input"] += len(chunk)
            pending: list[tuple[int, Reject]] = list(chunk.rejects)
            block, positions = chunk.block, chunk.positions
            if check_complete and len(block):
                block, positions = drop_incomplete_images(block, positions, pending)
            sample_ids = block.sample_ids()
            kept, kept_rows, rejected = record_filter.filter_block(block, sample_ids)
            pending.extend((positions[row], item) for row, item in rejected)
            counts["accepted"] += accept(kept, [sample_ids[row] for row in kept_rows.tolist()],
                                         positions[kept_rows], pending)
            pending.sort(key=lambda item: item[0])
            for _, item in pending:
                reject(item)
            if kill_after is not None and counts["input"] >= kill_after:
                os.killpg(os.getpgid(0), signal.SIGKILL)
        shards = writer.close()

    if counts["input"] != counts["accepted"] + counts["rejected"]:
        raise AccountingError(f"task {rank}: input {counts['input']} != accepted {counts['accepted']} + "
                              f"rejected {counts['rejected']}")
    os.replace(rejects_tmp, paths["rejects"])
    ids_table = pa.table({
        "key_hash": numeric_array(np.array(ids["key_hash"], dtype=np.uint64), pa.uint64()),
        "subset": binary_array(ids["subset"], pa.string()),
        "sample_id": binary_array(ids["sample_id"], pa.string()),
        "source": binary_array(ids["source"], pa.string()),
    })
    ids_tmp = paths["ids"].with_name(paths["ids"].name + TMP_SUFFIX)
    pq.write_table(ids_table, ids_tmp, compression="zstd")
    os.replace(ids_tmp, paths["ids"])
    summary = {
        "rank": rank,
        "units": len(units),
        "counts": dict(counts),
        "reject_reasons": dict(sorted(reasons.items())),
        "filter_outcomes": dict(sorted(record_filter.counts.items())),
        "folders": {"/".join(k): v.to_json() for k, v in sorted(folders.items())},
        "shards": [s.to_json() for s in shards],
    }
    write_json_atomic(paths["summary"], summary)  # written last: the task's outputs are complete
    return summary


def _kill_point(rank: int) -> int | None:
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return None
    kill_rank, _, records = spec.partition(":")
    return int(records) if int(kill_rank) == rank else None


# ----------------------------------------------------------------------------------------------------
# datatrove steps
# ----------------------------------------------------------------------------------------------------
# A worker hands memory back to the OS after a task only once it holds this much more than after its last release:
# releasing after every task made the next one fault its pages in again (~10 ms of CPU a task).
RELEASE_SLACK_BYTES = 64 * MB
_rss_after_release: int | None = None


def _resident_bytes() -> int:
    with open("/proc/self/statm", "rb") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _release_task_memory() -> None:
    """Give finished tasks' freed buffers back to the OS (Arrow's allocator and glibc keep freed pages for reuse),
    so that a worker's memory does not grow with the number of tasks it has run: at most
    :data:`RELEASE_SLACK_BYTES` above what it held after its last release."""
    import ctypes

    import pyarrow as pa

    global _rss_after_release
    try:
        resident = _resident_bytes()
    except (OSError, ValueError):  # no /proc: release every time
        resident = None
    if resident is not None and _rss_after_release is not None and \
            resident < _rss_after_release + RELEASE_SLACK_BYTES:
        return
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    if resident is not None:
        _rss_after_release = _resident_bytes()


class WriteShards(PipelineStep):
    """datatrove step: task ``rank`` writes the shards of its units (:func:`run_task`).

    BLAS runs on one thread inside a task: the workers already use every core, and OpenBLAS's own threads spin
    while waiting (the filters' matrix products on a chunk cost several times their work otherwise).
    """

    name = "HardMo shards"
    type = "✍️ - WRITER"

    def __init__(self, output_dir):
        super().__init__()
        self.output_dir = str(output_dir)

    def run(self, data=None, rank: int = 0, world_size: int = 1) -> Iterator:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            summary = run_task(self.output_dir, rank)
        _release_task_memory()
        for key in ("input", "accepted", "rejected"):
            self.stat_update(f"records_{key}", value=summary["counts"][key])
        self.stat_update("shards", value=len(summary["shards"]))
        yield from ()


class FinalizeDataset(PipelineStep):
    """datatrove step (one task): manifest, rejects, stats, card and preview (:func:`finalize`)."""

    name = "HardMo card and manifest"
    type = "📝 - FINALIZE"

    def __init__(self, output_dir):
        super().__init__()
        self.output_dir = str(output_dir)

    def run(self, data=None, rank: int = 0, world_size: int = 1) -> Iterator:
        finalize(self.output_dir)
        yield from ()


def _cache_loguru_lib_dirs() -> None:
    """datatrove adds and removes its loguru sinks around every task, and each ``logger.add`` lists the
    interpreter's library folders through ``sysconfig`` again (~6 ms, 3 times a task: ~20 ms a task, 1.6 CPU-s
    of a 79-task build). The folders do not change while we run: remember them."""
    import functools

    try:
        from loguru._better_exceptions import ExceptionFormatter
    except ImportError:  # another loguru layout: nothing to speed up
        return
    lister = getattr(ExceptionFormatter, "_get_lib_dirs", None)
    if lister is not None and not hasattr(lister, "cache_info"):
        ExceptionFormatter._get_lib_dirs = staticmethod(functools.cache(lister))


def _quiet_local_executor_class():
    from datatrove.executor import LocalPipelineExecutor

    _cache_loguru_lib_dirs()

    class QuietLocalPipelineExecutor(LocalPipelineExecutor):
        """``LocalPipelineExecutor`` whose tasks log to their log files only (the CLI shows a progress bar)."""

        def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
            return super()._run_for_rank(rank, local_rank=1, node_rank=node_rank)

    return QuietLocalPipelineExecutor


# Build workers are forked from the main process, which has already imported what a task needs (pyarrow,
# datatrove, the readers): the pool starts in ~0.1 s, where forkserver workers spent ~1.5 s importing them again,
# a cost every build paid. The one other thread at fork time is the progress monitor; it draws under
# _FORK_SAFE_OUTPUT, which os.register_at_fork holds across every fork, so no worker inherits a half-done write.
START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
_FORK_SAFE_OUTPUT = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_FORK_SAFE_OUTPUT.acquire, after_in_parent=_FORK_SAFE_OUTPUT.release,
                        after_in_child=_FORK_SAFE_OUTPUT.release)


def make_local_executors(plan: BuildPlan, workers: int = 1, quiet: bool = True, start_method: str = START_METHOD):
    """The shard executor and the finalize executor (which depends on it) for one machine."""
    from datatrove.executor import LocalPipelineExecutor

    executor_class = _quiet_local_executor_class() if quiet else LocalPipelineExecutor
    logs = plan.build_dir / "logs"
    shards = executor_class(
        pipeline=[WriteShards(plan.output_dir)], tasks=plan.num_tasks, workers=min(workers, plan.num_tasks),
        logging_dir=str(logs / "shards"), start_method=start_method,
    )
    final = executor_class(
        pipeline=[FinalizeDataset(plan.output_dir)], tasks=1, workers=1, logging_dir=str(logs / "finalize"),
        depends=shards, skip_completed=False,
    )
    return shards, final


class _ProgressMonitor(threading.Thread):
    """Poll the tasks' progress files and drive a tqdm bar (units done across all tasks)."""

    def __init__(self, plan: BuildPlan, enabled: bool = True):
        super().__init__(daemon=True)
        self.plan = plan
        self.enabled = enabled
        self._stop_event = threading.Event()

    def _units_done(self) -> tuple[int, int]:
        units = records = 0
        directory = self.plan.build_dir / "progress"
        if directory.is_dir():
            for path in directory.iterdir():
                try:
                    done, seen = path.read_text().split()
                    units, records = units + int(done), records + int(seen)
                except (OSError, ValueError):
                    continue
        return units, records

    def run(self):
        from tqdm.auto import tqdm

        # disable=None: no bar when stderr is not a terminal (CI logs), unless progress is off anyway
        with _FORK_SAFE_OUTPUT:
            bar = tqdm(total=len(self.plan.units), unit="unit", desc="hardmo build",
                       disable=None if self.enabled else True, dynamic_ncols=True)
        try:
            while True:
                stopping = self._stop_event.wait(0.25)
                units, records = self._units_done()
                with _FORK_SAFE_OUTPUT:
                    bar.n = units
                    bar.set_postfix(records=records, refresh=False)
                    bar.refresh()
                if stopping:
                    return
        finally:
            with _FORK_SAFE_OUTPUT:
                bar.close()

    def stop(self):
        self._stop_event.set()
        self.join()


def build(config: BuildConfig, workers: int = 1, overwrite: bool = False, progress: bool = True,
          quiet: bool = True, start_method: str = START_METHOD) -> dict:
    """Plan, run the shard tasks on ``workers`` processes, finalize; returns the build statistics.

    ``start_method`` starts the worker processes (default ``fork``, see :data:`START_METHOD`); pass
    ``"forkserver"`` when calling from a program whose other threads may hold locks while it forks (a notebook
    kernel, a web server): slower to start, never inherits a held lock.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    started = time.perf_counter()
    plan = plan_build(config, overwrite=overwrite)
    shards_executor, final_executor = make_local_executors(plan, workers, quiet=quiet, start_method=start_method)
    monitor = _ProgressMonitor(plan, enabled=progress)
    monitor.start()
    # Forked workers share the main process's memory copy-on-write; the garbage collector writing to every
    # tracked object would copy those pages into each worker. Frozen objects are left alone.
    gc.freeze()
    try:
        shards_executor.run()
    finally:
        gc.unfreeze()
        monitor.stop()
    final_executor.run()
    stats = json.loads((Path(plan.output_dir) / STATS_NAME).read_text(encoding="utf-8"))
    stats["run"] = {"workers": workers, "seconds": round(time.perf_counter() - started, 3)}
    return stats


# ----------------------------------------------------------------------------------------------------
# Finalize
# ----------------------------------------------------------------------------------------------------
def _load_task_summaries(plan: BuildPlan) -> list[dict]:
    summaries = []
    missing = []
    for rank in range(plan.num_tasks):
        path = _task_paths(plan.build_dir, rank)["summary"]
        if not path.is_file():
            missing.append(rank)
            continue
        summaries.append(json.loads(path.read_text(encoding="utf-8")))
    if missing:
        raise RuntimeError(f"{len(missing)} build task(s) did not complete (ranks {missing[:10]}"
                           f"{'...' if len(missing) > 10 else ''}); rerun the build to resume")
    return summaries


def _read_ids(plan: BuildPlan, rank: int, columns: list[str] | None = None):
    """The id table task ``rank`` wrote. Read with ``ParquetFile``: ``pq.read_table`` goes through
    ``pyarrow.dataset``, whose import pulls in pandas (~0.2 s of the build's serial time)."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(_task_paths(plan.build_dir, rank)["ids"]) as handle:
        return handle.read(columns=columns)


def resolve_cross_task_duplicates(plan: BuildPlan, summaries: list[dict]) -> list[dict]:
    """Drop rows whose ``(subset, sample_id)`` an earlier task (in unit order) already wrote.

    Tasks only see their own units, so a sample id repeated across units of different tasks (two webdataset
    tars holding the same key...) is found here: the first occurrence is kept, later rows are removed from
    their shards (rewritten in place, same name) and reported as ``duplicate_sample_id`` rejects. Idempotent.
    Returns the rejects, and updates the shard entries of ``summaries``.
    """
    hashes = [numeric_values(_read_ids(plan, rank, columns=["key_hash"]).column("key_hash"))
              for rank in range(plan.num_tasks)]
    unique, counts = np.unique(np.concatenate(hashes), return_counts=True)
    if len(unique) == sum(len(h) for h in hashes):
        return []
    duplicated = set(unique[counts > 1].tolist())

    first_source: dict[tuple[str, str], str] = {}
    drops: dict[int, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))  # rank->subset->id->src
    rejects = []
    for rank in range(plan.num_tasks):
        if not np.isin(hashes[rank], list(duplicated)).any():
            continue
        table = _read_ids(plan, rank).to_pydict()
        for key_hash, subset, sample_id, source in zip(table["key_hash"], table["subset"], table["sample_id"],
                                                       table["source"]):
            if key_hash not in duplicated:
                continue
            key = (subset, sample_id)
            if key not in first_source:
                first_source[key] = source
                continue
            drops[rank][subset][sample_id] = source
            rejects.append(Reject(source, "duplicate_sample_id",
                                  f"{subset} sample {sample_id} also comes from {first_source[key]}",
                                  sample_id).to_json())
    out = Path(plan.output_dir)
    for rank, by_subset in drops.items():
        summary = summaries[rank]
        for shard in summary["shards"]:
            dropped = by_subset.get(shard["subset"])
            if dropped:
                shard.update(_rewrite_without(out / shard["path"], set(dropped)))
    return rejects


def _rewrite_without(path: Path, sample_ids: set[str]) -> dict:
    """Rewrite the shard at ``path`` without the rows of ``sample_ids`` (row groups kept); its new stats."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    schema = source.schema_arrow
    tmp = path.with_name(path.name + TMP_SUFFIX)
    rows = groups = 0
    value_set = pa.array(sorted(sample_ids), pa.string())
    with pq.ParquetWriter(tmp, schema, **parquet_writer_options(schema)) as writer:
        for index in range(source.num_row_groups):
            table = source.read_row_group(index)
            kept = table.filter(pc.invert(pc.is_in(table.column("sample_id"), value_set=value_set)))
            if kept.num_rows:
                writer.write_table(kept, row_group_size=kept.num_rows)
                rows += kept.num_rows
                groups += 1
    source.close()
    os.replace(tmp, path)
    return {"num_rows": rows, "num_row_groups": groups, "num_bytes": path.stat().st_size,
            "sha256": file_sha256(path)}


def finalize(output_dir) -> dict:
    """Merge the tasks' outputs: manifest.json, rejects.jsonl, stats.json, README.md and preview.png.

    Raises :class:`AccountingError` unless every input record is either a row or a reject.
    """
    from .card import write_card

    plan = BuildPlan.load(output_dir)
    out = Path(plan.output_dir)
    summaries = _load_task_summaries(plan)
    duplicate_rejects = resolve_cross_task_duplicates(plan, summaries)
    drop_counts = Counter()
    for item in duplicate_rejects:
        drop_counts["duplicate_sample_id"] += 1

    # rejects.jsonl: the tasks' rejects in unit order, then the cross-task duplicates
    rejects_tmp = out / (REJECTS_NAME + TMP_SUFFIX)
    rejected = 0
    with open(rejects_tmp, "w", encoding="utf-8") as handle:
        for rank in range(plan.num_tasks):
            with open(_task_paths(plan.build_dir, rank)["rejects"], encoding="utf-8") as task_rejects:
                for line in task_rejects:
                    handle.write(line)
                    rejected += 1
        for item in duplicate_rejects:
            handle.write(json.dumps(item, sort_keys=True) + "\n")
            rejected += 1
    os.replace(rejects_tmp, out / REJECTS_NAME)

    shards = sorted((ShardInfo(**s) for summary in summaries for s in summary["shards"]), key=lambda s: s.path)
    for shard in shards:
        if not (out / shard.path).is_file():
            raise FileNotFoundError(f"{out / shard.path}: shard listed by its task is missing; rerun with --overwrite")
    input_records = sum(s["counts"]["input"] for s in summaries)
    accepted = sum(s.num_rows for s in shards)
    if input_records != accepted + rejected:
        raise AccountingError(f"input {input_records} != accepted {accepted} + rejected {rejected}: "
                              f"{input_records - accepted - rejected} record(s) unaccounted for")

    stats = _dataset_stats(plan, summaries, shards, drop_counts, input_records, accepted, rejected)
    manifest = {
        "format": "hardmo-hf dataset manifest",
        "version": 1,
        "build": {k: v for k, v in plan.params.items() if k != "input_dir"},
        "counts": {"input": input_records, "accepted": accepted, "rejected": rejected},
        "num_shards": len(shards),
        "num_rows": accepted,
        "num_bytes": sum(s.num_bytes for s in shards),
        "shards": [s.to_json() for s in shards],
    }
    write_json_atomic(out / MANIFEST_NAME, manifest)
    write_json_atomic(out / STATS_NAME, stats)
    write_card(out, manifest, stats)
    return stats


def _dataset_stats(plan, summaries, shards, drop_counts, input_records, accepted, rejected) -> dict:
    folders: dict[str, dict] = {}
    for summary in summaries:
        for name, entry in summary["folders"].items():
            agg = folders.setdefault(name, {"rows": 0, "subjects": set(), "clips": set()})
            agg["subjects"].update(entry["subjects"])
            agg["clips"].update(entry["clips"])
    rows_per_folder = Counter()
    files_per_folder = Counter()
    bytes_per_folder = Counter()
    for shard in shards:
        name = f"{shard.subset}/{shard.split}/{shard.category}"
        rows_per_folder[name] += shard.num_rows
        files_per_folder[name] += 1
        bytes_per_folder[name] += shard.num_bytes
    folder_stats = {}
    for name in sorted(folders):
        subset, split, category = name.split("/")
        folder_stats[name] = {
            "subset": subset, "split": split, "category": category,
            "rows": rows_per_folder[name], "files": files_per_folder[name], "bytes": bytes_per_folder[name],
            "subjects": len(folders[name]["subjects"]), "clips": len(folders[name]["clips"]),
        }
    configs: dict[str, dict[str, dict]] = {}
    for config in CONFIGS:
        for split in SPLITS:
            names = [n for n, f in folder_stats.items()
                     if config_split(config, (f["subset"], f["split"], f["category"])) == split]
            if not names:
                continue
            subjects = set().union(*(folders[n]["subjects"] for n in names))
            configs.setdefault(config, {})[split] = {
                "rows": sum(folder_stats[n]["rows"] for n in names),
                "bytes": sum(folder_stats[n]["bytes"] for n in names),
                "files": sum(folder_stats[n]["files"] for n in names),
                "subjects": len(subjects),
                "categories": sorted({folder_stats[n]["category"] for n in names}),
            }
    reasons = Counter()
    outcomes = Counter()
    for summary in summaries:
        reasons.update(summary["reject_reasons"])
        outcomes.update(summary["filter_outcomes"])
    reasons.update(drop_counts)
    return {
        "input_format": plan.params["format"],
        "units": len(plan.units),
        "tasks": plan.num_tasks,
        "counts": {"input": input_records, "accepted": accepted, "rejected": rejected},
        "reject_reasons": dict(sorted(reasons.items())),
        "filter_outcomes": dict(sorted(outcomes.items())),
        "confidence_threshold": plan.params["confidence_threshold"],
        "test_fraction": plan.params["test_fraction"],
        "seed": plan.params["seed"],
        "subject_map": bool(plan.params["reader_options"].get("subject_map")) or _found_subject_map(plan),
        "folders": folder_stats,
        "configs": configs,
    }


def _found_subject_map(plan: BuildPlan) -> bool:
    """Whether the input carried a subject map the reader picks up by itself (label tree ``subjects.*``)."""
    if plan.params["format"] != "label_tree":
        return False
    from .readers.label_tree import SUBJECT_MAP_NAMES

    return any((Path(plan.params["input_dir"]) / name).is_file() for name in SUBJECT_MAP_NAMES)


# ----------------------------------------------------------------------------------------------------
# Summary
# ----------------------------------------------------------------------------------------------------
def summary_text(stats: dict) -> str:
    """The end-of-build report: rows per config and split, per subset and split, rejects, filters, totals."""
    parts = []
    config_rows = []
    for config in CONFIGS:
        entry = stats["configs"].get(config, {})
        config_rows.append([config] + [entry.get(split, {}).get("rows", 0) for split in SPLITS]
                           + [entry.get(split, {}).get("subjects", 0) for split in SPLITS])
    parts.append(format_table(["config", "train rows", "test rows", "train subjects", "test subjects"],
                              config_rows, title="Configs"))
    per_subset = defaultdict(lambda: [0, 0, 0, 0])
    for folder in stats["folders"].values():
        entry = per_subset[(folder["subset"], folder["split"])]
        entry[0] += folder["rows"]
        entry[1] += 1
        entry[2] += folder["files"]
        entry[3] += folder["bytes"]
    parts.append(format_table(
        ["subset", "split", "rows", "categories", "shards", "MB"],
        [[s, sp, v[0], v[1], v[2], round(v[3] / 2**20, 1)] for (s, sp), v in sorted(per_subset.items())],
        title="Shards"))
    if stats["reject_reasons"]:
        parts.append(format_table(["reject reason", "records"], sorted(stats["reject_reasons"].items()),
                                  title="Rejects (rejects.jsonl)"))
    outcomes = {k: v for k, v in stats["filter_outcomes"].items() if v and k not in ("kept", "rejected")}
    if outcomes:
        parts.append(format_table(["filter outcome", "records"], sorted(outcomes.items()),
                                  title=f"Filters (confidence threshold {stats['confidence_threshold']})"))
    counts = stats["counts"]
    line = f"input = accepted + rejected: {counts['input']:,} = {counts['accepted']:,} + {counts['rejected']:,}"
    if "run" in stats:
        line += f"   ({stats['units']:,} units, {stats['tasks']} tasks, {stats['run']['workers']} workers, " \
                f"{stats['run']['seconds']:.1f} s)"
    parts.append(line)
    return "\n\n".join(parts)
