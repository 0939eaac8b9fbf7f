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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from baselines.mean_pose import MeanPose
from posebench import metrics as M
from posebench.data.dataset import read_meta, read_split
from posebench.data.protocols import default_protocol, get_protocol
from posebench.data.registry import ensure_dataset
from posebench.errors import InputError
from posebench.evaluation import evaluate, write_record
from posebench.io import write_json_atomic
from posebench.provenance import environment, portable_path
from posebench.skeletons import get_skeleton
from posebench.synth.build import SynthOptions, build
from reference_models.epipolarpose import evaluate as ep_evaluate
from reference_models.epipolarpose import preflight
from reference_models.epipolarpose.profiles import VARIANTS, load_profile, run_config

DEPTH_REPRESENTATION = (
    "z = (Z_j - Z_root) / Z_root * f_crop / S: depth offset from the root in crop pixels at the "
    "root's distance (same units as x, y; invariant to the scene's scale, so scale-free "
    "pseudo-labels need no metric scale)")
EVALUATION_RULE = ("x, y mapped to full-image pixels, undistorted with the ground-truth lens "
                   "model and back-projected with the ground-truth intrinsics and root depth; "
                   "both poses root-centred (PAPER.md; the official code skips undistortion)")


# ------------------------------------------------------------------------------ data
def prepare_data(prof: dict, dataset: str, out: Path, log) -> tuple[str, dict]:
    """(dataset reference for the trainer, {split: PoseDataset})."""
    if dataset == "synth" and prof.get("synth"):
        root = out / "data" / "synth"
        if not (root / "meta.json").is_file():
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
    r = get_skeleton(test.skeleton).root
    rel = pred_test - pred_test[:, r:r + 1]
    return evaluate(rel, dataset=test, protocol=protocol, train=train)


def mean_pose_predictions(train, n: int) -> np.ndarray:
    """The training split's mean root-relative camera-frame pose (`baselines.mean_pose`),
    repeated n times (mm)."""
    baseline = MeanPose()
    baseline.fit(train)
    return np.repeat(baseline.mean_pose[None], n, axis=0)


def pseudo_label_quality(run_dir: Path, train, image_size: int) -> dict:
    """Error of the cached pseudo-labels (back-projected like predictions) vs training GT."""
    with np.load(run_dir / "pseudo_labels.npz", allow_pickle=False) as z:
        targets, ok = z["targets"], z["ok"]
    if not ok.any() or not train.has_3d:
        return {"labelled_fraction": float(ok.mean()) if len(ok) else 0.0}
    sub = train.take(np.flatnonzero(ok))
    mm = ep_evaluate.to_camera_mm(targets[ok], sub, image_size)
    r = ep_evaluate.root_index(train)
    p, g = mm - mm[:, r:r + 1], sub.poses_3d - sub.poses_3d[:, r:r + 1]
    return {"labelled_fraction": float(ok.mean()),
            "mpjpe": float(np.mean(M.mpjpe(p, g))),
            "n_mpjpe": float(np.mean(M.n_mpjpe(p, g))),
            "p_mpjpe": float(np.mean(M.p_mpjpe(p, g)))}


# ------------------------------------------------------------------------------ reproduce
@dataclass
class Study:
    """What the stages of one reproduction share: the profile, the data, the protocol and the
    records written so far (variant -> record / Report)."""

    prof: dict
    profile: str                    # the profile's name, as the records and the command show it
    dataset: str
    device: str
    out: Path
    resume: bool
    variants: list[str] | None
    log: Callable
    t_start: float
    command: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data_ref: str = ""
    pretrain_split: str = ""
    splits: dict = field(default_factory=dict)
    protocol: Any = None
    test: Any = None
    trainset: Any = None
    base: dict = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    records: dict[str, dict] = field(default_factory=dict)
    reports: dict = field(default_factory=dict)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t_start

    def train_variants(self) -> list[str]:
        return self.variants or self.prof.get("variants", {}).get("train", list(VARIANTS))

    def provenance(self, variant: str, fit_cpu: float | None, predict_cpu: float | None) -> dict:
        return reproduce_provenance(self.prof, self.profile, variant, self.command, fit_cpu,
                                    predict_cpu, self.device)

    def add(self, variant: str, report, **entries) -> None:
        """Record `variant`'s evaluation `report` with the record's own `entries`."""
        self.reports[variant] = report
        self.records[variant] = {**report.record(), **self.base, "variant": variant, **entries}


