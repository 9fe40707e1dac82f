"""Request-handling helpers that need no server: drawn boxes, model choices, thresholds."""

import numpy as np
import pytest

from hardmo_hf.demo.app import DemoApp, _threshold, model_names_for, stroke_boxes
from hardmo_hf.demo.inputs import DemoInputError


def test_each_drawn_stroke_becomes_a_box():
    mask = np.zeros((300, 400), bool)
    mask[20:25, 30:130] = mask[20:180, 30:35] = mask[175:180, 30:130] = mask[20:180, 125:130] = True  # a loop
    mask[200:260, 300:320] = True  # a scribble
    mask[290, 390] = True  # a speck: ignored
    boxes = stroke_boxes(mask)
    assert len(boxes) == 2
    assert np.allclose(boxes[0], [30, 20, 130, 180], atol=2)
    assert np.allclose(boxes[1], [300, 200, 320, 260], atol=2)
    big = np.zeros((2000, 3000), bool)
    big[100:900, 200:1200] = True
    assert np.allclose(stroke_boxes(big)[0], [200, 100, 1200, 900], atol=12)  # pooled to <= 256 px


def test_boxes_from_the_editor_value():
    layer = np.zeros((100, 120, 4), np.uint8)
    layer[10:60, 20:50, 3] = 255
    value = {"background": np.zeros((100, 120, 4), np.uint8), "layers": [layer], "composite": None}
    assert DemoApp.boxes_from_drawing(value) == "20,10,50,60"
    assert DemoApp.boxes_from_drawing({"layers": []}) == ""
    assert DemoApp.boxes_from_drawing(None) == ""


def test_model_choices_and_thresholds():
    assert model_names_for("HardMo-HMR") == ["HardMo-HMR"]
    assert model_names_for("hardmo-4dhumans") == ["HardMo-4DHumans"]
    assert model_names_for("Both (side by side)") == ["HardMo-4DHumans", "HardMo-HMR"]
    assert model_names_for("both") == ["HardMo-4DHumans", "HardMo-HMR"]
    with pytest.raises(DemoInputError, match="Unknown model"):
        model_names_for("ResNet")
    assert _threshold(None) == 0.5 and _threshold("0.3") == 0.3
    with pytest.raises(DemoInputError, match=r"in \[0, 1\]"):
        _threshold(1.5)
    with pytest.raises(DemoInputError, match="must be a number"):
        _threshold("high")


def test_zerogpu_decorator_is_applied_only_where_spaces_exists(monkeypatch):
    from hardmo_hf.demo import zerogpu

    def double(x):
        return 2 * x

    monkeypatch.setattr(zerogpu, "_spaces", None)
    assert zerogpu.gpu(double) is double and zerogpu.gpu(duration=5)(double) is double

    calls = []

    class FakeSpaces:
        @staticmethod
        def GPU(duration):
            def wrap(fn):
                calls.append(duration)
                return lambda *a: fn(*a) + 1

            return wrap

    monkeypatch.setattr(zerogpu, "_spaces", FakeSpaces)
    assert zerogpu.gpu(duration=90)(double)(3) == 7 and calls == [90]
