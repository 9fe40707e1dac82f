"""The HardMo row: one person in one frame, as typed :class:`datasets.Features`.

Every shard of the dataset has exactly this schema (:func:`arrow_schema`: ``FEATURES.arrow_schema`` built with
pyarrow alone, with the ``huggingface`` schema metadata, so plain Parquet readers get the typed features too).
:data:`COLUMN_DOCS` gives each column's type, unit and frame; the dataset card and ``docs/dataset.md`` print it.
Rows are written from :class:`hardmo_hf.data.block.RecordBlock` s.
In short: images are the original encoded bytes (never re-encoded; a frame with two people repeats its bytes in
both rows), 2D keypoints are full-image px + confidence, ``scale`` is the box side / 200 px, SMPL parameters are
axis-angle radians.

Arrays are fixed-size Arrow lists of float32 (``List(..., length=n)``), nested once for ``(K, C)`` keypoints:
no extension types (``Array2D`` costs ~6x more per row to turn into Python) and no variable-length lists,
which keeps ``load_dataset(..., streaming=True)`` cheap per row (``benchmarks/bench_streaming.py``).
"""

from __future__ import annotations

import functools
import json

import pyarrow as pa

from ..constants import (
    NUM_BETAS,
    NUM_FINGERTIPS,
    NUM_LABEL_KEYPOINTS,
    NUM_SMPL_BODY_JOINTS,
    NUM_WHOLEBODY_KEYPOINTS,
    WHOLEBODY33_NAMES,
)

__all__ = [
    "ARRAY_COLUMNS",
    "COLUMNS",
    "COLUMN_DOCS",
    "FEATURES",  # noqa: F822 - built on first access by the module __getattr__
    "NULLABLE_COLUMNS",
    "SCHEMA_VERSION",
    "arrow_schema",
    "feature_dict",
    "features",
    "yaml_features",
]

SCHEMA_VERSION = 1
NUM_WHOLEBODY33 = len(WHOLEBODY33_NAMES)

# Array columns: name -> shape of one row's array (all float32).
ARRAY_COLUMNS: dict[str, tuple[int, ...]] = {
    "center": (2,),
    "bbox_xyxy": (4,),
    "keypoints_2d": (NUM_LABEL_KEYPOINTS, 3),
    "hand_keypoints_2d": (NUM_FINGERTIPS, 3),
    "wholebody33_keypoints_2d": (NUM_WHOLEBODY33, 3),
    "wholebody133_keypoints_2d": (NUM_WHOLEBODY_KEYPOINTS, 3),
    "keypoints_3d": (NUM_LABEL_KEYPOINTS, 4),
    "global_orient": (3,),
    "body_pose": (3 * NUM_SMPL_BODY_JOINTS,),
    "betas": (NUM_BETAS,),
    "raw_global_orient": (3,),
    "raw_body_pose": (3 * NUM_SMPL_BODY_JOINTS,),
    "raw_betas": (NUM_BETAS,),
}
# Columns that are null when the source has no such data.
NULLABLE_COLUMNS = frozenset(
    {"wholebody133_keypoints_2d", "keypoints_3d", "raw_global_orient", "raw_body_pose", "raw_betas"}
)
_STRING_COLUMNS = ("sample_id", "subset", "category", "category_group", "clip_id", "subject_id")
_INT32_COLUMNS = ("image_width", "image_height")
_INT64_COLUMNS = ("frame_index", "person_id")
_BOOL_COLUMNS = ("has_body_pose", "has_betas", "is_foot", "is_hand")
# dtype of every column that holds one value per row
_SCALAR_DTYPES = {**dict.fromkeys(_STRING_COLUMNS, "string"), **dict.fromkeys(_INT32_COLUMNS, "int32"),
                  **dict.fromkeys(_INT64_COLUMNS, "int64"), **dict.fromkeys(_BOOL_COLUMNS, "bool"),
                  "scale": "float32"}