def reproduce(profile: str | Path = "cpu", dataset: str | None = None, out: str | Path = "",
              device: str | None = None, resume: bool = False, datasets: dict | None = None,
              variants: list[str] | None = None, log=print) -> list[dict]:
    """Run the study; returns one row per variant (metrics + pseudo-label quality).

    Stages: open the run folder -> data and fail-fast checks -> 2D pre-training -> each 3D
    variant -> SS+RU -> the 2D model and the mean pose as references -> records and summary.
    datasets: {split: PoseDataset} to use instead of generating / loading (tests).
    """
    study = open_study(profile, dataset, out, device, resume, variants, log)
    t_data = load_study_data(study, datasets)
    pre_dir, pre_time = train_stage(study, "pretrain-2d", pretrain_config(study))
    for variant in study.train_variants():
        run_variant(study, variant, init=str(pre_dir / "checkpoint.pt"))
    ru = study.prof.get("refinement")
    if ru and ru.get("base") in study.records:
        run_refinement_variant(study, ru)
    add_reference_rows(study, pre_dir)
    return write_results(study, {"data": t_data, "pretrain_2d": pre_time})


def open_study(profile, dataset, out, device, resume, variants, log) -> Study:
    """The profile read and the (new, or resumed) output folder created."""
    prof = load_profile(profile)
    dataset = dataset or prof.get("data", {}).get("dataset", "synth")
    device = device or prof.get("device", "cpu")
    out = Path(out or f"epipolarpose-{prof.get('profile', 'run')}")
    if out.exists() and any(out.iterdir()) and not resume:
        raise InputError(f"output folder {out} already holds a run; expected a new or empty "
                         "folder; pass --resume to continue it or choose another --out.")
    out.mkdir(parents=True, exist_ok=True)
    return Study(prof, profile_name(prof, profile), dataset, device, out, resume, variants, log,
                 time.perf_counter())


def load_study_data(study: Study, datasets: dict | None) -> float:
    """Splits, protocol, test and training sets, every stage's data checked before training;
    returns the seconds it took."""
    prof, dataset = study.prof, study.dataset
    if datasets is None:
        if not (dataset == "synth" and prof.get("synth")):
            preflight.check_dataset_prepared(dataset, int(prof["model"]["image_size"]))
        study.data_ref, study.splits = prepare_data(prof, dataset, study.out, study.log)
    else:
        study.data_ref, study.splits = dataset, dict(datasets)
    t_data = study.elapsed()
    kind = next(iter(study.splits.values())).meta.get("kind", dataset)
    pname = prof.get("eval", {}).get("protocol")
    protocol = get_protocol(pname) if pname else default_protocol(kind)
    train_split = prof.get("data", {}).get("train_split", "train")
    preflight.check_splits(study.splits, dataset, [protocol.split, train_split])
    test_all = study.splits[protocol.split]
    study.protocol, study.test = protocol, test_all.take(protocol.select(test_all))
    study.trainset = study.splits[train_split]
    # fail fast: every stage's data (crops at the model's size, 2D set, cameras) before training
    preflight.check_reproduce(prof, dataset, study.splits, study.train_variants(),
                              protocol.split)
    study.pretrain_split = pretrain_split_name(study.splits, prof, study.notes, dataset)
    study.command = reproduce_command(study.profile, dataset, study.out, study.device,
                                      study.variants)
    study.base = _base_record(prof, study.profile, dataset, study.notes)
    return t_data


