"""`posebench reproduce epipolarpose`: the whole EpipolarPose study in one run.

2D pre-training -> (frozen 2D branch -> multi-view pseudo-labels) -> self-supervised training
with per-frame / pooled / known geometry, plus the fully-supervised and ground-truth-2D
variants, all started from the same 2D model; a mean-pose baseline computed in the same run;
each evaluated on the dataset's test protocol (`posebench.evaluate`: MPJPE, N-MPJPE, P-MPJPE,
PCK, AUC, PSS@50, PSS@100) and, for pseudo-label variants, the pseudo-labels' own error on the
training split. With a ``[refinement]`` table in the profile, the SS+RU variant (``ss-ru``,
PAPER.md section 3.3) refines the ``base`` self-supervised variant's outputs with the
refinement unit, trained on that model's predictions for the training split against the
training split's 3D poses (the paper's route; those 3D poses play the role of MoCap data, no
test data is used). Writes ``OUT/<variant>/`` run folders, one result record per variant under
the name the leaderboard shows (``OUT/results/epipolarpose-<profile>-<variant>.json``, method
"epipolarpose (<profile> profile)", with ``provenance`` kind "reproduce") and
``OUT/summary.json``; returns the comparison table rows.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import numpy as np

from posebench.errors import InputError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, packaged
    import tomli as tomllib

PROFILES = ("smoke", "cpu", "paper")

#: variant name -> (trainer mode, pseudo-label mode or None; "2dgt" reads the profile's choice)
VARIANTS = {
    "fully-supervised": ("fully-supervised", None),
    "ss-2dgt": ("self-supervised-2dgt", "2dgt"),
    "ss-known": ("self-supervised", "known"),
    "ss-pooled": ("self-supervised", "pooled"),
    "ss-per-frame": ("self-supervised", "per-frame"),
}

DEPTH_REPRESENTATION = (
    "z = (Z_j - Z_root) / Z_root * f_crop / S: depth offset from the root in crop pixels at the "
    "root's distance (same units as x, y; invariant to the scene's scale, so scale-free "
    "pseudo-labels need no metric scale)")
EVALUATION_RULE = ("x, y mapped to full-image pixels, undistorted with the ground-truth lens "
                   "model and back-projected with the ground-truth intrinsics and root depth; "
                   "both poses root-centred (PAPER.md; the official code skips undistortion)")


def load_profile(profile: str | Path) -> dict:
    """A profile by name (smoke | cpu | paper) or a path to a TOML file."""
    p = Path(str(profile))
    if p.suffix == ".toml":
        if not p.is_file():
            raise InputError(f"profile file {p} does not exist; expected a TOML profile; check "
                             "the path or use smoke, cpu or paper.")
        text = p.read_bytes()
    elif str(profile) in PROFILES:
        text = resources.files("reference_models.epipolarpose").joinpath(
            f"configs/{profile}.toml").read_bytes()
    else:
        raise InputError(f"unknown profile '{profile}'; expected one of {', '.join(PROFILES)} "
                         "or a .toml file; pick one of those.")
    return tomllib.loads(text.decode())


def run_config(prof: dict, mode: str, optim: dict, pseudo_mode: str | None, init: str,
               dataset: str, device: str) -> dict:
    """A trainer config (see trainer.DEFAULTS) for one stage of a profile."""
    cfg = {"mode": mode, "seed": prof.get("seed", 0), "device": device,
           "threads": prof.get("threads", 2), "init_checkpoint": init,
           "data": {**prof.get("data", {}), "dataset": dataset},
           "model": dict(prof["model"]), "optim": dict(optim),
           "pseudo": {"batch_size": prof.get("pseudo", {}).get("batch_size", 256)},
           "run": dict(prof.get("run", {}))}
    if pseudo_mode:
        cfg["pseudo"]["mode"] = pseudo_mode
    stage = prof.get("pretrain" if mode == "pretrain-2d" else "train3d", {})
    augment = {**prof.get("augment", {}), **stage.get("augment", {})}
    if augment:  # [augment], overridden per stage by [pretrain.augment] / [train3d.augment]
        cfg["augment"] = augment
    return cfg


# ------------------------------------------------------------------------------ data
def prepare_data(prof: dict, dataset: str, out: Path, log) -> tuple[str, dict]:
    """(dataset reference for the trainer, {split: PoseDataset})."""
    from posebench.data.dataset import read_meta, read_split
    from posebench.data.registry import ensure_dataset

    if dataset == "synth" and prof.get("synth"):
        root = out / "data" / "synth"
        if not (root / "meta.json").is_file():
            from posebench.synth.build import SynthOptions, build

            log(f"generating a {prof.get('profile', '')} synthetic benchmark in {root}")
            build(root, SynthOptions(**prof["synth"]))
    else:
        root = ensure_dataset(dataset)
    meta = read_meta(root)
    splits = {s: read_split(root, s) for s in meta["splits"]}
    return str(root), splits


def pretrain_split_name(splits: dict, prof: dict, notes: list,
                        dataset: str | None = None) -> str:
    """The 2D pre-training split: ``[data] pretrain_split`` (default "train2d") of
    ``[data] pretrain_dataset`` when that names another prepared dataset (e.g. "mpii", which
    must have the split), else of the run's dataset, falling back to its training split."""
    data = prof.get("data", {})
    name = data.get("pretrain_split", "train2d")
    other = data.get("pretrain_dataset", "")
    if other and other != dataset:
        from posebench.data.dataset import read_meta
        from posebench.data.registry import ensure_dataset

        have = read_meta(ensure_dataset(other)).get("splits", {})
        if name not in have:
            raise InputError(f"pre-training dataset '{other}' has no split '{name}'; expected "
                             f"one of {', '.join(have)}; set [data] pretrain_split to one of "
                             "those.")
        notes.append(f"2D pre-training used split '{name}' of dataset '{other}'")
        return name
    if name in splits:
        return name
    notes.append(f"no '{name}' split: 2D pre-training used the 2D labels of the training split")
    return prof.get("data", {}).get("train_split", "train")


