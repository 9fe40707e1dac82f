"""The built folder as users load it: ``load_dataset("hardmo", config, streaming=True)`` with real datasets."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import load_dataset

from hardmo_hf.constants import CONFIGS, FOOT_P2_TEST_CLASSES, FOOT_P2_TRAIN_CLASSES, SPLITS
from hardmo_hf.data.schema import FEATURES
from hardmo_hf.data.splits import subject_split


@pytest.fixture
def in_parent(built, monkeypatch):
    """Run from the dataset's parent folder, so the bare name "hardmo" resolves to the local folder."""
    out, stats = built
    monkeypatch.chdir(out.parent)
    return stats


@pytest.mark.parametrize("config", CONFIGS)
def test_every_config_and_split_streams(in_parent, config):
    stats = in_parent
    dataset = load_dataset("hardmo", config, streaming=True)
    assert set(dataset) == set(SPLITS)
    subjects, categories = {}, {}
    for split in SPLITS:
        stream = dataset[split]
        assert stream.features == FEATURES
        rows = list(stream)
        assert len(rows) == stats["configs"][config][split]["rows"] > 0
        first = rows[0]
        assert first["image"].size == (first["image_width"], first["image_height"])
        assert np.asarray(first["keypoints_2d"]).shape == (44, 3)
        assert np.asarray(first["wholebody33_keypoints_2d"]).shape == (33, 3)
        subjects[split] = {r["subject_id"] for r in rows}
        categories[split] = {r["category"] for r in rows}
        assert {r["subset"] for r in rows} == {config.split("_")[0]}
        if config != "foot_p2":
            assert all(subject_split(s) == split for s in subjects[split])
    if config == "foot_p2":
        assert categories["train"] <= set(FOOT_P2_TRAIN_CLASSES)
        assert categories["test"] <= set(FOOT_P2_TEST_CLASSES)
    else:
        assert not subjects["train"] & subjects["test"]


def test_card_metadata_gives_split_sizes_and_torch_format(in_parent):
    stats = in_parent
    dataset = load_dataset("hardmo", "foot_p2", split="test", streaming=True)
    assert dataset.info.splits["test"].num_examples == stats["configs"]["foot_p2"]["test"]["rows"]
    item = next(iter(dataset.with_format("torch")))
    assert tuple(item["keypoints_2d"].shape) == (44, 3) and tuple(item["body_pose"].shape) == (69,)
    assert item["image"].shape[0] == 3  # decoded to a CHW tensor


def test_default_config_is_normal(in_parent):
    stream = load_dataset("hardmo", split="train", streaming=True)
    assert next(iter(stream))["subset"] == "normal"


def test_torch_dataloader_reads_shards_in_two_workers(in_parent):
    import torch

    stats = in_parent
    stream = load_dataset("hardmo", "normal", split="train", streaming=True).select_columns(["sample_id"])
    assert stream.num_shards >= 2
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2)
    ids = [item["sample_id"] for item in loader]
    assert len(ids) == len(set(ids)) == stats["configs"]["normal"]["train"]["rows"]
