from __future__ import annotations

import pytest

from hardmo_hf.data.readers import label_tree
from hardmo_hf.data.sample import make_sample_pipeline_output


@pytest.fixture(scope="session")
def sample_output(tmp_path_factory):
    """The default sample pipeline output (seed 0) and its summary, made once per test session."""
    root = tmp_path_factory.mktemp("sample") / "pipeline_output"
    summary = make_sample_pipeline_output(root, seed=0)
    return root, summary


@pytest.fixture(scope="session")
def sample_items(sample_output):
    """Every record and reject the label-tree reader makes of the sample, unit by unit."""
    root, _ = sample_output
    return {unit: list(label_tree.read_unit(root, unit)) for unit in label_tree.list_units(root)}


@pytest.fixture(scope="session")
def sample_records(sample_items):
    """The valid ``normal`` records of the sample, in unit order."""
    from hardmo_hf.data.record import Reject

    return [item for unit, items in sample_items.items() if unit.startswith("normal/")
            for item in items if not isinstance(item, Reject)]
