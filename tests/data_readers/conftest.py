from __future__ import annotations

import pytest

from hardmo_hf.data.readers import label_tree


@pytest.fixture(scope="session")
def sample_items(sample_pipeline_output):
    """Every record and reject the label-tree reader makes of the sample, unit by unit."""
    root, _ = sample_pipeline_output
    return {unit: list(label_tree.read_unit(root, unit)) for unit in label_tree.list_units(root)}


@pytest.fixture(scope="session")
def sample_records(sample_items):
    """The valid ``normal`` records of the sample, in unit order."""
    from hardmo_hf.data.record import Reject

    return [item for unit, items in sample_items.items() if unit.startswith("normal/")
            for item in items if not isinstance(item, Reject)]
