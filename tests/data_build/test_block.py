"""Records column by column: PersonRecords -> RecordBlock -> Arrow without loss, and Arrow arrays without pa.array."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from datasets import Dataset

from hardmo_hf.constants import WHOLEBODY33_FROM_WHOLEBODY133
from hardmo_hf.data import schema
from hardmo_hf.data.arrow_arrays import binary_array, bool_array, fixed_list_array, numeric_array
from hardmo_hf.data.block import RecordBlock, chunks_from_items
from hardmo_hf.data.keypoint_convert import fingertips_from_wholebody133, label44_from_wholebody133
from hardmo_hf.data.record import Reject

from .helpers import make_record


def _block(records) -> RecordBlock:
    block, bad = RecordBlock.from_records(records)
    assert not bad
    return block


def test_records_round_trip_through_arrow_and_datasets():
    rng = np.random.default_rng(0)
    raw = make_record(rng)
    optimized = make_record(rng, subset="foot", is_foot=True, raw_global_orient=raw.global_orient,
                            raw_body_pose=raw.body_pose, raw_betas=raw.betas,
                            keypoints_3d=rng.normal(size=(44, 4)).astype(np.float32))
    batch = _block([raw, optimized]).to_record_batch(schema.arrow_schema())
    assert batch.schema.equals(schema.arrow_schema(), check_metadata=True)
    back = batch.to_pylist()
    assert back[0]["image"]["bytes"] == raw.image_bytes  # the original bytes, never re-encoded
    assert back[0]["image"]["path"] == "ballet/0001/000000.jpg"
    assert back[0]["sample_id"] == raw.sample_id and back[0]["scale"] == pytest.approx(raw.scale)
    np.testing.assert_array_equal(np.asarray(back[0]["keypoints_2d"], np.float32), raw.keypoints_2d)
    np.testing.assert_array_equal(np.asarray(back[1]["raw_body_pose"], np.float32), raw.body_pose)
    assert back[0]["raw_body_pose"] is None and back[0]["keypoints_3d"] is None
    assert back[0]["wholebody133_keypoints_2d"] is None
    np.testing.assert_allclose(back[0]["bbox_xyxy"], raw.bbox_xyxy)
    assert back[1]["subset"] == "foot" and back[1]["is_foot"] and back[0]["category_group"] == "dance"
    # datasets reads the batch with the typed features of its metadata, and decodes the image
    ds = Dataset(pa.Table.from_batches([batch]))
    assert ds.features == schema.FEATURES
    item = ds[1]
    assert item["image"].size == (raw.image_width, raw.image_height)
    np.testing.assert_array_equal(np.asarray(item["keypoints_3d"], np.float32), optimized.keypoints_3d)
    numpy_item = ds.with_format("numpy")[0]
    assert numpy_item["keypoints_2d"].shape == (44, 3) and numpy_item["keypoints_2d"].dtype == np.float32


def test_blocks_give_back_their_records():
    rng = np.random.default_rng(5)
    records = [make_record(rng, frame_index=i, wholebody_133=rng.normal(size=(133, 3)).astype(np.float32))
               for i in range(3)] + [make_record(rng, frame_index=9, subset="hand", raw_betas=np.ones(10, np.float32))]
    back = _block(records).to_records("label_tree")
    for record, got in zip(records, back):
        assert got.sample_id == record.sample_id and got.image_bytes is record.image_bytes
        for name in ("keypoints_2d", "hand_keypoints_2d", "center", "body_pose", "betas", "wholebody_133"):
            np.testing.assert_array_equal(getattr(got, name), getattr(record, name))
        assert (got.raw_betas is None) == (record.raw_betas is None) and got.raw_body_pose is None
        assert got.scale == pytest.approx(record.scale) and got.has_betas == record.has_betas


def test_block_operations_keep_rows_together():
    rng = np.random.default_rng(6)
    block = _block([make_record(rng, frame_index=i) for i in range(5)])
    assert block.take([4, 0]).sample_ids() == [block.sample_ids()[4], block.sample_ids()[0]]
    joined = RecordBlock.concatenate([block.slice(0, 2), block.slice(2, 5)])
    assert joined.to_record_batch(schema.arrow_schema()).equals(block.to_record_batch(schema.arrow_schema()))
    assert block.row_nbytes()[0] == len(block.columns["image_bytes"][0]) + 64 + 4 * sum(
        int(np.prod(shape)) for name, shape in schema.ARRAY_COLUMNS.items() if name not in schema.NULLABLE_COLUMNS)


def test_wholebody33_from_133_and_from_label44_agree():
    rng = np.random.default_rng(1)
    kp133 = np.concatenate([rng.uniform(0, 100, (133, 2)), rng.uniform(0.5, 1, (133, 1))], 1).astype(np.float32)
    block = _block([make_record(rng, wholebody_133=kp133),
                    make_record(rng, keypoints_2d=label44_from_wholebody133(kp133),
                                hand_keypoints_2d=fingertips_from_wholebody133(kp133))])
    wholebody33 = block.wholebody33()
    np.testing.assert_array_equal(wholebody33[0], kp133[list(WHOLEBODY33_FROM_WHOLEBODY133)])
    np.testing.assert_array_equal(wholebody33[1], wholebody33[0])


@pytest.mark.parametrize("field,value", [("keypoints_2d", np.zeros((25, 3))), ("body_pose", np.zeros(72)),
                                         ("keypoints_3d", np.zeros((44, 3))), ("center", "middle")])
def test_malformed_records_are_named_and_the_others_kept(field, value):
    rng = np.random.default_rng(2)
    records = [make_record(rng, frame_index=0), make_record(rng, frame_index=1, **{field: value}),
               make_record(rng, frame_index=2)]
    block, bad = RecordBlock.from_records(records)
    assert [index for index, _ in bad] == [1] and field in bad[0][1]
    assert block.columns["frame_index"].tolist() == [0, 2]


def test_chunks_keep_the_input_order_and_account_for_every_record():
    rng = np.random.default_rng(7)
    items = [(1, make_record(rng, frame_index=0)), (1, Reject("a.pyd", "unreadable_label")),
             (2, make_record(rng, frame_index=1, body_pose=np.zeros(5))), (2, make_record(rng, frame_index=2)),
             (3, make_record(rng, frame_index=3))]
    chunks = list(chunks_from_items(items, size=2))
    assert [done for done, _ in chunks] == [0, 1, 3]  # units surely finished when each chunk is complete
    assert sum(len(chunk) for _, chunk in chunks) == len(items)
    second = chunks[1][1]  # (invalid record, record): the first became an invalid_record reject in its place
    assert [(position, r.reason) for position, r in second.rejects] == [(0, "invalid_record")]
    assert second.positions.tolist() == [1] and second.block.columns["frame_index"].tolist() == [2]


def test_missing_smpl_is_zeros_and_invalid():
    block = _block([make_record(np.random.default_rng(3), global_orient=None, body_pose=None, betas=None)])
    assert not block.columns["has_body_pose"][0] and not block.columns["has_betas"][0]
    assert block.columns["body_pose"].shape == (1, 69) and not block.columns["body_pose"].any()


def test_png_frames_keep_their_format():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (1, 2, 3)).save(buffer, format="PNG")
    block = _block([make_record(np.random.default_rng(4), image_bytes=buffer.getvalue(), image_format="png",
                                width=8, height=6)])
    row = block.to_record_batch(schema.arrow_schema()).to_pylist()[0]
    assert row["image"]["path"].endswith(".png") and row["image"]["bytes"] == buffer.getvalue()


def test_arrow_arrays_equal_what_pa_array_makes():
    rng = np.random.default_rng(8)
    for dtype, type_ in ((np.int32, pa.int32()), (np.int64, pa.int64()), (np.uint64, pa.uint64()),
                         (np.float32, pa.float32())):
        values = rng.integers(0, 1000, 17).astype(dtype)
        assert numeric_array(values, type_).equals(pa.array(values, type_))
    flags = rng.random(21) > 0.5
    assert bool_array(flags).equals(pa.array(flags))
    blobs = [bytes(rng.integers(0, 255, n, dtype=np.uint8)) for n in (0, 3, 1000)]
    assert binary_array(blobs).equals(pa.array(blobs, pa.binary()))
    texts = ["ballet", "", "taijiquan/0001/000003_1", "é"]
    assert binary_array(texts, pa.string()).equals(pa.array(texts, pa.string()))
    assert binary_array([]).equals(pa.array([], pa.binary()))
    values = rng.normal(size=(4, 3, 2)).astype(np.float32)
    nulls = np.array([False, True, False, False])
    expected = pa.array([None if null else v.tolist() for v, null in zip(values, nulls)],
                        pa.list_(pa.list_(pa.float32(), 2), 3))
    assert fixed_list_array(np.where(nulls[:, None, None], 0, values), (3, 2), nulls).equals(expected)


def test_numeric_values_read_arrow_buffers():
    from hardmo_hf.data.arrow_arrays import numeric_values

    column = pa.chunked_array([pa.array([1, 2, 3], pa.uint64()).slice(1), pa.array([7], pa.uint64())])
    assert numeric_values(column).tolist() == [2, 3, 7] and numeric_values(column).dtype == np.uint64
    assert numeric_values(pa.chunked_array([], pa.uint64())).tolist() == []
    with pytest.raises(ValueError, match="nulls"):
        numeric_values(pa.array([1, None], pa.int64()))
