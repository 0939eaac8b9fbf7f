"""Throughput and peak memory of `prepare h36m --from videopose3d` at full Human3.6M size.

Generates a VideoPose3D-layout data_3d_h36m.npz in a temporary folder (7 subjects x 30 trials,
about 900k frames x 4 cameras = 3.6M poses, float32 world metres as in the real file), then
times the adapter (restricted unpickling, world -> camera, 32 -> 17, distortion projection,
canonical assembly) and the atomic write (npz + fingerprints). Printed as poses/s and as a
ratio against a reference measured in the same run: writing the same output arrays with plain
np.savez (the I/O floor). Peak RSS is read from the kernel (ru_maxrss).

    python benchmarks/prepare_h36m.py [--frames-per-trial 4300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from posebench.data.adapters.h36m_common import TRIAL_BASENAMES
from posebench.data.adapters.h36m_videopose3d import read_videopose3d
from posebench.data.dataset import write_dataset


def make_file(folder: Path, frames: int, seed: int = 0) -> int:
    """Write data_3d_h36m.npz with every real (subject, trial) name; returns frame count.

    Every joint moves on its own slow sinusoids (0.05-0.5 Hz at 50 fps, up to 0.2 m) around a
    random rest pose while the body drifts 0.5 m: root-centred poses vary from frame to frame,
    so the PSS k-means fits of an evaluation work on spread-out poses, not on one repeated
    pose (which k-means would fit in no time)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.3, (32, 3)).astype(np.float32) + np.float32([0, 0, 1.0])
    data: dict[str, dict[str, np.ndarray]] = {}
    total = 0
    for subject, action, suffix in sorted(TRIAL_BASENAMES):
        n = int(frames * rng.uniform(0.8, 1.2))
        t = np.arange(n, dtype=np.float32)[:, None, None] / 50.0
        freq = rng.uniform(0.05, 0.5, (1, 32, 3)).astype(np.float32)
        amp = rng.uniform(0.0, 0.2, (1, 32, 3)).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, (1, 32, 3)).astype(np.float32)
        motion = amp * np.sin(2 * np.pi * freq * t + phase)
        drift = np.linspace(0, 0.5, n, dtype=np.float32)[:, None, None]
        data.setdefault(subject, {})[f"{action} {suffix}".strip()] = base + motion + drift
        total += n
    np.savez(folder / "data_3d_h36m.npz", positions_3d=data)
    return total


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames-per-trial", type=int, default=4300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        frames = make_file(tmp, args.frames_per_trial)
        t_gen = time.perf_counter() - t0
        rss_gen = peak_rss_gb()
        t0 = time.perf_counter()
        prep = read_videopose3d(tmp)
        t_read = time.perf_counter() - t0
        poses = sum(len(d) for d in prep.splits.values())
        t0 = time.perf_counter()
        write_dataset(tmp / "out", prep.splits, kind="h36m", extra_meta=prep.meta)
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        for s, d in prep.splits.items():
            with open(tmp / f"ref_{s}.npz", "wb") as fh:
                np.savez(fh, poses_3d=d.poses_3d, poses_2d=d.poses_2d)
        t_ref = time.perf_counter() - t0
    total = t_read + t_write
    print(f"frames {frames}, poses {poses} (4 cameras); file generated in {t_gen:.1f} s "
          f"(peak RSS so far {rss_gen:.2f} GB)")
    print(f"adapter (unpickle + transform + project + assemble): {t_read:.1f} s, "
          f"{poses / t_read:,.0f} poses/s")
    print(f"write (npz + fingerprints, atomic): {t_write:.1f} s")
    print(f"prepare total: {total:.1f} s = {poses / total:,.0f} poses/s")
    print(f"ratio prepare / reference np.savez of the pose arrays ({t_ref:.1f} s): "
          f"{total / t_ref:.2f}x")
    print(f"peak RSS: {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
