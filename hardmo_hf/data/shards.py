"""Parquet shards: buffered, size-targeted, deterministic, written atomically; and the manifest.

One build task owns a :class:`ShardWriter`. Rows go to a *folder* ``data/<subset>/<split>/<category>``
(:mod:`hardmo_hf.data.splits`); each folder's rows are buffered until they reach ``row_group_bytes`` and written
as one Parquet row group; a file is closed once it holds ``shard_bytes``, so files end between ``shard_bytes``
and ``shard_bytes + row_group_bytes`` (the last file of a folder is smaller). Files are named
``<task:05d>-<part:04d>.parquet`` (part counts per folder), written under ``<name>.tmp`` and renamed when
complete, so a reader never sees a partial shard.

Memory is bounded: all folders of a task together buffer at most ``buffer_bytes``; past that the largest
buffer is written as a (smaller) row group. Nothing depends on the clock or on thread timing, so the same
rows in the same order give the same bytes.

Parquet settings (:func:`parquet_writer_options`): images are stored uncompressed (JPEG/PNG do not compress
further and this keeps reading a ``memcpy``), the other columns with snappy (zstd saves ~10 % of their few
bytes, under 1 % of a shard, for ~3 % more build time); dictionary encoding only for the
repetitive strings; statistics only for scalar columns; the Arrow schema and the ``huggingface`` metadata are
stored so plain Parquet readers get the typed features.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .block import RecordBlock
from .schema import arrow_schema
from .splits import Folder, shard_folder

logger = logging.getLogger(__name__)

__all__ = [
    "MANIFEST_NAME",
    "ShardInfo",
    "ShardOptions",
    "ShardWriter",
    "file_sha256",
    "parquet_writer_options",
    "read_manifest",
    "shard_name",
    "write_json_atomic",
]

MB = 2**20
MANIFEST_NAME = "manifest.json"
TMP_SUFFIX = ".tmp"
_DICTIONARY_COLUMNS = ("subset", "category", "category_group", "clip_id", "subject_id", "image.path")
_STATISTICS_COLUMNS = ("image_width", "image_height", "sample_id", "subset", "category", "category_group",
                       "clip_id", "subject_id", "frame_index", "person_id", "scale")


@dataclass(frozen=True)
class ShardOptions:
    """Size targets of the shards (bytes of row data, before Parquet encoding; images dominate).

    Defaults: row groups near 100 MB (the Hub's dataset viewer fails above ~286 MiB) and files of 0.5-0.6 GB.
    """

    row_group_bytes: int = 100 * MB
    shard_bytes: int = 512 * MB
    buffer_bytes: int = 1024 * MB
    compression: str = "snappy"

    def __post_init__(self):
        if self.row_group_bytes <= 0 or self.shard_bytes <= 0:
            raise ValueError("row group and shard sizes must be positive")
        if self.buffer_bytes < self.row_group_bytes:
            raise ValueError(f"buffer_bytes ({self.buffer_bytes}) must be at least row_group_bytes "
                             f"({self.row_group_bytes})")

    @classmethod
    def from_mb(cls, row_group_mb: float = 100, shard_mb: float = 512, buffer_mb: float | None = None):
        row_group = int(row_group_mb * MB)
        buffer = int(buffer_mb * MB) if buffer_mb is not None else max(1024 * MB, 2 * row_group)
        return cls(row_group_bytes=row_group, shard_bytes=int(shard_mb * MB), buffer_bytes=buffer)


def _leaf_paths(schema: pa.Schema) -> list[str]:
    """Parquet column paths of every leaf (``image.bytes``, ``keypoints_2d.list.element.list.element``...)."""

    def walk(name: str, type_: pa.DataType):
        if pa.types.is_struct(type_):
            for child in type_:
                yield from walk(f"{name}.{child.name}", child.type)
        elif pa.types.is_list(type_) or pa.types.is_fixed_size_list(type_) or pa.types.is_large_list(type_):
            yield from walk(f"{name}.list.element", type_.value_type)
        else:
            yield name

    return [path for field in schema for path in walk(field.name, field.type)]


def parquet_writer_options(schema: pa.Schema, compression: str = "snappy") -> dict:
    """Keyword arguments of :class:`pyarrow.parquet.ParquetWriter` for shards of ``schema`` (deterministic)."""
    leaves = _leaf_paths(schema)
    return {
        "compression": {leaf: ("none" if leaf == "image.bytes" else compression) for leaf in leaves},
        "use_dictionary": [leaf for leaf in leaves if leaf in _DICTIONARY_COLUMNS],
        "write_statistics": [leaf for leaf in leaves if leaf in _STATISTICS_COLUMNS],
        "store_schema": True,
        "version": "2.6",
    }


def shard_name(task: int, part: int) -> str:
    return f"{task:05d}-{part:04d}.parquet"


def file_sha256(path, chunk: int = 8 * MB) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path, value) -> None:
    """Write ``value`` as JSON (sorted keys, so the bytes are reproducible) via a temporary file + rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=1, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


@dataclass
class ShardInfo:
    """A finished shard: where it is, what it holds, its checksum."""

    path: str  # relative to the dataset root, POSIX
    subset: str
    split: str
    category: str
    num_rows: int
    num_bytes: int
    num_row_groups: int
    sha256: str

    def to_json(self) -> dict:
        return asdict(self)


# Buffered rows are turned into Arrow every this many bytes (per folder), so that a row group is held once, as Arrow
# buffers, and writing it needs no second copy: the peak stays near the buffered bytes whatever the folder sizes.
CONVERT_BYTES = 8 * MB


@dataclass
class _FolderState:
    folder: Folder
    blocks: list = field(default_factory=list)  # rows of the row group not yet converted to Arrow
    blocks_bytes: int = 0
    batches: list = field(default_factory=list)  # converted rows of the row group
    num_rows: int = 0  # rows buffered in all (blocks + batches)
    buffered_bytes: int = 0
    part: int = 0
    writer: pq.ParquetWriter | None = None
    tmp_path: Path | None = None
    file_bytes: int = 0
    file_rows: int = 0
    file_row_groups: int = 0


class ShardWriter:
    """Write one task's rows into ``<root>/data/<subset>/<split>/<category>/<task>-<part>.parquet``.

    Use as a context manager or call :meth:`close`; :attr:`shards` lists the finished files (in the order
    they were finished). :meth:`abort` removes this writer's temporary files. ``schema`` defaults to
    :func:`~hardmo_hf.data.schema.arrow_schema`.
    """

    def __init__(self, root, task: int, options: ShardOptions = ShardOptions(), schema: pa.Schema | None = None):
        self.root = Path(root)
        self.task = int(task)
        self.options = options
        self.shards: list[ShardInfo] = []
        self._folders: dict[Folder, _FolderState] = {}
        self._buffered = 0
        self._schema = arrow_schema() if schema is None else schema
        self._writer_options = parquet_writer_options(self._schema, options.compression)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def add(self, folder: Folder, block: RecordBlock) -> None:
        """Buffer the rows of ``block`` (:class:`~hardmo_hf.data.block.RecordBlock`) for ``folder``.

        Row by row, as if added one at a time: a folder's row group is written once its rows reach
        ``row_group_bytes``, and when all folders together buffer more than ``buffer_bytes`` the largest buffer
        is written. So row groups do not depend on how the rows were split into blocks.
        """
        state = self._folders.get(folder)
        if state is None:
            shard_folder(*folder)  # validates the names
            state = self._folders[folder] = _FolderState(folder)
        start = start_bytes = 0  # the rows not yet buffered begin here; their bytes before it
        row_group_bytes, buffer_bytes = self.options.row_group_bytes, self.options.buffer_bytes
        sizes = block.row_nbytes().tolist()
        added = 0  # bytes of rows 0..row
        for row, size in enumerate(sizes, start=1):
            added += size
            state.buffered_bytes += size
            self._buffered += size
            if state.buffered_bytes >= row_group_bytes:
                self._buffer(state, block.slice(start, row), added - start_bytes)
                start, start_bytes = row, added
                self._flush(state)
            elif self._buffered > buffer_bytes:
                self._buffer(state, block.slice(start, row), added - start_bytes)
                start, start_bytes = row, added
                self._flush(max(self._folders.values(), key=lambda s: (s.buffered_bytes, s.folder)))
        if start < len(block):
            self._buffer(state, block.slice(start, len(block)), added - start_bytes)

    def _buffer(self, state: _FolderState, block: RecordBlock, nbytes: int) -> None:
        """Append ``block`` (``nbytes`` by :meth:`RecordBlock.row_nbytes`) to the folder's unconverted rows."""
        state.blocks.append(block)
        state.num_rows += len(block)
        state.blocks_bytes += nbytes
        if state.blocks_bytes >= CONVERT_BYTES:
            self._convert(state)

    def _convert(self, state: _FolderState) -> None:
        """Turn the folder's buffered blocks into one Arrow batch (their images then live in one buffer)."""
        if state.blocks:
            state.batches.append(RecordBlock.concatenate(state.blocks).to_record_batch(self._schema))
            state.blocks = []
            state.blocks_bytes = 0

    def _flush(self, state: _FolderState) -> None:
        if not state.num_rows:
            return
        if state.writer is None:
            directory = self.root / shard_folder(*state.folder)
            directory.mkdir(parents=True, exist_ok=True)
            state.tmp_path = directory / (shard_name(self.task, state.part) + TMP_SUFFIX)
            state.writer = pq.ParquetWriter(state.tmp_path, self._schema, **self._writer_options)
            state.file_bytes = state.file_rows = state.file_row_groups = 0
        self._convert(state)
        table = pa.Table.from_batches(state.batches, schema=self._schema)
        state.writer.write_table(table, row_group_size=state.num_rows)  # one row group
        state.file_bytes += state.buffered_bytes
        state.file_rows += state.num_rows
        state.file_row_groups += 1
        self._buffered -= state.buffered_bytes
        state.batches = []
        state.num_rows = 0
        state.buffered_bytes = 0
        if state.file_bytes >= self.options.shard_bytes:
            self._finish_file(state)

    def _finish_file(self, state: _FolderState) -> None:
        state.writer.close()
        final = state.tmp_path.with_name(state.tmp_path.name[: -len(TMP_SUFFIX)])
        os.replace(state.tmp_path, final)
        subset, split, category = state.folder
        self.shards.append(ShardInfo(
            path=final.relative_to(self.root).as_posix(), subset=subset, split=split, category=category,
            num_rows=state.file_rows, num_bytes=final.stat().st_size, num_row_groups=state.file_row_groups,
            sha256=file_sha256(final),
        ))
        state.writer = None
        state.tmp_path = None
        state.part += 1

    def close(self) -> list[ShardInfo]:
        """Write what is buffered, finish every open file; returns :attr:`shards`."""
        for folder in sorted(self._folders):
            state = self._folders[folder]
            self._flush(state)
            if state.writer is not None:
                self._finish_file(state)
        return self.shards

    def abort(self) -> None:
        for state in self._folders.values():
            if state.writer is not None:
                try:
                    state.writer.close()
                finally:
                    state.tmp_path.unlink(missing_ok=True)
                    state.writer = None


def remove_task_outputs(root, task: int) -> int:
    """Delete every shard (finished or temporary) of ``task`` under ``<root>/data``; returns how many."""
    prefix = f"{task:05d}-"
    removed = 0
    data = Path(root) / "data"
    if not data.is_dir():
        return 0
    for directory, _, files in os.walk(data):
        for name in files:
            if name.startswith(prefix) and (name.endswith((".parquet", ".parquet" + TMP_SUFFIX))):
                os.unlink(os.path.join(directory, name))
                removed += 1
    return removed


def read_manifest(root) -> dict:
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (is {root} a dataset built by `hardmo-hf build`?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON ({exc})") from None
