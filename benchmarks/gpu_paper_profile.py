"""The `paper` profile's first training steps on a GPU: images/s (fp32, bf16) and resume check.

    python benchmarks/gpu_paper_profile.py --device cuda --out /tmp/gpu --json /tmp/gpu.json
    python benchmarks/gpu_paper_profile.py --device cpu --tiny --out /tmp/gpu-cpu   # check here

1. Generates a small synthetic benchmark at the profile's crop size (256 px) with the procedural
   renderer (posebench.synth; frames_per_action and textures kept small).
2. Trains the profile's model (ResNet-50, 256 px, 64^3 volume, Adam, batch 32, the paper's
   augmentation as `paper.toml` sets it) in fully-supervised mode for --steps steps, once in fp32
   and once under bf16 autocast; images/s is read from the trainer's log windows (data gather,
   augmentation, forward, backward and optimiser step included), the first window (warm-up:
   cuDNN autotuning, allocator growth) left out.
3. Kill-and-resume: a run of --resume-steps steps, and the same run stopped after half of them
   (as if killed, checkpoint on disk) and resumed; the final weights are compared. With
   deterministic algorithms (``torch.use_deterministic_algorithms(True)``, cuDNN deterministic,
   no TF32) the comparison is for bit-identity; the largest absolute difference is reported
   either way.

Writes a JSON report (--json, default OUT/gpu_paper_profile.json).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import platform
import statistics
import time
from pathlib import Path


def _windows(log: Path) -> list[float]:
    with open(log, newline="") as fh:
        return [float(r["images_per_s"]) for r in csv.DictReader(fh) if r["images_per_s"]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", required=True)
    ap.add_argument("--json", default=None)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--resume-steps", type=int, default=40)
    ap.add_argument("--frames-per-action", type=int, default=6)
    ap.add_argument("--tiny", action="store_true",
                    help="a tiny model at 32 px (a CPU check of the script, not a measurement)")
    args = ap.parse_args(argv)

    import torch

    from posebench.data.dataset import read_split
    from posebench.synth.build import SynthOptions, build
    from reference_models.epipolarpose.pipeline import load_profile, run_config
    from reference_models.epipolarpose.trainer import train

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"device": args.device, "steps": args.steps, "tiny": args.tiny,
                    "torch": torch.__version__, "python": platform.python_version()}
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda but torch sees no CUDA device")
        report["gpu"] = torch.cuda.get_device_name(0)
        report["cuda"] = torch.version.cuda
    prof = load_profile("paper")
    if args.tiny:
        prof["model"].update({"depth": 18, "width": 0.25, "image_size": 32, "depth_bins": 8,
                              "deconv_channels": 32})
        prof["threads"] = 2
    size = int(prof["model"]["image_size"])

    t0 = time.perf_counter()
    root = out / "data"
    if not (root / "meta.json").is_file():
        build(root, SynthOptions(frames_per_action=args.frames_per_action,
                                 train2d_frames_per_action=2, background_textures=8,
                                 image_size=size, name="synth256"))
    data = {"train": read_split(root, "train"), "test": read_split(root, "test")}
    report["data"] = {"image_size": size, "train_crops": len(data["train"]),
                      "seconds": time.perf_counter() - t0}
    print(f"data: {len(data['train'])} train crops at {size} px in "
          f"{report['data']['seconds']:.1f} s", flush=True)

    def config(steps: int, amp: str, ckpt_every: int) -> dict:
        optim = {**prof["train3d"]["optim"], "max_steps": steps, "lr_milestone_steps": [],
                 "epochs": 1e6}
        cfg = run_config(prof, "fully-supervised", optim, None, "", "synth256", args.device)
        cfg["run"].update({"eval_every": 0, "log_every": args.log_every,
                           "checkpoint_every": ckpt_every, "progress": False, "amp": amp})
        return cfg

    report["augment"] = prof.get("augment", {})
    report["model"] = prof["model"]
    speed = {}
    for amp in ("", "bf16"):
        name = amp or "fp32"
        cfg = config(args.steps, amp, 10 ** 9)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t1 = time.perf_counter()
        run = train(cfg, out / f"speed-{name}", datasets=data)
        wall = time.perf_counter() - t1
        w = _windows(run / "log.csv")
        steady = w[1:] or w
        speed[name] = {"images_per_s_median": statistics.median(steady),
                       "images_per_s_windows": w, "wall_s": wall,
                       "images": args.steps * int(cfg["optim"]["batch_size"])}
        if args.device.startswith("cuda"):
            speed[name]["peak_gpu_mem_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
        with open(run / "log.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        speed[name]["loss_first_last"] = [float(rows[0]["loss"]), float(rows[-1]["loss"])]
        print(name, json.dumps(speed[name]), flush=True)
    speed["bf16_over_fp32"] = (speed["bf16"]["images_per_s_median"]
                               / speed["fp32"]["images_per_s_median"])
    report["speed"] = speed
    path = Path(args.json) if args.json else out / "gpu_paper_profile.json"
    path.write_text(json.dumps(report, indent=2))  # the speed figures survive a failure below
    try:
        report["resume"] = _resume_check(args, config, data, out, train)
    except Exception as exc:  # report the failure with the figures already measured
        report["resume"] = {"error": f"{type(exc).__name__}: {exc}"}
    print("resume", json.dumps(report["resume"]), flush=True)
    report["total_s"] = time.perf_counter() - t0
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")
    return 0


def _resume_check(args, config, data, out: Path, train) -> dict:
    """Straight run vs the same run stopped half-way and resumed, deterministic algorithms."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    n = args.resume_steps
    cfg = config(n, "", max(1, n // 4))
    straight = train(copy.deepcopy(cfg), out / "resume-straight", datasets=data)
    train(copy.deepcopy(cfg), out / "resume-killed", datasets=data, stop_after=n // 2 + 1)
    resumed = train(copy.deepcopy(cfg), out / "resume-killed", datasets=data, resume=True)
    a = torch.load(straight / "checkpoint.pt", map_location="cpu", weights_only=True)
    b = torch.load(resumed / "checkpoint.pt", map_location="cpu", weights_only=True)
    diffs = [(a["model"][k].double() - b["model"][k].double()).abs().max().item()
             for k in a["model"] if a["model"][k].is_floating_point()]
    identical = all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    la = [r["loss"] for r in csv.DictReader(open(straight / "log.csv", newline=""))]
    lb = [r["loss"] for r in csv.DictReader(open(resumed / "log.csv", newline=""))]
    return {"steps": n, "stopped_after": n // 2 + 1, "bit_identical": identical,
            "max_abs_weight_diff": max(diffs), "log_losses_equal": la == lb,
            "deterministic_algorithms": True, "tf32": False}


if __name__ == "__main__":
    raise SystemExit(main())
