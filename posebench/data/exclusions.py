"""Named, versioned exclusions: known defects of datasets that a protocol may drop.

`EXCLUSIONS[name]` is a function (dataset) -> (N,) bool mask of rows to exclude, plus a
description. Adapters document which exclusions apply to their dataset kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from posebench.errors import InputError


@dataclass(frozen=True)
class Exclusion:
    name: str
    description: str
    mask: Callable  # (PoseDataset) -> (N,) bool, True = excluded


EXCLUSIONS: dict[str, Exclusion] = {}


def register_exclusion(name: str, description: str):
    def deco(fn):
        EXCLUSIONS[name] = Exclusion(name, description, fn)
        return fn
    return deco


def exclusion_mask(dataset, name: str) -> np.ndarray:
    import posebench.data.h36m_exclusions  # noqa: F401  (registers the Human3.6M exclusions)

    if name not in EXCLUSIONS:
        raise InputError(f"unknown exclusion '{name}'; expected one of "
                         f"{', '.join(EXCLUSIONS) or '(none registered)'}.")
    return np.asarray(EXCLUSIONS[name].mask(dataset), dtype=bool)


@register_exclusion("h36m-s11-directions-2-cam54138969@v1",
                    "Human3.6M S11 Directions subaction 2, camera 54138969: video missing/corrupt")
def _s11_directions(ds) -> np.ndarray:
    k = ds.keys
    return ((k.subject == "S11") & (k.action == "Directions") & (k.subaction == 2)
            & (k.camera == "54138969"))
