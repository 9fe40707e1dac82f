"""``hardmo_hf.data.streaming``: the batch reader gives exactly what ``iter(load_dataset(..., streaming=True))`` gives."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from datasets import load_dataset
from PIL import Image

from hardmo_hf.data.schema import ARRAY_COLUMNS, COLUMNS
from hardmo_hf.data.streaming import SampleStream, iter_samples


def _stream(built, config="foot_p1", split="train"):
    out, _ = built
    return load_dataset(str(out), config, split=split, streaming=True)


def _assert_same_row(fast: dict, reference: dict) -> None:
    assert list(fast) == list(COLUMNS) == list(reference)
    for name in COLUMNS:
        if name == "image":
            assert fast["image"].size == reference["image"].size
            assert fast["image"].mode == reference["image"].mode
            assert np.array_equal(np.asarray(fast["image"]), np.asarray(reference["image"]))
        elif name in ARRAY_COLUMNS:
            if reference[name] is None:
                assert fast[name] is None
            else:
                assert fast[name].dtype == np.float32 and fast[name].shape == ARRAY_COLUMNS[name]
                assert np.array_equal(fast[name], np.asarray(reference[name], np.float32)), name
        else:
            assert fast[name] == reference[name] and type(fast[name]) is type(reference[name]), name


@pytest.mark.parametrize("config", ["normal", "foot_p1", "hand"])
@pytest.mark.parametrize("batch_size", [1, 5, 64])
def test_samples_equal_the_datasets_rows(built, config, batch_size):
    stream = _stream(built, config)
    reference = list(stream)
    fast = list(iter_samples(stream, batch_size=batch_size))
    assert len(fast) == len(reference) > 0
    for a, b in zip(fast, reference):
        _assert_same_row(a, b)
    # nullable columns come through as None (normal rows have no raw label) or arrays (hard-case rows)
    raw = [s["raw_body_pose"] is None for s in fast]
    assert all(raw) if config == "normal" else not any(raw)


def test_a_frame_is_decoded_once_for_all_its_people(built):
    samples = list(iter_samples(_stream(built, "normal")))
    frames = {}
    for sample in samples:
        frames.setdefault((sample["category"], sample["clip_id"], sample["frame_index"]), []).append(sample)
    shared = [rows for rows in frames.values() if len(rows) > 1]
    assert shared, "the sample input has frames with two people"
    for rows in shared:
        assert len({id(r["image"]) for r in rows}) == 1
    # different frames never share an image object
    firsts = [rows[0]["image"] for rows in frames.values()]
    assert len({id(image) for image in firsts}) == len(firsts)


def test_arrays_are_writable_and_independent(built):
    first, second = list(iter_samples(_stream(built), batch_size=8))[:2]
    before = second["keypoints_2d"].copy()
    first["keypoints_2d"][:] = -1
    assert np.array_equal(second["keypoints_2d"], before)


def test_undecoded_images_keep_their_bytes(built):
    stream = _stream(built)
    sample = next(iter_samples(stream, decode_images=False))
    assert set(sample["image"]) == {"bytes", "path"}
    decoded = Image.open(io.BytesIO(sample["image"]["bytes"]))
    assert decoded.size == (sample["image_width"], sample["image_height"])


def test_exif_orientation_is_applied_like_datasets():
    from datasets import Image as ImageFeature

    from hardmo_hf.data.streaming import decode_image

    image = Image.new("RGB", (40, 20), (200, 10, 10))
    image.paste((10, 10, 200), (0, 0, 10, 20))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    data = buffer.getvalue()
    ours = decode_image(data)
    theirs = ImageFeature().decode_example({"bytes": data, "path": None})
    assert ours.size == theirs.size == (20, 40)
    assert np.array_equal(np.asarray(ours), np.asarray(theirs))


def test_batch_size_must_be_positive(built):
    with pytest.raises(ValueError, match="batch_size"):
        next(iter_samples(_stream(built), batch_size=0))


def test_dataloader_workers_split_the_shards(built):
    stream = _stream(built, "normal")
    assert stream.num_shards >= 2
    expected = sorted(row["sample_id"] for row in stream)

    def to_item(sample):
        return {"sample_id": sample["sample_id"], "keypoints_2d": torch.from_numpy(sample["keypoints_2d"]),
                "width": sample["image"].size[0]}

    loader = torch.utils.data.DataLoader(SampleStream(stream, transform=to_item), batch_size=4, num_workers=2)
    seen = [sample_id for batch in loader for sample_id in batch["sample_id"]]
    assert sorted(seen) == expected  # every row once: no worker repeats another's shards
