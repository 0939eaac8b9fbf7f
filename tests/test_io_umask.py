"""Files and folders posebench writes get the user's umask (mkstemp/mkdtemp's 0600/0700 are
not kept), so a shared $POSEBENCH_HOME or CI artefacts stay readable to others."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from helpers_toy import toy_synth

from posebench.io import atomic_dir, current_umask, savez_atomic, write_json_atomic


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_reads_without_changing(umask):
    assert current_umask() == umask
    assert current_umask() == umask


def test_atomic_files_and_folders_follow_the_umask(umask, tmp_path):
    savez_atomic(tmp_path / "a.npz", x=np.arange(3))
    write_json_atomic(tmp_path / "b.json", {"k": 1})
    with atomic_dir(tmp_path / "folder") as d:
        savez_atomic(d / "inner.npz", x=np.arange(2))
    assert _mode(tmp_path / "a.npz") == 0o666 & ~umask
    assert _mode(tmp_path / "b.json") == 0o666 & ~umask
    assert _mode(tmp_path / "folder") == 0o777 & ~umask
    assert _mode(tmp_path / "folder" / "inner.npz") == 0o666 & ~umask
    # the same as a plain open / mkdir would give
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "plaindir").mkdir()
    assert _mode(tmp_path / "plain.txt") == _mode(tmp_path / "a.npz")
    assert _mode(tmp_path / "plaindir") == _mode(tmp_path / "folder")


def test_dataset_folder_and_cli_outputs_follow_the_umask(umask, tmp_path):
    from posebench.cli import main

    root = toy_synth(tmp_path / "toy")
    assert _mode(root) == 0o777 & ~umask
    for f in root.rglob("*"):
        want = (0o777 if f.is_dir() else 0o666) & ~umask
        assert _mode(f) == want, f
    assert main(["keys", "--dataset", str(root), "--out", str(tmp_path / "keys.npz")]) == 0
    assert _mode(tmp_path / "keys.npz") == 0o666 & ~umask


def test_load_npz_names_a_file_that_is_not_an_archive(tmp_path):
    from posebench.errors import InputError
    from posebench.io import load_npz

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"x")
    with pytest.raises(InputError, match="is not an .npz archive"):
        load_npz(bad, "a PSS model")
    assert bad.read_bytes() == b"x"  # untouched
