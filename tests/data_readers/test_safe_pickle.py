"""The restricted unpickler builds numpy arrays and builtins, and nothing else."""

from __future__ import annotations

import builtins
import collections
import os
import pickle
import subprocess

import numpy as np
import pytest

from hardmo_hf.safe_pickle import ALLOWED_GLOBALS, PickleLoadError, UnsafePickleError, load_pickle

from .helpers import Evil


def _payload():
    return {
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
        "f64_fortran": np.asfortranarray(np.ones((3, 2))),
        "big_endian": np.arange(4, dtype=">f8"),
        "int": np.int64(7), "float": np.float32(1.5), "bool": np.bool_(True),
        "structured": np.zeros(2, dtype=[("x", "f4"), ("y", "i2")]),
        "strings": np.array(["ab", "c"]),
        "objects": np.array([{"fitting_loss": np.float32(2.0)}, None], dtype=object),
        "dtype": np.dtype("f4"),
        "nested": [(1, 2.5, "x", b"bytes", None), {3, 4}, frozenset({5}), 1 + 2j, bytearray(b"ab")],
        "ordered": collections.OrderedDict(a=1),
        "betas_quirk": np.zeros((1, 10), dtype=np.float32),
    }


def _assert_same(a, b):
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        if a.dtype == object:
            for x, y in zip(a.reshape(-1), b.reshape(-1)):
                _assert_same(x, y)
        else:
            assert np.array_equal(a, b)
            assert a.flags.f_contiguous == b.flags.f_contiguous
    elif isinstance(a, dict):
        assert type(a) is type(b) and a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b and type(a) is type(b)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_and_builtins_round_trip_every_protocol(protocol):
    """Same result as plain ``pickle.loads`` (the reference) for everything a label may hold."""
    data = pickle.dumps(_payload(), protocol=protocol)
    expected = pickle.loads(data)
    _assert_same(expected, load_pickle(data, source="label.pyd"))
    assert np.array_equal(expected["big_endian"], np.arange(4))


@pytest.mark.parametrize("protocol", [0, 2])
def test_numpy_1x_pickles_load(protocol):
    """numpy 1.x writes ``numpy.core.multiarray`` where numpy 2 writes ``numpy._core.multiarray``."""
    payload = {"keypoints_2d": np.ones((44, 3), dtype=np.float32), "scale": np.float64(1.2)}
    data = pickle.dumps(payload, protocol=protocol)
    legacy = data.replace(b"numpy._core.", b"numpy.core.")
    assert legacy != data
    _assert_same(payload, load_pickle(legacy))


def test_allow_list_holds_no_callable_with_side_effects():
    names = {f"{module}.{name}" for module, name in ALLOWED_GLOBALS}
    for forbidden in ("os.system", "posix.system", "builtins.eval", "builtins.exec", "builtins.getattr",
                      "builtins.__import__", "subprocess.Popen", "builtins.open", "copyreg._reconstructor"):
        assert forbidden not in names


def _attacks(marker):
    """Pickles that create ``marker`` (or evaluate code) when loaded with plain pickle."""
    command = f"touch {marker}"
    yield "os.system", pickle.dumps(Evil(marker))
    yield "subprocess", pickle.dumps(_Reduce(subprocess.check_call, (["touch", str(marker)],)))
    yield "eval", pickle.dumps(_Reduce(builtins.eval, (f"__import__('os').system({command!r})",)))
    yield "exec", pickle.dumps(_Reduce(builtins.exec, (f"import os; os.system({command!r})",)))
    yield "nested", pickle.dumps({"keypoints_2d": np.zeros((44, 3)), "extra_info": [Evil(marker)]})
    yield "object_array", pickle.dumps(np.array([Evil(marker)], dtype=object))
    yield "protocol0_text", f"cos\nsystem\n(S'{command}'\ntR.".encode()
    yield "codecs", pickle.dumps(_Reduce(__import__("_codecs").encode, ("x", "rot13")), protocol=2)


class _Reduce:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("attack", ["os.system", "subprocess", "eval", "exec", "nested", "object_array",
                                    "protocol0_text", "codecs"])
def test_malicious_pickles_are_refused_without_effect(tmp_path, attack):
    marker = tmp_path / "pwned"
    data = dict(_attacks(marker))[attack]
    path = tmp_path / "000001_1.pyd"
    path.write_bytes(data)
    with pytest.raises(PickleLoadError) as info:
        load_pickle(path)
    assert str(path) in str(info.value)
    if attack != "codecs":
        assert isinstance(info.value, UnsafePickleError)
        assert "refused to unpickle global" in str(info.value)
    assert not marker.exists()
    # The same bytes really are an attack: plain pickle would run them (checked on the harmless ones).
    if attack in ("os.system", "protocol0_text"):
        pickle.loads(data)
        assert marker.exists()


def test_refusal_names_the_global_and_the_source():
    with pytest.raises(UnsafePickleError) as info:
        load_pickle(pickle.dumps(_Reduce(os.getcwd, ())), source="shard-000.tar::key.data.pyd")
    message = str(info.value)
    assert "shard-000.tar::key.data.pyd" in message and "getcwd" in message
    assert info.value.name == "getcwd"


def test_truncated_and_garbage_pickles_are_clear_errors(tmp_path):
    data = pickle.dumps({"betas": np.zeros(10)})
    for blob in (data[: len(data) // 2], b"", b"not a pickle at all"):
        with pytest.raises(PickleLoadError, match="unreadable pickle") as info:
            load_pickle(blob, source="label.pyd")
        assert not isinstance(info.value, UnsafePickleError)
        assert "label.pyd" in str(info.value)
    with pytest.raises(FileNotFoundError):
        load_pickle(tmp_path / "missing.pyd")


def test_persistent_ids_are_refused():
    class Persisting(pickle.Pickler):
        def persistent_id(self, obj):
            return "ref" if isinstance(obj, str) and obj == "external" else None

    import io

    buffer = io.BytesIO()
    Persisting(buffer, protocol=2).dump({"a": "external"})
    with pytest.raises(PickleLoadError, match="persistent id"):
        load_pickle(buffer.getvalue())