# Type and meaning of every column (the card and docs print this table).
COLUMN_DOCS: dict[str, tuple[str, str]] = {
    "image": ("Image", ("the frame's original encoded bytes (JPEG or PNG, never re-encoded); its `path` is "
                       "`<category>/<clip_id>/<frame:06d>.<ext>`. A frame with two people repeats its bytes")),
    "image_width": ("int32", "image width, px"),
    "image_height": ("int32", "image height, px"),
    "sample_id": ("string", "`<category>/<clip_id>/<frame:06d>_<person>`, unique within a subset"),
    "subset": ("string", ("`normal` | `foot` | `hand`: which label the row carries (the raw pseudo-label, or "
                         "the optimized label of that hard-case subset)")),
    "category": ("string", "action class (`ballet`, `taijiquan`, ...)"),
    "category_group": ("string", "`dance` | `martial_arts`"),
    "clip_id": ("string", "clip folder name (unique within a category)"),
    "subject_id": ("string", "performer; `<category>/<clip_id>` when the build had no subject map"),
    "frame_index": ("int64", "frame number inside the clip"),
    "person_id": ("int64", "person id inside the frame"),
    "center": ("float32 (2,)", "box centre `(x, y)`, full-image px"),
    "scale": ("float32", "box side / 200 px (SPIN / 4D-Humans convention)"),
    "bbox_xyxy": ("float32 (4,)", "the same square box `center -+ 100 * scale`, px"),
    "keypoints_2d": ("float32 (44,3)", ("label-44 layout (rows 0-24 OpenPose BODY_25, rows 25-43 the J19 "
                                       "joints, zeros in HardMo): `x, y` px + confidence")),
    "hand_keypoints_2d": ("float32 (10,3)", "fingertips, left thumb..pinky then right thumb..pinky: px + conf."),
    "wholebody33_keypoints_2d": ("float32 (33,3)", ("COCO-WholeBody 0..22 + the 10 fingertips (the model-facing "
                                                   "subset): px + confidence")),
    "wholebody133_keypoints_2d": ("float32 (133,3) or null", ("all COCO-WholeBody points when the source has "
                                                             "them: px + raw detector score")),
    "keypoints_3d": ("float32 (44,4) or null", ("3D joints in m (label frame) + confidence, when the source "
                                               "has them")),
    "global_orient": ("float32 (3,)", "SMPL root orientation, axis-angle, radians"),
    "body_pose": ("float32 (69,)", "SMPL joints 1..23, axis-angle, radians"),
    "betas": ("float32 (10,)", "SMPL shape coefficients"),
    "has_body_pose": ("bool", "`global_orient` and `body_pose` are valid"),
    "has_betas": ("bool", "`betas` are valid"),
    "raw_global_orient": ("float32 (3,) or null", ("raw (pre-optimization) pseudo-label of a `foot` / `hand` "
                                                  "row; null on `normal` rows")),
    "raw_body_pose": ("float32 (69,) or null", "raw pseudo-label body pose of a `foot` / `hand` row"),
    "raw_betas": ("float32 (10,) or null", "raw pseudo-label betas of a `foot` / `hand` row"),
    "is_foot": ("bool", "the sample belongs to HardMo-Foot"),
    "is_hand": ("bool", "the sample belongs to HardMo-Hand"),
}

# Column order of the shards (identity first, then box, keypoints, SMPL, flags).
COLUMNS = (
    "image", "image_width", "image_height",
    "sample_id", "subset", "category", "category_group", "clip_id", "subject_id", "frame_index", "person_id",
    "center", "scale", "bbox_xyxy",
    "keypoints_2d", "hand_keypoints_2d", "wholebody33_keypoints_2d", "wholebody133_keypoints_2d", "keypoints_3d",
    "global_orient", "body_pose", "betas", "has_body_pose", "has_betas",
    "raw_global_orient", "raw_body_pose", "raw_betas",
    "is_foot", "is_hand",
)  # fmt: skip


# Arrow type of each leaf feature of :func:`feature_dict` (``datasets`` stores an ``Image`` as this struct).
_VALUE_ARROW_TYPES = {"string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "bool": pa.bool_(),
                      "float32": pa.float32()}
