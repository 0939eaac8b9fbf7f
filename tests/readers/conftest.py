"""Fixtures shared by the reader tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import reader_layouts as L  # noqa: E402


@pytest.fixture(scope="module")
def h36m(tmp_path_factory):
    """(dataset folder, world dict): S9 + S11 test trials incl. the trial-naming trap, built
    once per test module under its own POSEBENCH_HOME."""
    tmp = tmp_path_factory.mktemp("readers")
    old = os.environ.get("POSEBENCH_HOME")
    os.environ["POSEBENCH_HOME"] = str(tmp / "home")
    try:
        root, world = L.build(tmp)
    finally:
        if old is not None:
            os.environ["POSEBENCH_HOME"] = old
    return root, world
