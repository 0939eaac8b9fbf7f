"""posebench: evaluation toolkit for 3D human pose estimation, built around PSS.

Importing this package is cheap: heavy modules (torch, pandas, scikit-learn) load lazily.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate"]


def __getattr__(name: str):
    if name == "evaluate":
        from posebench.evaluation import evaluate  # lazy: keeps `import posebench` light

        return evaluate
    raise AttributeError(f"module 'posebench' has no attribute {name!r}")
