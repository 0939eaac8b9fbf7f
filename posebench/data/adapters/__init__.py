"""Adapters: community file layouts of Human3.6M and MPI-INF-3DHP -> canonical datasets.

Each adapter module exposes ``read_<layout>(path, name=..., progress=...) ->
dict[split, PoseDataset]`` plus metadata; `prepare` writes the result with
`posebench.data.dataset.write_dataset` (atomically). Layouts:

    h36m  videopose3d  data_3d_h36m.npz [+ data_2d_h36m_gt.npz]   (h36m_videopose3d)
    h36m  mmpose       h36m_{train,test}.npz [+ cameras.pkl]       (h36m_mmpose)
    h36m  cdf          D3_Positions_mono/*.cdf [+ D2_Positions]    (h36m_cdf)
    3dhp  mmpose       mpi_inf_3dhp_{train,test_valid}.npz + cameras_{train,test}.pkl
    3dhp  mat          TS1..TS6/annot_data.mat (MATLAB v7.3)        (mpi3dhp_mat)
    mpii  mmpose       annotations/mpii_{train,val}.json + images/  (mpii_mmpose; 2D only,
                       crops rendered at prepare time, option image_size)
"""

from __future__ import annotations

import importlib

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
    from pathlib import Path

    from posebench.data.dataset import write_dataset
    from posebench.data.registry import posebench_home
    from posebench.errors import InputError

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
    from posebench.data.crops import attach_crops

    try:
        return attach_crops(prepared, kind, crops["images"], int(crops.get("image_size") or 64),
                            frame_stride=crops.get("frame_stride"), progress=progress)
    except BaseException:
        for ds in prepared.splits.values():
            ds.images = None
        for fn_cleanup in prepared.cleanup:
            fn_cleanup()
        raise
