"""Read the pickled object arrays inside VideoPose3D-style .npz files without allow_pickle.

``np.savez(path, positions_3d=dict)`` stores a 0-d object array whose .npy member is a
standard header followed by a pickle of the array. Here the header is parsed with
`numpy.lib.format` and the payload goes through `posebench.io.restricted_unpickle` (numpy
arrays, dicts, lists, strings and numbers only). Nothing else in the file is unpickled.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from posebench.errors import InputError
from posebench.io import read_npy_header, unpickle_stream, unreadable_npz


def npz_member_names(path: Path) -> list[str]:
    """Array names stored in the .npz at `path` (without '.npy')."""
    try:
        with zipfile.ZipFile(path) as zf:
            return [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(f"{path} could not be opened as .npz ({type(exc).__name__}: {exc}); "
                         "expected an intact file written by np.savez; re-download or "
                         "re-create it (it may be truncated).") from None


def read_object_member(path: Path, key: str, fix: str) -> object:
    """Unpickle (restricted) the object array `key` of the .npz at `path`; return `.item()`.

    `fix` completes the error sentence when `key` is missing (e.g. which file is expected).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist; expected {fix}; check the path.")
    names = npz_member_names(path)
    if key not in names:
        raise InputError(f"{path} has no array '{key}' (found: {', '.join(names) or 'none'}); "
                         f"expected {fix}; pass the right file.")
    source = f"{path} ('{key}')"
    with unreadable_npz(f"{source} could not be read", "expected an intact .npz written by "
                        "np.savez; re-download or re-create it (it may be truncated)."):
        with zipfile.ZipFile(path) as zf, zf.open(f"{key}.npy") as fh:
            shape, _, dtype = read_npy_header(fh)
            if not dtype.hasobject:
                raise InputError(f"{source} is a plain {dtype} array of shape {shape}; expected "
                                 "a pickled dict (VideoPose3D layout); pass the VideoPose3D "
                                 "file.")
            obj = unpickle_stream(fh, source)
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
        obj = obj.item()
    return obj