# ------------------------------------------------------------------------------ evaluation
def evaluate_variant(pred_test: np.ndarray, test, train, protocol):
    """posebench.evaluate on the protocol's samples -> Report. Predictions are root-relative
    (the anchor protocols that score the prediction as given expect that; the others centre
    both poses anyway)."""
    from posebench.evaluation import evaluate
    from posebench.skeletons import get_skeleton

    r = get_skeleton(test.skeleton).root
    rel = pred_test - pred_test[:, r:r + 1]
    return evaluate(rel, dataset=test, protocol=protocol, train=train)


def mean_pose_predictions(train, n: int) -> np.ndarray:
    """The training split's mean root-relative camera-frame pose, repeated n times (mm)."""
    from posebench.skeletons import get_skeleton

    root = get_skeleton(train.skeleton).root
    p = train.poses_3d[np.isfinite(train.poses_3d).all(axis=(1, 2))]
    mean = (p - p[:, root:root + 1]).mean(axis=0)
    return np.repeat(mean[None], n, axis=0)


def pseudo_label_quality(run_dir: Path, train, image_size: int) -> dict:
    """Error of the cached pseudo-labels (back-projected like predictions) vs training GT."""
    from posebench import metrics as M
    from reference_models.epipolarpose.evaluate import root_index, to_camera_mm

    with np.load(run_dir / "pseudo_labels.npz", allow_pickle=False) as z:
        targets, ok = z["targets"], z["ok"]
    if not ok.any() or not train.has_3d:
        return {"labelled_fraction": float(ok.mean()) if len(ok) else 0.0}
    sub = train.take(np.flatnonzero(ok))
    mm = to_camera_mm(targets[ok], sub, image_size)
    r = root_index(train)
    p, g = mm - mm[:, r:r + 1], sub.poses_3d - sub.poses_3d[:, r:r + 1]
    return {"labelled_fraction": float(ok.mean()),
            "mpjpe": float(np.mean(M.mpjpe(p, g))),
            "n_mpjpe": float(np.mean(M.n_mpjpe(p, g))),
            "p_mpjpe": float(np.mean(M.p_mpjpe(p, g)))}


