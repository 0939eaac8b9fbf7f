"""Named, versioned exclusions: known defects of datasets that a protocol may drop.

`EXCLUSIONS[name]` is a function (dataset) -> (N,) bool mask of rows to exclude, plus a
description. Adapters document which exclusions apply to their dataset kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from posebench.data.h36m_exclusions import H36M_EXCLUSIONS, H36M_MASKS
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


for _name, _mask in H36M_MASKS.items():
    register_exclusion(_name, H36M_EXCLUSIONS[_name])(_mask)


def exclusion_mask(dataset, name: str) -> np.ndarray:
    """(N,) bool: rows of `dataset` that the exclusion `name` drops."""
    if name not in EXCLUSIONS:
        raise InputError(f"unknown exclusion '{name}'; expected one of "
                         f"{', '.join(EXCLUSIONS) or '(none registered)'}.")
    return np.asarray(EXCLUSIONS[name].mask(dataset), dtype=bool)

