"""Safe file I/O: npz without pickle, atomic writes, and a restricted unpickler for legacy files.

Never call `pickle.load` on a user file: use `restricted_unpickle`, which only rebuilds numpy
arrays, numpy scalars/dtypes and plain builtins (dict, list, tuple, str, numbers, bool, None).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import mmap
import os
import pickle
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from posebench.errors import InputError

# (module, name) pairs a legacy pickle may reference: numpy array reconstruction only.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "int"),
    ("builtins", "float"),
    ("builtins", "complex"),
    ("builtins", "str"),
    ("builtins", "bytes"),
    ("builtins", "bool"),
    ("_codecs", "encode"),
    ("collections", "OrderedDict"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source: str):
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise InputError(
            f"{self._source} holds a pickled object of type {module}.{name}, but only numpy "
            "arrays, dicts, lists, strings and numbers are accepted; re-save the file with "
            "plain numpy arrays (np.savez) or regenerate it with the dataset's official converter."
        )


def restricted_unpickle(data: bytes, source: str = "the file") -> object:
    """Unpickle `data` allowing only numpy arrays and builtin containers/scalars."""
    return unpickle_stream(io.BytesIO(data), source)


def unpickle_stream(fh, source: str = "the file") -> object:
    """`restricted_unpickle` reading straight from a binary stream (e.g. an .npy member of a
    zip, after its header), without a copy of the payload in memory."""
    try:
        return _RestrictedUnpickler(fh, source).load()
    except InputError:
        raise
    except Exception as exc:  # truncated or corrupt pickle stream
        raise InputError(
            f"{source} could not be read as a pickle of numpy arrays ({type(exc).__name__}: "
            f"{exc}); expected an intact file from the dataset's converter; re-download or "
            "re-create it."
        ) from None


def read_npy_header(fh) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) of the .npy stream `fh`, left at the start of the data."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    return np.lib.format.read_array_header_2_0(fh)


@contextlib.contextmanager
def unreadable_npz(what: str, expected: str) -> Iterator[None]:
    """Turn a corrupt or truncated .npz (BadZipFile, OSError, EOFError, ValueError) met inside
    the block into one sentence: "`what` (Error: detail); `expected`". InputErrors pass."""
    try:
        yield
    except InputError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InputError(f"{what} ({type(exc).__name__}: {exc}); {expected}") from None


def load_pickle_file(path: str | os.PathLike) -> object:
    """Read a legacy .pkl (e.g. mmpose cameras.pkl) through the restricted unpickler."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist; expected a .pkl file; check the path.")
    return restricted_unpickle(path.read_bytes(), source=str(path))


def load_npz(path: str | os.PathLike, what: str = "an .npz file",
             only: tuple[str, ...] | None = None,
             mmap: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Load every array (or the arrays named in `only`, which must exist) of an .npz into
    memory with allow_pickle=False; the arrays named in `mmap` that are stored uncompressed
    (np.savez, as posebench writes datasets) come back as read-only memory maps instead:
    nothing is read until used, and pages the process does not touch cost no memory.

    Object arrays (which need pickle) are refused with a one-sentence InputError.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist; expected {what}; check the path.")
    with open(path, "rb") as fh:
        head = fh.read(6)
    if not head.startswith(b"PK") and not head.startswith(b"\x93NUMPY"):
        raise InputError(f"{path} is not an .npz archive (it does not start like a zip file); "
                         f"expected {what}; re-create it with np.savez.")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise InputError(f"{path} is a single .npy array, not an .npz archive of named "
                             f"arrays; expected {what}; save it with np.savez(path, name=array).")
        with loaded as z:
            out = {}
            missing = [k for k in (only or ()) if k not in z.files]
            if missing:
                raise InputError(f"{path} has no array '{missing[0]}'; expected {what} with "
                                 f"arrays {', '.join(only)}; re-create it.")
            for key in (z.files if only is None else only):
                try:
                    mapped = _stored_member_memmap(path, z.zip, key) if key in mmap else None
                    out[key] = z[key] if mapped is None else mapped
                except ValueError as exc:
                    if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                        raise InputError(
                            f"{path}: array '{key}' is an object array (it needs pickle, which "
                            "posebench never loads); expected plain numeric or string arrays; "
                            f"save '{key}' with a numeric or fixed-width string dtype."
                        ) from None
                    raise
            return out
    except InputError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InputError(
            f"{path} could not be read as .npz ({type(exc).__name__}: {exc}); expected {what} "
            "written by np.savez; re-create the file (it may be truncated)."
        ) from None


def _stored_member_memmap(path: Path, zf: zipfile.ZipFile, key: str) -> np.ndarray | None:
    """Read-only memory map of array `key` of an .npz when its member is stored uncompressed
    and holds a plain (no object) array; None otherwise (the caller then loads it)."""
    layout = _stored_member_layout(path, zf, key)
    if layout is None:
        return None
    offset, shape, fortran, dtype = layout
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                     order="F" if fortran else "C")