_IMAGE_ARROW_TYPE = pa.struct({"bytes": pa.binary(), "path": pa.string()})


def _array_feature_dict(shape: tuple[int, ...]) -> dict:
    """The float32 array of ``shape`` as nested fixed-size ``List`` features (``datasets``' dict form)."""
    feature = {"dtype": "float32", "_type": "Value"}
    for size in reversed(shape):
        feature = {"feature": feature, "length": size, "_type": "List"}
    return feature


def feature_dict() -> dict:
    """A fresh plain dict of one row's features, exactly as ``datasets.Features.to_dict()`` writes them.

    The one description of the row's types: :func:`features` (``datasets.Features.from_dict``), the Arrow
    schema (:func:`arrow_schema`, whose ``huggingface`` metadata embeds this dict) and the card's YAML
    (:func:`yaml_features`) are all made from it, so a build never imports ``datasets`` (~0.7 s).
    """
    spec = {}
    for name in COLUMNS:
        if name == "image":
            spec[name] = {"_type": "Image"}
        elif name in ARRAY_COLUMNS:
            spec[name] = _array_feature_dict(ARRAY_COLUMNS[name])
        else:
            spec[name] = {"dtype": _SCALAR_DTYPES[name], "_type": "Value"}
    return spec


def features():
    """A fresh :class:`datasets.Features` of one row (see the module docstring for units)."""
    from datasets import Features

    return Features.from_dict(feature_dict())


_FEATURES = None


def __getattr__(name):
    # ``FEATURES`` is built on first use, so importing this module does not import ``datasets``.
    if name == "FEATURES":
        global _FEATURES
        if _FEATURES is None:
            _FEATURES = features()
        return _FEATURES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _arrow_type(feature: dict) -> pa.DataType:
    """The Arrow type ``datasets`` gives a feature of :func:`feature_dict` (Image, Value or fixed-size List)."""
    kind = feature["_type"]
    if kind == "Image":
        return _IMAGE_ARROW_TYPE
    if kind == "Value":
        return _VALUE_ARROW_TYPES[feature["dtype"]]
    if kind == "List":
        return pa.list_(_arrow_type(feature["feature"]), feature["length"])
    raise ValueError(f"no Arrow type for feature type {kind!r}")


@functools.cache
def arrow_schema() -> pa.Schema:
    """The shards' Arrow schema, with the ``huggingface`` metadata (``{"info": {"features": ...}}``).

    The same schema, metadata bytes included, as ``datasets.Features.arrow_schema`` of :func:`features`, built
    with pyarrow only. Cached: a ``pa.Schema`` is immutable.
    """
    spec = feature_dict()
    schema = pa.schema([pa.field(name, _arrow_type(feature)) for name, feature in spec.items()])
    return schema.with_metadata({"huggingface": json.dumps({"info": {"features": spec}})})


def _yaml_feature(feature: dict) -> dict:
    """One feature of :func:`feature_dict` in the card's YAML form: ``{"dtype": ...}`` for an Image or a
    Value, ``{"list": <item>, "length": n}`` for a fixed-size List, its item shortened to the dtype string
    when the item is a Value."""
    kind = feature["_type"]
    if kind == "Image":
        return {"dtype": "image"}
    if kind == "Value":
        return {"dtype": feature["dtype"]}
    if kind == "List":
        item = _yaml_feature(feature["feature"])
        return {"list": item["dtype"] if list(item) == ["dtype"] else item, "length": feature["length"]}
    raise ValueError(f"no YAML form for feature type {kind!r}")


def yaml_features() -> list[dict]:
    """The row's features as the dataset card's ``dataset_info.features`` list (what
    ``datasets.Features._to_yaml_list`` gives for :func:`features`), without importing ``datasets``."""
    return [{"name": name, **_yaml_feature(feature)} for name, feature in feature_dict().items()]


def huggingface_metadata(schema: pa.Schema) -> dict | None:
    """The decoded ``huggingface`` schema metadata of a shard, or None."""
    raw = (schema.metadata or {}).get(b"huggingface")
    return json.loads(raw) if raw else None
