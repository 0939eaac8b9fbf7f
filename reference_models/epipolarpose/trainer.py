"""Training loop for every EpipolarPose mode, seeded, resumable and DDP-ready.

Modes (``config["mode"]``):
  ``pretrain-2d``            2D labels only (z has no label), split ``data.pretrain_split`` of
                             ``data.pretrain_dataset`` (default: ``data.dataset``; e.g. "mpii"
                             prepared by ``posebench data prepare mpii`` at the model's size);
  ``fully-supervised``       3D ground truth of ``data.train_split``;
  ``self-supervised``        pseudo-labels from the frozen 2D branch (``init_checkpoint``) and
                             the geometry core, ``pseudo.mode`` = per-frame | pooled | known;
  ``self-supervised-2dgt``   pseudo-labels triangulated from ground-truth 2D.

The frozen lower branch sees the same unaugmented crops at every epoch, so its pseudo-labels are
computed once before training and cached in the run folder (``pseudo_labels.npz``): exactly the
targets an online frozen branch would give.

Augmentation (``[augment]``, `augment.AugmentConfig`; off by default): the paper's scale,
rotation, flip and colour augmentation applied on the fly to crops and targets alike (see
`augment` for the official rule and the multi-view pairing rule); ``run.amp = "bf16"`` runs the
forward pass under bfloat16 autocast (loss in fp32).

Determinism and resume: the model is built under ``torch.manual_seed(seed)``; epoch e visits the
samples in the permutation of a ``torch.Generator`` seeded with ``seed * 1_000_003 + e``; the
learning rate is a pure function of the step. A checkpoint (written atomically every
``run.checkpoint_every`` steps and at the end) holds weights, optimiser state, the step, every
RNG state and the open loss-averaging window, so ``resume=True`` continues to the same final
weights as an uninterrupted run. ``log.csv`` rows past the checkpoint are dropped on resume.

DDP: under ``torchrun`` (WORLD_SIZE > 1) each rank takes every world-th sample of the global
batch (``optim.batch_size`` is the global batch) and gradients are averaged (gloo on CPU, nccl on
CUDA); rank 0 validates, logs and checkpoints.

Usage: ``python -m reference_models.epipolarpose.trainer CONFIG.toml OUT_DIR [--resume]``
(or ``torchrun --nproc_per_node 2 -m reference_models.epipolarpose.trainer ...``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, packaged
    import tomli as tomllib

from posebench.data.registry import load_dataset
from posebench.errors import InputError
from posebench.io import atomic_path, savez_atomic
from posebench.skeletons import get_skeleton
from reference_models.epipolarpose.augment import (
    AugmentConfig,
    sample_params,
    step_generator,
    take_params,
)
from reference_models.epipolarpose.data import TensorSamples, gt_targets, require_crops
from reference_models.epipolarpose.evaluate import (
    normalised_to_full_px,
    predict_2d_full_px,
    predict_normalised,
    root_centred_mpjpe,
    root_index,
    to_camera_mm,
)
from reference_models.epipolarpose.losses import masked_pose_loss
from reference_models.epipolarpose.model import ModelConfig, build_model
from reference_models.epipolarpose.pseudo import pseudo_label_cache_key, pseudo_label_targets

MODES = ("pretrain-2d", "fully-supervised", "self-supervised", "self-supervised-2dgt")

DEFAULTS: dict = {
    "mode": "fully-supervised",
    "seed": 0,
    "device": "cpu",
    "threads": 2,
    "init_checkpoint": "",
    "data": {"dataset": "synth", "train_split": "train", "pretrain_split": "train2d",
             "pretrain_dataset": "", "val_split": "test", "val_samples": 512},
    "model": ModelConfig().to_dict(),
    "optim": {"lr": 1e-3, "batch_size": 32, "epochs": 140.0, "lr_milestones": [90, 120],
              "lr_gamma": 0.1, "lr_milestone_steps": [], "loss": "smooth_l1",
              "smooth_l1_beta": 0.02, "max_steps": 0},
    "pseudo": {"mode": "pooled", "batch_size": 256},
    "run": {"checkpoint_every": 500, "log_every": 50, "eval_every": 1000, "progress": True,
            "amp": ""},
    "augment": AugmentConfig().to_dict(),
}


# ------------------------------------------------------------------------------ config
def merge(base: dict, override: dict) -> dict:
    """Recursive dict merge (override wins); neither input is modified."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(path: str | Path) -> dict:
    """A TOML run config merged over `DEFAULTS`."""
    with open(path, "rb") as fh:
        return merge(DEFAULTS, tomllib.load(fh))


