"""Fixtures of the CLI tests: a valid spec, and a finished store written from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import GOOD_SPEC, nqs_ent_run, write_spec


@pytest.fixture
def good(tmp_path) -> Path:
    """:data:`helpers.GOOD_SPEC` as ``tmp_path / "good.toml"``."""
    return write_spec(tmp_path, GOOD_SPEC, "good.toml")


@pytest.fixture(scope="module")
def existing_store(tmp_path_factory) -> Path:
    """A finished store of :data:`helpers.GOOD_SPEC` (one per test module), with its spec
    beside it as ``good.toml``."""
    tmp = tmp_path_factory.mktemp("existing")
    store = tmp / "store.zarr"
    assert nqs_ent_run(write_spec(tmp, GOOD_SPEC, "good.toml"), store) == 0
    return store
