"""Where datasets live: ``$POSEBENCH_HOME/datasets/<name>`` (default ``~/.cache/posebench``).

Builders for datasets that can be generated on first use (``synth``) register in
`AUTO_BUILDERS`: name -> "module:function" taking (root: Path) and writing the dataset there.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from posebench.data.dataset import PoseDataset, read_meta, read_split
from posebench.errors import InputError

#: Datasets generated automatically on first use: name -> "module:function(root: Path)".
AUTO_BUILDERS: dict[str, str] = {
    "synth": "posebench.synth.build:build_default",
}


def posebench_home() -> Path:
    """Root of posebench's cache: $POSEBENCH_HOME or ~/.cache/posebench."""
    return Path(os.environ.get("POSEBENCH_HOME", Path.home() / ".cache" / "posebench"))


def dataset_dir(name: str) -> Path:
    """Folder of dataset `name` (may not exist yet). A path to a folder is accepted too."""
    p = Path(name)
    if p.is_dir() and (p / "meta.json").is_file():
        return p
    return posebench_home() / "datasets" / name


def list_datasets() -> list[dict]:
    """Metadata of every prepared dataset under $POSEBENCH_HOME/datasets."""
    root = posebench_home() / "datasets"
    out = []
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if (d / "meta.json").is_file():
                meta = read_meta(d)
                meta["path"] = str(d)
                out.append(meta)
    return out


def ensure_dataset(name: str) -> Path:
    """Folder of dataset `name`, generating it first if it is auto-buildable and absent."""
    d = dataset_dir(name)
    if (d / "meta.json").is_file():
        return d
    if name in AUTO_BUILDERS:
        mod, fn = AUTO_BUILDERS[name].split(":")
        getattr(importlib.import_module(mod), fn)(d)
        return d
    raise InputError(
        f"dataset '{name}' is not prepared under {posebench_home() / 'datasets'}; expected a "
        "folder written by `posebench data prepare` (or the built-in 'synth'); run "
        f"`posebench data prepare ...` first or set POSEBENCH_HOME."
    )


def load_dataset(name: str, split: str = "test") -> PoseDataset:
    """Load split `split` of dataset `name` (a registry name or a dataset folder)."""
    return read_split(ensure_dataset(name), split)