def train_stage(study: Study, name: str, cfg: dict) -> tuple[Path, float]:
    """Train (or resume) one stage into OUT/<name>; (run folder, wall seconds)."""
    from reference_models.epipolarpose import trainer  # lazy: keeps torch out of the checks

    t0, c0 = time.perf_counter(), time.process_time()
    study.log(f"[{study.elapsed():7.1f}s] training {name} ({cfg['mode']})")
    d = trainer.train(cfg, study.out / name, resume=study.resume, datasets=study.splits)
    study.cpu_s[name] = time.process_time() - c0
    return d, time.perf_counter() - t0


def timed_predict(*args, **kw) -> tuple[np.ndarray, float]:
    """`ep_evaluate.predict` and the CPU seconds it took."""
    c0 = time.process_time()
    pred = ep_evaluate.predict(*args, **kw)
    return pred, time.process_time() - c0


def pretrain_config(study: Study) -> dict:
    """The 2D pre-training stage's trainer config (its split: `pretrain_split_name`)."""
    cfg = run_config(study.prof, "pretrain-2d", study.prof["pretrain"]["optim"], None, "",
                     study.data_ref, study.device)
    cfg["data"]["pretrain_split"] = study.pretrain_split
    if cfg["data"].get("pretrain_dataset") == study.dataset:
        cfg["data"]["pretrain_dataset"] = ""  # the run's own (possibly injected) dataset
    return cfg


