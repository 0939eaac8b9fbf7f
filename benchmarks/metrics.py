"""Benchmark: posebench metrics on 550,000 poses x 17 joints against their definition
`posebench.metrics.reference.p_mpjpe` (plain batched SVD, VideoPose3D-style), in the same run.

    python benchmarks/metrics.py [--n 550000] [--repeat 3]

Prints the P-MPJPE values of both implementations, their largest per-pose difference, the speed
ratio, the time of the whole default suite (MPJPE, P-MPJPE, N-MPJPE x2, PCK@150, AUC, PSS@50,
PSS@100 scoring with models fitted beforehand) and its peak extra memory, with PASS/FAIL per
target. Timings are the best of --repeat runs (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

import numpy as np
from tabulate import tabulate

from posebench import metrics as pm
from posebench import parallel
from posebench.metrics import reference
from posebench.metrics.errors import pose_errors
from posebench.metrics.pss import scores as pss_scores

TARGET_RATIO = 5.0
TARGET_MAX_DIFF_MM = 1e-6
TARGET_SUITE_S = 1.5
TARGET_PEAK_MB = 1024.0


def quaternion_rotations(q: np.ndarray) -> np.ndarray:
    """Row-convention rotation matrices (N, 3, 3) of unit quaternions (N, 4) (w, x, y, z)."""
    w, x, y, z = q.T
    rows = [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]
    return np.stack(rows, axis=1).reshape(-1, 3, 3)


def random_rotations(rng: np.random.Generator, n: int, max_angle: float | None = None):
    """Uniform random rotations, or rotations by up to `max_angle` radians about random axes."""
    if max_angle is None:
        q = rng.normal(size=(n, 4))
        return quaternion_rotations(q / np.linalg.norm(q, axis=1, keepdims=True))
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    half = rng.uniform(0, max_angle, size=(n, 1)) / 2
    return quaternion_rotations(np.hstack([np.cos(half), np.sin(half) * axis]))


def make_poses(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, realistic-ish (N, 17, 3) mm: a Human3.6M-sized template with per-joint variation,
    randomly oriented, 3-6 m in front of a camera; predictions = ground truth rotated by up to
    15 degrees about its centroid, rescaled by +-10%, shifted and with 30 mm joint noise."""
    rng = np.random.default_rng(seed)
    template = np.array([
        [0, 0, 0], [-130, 0, 0], [-130, 450, 0], [-130, 880, 0], [130, 0, 0], [130, 450, 0],
        [130, 880, 0], [0, -230, 0], [0, -480, 0], [0, -570, -20], [0, -680, 0], [160, -480, 0],
        [160, -200, 0], [160, 50, 0], [-160, -480, 0], [-160, -200, 0], [-160, 50, 0]], float)
    gt = template + rng.normal(scale=80.0, size=(n, 17, 3))
    gt = np.matmul(gt, random_rotations(rng, n))
    gt += np.array([0.0, 0.0, 4500.0]) + rng.uniform(-1500, 1500, size=(n, 1, 3))
    centre = gt.mean(axis=1, keepdims=True)
    pred = np.matmul(gt - centre, random_rotations(rng, n, np.radians(15.0)))
    pred = pred * rng.uniform(0.9, 1.1, size=(n, 1, 1)) + centre
    pred += rng.normal(scale=30.0, size=pred.shape) + rng.normal(scale=50.0, size=(n, 1, 3))
    return pred, gt


CPU_TIMES: dict[int, float] = {}  # id(fn) -> best process CPU time of the last best_time


def best_time(fn, repeat: int):
    """Best wall time of `repeat` runs (and the best CPU time, in CPU_TIMES[id(fn)])."""
    best, best_cpu, out = np.inf, np.inf, None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    CPU_TIMES[id(fn)] = best_cpu
    return best, out


def suite(pred, gt, pss50, pss100) -> dict:
    """The default suite, one public call per metric."""
    return {
        "MPJPE": pm.aggregate(pm.mpjpe(pred, gt, root=0)),
        "P-MPJPE": pm.aggregate(pm.p_mpjpe(pred, gt)),
        "N-MPJPE (least squares)": pm.aggregate(pm.n_mpjpe(pred, gt, "least_squares")),
        "N-MPJPE (procrustes)": pm.aggregate(pm.n_mpjpe(pred, gt, "procrustes")),
        "PCK@150": pm.aggregate(pm.pck(pred, gt, 150.0, root=0)),
        "AUC": pm.aggregate(pm.auc(pred, gt, root=0)),
        "PSS@50": pss50.score(pred, gt),
        "PSS@100": pss100.score(pred, gt),
    }


def fused_suite(pred, gt, pss50, pss100) -> dict:
    """The same numbers from `pose_errors` (one pass) and `pss.scores` (both models at once)."""
    per_pose = pose_errors(pred, gt, root=0)
    s50, s100 = pss_scores([pss50, pss100], pred, gt)
    names = {"mpjpe": "MPJPE", "p_mpjpe": "P-MPJPE", "n_mpjpe": "N-MPJPE (least squares)",
             "n_mpjpe_procrustes": "N-MPJPE (procrustes)", "pck": "PCK@150", "auc": "AUC"}
    out = {names[k]: pm.aggregate(v) for k, v in per_pose.items()}
    out.update({"PSS@50": s50, "PSS@100": s100})
    return out


def peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=550_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="metric threads (0: default)")
    args = ap.parse_args()
    if args.threads:
        parallel.set_num_threads(args.threads)
    t0 = time.perf_counter()
    pred, gt = make_poses(args.n)
    print(f"data: {args.n:,} poses x 17 joints, float64 mm ({time.perf_counter() - t0:.1f} s)")

    t_ref, ref = best_time(lambda: reference.p_mpjpe(pred, gt), max(1, args.repeat - 1))
    t_ours, ours = best_time(lambda: pm.p_mpjpe(pred, gt), args.repeat)
    diff = float(np.abs(ours - ref).max())
    ratio = t_ref / t_ours

    train = make_poses(100_000, seed=2)[1]
    t0 = time.perf_counter()
    pss50 = pm.PoseStructureScore(k=50, seed=0).fit(train)
    pss100 = pm.PoseStructureScore(k=100, seed=0).fit(train)
    t_fit = time.perf_counter() - t0

    def run_suite():
        return suite(pred, gt, pss50, pss100)

    def run_fused():
        return fused_suite(pred, gt, pss50, pss100)

    t_suite, values = best_time(run_suite, args.repeat)
    cpu_suite = CPU_TIMES[id(run_suite)]
    t_fused, fused = best_time(run_fused, args.repeat)
    cpu_fused = CPU_TIMES[id(run_fused)]
    fused_diff = max(abs(values[k] - fused[k]) for k in values)
    parts = {}
    for name, fn in [("mpjpe", lambda: pm.mpjpe(pred, gt, root=0)),
                     ("p_mpjpe", lambda: pm.p_mpjpe(pred, gt)),
                     ("n_mpjpe least_squares", lambda: pm.n_mpjpe(pred, gt, "least_squares")),
                     ("n_mpjpe procrustes", lambda: pm.n_mpjpe(pred, gt, "procrustes")),
                     ("pck", lambda: pm.pck(pred, gt, root=0)),
                     ("auc", lambda: pm.auc(pred, gt, root=0)),
                     ("PSS@50 score", lambda: pss50.score(pred, gt)),
                     ("PSS@100 score", lambda: pss100.score(pred, gt)),
                     ("pose_errors (6 metrics)", lambda: pose_errors(pred, gt, root=0)),
                     ("pss.scores (@50+@100)", lambda: pss_scores([pss50, pss100], pred, gt))]:
        parts[name] = best_time(fn, args.repeat)[0]

    peak_suite = peak_mb(lambda: suite(pred, gt, pss50, pss100))
    peak_fused = peak_mb(lambda: fused_suite(pred, gt, pss50, pss100))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {load:.1f} at the end (a load above "
          "the CPU count means other work shared these cores: wall times are pessimistic)")
    print(f"P-MPJPE mean: posebench {ours.mean():.9f} mm, reference (batched SVD) "
          f"{ref.mean():.9f} mm")
    print("\nsuite values: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
    print(f"fused suite: same values, max |difference| {fused_diff:.1e}")
    print("parts (s): " + ", ".join(f"{k} {v:.3f}" for k, v in parts.items()))
    print(f"PSS fitting (excluded; 2 models on 100,000 poses): {t_fit:.1f} s; "
          f"metric threads: {parallel.num_threads()}")

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    rows = [
        ["P-MPJPE time, reference batched SVD", f"{t_ref:.3f} s", "", ""],
        ["P-MPJPE time, posebench", f"{t_ours:.3f} s", "", ""],
        ["P-MPJPE speed-up", f"{ratio:.1f}x", f">= {TARGET_RATIO:.0f}x",
         verdict(ratio >= TARGET_RATIO)],
        ["P-MPJPE max |difference| per pose", f"{diff:.2e} mm", f"<= {TARGET_MAX_DIFF_MM:g} mm",
         verdict(diff <= TARGET_MAX_DIFF_MM)],
        ["default suite as posebench.evaluate runs it", f"{t_fused:.3f} s",
         f"<= {TARGET_SUITE_S} s", verdict(t_fused <= TARGET_SUITE_S)],
        ["  (fused: pose_errors + pss.scores; process CPU time)", f"{cpu_fused:.3f} s", "", ""],
        ["default suite, one public call per metric (info)", f"{t_suite:.3f} s", "", ""],
        ["  (its process CPU time, all threads)", f"{cpu_suite:.3f} s", "", ""],
        ["  (its process CPU time, all threads)", f"{cpu_fused:.3f} s", "", ""],
        ["peak extra memory, one call per metric", f"{peak_suite:.0f} MB",
         f"<= {TARGET_PEAK_MB:.0f} MB", verdict(peak_suite <= TARGET_PEAK_MB)],
        ["peak extra memory, fused", f"{peak_fused:.0f} MB", f"<= {TARGET_PEAK_MB:.0f} MB",
         verdict(peak_fused <= TARGET_PEAK_MB)],
    ]
    print()
    print(tabulate(rows, headers=["measure", "value", "target", "result"]))


if __name__ == "__main__":
    main()
