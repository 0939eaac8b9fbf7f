"""`prepare`: run one adapter (posebench.data.adapters) on a community file layout, render
person crops when asked (posebench.data.crops) and write the canonical dataset atomically.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from posebench.data.crops import attach_crops
from posebench.data.dataset import write_dataset
from posebench.data.registry import posebench_home
from posebench.errors import InputError

#: (dataset kind, layout) -> "module:function" returning a `Prepared`.
LAYOUTS: dict[tuple[str, str], str] = {
    ("h36m", "videopose3d"): "posebench.data.adapters.h36m_videopose3d:read_videopose3d",
    ("h36m", "mmpose"): "posebench.data.adapters.h36m_mmpose:read_mmpose",
    ("h36m", "cdf"): "posebench.data.adapters.h36m_cdf:read_cdf",
    ("3dhp", "mmpose"): "posebench.data.adapters.mpi3dhp_mmpose:read_mmpose",
    ("3dhp", "mat"): "posebench.data.adapters.mpi3dhp_mat:read_mat",
    ("mpii", "mmpose"): "posebench.data.adapters.mpii_mmpose:read_mmpose",
}


def prepare(kind: str, layout: str, path, *, name: str | None = None, root=None,
            progress: bool = False, options: dict | None = None):
    """Convert `path` (layout `layout` of dataset kind `kind`) and write the canonical dataset
    to `root` (default ``$POSEBENCH_HOME/datasets/<name>``). Returns the written folder.

    options: extra keyword arguments for the layout's reader (e.g. MPII's ``image_size``)."""
    if (kind, layout) not in LAYOUTS:
        known = ", ".join(lay for k, lay in LAYOUTS if k == kind)
        raise InputError(f"unknown {kind} layout '{layout}'; expected one of {known}.")
    module, fn = LAYOUTS[(kind, layout)].split(":")
    name = name or kind
    options = dict(options or {})
    crops = {k: options.pop(k) for k in ("images", "image_size", "frame_stride")
             if k in options and kind != "mpii"}
    prepared = getattr(importlib.import_module(module), fn)(Path(path), name=name,
                                                            progress=progress, **options)
    if crops.get("images"):
        prepared = _with_crops(prepared, kind, crops, progress)
    root = Path(root) if root is not None else posebench_home() / "datasets" / name
    try:
        return write_dataset(root, prepared.splits, kind=kind, source=f"{layout}:{Path(path)}",
                             extra_meta=prepared.meta)
    finally:
        for ds in prepared.splits.values():
            ds.images = None  # release memory-mapped temporaries before removing them
        for fn_cleanup in prepared.cleanup:
            fn_cleanup()


def _with_crops(prepared, kind: str, crops: dict, progress: bool):
    """Render person crops (posebench.data.crops) into an adapter's result; on failure the
    adapter's temporaries are removed too."""
    try:
        return attach_crops(prepared, kind, crops["images"], int(crops.get("image_size") or 64),
                            frame_stride=crops.get("frame_stride"), progress=progress)
    except BaseException:
        for ds in prepared.splits.values():
            ds.images = None
        for fn_cleanup in prepared.cleanup:
            fn_cleanup()
        raise