def run_variant(study: Study, variant: str, init: str) -> None:
    """Train one 3D variant from the 2D model `init`, evaluate it and record it."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant '{variant}'; expected one of "
                         f"{', '.join(VARIANTS)}; fix the profile's [variants] list.")
    prof = study.prof
    mode, pmode = VARIANTS[variant]
    if pmode == "2dgt":
        pmode = prof.get("pseudo", {}).get("mode_2dgt", "known")
    cfg = run_config(prof, mode, prof["train3d"]["optim"], pmode, init, study.data_ref,
                     study.device)
    run_dir, seconds = train_stage(study, variant, cfg)
    pred, pred_cpu = timed_predict(run_dir, study.test, device=study.device)
    study.add(variant, evaluate_variant(pred, study.test, study.trainset, study.protocol),
              mode=mode, pseudo_label_mode=pmode, train_seconds=seconds,
              checkpoint=f"{variant}/checkpoint.pt",
              provenance=study.provenance(variant, study.cpu_s.get(variant), pred_cpu))
    if mode.startswith("self-supervised"):
        study.records[variant]["pseudo_label_quality"] = pseudo_label_quality(
            run_dir, study.trainset, prof["model"]["image_size"])


def run_refinement_variant(study: Study, ru: dict) -> None:
    """SS+RU: the refinement unit on the ``ru["base"]`` variant's outputs, evaluated and
    recorded as ``ss-ru``."""
    study.log(f"[{study.elapsed():7.1f}s] training ss-ru (refinement unit on {ru['base']})")
    t0 = time.perf_counter()
    c0 = time.process_time()
    pred = refine_with_unit(ru, study.out / ru["base"], study.trainset, study.test,
                            study.out / "ss-ru", study.prof, study.device)
    ru_cpu = time.process_time() - c0
    study.add("ss-ru", evaluate_variant(pred, study.test, study.trainset, study.protocol),
              mode="self-supervised + refinement unit",
              pseudo_label_mode=study.records[ru["base"]]["pseudo_label_mode"],
              refinement={**ru, "route": "predictions on the training split vs its 3D poses"},
              train_seconds=time.perf_counter() - t0,
              provenance=study.provenance("ss-ru", study.cpu_s.get(ru["base"], 0.0) + ru_cpu,
                                          None))


def add_reference_rows(study: Study, pre_dir: Path) -> None:
    """The 2D model every variant starts from (its depth head never trained) and the
    mean-pose baseline, evaluated like the variants."""
    pred, pred_cpu = timed_predict(pre_dir, study.test, device=study.device)
    study.add("2d-model", evaluate_variant(pred, study.test, study.trainset, study.protocol),
              mode="pretrain-2d", note="the 2D pre-trained model before any 3D training",
              provenance=study.provenance("2d-model", study.cpu_s.get("pretrain-2d"), pred_cpu))
    c0 = time.process_time()
    mean_pred = mean_pose_predictions(study.trainset, len(study.test))
    rep = evaluate_variant(mean_pred, study.test, study.trainset, study.protocol)
    study.add("mean-pose", rep, mode="baseline",
              note="mean root-relative training pose, computed in this run",
              provenance=study.provenance("mean-pose", None, time.process_time() - c0))


def write_results(study: Study, seconds: dict) -> list[dict]:
    """Each record (and its per-sample file, which `compare` needs) under the leaderboard's
    name, then ``summary.json`` and the comparison table; returns the table rows."""
    rows = []
    for variant, rec in study.records.items():
        rec = write_record(study.reports[variant], study.out / "results" /
                           record_file_name(study.profile, variant), rec)
        rows.append(table_row(variant, rec))
    summary = {"profile": study.prof.get("profile"), "dataset": study.dataset, "rows": rows,
               "seconds": {**seconds, "total": study.elapsed()}, "notes": study.notes}
    write_json_atomic(study.out / "summary.json", summary)
    study.log(format_table(rows))
    study.log(f"total {summary['seconds']['total']:.0f} s; results in {study.out / 'results'}")
    return rows


def refine_with_unit(ru: dict, base_dir: Path, trainset, test, out: Path, prof: dict,
                     device: str) -> np.ndarray:
    """Train (or, on resume, load) the refinement unit on the base model's training-split
    predictions and return refined (M, J, 3) root-relative mm test predictions."""
    from reference_models.epipolarpose.refinement import (  # lazy: keeps torch out of the checks
        RefinementUnit,
        train_refinement_unit,
    )

    root = get_skeleton(trainset.skeleton).root
    path = out / "refinement_unit.npz"
    if path.is_file():
        unit = RefinementUnit.load(path)
    else:
        pred_train = ep_evaluate.predict(base_dir, trainset, root_relative=True, device=device)
        cfg = {k: ru[k] for k in ("width", "epochs", "batch_size", "dropout", "activation")
               if k in ru}
        unit = train_refinement_unit(pred_train, trainset.poses_3d, root=root, config=cfg,
                                     seed=int(prof.get("seed", 0)),
                                     threads=int(prof.get("threads", 2)))
        out.mkdir(parents=True, exist_ok=True)
        unit.save(path)
    return unit.refine(ep_evaluate.predict(base_dir, test, root_relative=True, device=device))


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
    cmd = ["posebench", "reproduce", "epipolarpose", "--profile", profile,
           "--dataset", dataset, "--device", device]
    if variants:
        cmd += ["--variants", ",".join(variants)]
    return cmd + ["--out", portable_path(out)]


def reproduce_provenance(prof: dict, profile: str, variant: str, command: list[str],
                         fit_cpu: float | None, predict_cpu: float | None, device: str) -> dict:
    """``record["provenance"]`` of one variant (kind "reproduce"); CPU seconds of this process
    (all threads) for the variant's training and its test-set prediction."""
    return {"kind": "reproduce", "method": "epipolarpose", "options": {},
            "seed": int(prof.get("seed", 0)),
            "train_split": prof.get("data", {}).get("train_split", "train"),
            "profile": profile, "variant": variant, "command": list(command),
            "cpu_time_s": {"fit": None if fit_cpu is None else round(fit_cpu, 3),
                           "predict": None if predict_cpu is None else round(predict_cpu, 3)},
            "environment": environment(device=device)}


def _base_record(prof: dict, name: str, dataset: str, notes: list) -> dict:
    """The fields every variant's record shares (`name`: the profile's name)."""
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
    return tabulate([{k: ("-" if v is None else v) for k, v in r.items()} for r in rows],
                    headers="keys", floatfmt=".3g")
