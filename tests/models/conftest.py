"""Fixtures of the model tests: the upstream parity files and converted fixture models."""

from __future__ import annotations

import numpy as np
import pytest
from models_helpers import FIXTURES, convert_fixture


@pytest.fixture(scope="session")
def fixture_io(upstream_fixtures):
    """``name -> dict of numpy arrays`` from ``<name>_small_io.npz``."""
    return {name: dict(np.load(upstream_fixtures / f"{name}_small_io.npz")) for name in FIXTURES}


@pytest.fixture(scope="session")
def converted(upstream_fixtures):
    """``name -> model`` converted from the fixture safetensors."""
    return {
        name: convert_fixture(name, upstream_fixtures / f"{name}_small_state_dict.safetensors") for name in FIXTURES
    }