def lr_at(step: int, steps_per_epoch: int, optim: dict) -> float:
    """Learning rate at a step: lr * gamma^(milestones passed); milestones in steps
    (``lr_milestone_steps``, when given) or else in epochs (``lr_milestones``)."""
    if optim.get("lr_milestone_steps"):
        passed = sum(step >= m for m in optim["lr_milestone_steps"])
    else:
        epoch = step / max(steps_per_epoch, 1)
        passed = sum(epoch >= m for m in optim["lr_milestones"])
    return optim["lr"] * optim["lr_gamma"] ** passed


# ------------------------------------------------------------------------------ distributed
def _dist_setup(device: str) -> tuple[int, int]:
    """(rank, world_size); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist  # lazy: only under torchrun

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist  # lazy: only under torchrun

        dist.barrier()


# ------------------------------------------------------------------------------ data
def _load_split(cfg: dict, split: str, datasets: dict | None):
    if datasets is not None and split in datasets:
        return datasets[split]
    return load_dataset(cfg["data"]["dataset"], split)


def pretrain_dataset_name(cfg: dict) -> str:
    """The dataset 2D pre-training reads: ``data.pretrain_dataset`` or else ``data.dataset``."""
    return cfg["data"].get("pretrain_dataset") or cfg["data"]["dataset"]


def _load_pretrain_split(cfg: dict, datasets: dict | None):
    """``data.pretrain_split`` of the pre-training dataset. With the run's own dataset this is
    `_load_split`; another one (e.g. "mpii") comes from ``datasets["<name>:<split>"]`` when
    injected, else from the registry, and its crops must have the model's input size."""
    split, name = cfg["data"]["pretrain_split"], pretrain_dataset_name(cfg)
    if name == cfg["data"]["dataset"]:
        return _load_split(cfg, split, datasets)
    if datasets is not None and f"{name}:{split}" in datasets:
        ds = datasets[f"{name}:{split}"]
    else:
        ds = load_dataset(name, split)
    size = int(cfg["model"]["image_size"])
    if ds.images is not None and ds.images.shape[1] != size:
        raise InputError(f"pre-training dataset '{name}' has {ds.images.shape[1]} px crops, "
                         f"expected the model's {size} px; prepare it again with "
                         f"--image-size {size}.")
    return ds


def training_targets(cfg: dict, out_dir: Path, datasets: dict | None, rank: int,
                     world: int):
    """(dataset, targets (N, J, 3) normalised, NaN = no label) for the run's mode."""
    mode, size = cfg["mode"], cfg["model"]["image_size"]
    if mode == "pretrain-2d":
        ds = _load_pretrain_split(cfg, datasets)
        t = gt_targets(ds, size, root_index(ds))
        t[..., 2] = np.nan
        return ds, t
    ds = _load_split(cfg, cfg["data"]["train_split"], datasets)
    if mode == "fully-supervised":
        return ds, gt_targets(ds, size, root_index(ds))
    cache = out_dir / "pseudo_labels.npz"
    key = pseudo_label_cache_key(cfg, ds)
    if rank == 0 and not _cache_matches(cache, key):
        if mode == "self-supervised":
            if not cfg["init_checkpoint"]:
                raise ValueError("self-supervised training needs init_checkpoint (the 2D model)")
            uv = predict_2d_full_px(cfg["init_checkpoint"], ds, cfg["pseudo"]["batch_size"],
                                    cfg["device"])
        else:
            uv = ds.poses_2d
        targets, ok = pseudo_label_targets(ds, uv, cfg["pseudo"]["mode"], size)
        savez_atomic(cache, targets=targets, ok=ok, uv=uv, cache_key=np.array(key))
    _barrier(world)
    with np.load(cache, allow_pickle=False) as z:
        return ds, z["targets"]


def _cache_matches(cache: Path, key: str) -> bool:
    """True when `cache` exists and was computed for exactly `key` (older caches without a
    key, or with another one, are recomputed)."""
    if not cache.is_file():
        return False
    with np.load(cache, allow_pickle=False) as z:
        return "cache_key" in z.files and str(z["cache_key"]) == key


def validation_subset(ds, n: int, seed: int):
    if n <= 0 or n >= len(ds):
        return ds
    idx = np.sort(np.random.default_rng(seed).choice(len(ds), n, replace=False))
    return ds.take(idx)


