"""Labels parsed many at a time (``parse_person_labels``) give exactly what ``parse_person_label`` gives one by one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hardmo_hf.data.readers._common import RecordError, parse_person_label
from hardmo_hf.data.readers._label_columns import parse_person_labels

from .helpers import person_label

# Ways the same label is written by different sources (all valid), and ways it can be broken.
_QUIRKS = {
    "center": [lambda v: v, lambda v: v[None], lambda v: v.astype(np.float64), lambda v: v.tolist()],
    "scale": [lambda v: v, lambda v: float(v), lambda v: np.array([v]), lambda v: np.array([v, 1.5 * v]),
              lambda v: np.array([[v]], np.float64), lambda v: 1],
    "betas": [lambda v: v, lambda v: v[None], lambda v: v.astype(np.float64)],
    "has_body_pose": [lambda v: v, lambda v: True, lambda v: 1.0, lambda v: np.array([1]), lambda v: np.float32(2)],
    "has_betas": [lambda v: v, lambda v: False, lambda v: np.array(1.0)],
}
_BREAKS = [
    ("keypoints_2d", lambda label: label["keypoints_2d"].__setitem__((3, 0), np.nan)),
    ("center", lambda label: label.__setitem__("center", np.array([np.inf, 1.0], np.float32))),
    ("scale", lambda label: label.__setitem__("scale", np.float32(0))),
    ("scale", lambda label: label.__setitem__("scale", np.array([1.0, 2.0, 3.0]))),
    ("scale", lambda label: label.__setitem__("scale", float("nan"))),
    ("betas", lambda label: label.__setitem__("betas", np.zeros(9, np.float32))),
    ("betas", lambda label: label.__setitem__("betas", np.full(10, 1e39))),  # beyond float32: inf
    ("body_pose", lambda label: label.__setitem__("body_pose", np.zeros((72, 1), np.float32))),
    ("global_orient", lambda label: label.__setitem__("global_orient", np.zeros(3, np.float32))),  # 72 + go
    ("has_body_pose", lambda label: label.__setitem__("has_body_pose", float("nan"))),
    ("has_betas", lambda label: label.__setitem__("has_betas", np.array([1, 1]))),
    ("unknown", lambda label: label.__setitem__("track_score", 0.9)),
    ("center", lambda label: label.pop("center", None)),
    ("hand_keypoints_2d", lambda label: label.__setitem__("hand_keypoints_2d", "ten points")),
    ("body_pose", lambda label: (label.pop("body_pose", None), label.__setitem__("has_body_pose", 1))),
    ("betas", lambda label: (label.pop("betas", None), label.__setitem__("has_betas", True))),
]


def _label(seed: int, choices: list[int], extra: int, broken: int | None):
    rng = np.random.default_rng(seed)
    label = person_label(seed)
    for (key, variants), choice in zip(_QUIRKS.items(), choices):
        label[key] = variants[choice % len(variants)](label[key])
    if extra % 5 == 1:  # 69 + global_orient instead of 72
        pose = np.asarray(label.pop("body_pose"))
        label["global_orient"], label["body_pose"] = pose[:3], pose[3:].reshape(23, 3)
    elif extra % 5 == 2:
        label.pop("hand_keypoints_2d")
        label["wholebody_keypoints_2d"] = rng.uniform(0, 60, (133, 3)).astype(np.float32)
    elif extra % 5 == 3:
        label["keypoints_3d"] = rng.normal(size=(44, 4))
        label["extra_info"] = {"frame": seed}
    elif extra % 5 == 4:
        label.pop("betas")
        label.pop("has_betas")
        label["has_body_pose"] = 0
    if broken is not None:
        _BREAKS[broken % len(_BREAKS)][1](label)
    return label


def _one_by_one(label):
    try:
        return parse_person_label(label, strict_keys=True)
    except RecordError as exc:
        return exc


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**16), st.lists(st.integers(0, 5), min_size=5, max_size=5),
                          st.integers(0, 4), st.one_of(st.none(), st.integers(0, 100))), min_size=1, max_size=12))
def test_parsing_together_equals_parsing_alone(specs):
    labels = [_label(*spec) for spec in specs]
    labels.append([dict(person_label(1))])  # not a dict: parsed alone
    columns = parse_person_labels(labels)
    for row, label in enumerate(labels):
        expected = _one_by_one(label)
        if isinstance(expected, RecordError):
            got = columns.errors[row]
            assert got is not None and (got.reason, got.detail) == (expected.reason, expected.detail), row
            continue
        assert columns.errors[row] is None, columns.errors[row]
        for name in ("keypoints_2d", "hand_keypoints_2d", "center", "global_orient", "body_pose", "betas"):
            np.testing.assert_array_equal(getattr(columns, name)[row], getattr(expected, name), err_msg=name)
        assert columns.scale[row] == expected.scale
        assert columns.has_body_pose[row] == expected.has_body_pose
        assert columns.has_betas[row] == expected.has_betas
        for name, flag in (("wholebody_133", "has_wholebody_133"), ("keypoints_3d", "has_keypoints_3d")):
            value = getattr(expected, name)
            assert getattr(columns, flag)[row] == (value is not None)
            if value is not None:
                np.testing.assert_array_equal(getattr(columns, name)[row], value)
        assert columns.extra[row] == expected.extra


def test_the_usual_labels_take_the_stacked_path(monkeypatch):
    """A clip's labels that differ only in shape quirks are parsed without parse_person_label."""
    from hardmo_hf.data.readers import _label_columns

    def alone(*args, **kwargs):
        raise AssertionError("parsed alone")

    monkeypatch.setattr(_label_columns, "parse_person_label", alone)
    labels = [_label(seed, [seed % 3, seed + 1, seed, seed + 2, seed], seed % 4, None) for seed in range(12)]
    columns = parse_person_labels(labels)
    assert all(error is None for error in columns.errors) and columns.has_body_pose.all()
