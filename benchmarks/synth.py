"""Generation speed of the default synthetic benchmark (`posebench data synth` defaults).

Prints crops per second and the total generation time; the target is <= 120 s for the default
(order of 50k multi-view crops at 64x64 plus the 2D-only set) on a 2-core machine. A reference
measured in the same run (poses + 2D labels only, `--no-images`) shows what rendering costs.

    python benchmarks/synth.py [--frames-per-action 200] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from posebench.synth.build import SynthOptions, build


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames-per-action", type=int, default=SynthOptions.frames_per_action)
    ap.add_argument("--out", default=None, help="folder to keep the dataset in (default: temp)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        t0 = time.perf_counter()
        build(root / "synth_noimg", SynthOptions(frames_per_action=args.frames_per_action,
                                                 images=False))
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        build(root / "synth", SynthOptions(frames_per_action=args.frames_per_action))
        total = time.perf_counter() - t0
        meta = json.loads((root / "synth" / "meta.json").read_text())
        crops = sum(s["num_samples"] for s in meta["splits"].values())
        per_split = {k: v["num_samples"] for k, v in meta["splits"].items()}
    print(f"crops: {crops} {per_split} at 64x64")
    print(f"poses + labels only (reference): {t_ref:.1f} s")
    print(f"full generation with images:     {total:.1f} s  (target <= 120 s; "
          f"ratio to target {total / 120.0:.2f})")
    print(f"crops per second: {crops / total:.0f}  (rendering is {total / max(t_ref, 1e-9):.1f}x "
          "the pose-only reference)")


if __name__ == "__main__":
    main()
