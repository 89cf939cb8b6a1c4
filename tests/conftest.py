"""Shared fixtures: a real encrypted store in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import slm_agents as sa


@pytest.fixture
def admin_key() -> str:
    return sa.generate_key()


@pytest.fixture
def store(tmp_path: Path, admin_key: str) -> Iterator[sa.Store]:
    with sa.Store(tmp_path / "calls.db", key=admin_key) as opened:
        yield opened


@pytest.fixture
def rec(store: sa.Store) -> Iterator[sa.Recorder]:
    """A recorder on the test's store, closed (flushed, hooks detached) afterwards."""
    recorder = sa.Recorder(store)
    yield recorder
    recorder.close()
