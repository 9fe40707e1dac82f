"""Keypoint layout conversions and input-format detection."""

from __future__ import annotations

import numpy as np
import pytest

from hardmo_hf.constants import BODY25_FROM_WHOLEBODY133, WHOLEBODY33_FROM_WHOLEBODY133
from hardmo_hf.data.keypoint_convert import (
    fingertips_from_wholebody133,
    label44_from_wholebody133,
    wholebody33_from_label44,
    wholebody33_from_wholebody133,
)
from hardmo_hf.data.readers import READERS, detect_format, get_reader, iter_records
from hardmo_hf.data.writers import write_humandata, write_spin_npz, write_webdataset


def _wholebody(seed=0):
    rng = np.random.default_rng(seed)
    kp = np.c_[rng.uniform(0, 100, (133, 2)), rng.uniform(0.1, 1.0, 133)].astype(np.float32)
    return kp


def test_wholebody_to_label44_and_fingertips():
    kp = _wholebody()
    kp[6, 2] = 0.0  # right shoulder missing: the neck (midpoint of both shoulders) is missing too
    label = label44_from_wholebody133(kp)
    assert label.shape == (44, 3) and not label[25:].any()
    assert np.allclose(label[8, :2], (kp[11, :2] + kp[12, :2]) / 2)
    assert label[8, 2] == pytest.approx(min(kp[11, 2], kp[12, 2]))
    assert label[1, 2] == 0.0
    for row, sources in enumerate(BODY25_FROM_WHOLEBODY133):
        if len(sources) == 1:
            assert np.array_equal(label[row], kp[sources[0]])
    assert np.array_equal(fingertips_from_wholebody133(kp), kp[[95, 99, 103, 107, 111, 116, 120, 124, 128, 132]])
    batch = label44_from_wholebody133(np.stack([kp, _wholebody(1)]))
    assert np.array_equal(batch[0], label)


def test_wholebody33_from_either_source():
    kp = _wholebody()
    direct = wholebody33_from_wholebody133(kp)
    assert np.array_equal(direct, kp[list(WHOLEBODY33_FROM_WHOLEBODY133)])
    via_label = wholebody33_from_label44(label44_from_wholebody133(kp), fingertips_from_wholebody133(kp))
    assert np.array_equal(via_label, direct)


def test_detect_format(tmp_path, sample_pipeline_output, sample_records):
    root, _ = sample_pipeline_output
    assert detect_format(root) == "label_tree"
    assert detect_format(root / "normal") == "label_tree"  # a bare authors' tree
    shards = write_webdataset(sample_records[:5], tmp_path / "wds")
    assert detect_format(tmp_path / "wds") == detect_format(shards[0]) == "webdataset"
    spin = write_spin_npz(sample_records[:5], tmp_path / "spin" / "a.npz")
    assert detect_format(spin) == detect_format(spin.parent) == "npz"
    hd = write_humandata(sample_records[:5], tmp_path / "hd" / "a.npz")
    assert detect_format(hd) == "humandata"
    assert set(READERS) == {"label_tree", "webdataset", "npz", "humandata"}
    assert len(list(iter_records(hd))) == 5
    with pytest.raises(ValueError, match="unknown input format"):
        get_reader("parquet")
    with pytest.raises(FileNotFoundError):
        detect_format(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no label tree"):
        detect_format(tmp_path / "empty")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="cannot tell"):
        detect_format(tmp_path / "x.json")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="neither"):
        detect_format(tmp_path / "other.npz")
