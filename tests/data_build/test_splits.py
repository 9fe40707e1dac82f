"""Splits and layout: protocol invariants as properties (hypothesis)."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardmo_hf.constants import (
    CONFIG_SUBSET,
    CONFIGS,
    FOOT_P2_TEST_CLASSES,
    FOOT_P2_TRAIN_CLASSES,
    P2_CLASSES,
)
from hardmo_hf.data.splits import (
    check_category_name,
    config_data_files,
    config_split,
    parse_shard_path,
    shard_folder,
    subject_split,
    subject_unit_interval,
)

CATEGORIES = list(P2_CLASSES) + ["hip_hop", "breaking", "taijiquan", "bagua", "secret_art_1"]
subject_ids = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
rows = st.lists(
    st.tuples(st.sampled_from(("normal", "foot", "hand")), st.sampled_from(CATEGORIES), subject_ids),
    min_size=1, max_size=60,
)


def _layout(records, test_fraction, seed):
    """Folder of every (subset, category, subject) row, as the build places it, and the file per folder."""
    placed = []
    for subset, category, subject in records:
        split = subject_split(subject, test_fraction, seed)
        placed.append((f"{shard_folder(subset, split, category)}/00000-0000.parquet", subset, category, subject))
    return placed


def _config_rows(placed, config):
    folders = {parse_shard_path(path) for path, *_ in placed}
    globs = config_data_files(folders).get(config, {})
    return {split: [(p, s, c, subj) for p, s, c, subj in placed if any(fnmatch.fnmatchcase(p, g) for g in pats)]
            for split, pats in globs.items()}


@settings(max_examples=60, deadline=None)
@given(rows, st.floats(0.05, 0.95), st.integers(0, 2**31))
def test_protocol_invariants(records, test_fraction, seed):
    placed = _layout(records, test_fraction, seed)
    selected = {config: _config_rows(placed, config) for config in CONFIGS}
    for config in ("normal", "foot_p1", "hand"):
        splits = selected[config]
        subjects = {split: {r[3] for r in rs} for split, rs in splits.items()}
        assert not (subjects.get("train", set()) & subjects.get("test", set())), config
        # every row of the subset is in exactly one split of the config
        subset_rows = sorted(p for p in placed if p[1] == CONFIG_SUBSET[config])
        assert sorted(r for rs in splits.values() for r in rs) == subset_rows
    p2 = selected["foot_p2"]
    categories = {split: {r[2] for r in rs} for split, rs in p2.items()}
    assert categories.get("train", set()) <= set(FOOT_P2_TRAIN_CLASSES)
    assert categories.get("test", set()) <= set(FOOT_P2_TEST_CLASSES)
    # every foot row of a P2 class is in P2, read from the same files as P1 (stored once)
    p1_files = {r[0] for rs in selected["foot_p1"].values() for r in rs}
    p2_files = {r[0] for rs in p2.values() for r in rs}
    assert p2_files <= p1_files
    assert sorted(r for rs in p2.values() for r in rs) == sorted(p for p in placed
                                                                 if p[1] == "foot" and p[2] in P2_CLASSES)


@given(st.lists(subject_ids, min_size=1, max_size=30, unique=True), st.randoms(use_true_random=False))
def test_subject_split_ignores_order(subjects, random):
    shuffled = list(subjects)
    random.shuffle(shuffled)
    assert {s: subject_split(s) for s in subjects} == {s: subject_split(s) for s in shuffled}


def test_subject_split_fraction_and_seed():
    subjects = [f"subject_{i}" for i in range(4000)]
    for fraction in (0.1, 0.2, 0.5):
        share = sum(subject_split(s, fraction, 0) == "test" for s in subjects) / len(subjects)
        assert abs(share - fraction) < 0.03
    seed0 = [subject_split(s, 0.2, 0) for s in subjects]
    seed1 = [subject_split(s, 0.2, 1) for s in subjects]
    assert seed0 != seed1
    assert seed0 == [subject_split(s, 0.2, 0) for s in subjects]  # pure function


def test_subject_split_is_stable_across_versions():
    # Changing the hash would silently move subjects between splits of published datasets.
    names = ("dancer_001", "dancer_002", "ballet/0001", "martial_artist_007", "dancer_005")
    assert [round(subject_unit_interval(s), 3) for s in names] == [0.254, 0.662, 0.739, 0.138, 0.029]
    assert [subject_split(s) for s in names] == ["train", "train", "train", "test", "test"]


def test_config_data_files_leave_out_empty_splits():
    files = config_data_files({("foot", "train", "jazz"), ("normal", "train", "jazz"), ("normal", "test", "tango")})
    assert files["normal"] == {"train": ["data/normal/train/*/*.parquet"], "test": ["data/normal/test/*/*.parquet"]}
    assert files["foot_p1"] == {"train": ["data/foot/train/*/*.parquet"]}
    assert files["foot_p2"] == {"train": ["data/foot/*/jazz/*.parquet"]}
    assert "hand" not in files
    assert config_split("foot_p2", ("foot", "test", "jazz")) == "train"
    assert config_split("foot_p2", ("foot", "train", "hip_hop")) is None
    assert config_split("hand", ("foot", "train", "jazz")) is None


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "tai chi", "x*", "[x]", "_hidden", "-x", "ü"])
def test_unsafe_category_names_are_refused(name):
    with pytest.raises(ValueError, match="category"):
        check_category_name(name)


def test_shard_paths_parse_back():
    assert parse_shard_path("data/hand/test/k_pop/00003-0001.parquet") == ("hand", "test", "k_pop")
    for bad in ("data/hand/val/x/a.parquet", "x/hand/test/x/a.parquet", "data/hand/test/a.parquet"):
        with pytest.raises(ValueError):
            parse_shard_path(bad)
