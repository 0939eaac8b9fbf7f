"""The full-size path a user runs: `posebench eval` on a generated full-size Human3.6M.

    python benchmarks/eval_fullsize.py [--frames-per-trial 4300] [--keep DIR] [--definition D]

Builds the VideoPose3D-layout Human3.6M of benchmarks/prepare_h36m.py (about 2.6M training and
1.05M test poses under h36m-p1 at the default size) into a temporary POSEBENCH_HOME, writes
predictions = ground truth + 20 mm noise for protocol h36m-p1, and runs `posebench eval` twice
in fresh processes: the first fits (and caches) the PSS@50/@100 models, the second reuses
them. Prints wall time and peak RSS of each (from the kernel, per child) beside the
metrics-core time (pose_errors on the same arrays, this process) and the goals (first eval
<= 60 s and <= 3 GB; later evals <= 4 s and <= 1.5 GB). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GOALS = {"first": (60.0, 3.0), "later": (4.0, 1.5)}


def run_eval(args: list[str], env: dict) -> tuple[float, float, int]:
    """(wall s, peak RSS GB, exit code) of one `posebench eval` child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "posebench.cli", *args], env=env,
                            stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    return wall, usage.ru_maxrss / 1024**2, os.waitstatus_to_exitcode(status)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames-per-trial", type=int, default=4300)
    ap.add_argument("--keep", default=None, help="POSEBENCH_HOME to reuse / keep")
    ap.add_argument("--definition", default="ensemble", choices=["ensemble", "paper"])
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from prepare_h36m import make_file

    from posebench.data.adapters.h36m_videopose3d import read_videopose3d
    from posebench.data.dataset import read_split, write_dataset
    from posebench.data.protocols import get_protocol
    from posebench.metrics.errors import pose_errors

    home = Path(args.keep or tempfile.mkdtemp(prefix="pb-fullsize-"))
    root = home / "datasets" / "h36m-full"
    if not (root / "meta.json").is_file():
        raw = home / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        make_file(raw, args.frames_per_trial)
        prep = read_videopose3d(raw)
        write_dataset(root, prep.splits, kind="h36m", extra_meta=prep.meta)
        del prep
    proto = get_protocol("h36m-p1")
    test = read_split(root, proto.split)
    rows = proto.select(test)
    gt = np.asarray(test.poses_3d[rows], dtype=np.float64)
    rng = np.random.default_rng(0)
    pred = gt + rng.normal(0, 20, gt.shape)
    pred -= pred[:, :1]  # root-relative, as every codebase writes them (camera frame is refused)
    preds = home / "preds.npz"
    np.savez(preds, poses_3d=pred.astype(np.float32), index=np.arange(len(rows)))
    n_train = len(read_split(root, "train"))
    t0 = time.perf_counter()
    pose_errors(pred - pred[:, :1], gt - gt[:, :1], ("mpjpe", "p_mpjpe", "n_mpjpe", "pck",
                                                     "auc"), root=0)
    t_core = time.perf_counter() - t0
    del gt, pred, test
    env = {**os.environ, "POSEBENCH_HOME": str(home)}
    cmd = ["eval", str(preds), "--dataset", str(root), "--protocol", "h36m-p1",
           "--pss-definition", args.definition, "--output", str(home / "r.json")]
    print(f"train poses {n_train}, test poses under h36m-p1 {len(rows)}; PSS definition "
          f"{args.definition}; metrics core (pose_errors, this process) {t_core:.1f} s")
    for label in ("first", "later", "later"):
        wall, rss, rc = run_eval(cmd, env)
        t_goal, m_goal = GOALS[label]
        ok = "PASS" if wall <= t_goal and rss <= m_goal and rc == 0 else "FAIL"
        print(f"{label:5s} eval: {wall:6.1f} s, peak RSS {rss:5.2f} GB, exit {rc}  "
              f"[{ok}: goal <= {t_goal:g} s, <= {m_goal:g} GB]")


if __name__ == "__main__":
    main()
