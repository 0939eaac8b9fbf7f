"""The full-size path a user runs: `posebench eval` on a generated full-size Human3.6M.

    python benchmarks/eval_fullsize.py [--frames-per-trial 4300] [--keep DIR] [--definition D]
                                       [--out benchmarks/results/eval_fullsize.json]

Builds the VideoPose3D-layout Human3.6M of benchmarks/prepare_h36m.py (about 2.6M training and
1.05M test poses under h36m-p1 at the default size) into a temporary POSEBENCH_HOME, writes
predictions = ground truth + 20 mm noise for protocol h36m-p1, and runs `posebench eval` twice
in fresh processes: the first fits (and caches) the PSS@50/@100 models, the second reuses
them. Prints wall time and peak resident memory of each (the child's own VmHWM, and the sum
over the child and the worker processes that fit the PSS members, sampled every 0.1 s: the
memory verdict uses the sum) beside the metrics-core time (pose_errors on the same arrays,
this process) and the goals (first eval <= 60 s and <= 3 GB; later evals <= 4 s and
<= 1.5 GB). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GOALS = {"first": (60.0, 3.0), "later": (4.0, 1.5)}


#: Runs `posebench.cli` and, at exit, writes the process's VmHWM (kB) to $PB_HWM_FILE. The
#: kernel's ru_maxrss of a child cannot serve: Linux carries the parent's resident size at
#: fork across exec into it (this script holds ~3.5 GB while it prepares the arrays: every
#: child read 3.55 GB); VmHWM belongs to the memory map exec creates, the child's own.
_CHILD = """
import atexit, os, runpy, sys
def _hwm():
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
    with open(os.environ["PB_HWM_FILE"], "w") as f:
        f.write(str(kb))
atexit.register(_hwm)
sys.argv = ["posebench", *sys.argv[1:]]
runpy.run_module("posebench.cli", run_name="__main__", alter_sys=True)
"""


def _tree_rss_gb(pid: int) -> float:
    """Sum of the resident sizes (GB) of process `pid` and all its descendants (the PSS fit's
    worker processes): an upper bound of their memory (shared pages count in each)."""
    parent, rss = {}, {}
    page = os.sysconf("SC_PAGE_SIZE")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{d}/statm") as f:
                rss[int(d)] = int(f.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue  # the process ended while being read
        parent[int(d)] = int(fields[1])
    tree, grew = {pid}, True
    while grew:
        new = {c for c, pp in parent.items() if pp in tree and c not in tree}
        tree |= new
        grew = bool(new)
    return sum(rss.get(q, 0) for q in tree) / 1024**3


def run_eval(args: list[str], env: dict) -> tuple[float, float, float, int]:
    """(wall s, peak resident GB of the child itself (VmHWM), peak summed resident GB of the
    child and its worker processes (sampled every 0.1 s), exit code) of one `posebench eval`
    child process."""
    with tempfile.TemporaryDirectory() as tmp:
        hwm = Path(tmp) / "hwm"
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, *args],
                                env={**env, "PB_HWM_FILE": str(hwm)}, stdout=subprocess.DEVNULL)
        tree = 0.0
        while proc.poll() is None:
            tree = max(tree, _tree_rss_gb(proc.pid))
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        peak = int(hwm.read_text()) / 1024**2 if hwm.is_file() else float("nan")
    return wall, peak, max(tree, peak), proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames-per-trial", type=int, default=4300)
    ap.add_argument("--keep", default=None, help="POSEBENCH_HOME to reuse / keep")
    ap.add_argument("--definition", default="ensemble", choices=["ensemble", "paper"])
    ap.add_argument("--out", default=None, help="also write the figures as JSON here (e.g. "
                    "benchmarks/results/eval_fullsize.json)")
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
    runs = []
    for label in ("first", "later", "later"):
        load = os.getloadavg()[0]
        wall, rss, tree, rc = run_eval(cmd, env)
        t_goal, m_goal = GOALS[label]
        t_ok, m_ok = wall <= t_goal and rc == 0, tree <= m_goal and rc == 0
        verdict = {True: "PASS", False: "FAIL"}
        print(f"{label:5s} eval: {wall:6.1f} s, peak RSS {rss:5.2f} GB (with its worker "
              f"processes {tree:5.2f} GB), exit {rc}  "
              f"[time {verdict[t_ok]}: goal <= {t_goal:g} s; memory {verdict[m_ok]}: goal "
              f"<= {m_goal:g} GB]  (load average before: {load:.2f})")
        runs.append({"run": label, "wall_s": round(wall, 1), "peak_rss_gb": round(rss, 2),
                     "peak_tree_gb": round(tree, 2),
                     "exit": rc, "goal_s": t_goal, "goal_gb": m_goal, "time_pass": t_ok,
                     "memory_pass": m_ok, "load_average_before": round(load, 2)})
    if args.out:
        out = {"train_poses": n_train, "test_poses": int(len(rows)),
               "definition": args.definition, "metrics_core_s": round(t_core, 2),
               "cpus": os.cpu_count(), "runs": runs}
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