def validate(model, val_ds, cfg: dict) -> tuple[str, float]:
    """('val_mpjpe_mm', value) for 3D modes, ('val_2d_px', value) for 2D pre-training."""
    size = cfg["model"]["image_size"]
    pred = predict_normalised(model, val_ds.images, 256, cfg["device"])
    if cfg["mode"] == "pretrain-2d" or not val_ds.has_3d:
        uv = normalised_to_full_px(pred, val_ds.crop_affine, size)
        return "val_2d_px", float(np.linalg.norm(uv - val_ds.poses_2d, axis=-1).mean())
    mm = to_camera_mm(pred, val_ds, size)
    return "val_mpjpe_mm", root_centred_mpjpe(mm, val_ds.poses_3d, root_index(val_ds))


# ------------------------------------------------------------------------------ checkpoints
def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save to a temporary file in the same folder, then an atomic rename."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def _set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    random.setstate(s["python"])


LOG_FIELDS = ["step", "epoch", "lr", "loss", "val_metric", "val_value", "images_per_s",
              "elapsed_s"]


def _trim_log(path: Path, last_step: int) -> None:
    """Keep header + rows with step <= last_step (a resumed run rewrites what follows)."""
    if not path.is_file():
        return
    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= last_step]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, LOG_FIELDS)
        w.writeheader()
        w.writerows(rows)


# ------------------------------------------------------------------------------ train
@dataclass
class Run:
    """One training run's state: config, process group, data, network, schedule and position
    (the global `step` and the open loss-averaging `window` [sum, count])."""

    cfg: dict
    device: str
    rank: int
    world: int
    out: Path
    samples: Any = None
    aug: Any = None
    flip_perm: Any = None
    amp: str = ""
    val_ds: Any = None
    model: Any = None
    net: Any = None
    opt: Any = None
    batch: int = 0
    steps_per_epoch: int = 1
    total: int = 0
    step: int = 0
    window: list = field(default_factory=lambda: [0.0, 0])

    @property
    def ckpt_path(self) -> Path:
        return self.out / "checkpoint.pt"

    @property
    def log_path(self) -> Path:
        return self.out / "log.csv"


def train(config: dict | str | Path, out_dir: str | Path, resume: bool = False, *,
          datasets: dict | None = None, stop_after: int | None = None) -> Path:
    """Train one model; returns the run folder (``checkpoint.pt``, ``log.csv``, ``config.toml``).

    config: a run config (dict merged over DEFAULTS, or a TOML path); resume: continue from
    ``out_dir/checkpoint.pt`` if present; datasets: {split: PoseDataset} to use instead of the
    registry (tests); stop_after: stop (with a checkpoint) once this global step is reached,
    as if the process had been killed there.
    """
    run = start_run(config, out_dir)
    load_training_data(run, datasets)
    build_network(run)
    plan_schedule(run)
    restore_or_restart(run, resume)
    run_steps(run, stop_after)
    if run.total == 0:
        save_run_checkpoint(run, 0)
    _barrier(run.world)
    return run.out


