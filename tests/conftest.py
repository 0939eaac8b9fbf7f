"""Shared pytest fixtures: an isolated POSEBENCH_HOME and the optional ../shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POSEBENCH_SHARED", REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own empty POSEBENCH_HOME (never the user's cache)."""
    home = tmp_path_factory.mktemp("posebench_home")
    monkeypatch.setenv("POSEBENCH_HOME", str(home))
    return home


@pytest.fixture
def shared_fixtures() -> Path:
    """../shared/fixtures, or skip the test cleanly when it is absent (a user's fresh clone)."""
    d = SHARED / "fixtures"
    if not d.is_dir():
        pytest.skip(f"shared fixtures not found at {d} (they are not part of the repository)")
    return d
