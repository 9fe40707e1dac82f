"""The row schema: typed features and fast Arrow types, made without datasets as datasets makes them."""

from __future__ import annotations

import pyarrow as pa
from datasets import Features

from hardmo_hf.data import schema


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
    assert schema.arrow_schema().serialize().to_pybytes() == reference.serialize().to_pybytes()  # metadata bytes included
    assert Features.from_arrow_schema(schema.arrow_schema()) == schema.features()
    assert schema.features().to_dict() == schema.feature_dict()
    assert schema.yaml_features() == schema.features()._to_yaml_list()
