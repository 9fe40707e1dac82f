"""The row schema: typed features, fast Arrow types, records -> rows -> Arrow without loss."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from datasets import Dataset, Features

from hardmo_hf.constants import WHOLEBODY33_FROM_WHOLEBODY133
from hardmo_hf.data import schema
from hardmo_hf.data.keypoint_convert import fingertips_from_wholebody133, label44_from_wholebody133

from .helpers import make_record


def test_every_column_is_documented_and_typed():
    assert tuple(schema.COLUMN_DOCS) == schema.COLUMNS == tuple(schema.FEATURES)
    arrow = schema.arrow_schema()
    for field in arrow:
        assert not isinstance(field.type, pa.ExtensionType), field.name  # Array2D is 6x slower to read
        if field.name in schema.ARRAY_COLUMNS:
            shape, type_ = [], field.type
            while pa.types.is_fixed_size_list(type_):
                shape.append(type_.list_size)
                type_ = type_.value_type
            assert type_ == pa.float32(), field.name
            assert tuple(shape) == schema.ARRAY_COLUMNS[field.name], field.name
        assert not pa.types.is_list(field.type), f"{field.name} is a variable-length list"
    # plain Parquet readers get the typed features back from the schema metadata
    assert Features.from_arrow_schema(arrow) == schema.FEATURES
    assert schema.huggingface_metadata(arrow)["info"]["features"]["keypoints_2d"]["length"] == 44


def test_the_pyarrow_schema_is_the_one_datasets_writes():
    # arrow_schema() and yaml_features() are made without datasets, from the same dict as features()
    reference = schema.features().arrow_schema
    assert schema.arrow_schema().equals(reference, check_metadata=True)
    assert schema.serialize_arrow_schema() == reference.serialize().to_pybytes()  # metadata bytes included
    assert Features.from_arrow_schema(schema.arrow_schema()) == schema.features()
    assert schema.features().to_dict() == schema.feature_dict()
    assert schema.yaml_features() == schema.features()._to_yaml_list()


def test_record_to_row_round_trips_through_arrow_and_datasets():
    rng = np.random.default_rng(0)
    raw = make_record(rng)
    optimized = make_record(rng, subset="foot", is_foot=True, raw_global_orient=raw.global_orient,
                            raw_body_pose=raw.body_pose, raw_betas=raw.betas,
                            keypoints_3d=rng.normal(size=(44, 4)).astype(np.float32))
    rows = [schema.record_to_row(raw), schema.record_to_row(optimized)]
    batch = schema.rows_to_record_batch(rows)
    assert batch.schema.equals(schema.arrow_schema(), check_metadata=True)
    back = batch.to_pylist()
    assert back[0]["image"]["bytes"] == raw.image_bytes  # the original bytes, never re-encoded
    assert back[0]["image"]["path"] == "ballet/0001/000000.jpg"
    np.testing.assert_array_equal(np.asarray(back[0]["keypoints_2d"], np.float32), raw.keypoints_2d)
    np.testing.assert_array_equal(np.asarray(back[1]["raw_body_pose"], np.float32), raw.body_pose)
    assert back[0]["raw_body_pose"] is None and back[0]["keypoints_3d"] is None
    assert back[0]["wholebody133_keypoints_2d"] is None
    np.testing.assert_allclose(back[0]["bbox_xyxy"], raw.bbox_xyxy)
    assert back[1]["subset"] == "foot" and back[1]["is_foot"] and back[0]["category_group"] == "dance"
    # datasets accepts the same rows with the features, and decodes the image
    ds = Dataset.from_list(rows, features=schema.FEATURES)
    item = ds[1]
    assert item["image"].size == (raw.image_width, raw.image_height)
    np.testing.assert_array_equal(np.asarray(item["keypoints_3d"], np.float32), optimized.keypoints_3d)
    numpy_item = ds.with_format("numpy")[0]
    assert numpy_item["keypoints_2d"].shape == (44, 3) and numpy_item["keypoints_2d"].dtype == np.float32


def test_wholebody33_from_133_and_from_label44_agree():
    rng = np.random.default_rng(1)
    kp133 = np.concatenate([rng.uniform(0, 100, (133, 2)), rng.uniform(0.5, 1, (133, 1))], 1).astype(np.float32)
    with_133 = make_record(rng, wholebody_133=kp133)
    without = make_record(rng, keypoints_2d=label44_from_wholebody133(kp133),
                          hand_keypoints_2d=fingertips_from_wholebody133(kp133))
    np.testing.assert_array_equal(schema.wholebody33(with_133), kp133[list(WHOLEBODY33_FROM_WHOLEBODY133)])
    np.testing.assert_array_equal(schema.wholebody33(without), schema.wholebody33(with_133))


@pytest.mark.parametrize("field,value", [("keypoints_2d", np.zeros((25, 3))), ("body_pose", np.zeros(72)),
                                         ("keypoints_3d", np.zeros((44, 3)))])
def test_wrong_shapes_name_the_field(field, value):
    record = make_record(np.random.default_rng(2), **{field: value})
    with pytest.raises(ValueError, match=field):
        schema.record_to_row(record)


def test_missing_smpl_is_zeros_and_invalid():
    record = make_record(np.random.default_rng(3), global_orient=None, body_pose=None, betas=None)
    row = schema.record_to_row(record)
    assert not row["has_body_pose"] and not row["has_betas"]
    assert row["body_pose"].shape == (69,) and not row["body_pose"].any()


def test_png_frames_keep_their_format():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (1, 2, 3)).save(buffer, format="PNG")
    record = make_record(np.random.default_rng(4), image_bytes=buffer.getvalue(), image_format="png", width=8,
                         height=6)
    row = schema.record_to_row(record)
    assert row["image"]["path"].endswith(".png") and row["image"]["bytes"] == buffer.getvalue()