def release_mapped(a: np.ndarray) -> None:
    """Give back the resident pages under `a`, a C-contiguous view of a read-only memory map
    (`load_npz(mmap=...)`), once its data has been read: they stop counting to the process's
    memory, and a later read faults them in again from the file (the page cache). Only whole
    pages inside `a` are released; no-op for an array that is not mapped, or where madvise
    is unavailable."""
    base = a
    while base is not None and not isinstance(base, mmap.mmap):  # views of views of the map
        base = getattr(base, "base", None)
    if base is None or not hasattr(mmap, "MADV_DONTNEED") or not a.flags.c_contiguous:
        return
    start = a.ctypes.data - np.frombuffer(base, dtype=np.uint8).ctypes.data
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    last = (start + a.nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
    if last > first:
        with contextlib.suppress(OSError, ValueError):
            base.madvise(mmap.MADV_DONTNEED, first, last - first)


def check_npz_crc(path: str | os.PathLike, what: str = "an .npz file") -> None:
    """InputError when a member of the .npz fails its CRC-32 (a damaged file): the check
    `np.load` makes while reading, which memory-mapped members (`load_npz(mmap=...)`) skip.
    Reads the file in buffered blocks (no memory of its size)."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        bad = f"({type(exc).__name__}: {exc})"
    if bad is not None:
        raise InputError(f"{path} is damaged: member {bad} fails its CRC-32 check; expected "
                         f"{what} as written by np.savez; re-create the file.")


def npz_row_blocks(path: str | os.PathLike, key: str, rows: int, what: str = "an .npz file"
                   ) -> tuple[tuple[int, ...], np.dtype, Iterator[np.ndarray]]:
    """(shape, dtype, blocks of at most `rows` consecutive rows) of array `key` of an .npz:
    an uncompressed C-order member is read a block at a time (never whole: a full-size
    training split's poses are a gigabyte), any other is loaded (`load_npz`) and sliced."""
    path = Path(path)
    layout = None
    if path.is_file():
        try:
            with zipfile.ZipFile(path) as zf:
                layout = _stored_member_layout(path, zf, key)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError):
            layout = None
    if layout is None or layout[2]:
        a = load_npz(path, what=what, only=(key,))[key]
        return a.shape, a.dtype, (a[i:i + rows] for i in range(0, len(a), rows))
    offset, shape, _, dtype = layout
    row_items = int(np.prod(shape[1:]))

    def blocks() -> Iterator[np.ndarray]:
        with open(path, "rb") as fh:
            for start in range(0, shape[0], rows):
                n = min(rows, shape[0] - start)
                fh.seek(offset + start * row_items * dtype.itemsize)
                yield np.fromfile(fh, dtype=dtype, count=n * row_items).reshape(n, *shape[1:])

    return tuple(shape), dtype, blocks()


def _stored_member_layout(path: Path, zf: zipfile.ZipFile, key: str):
    """(data offset in the file, shape, Fortran order, dtype) of member `key` of an .npz when
    it is stored uncompressed and holds a plain array; else None."""
    info = zf.getinfo(f"{key}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)  # zip local file header: name and extra-field lengths at 26..29
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            return None
        fh.seek(info.header_offset + 30 + int.from_bytes(local[26:28], "little")
                + int.from_bytes(local[28:30], "little"))
        version = np.lib.format.read_magic(fh)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(fh)
        offset = fh.tell()
    if dtype.hasobject or len(shape) == 0:
        return None  # loading raises the object-array refusal / reads the scalar
    return offset, shape, fortran, dtype


def current_umask() -> int:
    """The process umask (read from /proc where available: setting it is not thread-safe)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _apply_umask(path: Path, directory: bool = False) -> None:
    """Give a mkstemp/mkdtemp path (0600/0700) the mode a plain open/mkdir would have had."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `final`; on success rename it over `final`.

    On any exception the temporary file is removed and `final` is untouched. The file gets
    the mode the user's umask gives a new file (mkstemp's 0600 is not kept).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix or final.suffix,
                               dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            _apply_umask(tmp_path)
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory next to `final`; on success it replaces `final`.

    An existing `final` is only removed after the new one is complete. The folder gets the
    mode the user's umask gives a new folder (mkdtemp's 0700 is not kept).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp.", dir=final.parent))
    try:
        yield tmp
        _apply_umask(tmp, directory=True)
        old = None
        if final.exists():
            old = final.parent / f".{final.name}.old.{os.getpid()}"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json_atomic(path: str | os.PathLike, obj: object) -> None:
    """Write `obj` as indented JSON, atomically."""
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def savez_atomic(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """np.savez (uncompressed) to `path`, atomically."""
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
