"""Fingerprints of dataset split files, cached by the file's identity.

Hashing a full-size split (a million samples) takes ~3 s and reads every array, the 2D poses
an evaluation never uses included. posebench replaces a split file only whole (a new file
renamed into place), so the file's identity (device, inode, size, modification and status
change times in ns: the fields git's index trusts, plus the ctime that no user tool can set
back) pins its content. The fingerprint is computed once per identity and stored in
``$POSEBENCH_HOME/cache/fingerprints/``; anything unexpected in the cache (missing, corrupt,
another identity or skeleton) means it is computed again, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from posebench.home import posebench_home
from posebench.io import write_json_atomic

_FORMAT = "posebench.split-fingerprint/1"


def file_identity(path: str | os.PathLike) -> dict:
    """{dev, ino, size, mtime_ns, ctime_ns} of `path` (its content changes change these)."""
    st = os.stat(path)
    return {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size,
            "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}


def _entry_path(path: Path) -> Path:
    name = hashlib.blake2b(str(path.resolve()).encode(), digest_size=16).hexdigest()
    return posebench_home() / "cache" / "fingerprints" / f"{name}.json"


def cached_fingerprint(path: str | os.PathLike, context: str, compute: Callable[[], str]) -> str:
    """The fingerprint of the split in file `path` read with `context` (what else the
    fingerprint covers, e.g. the skeleton name from meta.json): from the cache when the file's
    identity and the context are those recorded, else ``compute()``, then recorded."""
    path = Path(path)
    ident = file_identity(path)
    entry = _entry_path(path)
    try:
        rec = json.loads(entry.read_text())
        if (rec.get("format") == _FORMAT and rec.get("identity") == ident
                and rec.get("context") == context and isinstance(rec.get("fingerprint"), str)):
            return rec["fingerprint"]
    except (OSError, ValueError):
        pass
    fp = compute()
    if file_identity(path) == ident:  # unchanged while hashing: safe to record
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(entry, {"format": _FORMAT, "file": str(path.resolve()),
                                      "identity": ident, "context": context,
                                      "fingerprint": fp})
        except OSError:
            pass  # a read-only cache only costs the hashing next time
    return fp
