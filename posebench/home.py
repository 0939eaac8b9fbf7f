"""Where posebench keeps its cache (datasets, fitted models, fingerprints)."""

from __future__ import annotations

import os
from pathlib import Path


def posebench_home() -> Path:
    """Root of posebench's cache: $POSEBENCH_HOME or ~/.cache/posebench."""
    return Path(os.environ.get("POSEBENCH_HOME", Path.home() / ".cache" / "posebench"))