def start_run(config: dict | str | Path, out_dir: str | Path) -> Run:
    """Config merged and checked; threads, process group and device set; run folder created
    (rank 0 writes ``config.toml``)."""
    cfg = load_config(config) if isinstance(config, str | Path) else merge(DEFAULTS, config)
    if cfg["mode"] not in MODES:
        raise ValueError(f"unknown mode {cfg['mode']!r}; expected one of {', '.join(MODES)}")
    device = cfg["device"]
    torch.set_num_threads(int(cfg["threads"]))
    rank, world = _dist_setup(device)
    if device.startswith("cuda") and world > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        torch.cuda.set_device(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        _write_config(out / "config.toml", cfg)
    return Run(cfg, device, rank, world, out)


def load_training_data(run: Run, datasets: dict | None) -> None:
    """Training samples and targets for the mode, augmentation, and (rank 0, when
    ``run.eval_every``) the validation subset."""
    cfg = run.cfg
    ds, targets = training_targets(cfg, run.out, datasets, run.rank, run.world)
    require_crops(ds)
    run.samples = TensorSamples(ds.images, targets)
    run.aug = AugmentConfig.from_dict(cfg["augment"])
    run.flip_perm = get_skeleton(ds.skeleton).flip_permutation()
    run.amp = str(cfg["run"].get("amp", "") or "")
    if run.amp not in ("", "bf16"):
        raise ValueError(f"unknown run.amp {run.amp!r}; expected '' (fp32) or 'bf16'")
    if run.rank == 0 and cfg["run"]["eval_every"] > 0:
        run.val_ds = validation_subset(_load_split(cfg, cfg["data"]["val_split"], datasets),
                                       cfg["data"]["val_samples"], cfg["seed"])


def build_network(run: Run) -> None:
    """The model built under ``torch.manual_seed(seed)`` (then ``init_checkpoint``'s weights
    for 3D modes), Adam, and the DDP wrapper under torchrun."""
    cfg = run.cfg
    torch.manual_seed(cfg["seed"])
    run.model = build_model(cfg["model"])
    if cfg["mode"] != "pretrain-2d" and cfg["init_checkpoint"]:
        init = torch.load(Path(cfg["init_checkpoint"]), map_location="cpu", weights_only=True)
        run.model.load_state_dict(init["model"])
    run.model.to(run.device)
    run.opt = torch.optim.Adam(run.model.parameters(), lr=cfg["optim"]["lr"])
    run.net = run.model
    if run.world > 1:
        from torch.nn.parallel import DistributedDataParallel  # lazy: only under torchrun

        run.net = DistributedDataParallel(run.model, device_ids=[run.device]
                                          if run.device != "cpu" else None)


def plan_schedule(run: Run) -> None:
    """Global batch, steps per epoch and total steps (``epochs``, capped by ``max_steps``)."""
    o = run.cfg["optim"]
    run.batch = int(o["batch_size"])
    if run.batch % run.world:
        raise ValueError(f"batch_size {run.batch} must be divisible by the {run.world} processes")
    run.steps_per_epoch = max(1, len(run.samples) // run.batch)
    run.total = int(round(o["epochs"] * run.steps_per_epoch))
    if o["max_steps"]:
        run.total = min(run.total, int(o["max_steps"]))


def restore_or_restart(run: Run, resume: bool) -> None:
    """With `resume` and a checkpoint: weights, optimiser, step, loss window and every RNG
    state restored, and log rows past the step dropped; otherwise a fresh ``log.csv``."""
    if resume and run.ckpt_path.is_file():
        state = torch.load(run.ckpt_path, map_location="cpu", weights_only=True)
        run.model.load_state_dict(state["model"])
        run.opt.load_state_dict(state["optimizer"])
        run.step, run.window = state["step"], state["loss_window"]
        _set_rng_state(state["rng"])
        if run.rank == 0:
            _trim_log(run.log_path, run.step)
    elif run.rank == 0 and run.log_path.exists():
        run.log_path.unlink()


def save_run_checkpoint(run: Run, at: int) -> None:
    """Rank 0 writes the checkpoint of step `at` (what `restore_or_restart` reads)."""
    if run.rank == 0:
        save_checkpoint(run.ckpt_path, {
            "model": run.model.state_dict(), "optimizer": run.opt.state_dict(), "step": at,
            "total_steps": run.total, "loss_window": list(run.window), "rng": _rng_state(),
            "model_config": dict(run.cfg["model"]), "mode": run.cfg["mode"],
            "config": run.cfg})


def epoch_order(run: Run, epoch: int) -> torch.Tensor:
    """The permutation epoch `epoch` visits the samples in (seeded by seed and epoch)."""
    g = torch.Generator().manual_seed(run.cfg["seed"] * 1_000_003 + epoch)
    return torch.randperm(len(run.samples), generator=g)


def optimiser_step(run: Run, order: torch.Tensor) -> tuple[torch.Tensor, float, int]:
    """One step on this rank's share of the global batch at `run.step`; advances the step and
    the loss window; (loss averaged over ranks, learning rate, samples seen by all ranks)."""
    cfg, o, step = run.cfg, run.cfg["optim"], run.step
    b = step % run.steps_per_epoch
    global_idx = order[b * run.batch:(b + 1) * run.batch]
    idx = global_idx[run.rank::run.world].numpy()
    params = None
    if run.aug.enabled:  # drawn for the global batch: every rank and a resumed run agree
        params = take_params(sample_params(run.aug, len(global_idx),
                                           step_generator(cfg["seed"], step)),
                             slice(run.rank, None, run.world))
    images, tgt, w = run.samples.batch(idx, run.device, params, run.flip_perm)
    lr = lr_at(step, run.steps_per_epoch, o)
    for group in run.opt.param_groups:
        group["lr"] = lr
    with torch.autocast(device_type=torch.device(run.device).type, dtype=torch.bfloat16,
                        enabled=run.amp == "bf16"):
        pred = run.net(images)
    loss = masked_pose_loss(pred.float(), tgt, w, o["loss"], o["smooth_l1_beta"])
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    run.step += 1
    loss_value = loss.detach()
    if run.world > 1:  # log the mean over ranks (what a single process would see)
        import torch.distributed as dist  # lazy: only under torchrun

        dist.all_reduce(loss_value)
        loss_value = loss_value / run.world
    run.window[0] += float(loss_value)
    run.window[1] += 1
    return loss_value, lr, len(idx) * run.world


def run_steps(run: Run, stop_after: int | None) -> None:
    """Steps from `run.step` to `run.total` (or `stop_after`): log every ``run.log_every``,
    validate every ``run.eval_every``, checkpoint every ``run.checkpoint_every`` and at the
    end."""
    r = run.cfg["run"]
    progress = _progress_bar(run)
    meter = _Throughput()
    run.net.train()
    order, order_epoch = None, -1
    while run.step < run.total:
        epoch = run.step // run.steps_per_epoch
        if epoch != order_epoch:
            order, order_epoch = epoch_order(run, epoch), epoch
        loss_value, lr, seen = optimiser_step(run, order)
        meter.seen += seen
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{float(loss_value):.4f}")
        step, end = run.step, run.step == run.total
        row = None
        if step % r["log_every"] == 0 or end:
            row = meter.row(run, lr)
        if run.val_ds is not None and (step % r["eval_every"] == 0 or end):
            row = row or {"step": step, "epoch": f"{step / run.steps_per_epoch:.3f}", "lr": lr,
                          "loss": "", "images_per_s": "", "elapsed_s": ""}
            row["val_metric"], row["val_value"] = validate(run.model, run.val_ds, run.cfg)
        if row is not None and run.rank == 0:
            _append_log(run.log_path, row)
        if step % r["checkpoint_every"] == 0 or end or step == stop_after:
            save_run_checkpoint(run, step)
        if stop_after is not None and step >= stop_after:
            break
    if progress is not None:
        progress.close()


class _Throughput:
    """Images per second and elapsed time for the log rows."""

    def __init__(self):
        self.t0 = self.t_window = time.perf_counter()
        self.seen = 0

    def row(self, run: Run, lr: float) -> dict:
        """A log row closing the loss window (which restarts, as the throughput window)."""
        now = time.perf_counter()
        row = {"step": run.step, "epoch": f"{run.step / run.steps_per_epoch:.3f}", "lr": lr,
               "loss": run.window[0] / max(run.window[1], 1), "val_metric": "", "val_value": "",
               "images_per_s": f"{self.seen / max(now - self.t_window, 1e-9):.1f}",
               "elapsed_s": f"{now - self.t0:.1f}"}
        run.window, self.seen, self.t_window = [0.0, 0], 0, now
        return row


def _progress_bar(run: Run):
    """A tqdm bar on rank 0 when ``run.progress`` and stderr is a terminal, else None."""
    if run.rank == 0 and run.cfg["run"]["progress"] and sys.stderr.isatty():
        from tqdm import tqdm  # lazy: optional, only on a terminal

        return tqdm(total=run.total, initial=run.step, desc=run.cfg["mode"], unit="step")
    return None


def _append_log(path: Path, row: dict) -> None:
    """Append `row` to ``log.csv`` (header first when the file is new)."""
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        wr = csv.DictWriter(fh, LOG_FIELDS)
        if new:
            wr.writeheader()
        wr.writerow(row)


def _write_config(path: Path, cfg: dict) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(dump_toml(cfg))


def dump_toml(cfg: dict) -> str:
    """Minimal TOML writer for run configs (tables of scalars and lists)."""
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list | tuple):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, float) and not math.isfinite(v):
            return "nan"
        return repr(v)

    head = [f"{k} = {val(v)}" for k, v in cfg.items() if not isinstance(v, dict)]
    tables = [f"\n[{k}]\n" + "\n".join(f"{kk} = {val(vv)}" for kk, vv in v.items())
              for k, v in cfg.items() if isinstance(v, dict)]
    return "\n".join(head) + "\n" + "\n".join(tables) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train one EpipolarPose model from a TOML config.")
    ap.add_argument("config")
    ap.add_argument("out_dir")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    train(args.config, args.out_dir, resume=args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
