"""The restricted checkpoint reader: tensors come back exactly, nothing pickled is ever executed."""

from __future__ import annotations

import collections
import os
import pickle

import numpy as np
import pytest
import torch

from hardmo_hf.models.checkpoint_loading import (
    CheckpointError,
    InertObject,
    _RestrictedUnpickler,
    load_state_dict,
)


class RunsACommand:
    """Pickles as a call to os.system: loading it with plain pickle would run the command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    state = collections.OrderedDict(
        weight=base,
        column=base[:, 1],  # a strided view sharing the storage
        half=torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
        steps=torch.tensor(7),
        flag=torch.tensor(True),
        param=torch.nn.Parameter(torch.ones(2)),
    )
    path = tmp_path / "last.ckpt"
    torch.save(
        {"state_dict": state, "hyper_parameters": {"attack": RunsACommand(marker), "array": np.ones(3)}}, path
    )
    loaded = load_state_dict(path)
    assert not marker.exists()
    assert list(loaded) == list(state)
    for key, tensor in state.items():
        assert loaded[key].dtype == tensor.dtype and torch.equal(loaded[key], tensor.detach()), key
    assert not isinstance(loaded["param"], torch.nn.Parameter)
    # Also when the attack sits in the part that is returned.
    torch.save({"weight": torch.ones(1), "attack": RunsACommand(marker)}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="no state dict found"):
        load_state_dict(tmp_path / "bad.pt")
    assert not marker.exists()


def test_unknown_globals_become_inert_placeholders():
    payload = pickle.dumps({"cb": RunsACommand("/nonexistent/x"), "od": collections.OrderedDict(a=1), "s": {1, 2}})
    import io

    obj = _RestrictedUnpickler(io.BytesIO(payload), records={}).load()
    assert isinstance(obj["cb"], InertObject)
    assert obj["cb"].source in ("posix.system", "nt.system", "os.system")
    assert obj["cb"].args == ("touch /nonexistent/x",)
    assert obj["od"] == collections.OrderedDict(a=1) and obj["s"] == {1, 2}


@pytest.mark.parametrize("container", ["plain", "model", "state_dict"])
def test_pt_state_dicts(tmp_path, container):
    state = {"a.weight": torch.randn(3, 2), "a.bias": torch.randn(3)}
    saved = state if container == "plain" else {container: state, "epoch": 3}
    torch.save(saved, tmp_path / "weights.pth")
    loaded = load_state_dict(tmp_path / "weights.pth")
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)


def test_bad_files_are_named(tmp_path):
    (tmp_path / "notes.ckpt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.ckpt: not a zip-format"):
        load_state_dict(tmp_path / "notes.ckpt")
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        load_state_dict(tmp_path / "missing.ckpt")
    torch.save([torch.ones(1)], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=r"list\.pt: the checkpoint holds a list"):
        load_state_dict(tmp_path / "list.pt")
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(CheckpointError, match=r"broken\.safetensors"):
        load_state_dict(tmp_path / "broken.safetensors")