# ------------------------------------------------------------------------------ reproduce
def reproduce(profile: str | Path = "cpu", dataset: str | None = None, out: str | Path = "",
              device: str | None = None, resume: bool = False, datasets: dict | None = None,
              variants: list[str] | None = None, log=print) -> list[dict]:
    """Run the study; returns one row per variant (metrics + pseudo-label quality).

    datasets: {split: PoseDataset} to use instead of generating / loading (tests).
    """
    from posebench.data.protocols import default_protocol, get_protocol
    from posebench.evaluation import write_record
    from posebench.io import write_json_atomic
    from reference_models.epipolarpose.evaluate import predict
    from reference_models.epipolarpose.trainer import train

    prof = load_profile(profile)
    dataset = dataset or prof.get("data", {}).get("dataset", "synth")
    device = device or prof.get("device", "cpu")
    out = Path(out or f"epipolarpose-{prof.get('profile', 'run')}")
    if out.exists() and any(out.iterdir()) and not resume:
        raise InputError(f"output folder {out} already holds a run; expected a new or empty "
                         "folder; pass --resume to continue it or choose another --out.")
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    notes: list[str] = []
    from reference_models.epipolarpose.preflight import (
        check_dataset_prepared,
        check_reproduce,
        check_splits,
    )

    if datasets is None:
        if not (dataset == "synth" and prof.get("synth")):
            check_dataset_prepared(dataset, int(prof["model"]["image_size"]))
        data_ref, splits = prepare_data(prof, dataset, out, log)
    else:
        data_ref, splits = dataset, dict(datasets)
    t_data = time.perf_counter() - t_start
    kind = next(iter(splits.values())).meta.get("kind", dataset)
    pname = prof.get("eval", {}).get("protocol")
    protocol = get_protocol(pname) if pname else default_protocol(kind)
    check_splits(splits, dataset, [protocol.split,
                                   prof.get("data", {}).get("train_split", "train")])
    test_all = splits[protocol.split]
    test = test_all.take(protocol.select(test_all))
    trainset = splits[prof.get("data", {}).get("train_split", "train")]
    # fail fast: every stage's data (crops at the model's size, 2D set, cameras) before training
    check_reproduce(prof, dataset, splits,
                    variants or prof.get("variants", {}).get("train", list(VARIANTS)),
                    protocol.split)
    pre_split = pretrain_split_name(splits, prof, notes, dataset)
    injected = {**splits}

    cpu_s: dict[str, float] = {}

    def stage(name: str, cfg: dict) -> tuple[Path, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        log(f"[{time.perf_counter() - t_start:7.1f}s] training {name} ({cfg['mode']})")
        d = train(cfg, out / name, resume=resume, datasets=injected)
        cpu_s[name] = time.process_time() - c0
        return d, time.perf_counter() - t0

    def timed_predict(*args, **kw) -> tuple[np.ndarray, float]:
        c0 = time.process_time()
        pred = predict(*args, **kw)
        return pred, time.process_time() - c0

    pname_profile = profile_name(prof, profile)
    command = reproduce_command(pname_profile, dataset, out, device, variants)

    pre_cfg = run_config(prof, "pretrain-2d", prof["pretrain"]["optim"], None, "", data_ref,
                         device)
    pre_cfg["data"]["pretrain_split"] = pre_split
    if pre_cfg["data"].get("pretrain_dataset") == dataset:
        pre_cfg["data"]["pretrain_dataset"] = ""  # the run's own (possibly injected) dataset
    pre_dir, pre_time = stage("pretrain-2d", pre_cfg)
    init = str(pre_dir / "checkpoint.pt")

    rows, records, reports = [], {}, {}
    base = _base_record(prof, profile, dataset, notes)
    size = prof["model"]["image_size"]
    for variant in variants or prof.get("variants", {}).get("train", list(VARIANTS)):
        if variant not in VARIANTS:
            raise InputError(f"unknown variant '{variant}'; expected one of "
                             f"{', '.join(VARIANTS)}; fix the profile's [variants] list.")
        mode, pmode = VARIANTS[variant]
        if pmode == "2dgt":
            pmode = prof.get("pseudo", {}).get("mode_2dgt", "known")
        cfg = run_config(prof, mode, prof["train3d"]["optim"], pmode, init, data_ref, device)
        run_dir, seconds = stage(variant, cfg)
        pred, pred_cpu = timed_predict(run_dir, test, device=device)
        report = evaluate_variant(pred, test, trainset, protocol)
        reports[variant] = report
        rec = {**report.record(), **base, "variant": variant, "mode": mode,
               "pseudo_label_mode": pmode, "train_seconds": seconds,
               "checkpoint": f"{variant}/checkpoint.pt",
               "provenance": reproduce_provenance(prof, pname_profile, variant, command,
                                                  cpu_s.get(variant), pred_cpu, device)}
        if mode.startswith("self-supervised"):
            rec["pseudo_label_quality"] = pseudo_label_quality(run_dir, trainset, size)
        records[variant] = rec
    ru = prof.get("refinement")
    if ru and ru.get("base") in records:
        log(f"[{time.perf_counter() - t_start:7.1f}s] training ss-ru (refinement unit on "
            f"{ru['base']})")
        t0 = time.perf_counter()
        base_dir = out / ru["base"]
        c0 = time.process_time()
        pred = refine_with_unit(ru, base_dir, trainset, test, out / "ss-ru", prof, device)
        ru_cpu = time.process_time() - c0
        report = evaluate_variant(pred, test, trainset, protocol)
        reports["ss-ru"] = report
        records["ss-ru"] = {**report.record(), **base, "variant": "ss-ru",
                            "mode": "self-supervised + refinement unit",
                            "pseudo_label_mode": records[ru["base"]]["pseudo_label_mode"],
                            "refinement": {**ru, "route": "predictions on the training split "
                                           "vs its 3D poses"},
                            "train_seconds": time.perf_counter() - t0,
                            "provenance": reproduce_provenance(
                                prof, pname_profile, "ss-ru", command,
                                cpu_s.get(ru["base"], 0.0) + ru_cpu, None, device)}
    # the starting point of every variant: the 2D model, whose depth head was never trained
    pred, pred_cpu = timed_predict(pre_dir, test, device=device)
    rep = evaluate_variant(pred, test, trainset, protocol)
    reports["2d-model"] = rep
    records["2d-model"] = {**rep.record(), **base, "variant": "2d-model", "mode": "pretrain-2d",
                           "note": "the 2D pre-trained model before any 3D training",
                           "provenance": reproduce_provenance(
                               prof, pname_profile, "2d-model", command,
                               cpu_s.get("pretrain-2d"), pred_cpu, device)}
    c0 = time.process_time()
    mean_pred = mean_pose_predictions(trainset, len(test))
    rep = evaluate_variant(mean_pred, test, trainset, protocol)
    reports["mean-pose"] = rep
    records["mean-pose"] = {**rep.record(), **base, "variant": "mean-pose", "mode": "baseline",
                            "note": "mean root-relative training pose, computed in this run",
                            "provenance": reproduce_provenance(
                                prof, pname_profile, "mean-pose", command, None,
                                time.process_time() - c0, device)}
    for variant, rec in records.items():
        # the record plus its per-sample file (<stem>.samples.npz), which `compare` needs
        rec = write_record(reports[variant], out / "results" /
                           record_file_name(pname_profile, variant), rec)
        rows.append(table_row(variant, rec))
    summary = {"profile": prof.get("profile"), "dataset": dataset, "rows": rows,
               "seconds": {"data": t_data, "pretrain_2d": pre_time,
                           "total": time.perf_counter() - t_start}, "notes": notes}
    write_json_atomic(out / "summary.json", summary)
    log(format_table(rows))
    log(f"total {summary['seconds']['total']:.0f} s; results in {out / 'results'}")
    return rows


def refine_with_unit(ru: dict, base_dir: Path, trainset, test, out: Path, prof: dict,
                     device: str) -> np.ndarray:
    """Train (or, on resume, load) the refinement unit on the base model's training-split
    predictions and return refined (M, J, 3) root-relative mm test predictions."""
    from posebench.skeletons import get_skeleton
    from reference_models.epipolarpose.evaluate import predict
    from reference_models.epipolarpose.refinement import RefinementUnit, train_refinement_unit

    root = get_skeleton(trainset.skeleton).root
    path = out / "refinement_unit.npz"
    if path.is_file():
        unit = RefinementUnit.load(path)
    else:
        pred_train = predict(base_dir, trainset, root_relative=True, device=device)
        cfg = {k: ru[k] for k in ("width", "epochs", "batch_size", "dropout", "activation")
               if k in ru}
        unit = train_refinement_unit(pred_train, trainset.poses_3d, root=root, config=cfg,
                                     seed=int(prof.get("seed", 0)),
                                     threads=int(prof.get("threads", 2)))
        out.mkdir(parents=True, exist_ok=True)
        unit.save(path)
    return unit.refine(predict(base_dir, test, root_relative=True, device=device))


def profile_name(prof: dict, profile) -> str:
    """The profile's name: its ``profile`` key, else the name / file stem given."""
    return str(prof.get("profile") or Path(str(profile)).stem)


def record_file_name(profile: str, variant: str) -> str:
    """File name of a variant's record, as on the leaderboard: epipolarpose-cpu-ss-known.json."""
    return f"epipolarpose-{profile}-{variant}.json"


def method_label(profile: str) -> str:
    """The leaderboard's method name of a reproduction: 'epipolarpose (cpu profile)'."""
    return f"epipolarpose ({profile} profile)"


def reproduce_command(profile: str, dataset: str, out: Path, device: str,
                      variants: list[str] | None) -> list[str]:
    """argv that regenerates the run (paths portable: relative or names)."""
    from posebench.provenance import portable_path

    cmd = ["posebench", "reproduce", "epipolarpose", "--profile", profile,
           "--dataset", dataset, "--device", device]
    if variants:
        cmd += ["--variants", ",".join(variants)]
    return cmd + ["--out", portable_path(out)]


def reproduce_provenance(prof: dict, profile: str, variant: str, command: list[str],
                         fit_cpu: float | None, predict_cpu: float | None, device: str) -> dict:
    """``record["provenance"]`` of one variant (kind "reproduce"); CPU seconds of this process
    (all threads) for the variant's training and its test-set prediction."""
    from posebench.provenance import environment

    return {"kind": "reproduce", "method": "epipolarpose", "options": {},
            "seed": int(prof.get("seed", 0)),
            "train_split": prof.get("data", {}).get("train_split", "train"),
            "profile": profile, "variant": variant, "command": list(command),
            "cpu_time_s": {"fit": None if fit_cpu is None else round(fit_cpu, 3),
                           "predict": None if predict_cpu is None else round(predict_cpu, 3)},
            "environment": environment(device=device)}


def _base_record(prof: dict, profile, dataset: str, notes: list) -> dict:
    name = profile_name(prof, profile)
    return {"method": method_label(name), "profile": name,
            "training_dataset": dataset, "model_config": prof["model"],
            "augment": dict(prof.get("augment", {"enabled": False})),
            "depth_representation": DEPTH_REPRESENTATION, "evaluation_rule": EVALUATION_RULE,
            "reproduce_notes": list(notes)}


def table_row(variant: str, rec: dict) -> dict:
    m = rec["metrics"]
    q = rec.get("pseudo_label_quality", {})
    return {"variant": variant, "MPJPE": m.get("mpjpe"), "N-MPJPE": m.get("n_mpjpe"),
            "P-MPJPE": m.get("p_mpjpe"), "PSS@50": m.get("pss@50"), "PSS@100": m.get("pss@100"),
            "pseudo P-MPJPE": q.get("p_mpjpe"), "pseudo MPJPE": q.get("mpjpe"),
            "labelled": q.get("labelled_fraction")}


def format_table(rows: list[dict]) -> str:
    from tabulate import tabulate

    return tabulate([{k: ("-" if v is None else v) for k, v in r.items()} for r in rows],
                    headers="keys", floatfmt=".3g")
