"""Shard writing: size targets, row groups, atomic files, bounded buffers, determinism."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from hardmo_hf.data.block import RecordBlock
from hardmo_hf.data.schema import FEATURES, arrow_schema
from hardmo_hf.data.shards import ShardOptions, ShardWriter, file_sha256, remove_task_outputs

from .helpers import make_record

FOLDER = ("normal", "train", "ballet")


@pytest.fixture(scope="module")
def rows():
    """40 one-row blocks of the same size."""
    rng = np.random.default_rng(0)
    image = make_record(rng).image_bytes  # one image: every row has the same size
    block, bad = RecordBlock.from_records([make_record(rng, frame_index=i, image_bytes=image) for i in range(40)])
    assert not bad
    return [block.slice(i, i + 1) for i in range(40)]


def row_nbytes(row: RecordBlock) -> int:
    return int(row.row_nbytes()[0])


def _write(root, rows, options, folders=(FOLDER,), task=3):
    with ShardWriter(root, task, options) as writer:
        for i, row in enumerate(rows):
            writer.add(folders[i % len(folders)], row)
    return writer.shards


def test_row_groups_and_files_follow_the_size_targets(tmp_path, rows):
    size = row_nbytes(rows[0])
    options = ShardOptions(row_group_bytes=4 * size, shard_bytes=10 * size, buffer_bytes=100 * size)
    shards = _write(tmp_path, rows, options)
    assert [s.path for s in shards] == [f"data/normal/train/ballet/00003-{i:04d}.parquet" for i in range(4)]
    assert [s.num_rows for s in shards] == [12, 12, 12, 4]  # closed once >= 10 rows' bytes, by 4-row groups
    for shard in shards:
        handle = pq.ParquetFile(tmp_path / shard.path)
        assert handle.metadata.num_rows == shard.num_rows
        assert [handle.metadata.row_group(i).num_rows for i in range(handle.num_row_groups)] == \
            [4] * (shard.num_rows // 4)
        assert handle.schema_arrow.equals(arrow_schema())
        assert handle.schema_arrow.metadata[b"huggingface"] == arrow_schema().metadata[b"huggingface"]
        assert file_sha256(tmp_path / shard.path) == shard.sha256
        assert (tmp_path / shard.path).stat().st_size == shard.num_bytes
    assert not list(tmp_path.rglob("*.tmp"))
    got = pq.read_table(tmp_path / shards[0].path).to_pylist()
    assert [r["frame_index"] for r in got] == list(range(12))
    assert got[0]["image"]["bytes"] == rows[0].columns["image_bytes"][0]


def test_bounded_buffers_flush_the_largest_folder(tmp_path, rows):
    size = row_nbytes(rows[0])
    folders = [("normal", "train", f"class_{i}") for i in range(5)]
    options = ShardOptions(row_group_bytes=6 * size, shard_bytes=1000 * size, buffer_bytes=int(6.5 * size))
    shards = _write(tmp_path, rows, options, folders=folders)
    assert sum(s.num_rows for s in shards) == len(rows)
    # 5 folders share a 6.5-row budget: row groups stay far below the 6-row target of a folder
    groups = [pq.ParquetFile(tmp_path / s.path).metadata.row_group(i).num_rows
              for s in shards for i in range(s.num_row_groups)]
    assert max(groups) <= 3 and len(groups) > 2 * len(folders)


def test_same_rows_same_bytes(tmp_path, rows):
    options = ShardOptions(row_group_bytes=20_000, shard_bytes=60_000, buffer_bytes=40_000)
    first = _write(tmp_path / "a", rows, options)
    second = _write(tmp_path / "b", rows, options)
    assert [(s.path, s.sha256) for s in first] == [(s.path, s.sha256) for s in second]


def test_abort_leaves_no_partial_file_and_cleanup_finds_a_task(tmp_path, rows):
    options = ShardOptions(row_group_bytes=1, shard_bytes=10**9, buffer_bytes=10)
    with pytest.raises(RuntimeError), ShardWriter(tmp_path, 7, options) as writer:
        writer.add(FOLDER, rows[0])  # written as a row group of an unfinished file
        assert list(tmp_path.rglob("*.parquet.tmp"))
        raise RuntimeError("crash")
    assert not list(tmp_path.rglob("*.tmp"))
    _write(tmp_path, rows[:3], ShardOptions(row_group_bytes=1, shard_bytes=1, buffer_bytes=10), task=7)
    _write(tmp_path, rows[:2], ShardOptions(row_group_bytes=1, shard_bytes=1, buffer_bytes=10), task=8)
    (tmp_path / "data/normal/train/ballet/00007-0009.parquet.tmp").write_bytes(b"partial")
    assert remove_task_outputs(tmp_path, 7) == 4
    assert sorted(p.name for p in tmp_path.rglob("*.parquet")) == ["00008-0000.parquet", "00008-0001.parquet"]


def test_shards_load_with_typed_features(tmp_path, rows):
    from datasets import load_dataset

    _write(tmp_path, rows, ShardOptions(row_group_bytes=20_000, shard_bytes=60_000, buffer_bytes=40_000))
    ds = load_dataset("parquet", data_files=str(tmp_path / "data/**/*.parquet"), split="train")
    assert ds.features == FEATURES and len(ds) == len(rows)


def test_options_are_validated():
    with pytest.raises(ValueError):
        ShardOptions(row_group_bytes=0)
    with pytest.raises(ValueError):
        ShardOptions(row_group_bytes=10, buffer_bytes=5)
    with pytest.raises(ValueError), ShardWriter("/nonexistent", 0) as writer:
        writer.add(("normal", "val", "ballet"), RecordBlock.from_records([])[0])


def test_row_groups_do_not_depend_on_how_rows_come_in_blocks(tmp_path, rows):
    """A block is buffered row by row: the same rows give the same files in one block, in 40, or in uneven runs."""
    size = row_nbytes(rows[0])
    options = ShardOptions(row_group_bytes=8 * size, shard_bytes=20 * size, buffer_bytes=30 * size)
    one = RecordBlock.concatenate(rows)
    runs = [RecordBlock.concatenate(rows[a:b]) for a, b in ((0, 3), (3, 17), (17, 18), (18, 40))]
    written = [_write(tmp_path / name, blocks, options)
               for name, blocks in (("rows", rows), ("one", [one]), ("runs", runs))]
    assert [s.num_rows for s in written[0]] == [24, 16]
    handle = pq.ParquetFile(tmp_path / "rows" / written[0][0].path)
    assert [handle.metadata.row_group(i).num_rows for i in range(handle.num_row_groups)] == [8, 8, 8]
    for other in written[1:]:
        assert [(s.path, s.sha256) for s in other] == [(s.path, s.sha256) for s in written[0]]
    assert [r["frame_index"] for r in handle.read().to_pylist()] == list(range(24))
