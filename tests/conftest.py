"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import helpers
from zoo import registry


@pytest.fixture
def tiny_registered() -> Iterator[None]:
    """The tests' tiny model registered as `helpers.TINY` for the duration of one test."""
    registry.register(helpers.TINY, "tests.helpers")
    yield
    registry.unregister(helpers.TINY)
