"""Methods behind one interface: fit on a training split, predict 3D poses for given rows.

A method is a class deriving from `Method` (or anything with the same attributes):

    name         registry name, e.g. "mean-pose"
    needs        what it reads: a subset of NEEDS ("images", "poses_2d", "cameras", "train_3d")
    defaults     its options with default values; `--option key=value` must name one of them and
                 is converted to the default's type
    fit(train, seed)       learn from a training `PoseDataset` (seeded; may do nothing)
    predict(test)          (N, J, 3) float64 camera-frame mm, root-relative, one row per row of
                           `test` in the order given
    state() / load_state() the fitted state as a dict of numpy arrays (stored as .npz, never
                           pickle); methods with bigger state (torch checkpoints) override
                           save(dir) / load(dir)

Methods register in the entry-point group ``posebench.methods`` (name = "module:Class"), so a
third-party package can add its own; the built-ins below are always available even without an
installed distribution. Fitted state is cached under
``$POSEBENCH_HOME/methods/<name>-<key>-<train fingerprint>/``, where the key is a sha256 over
the options and seed (`config_hash`), the method's code version (derived from the source of its
class's modules and every first-party module they import, `posebench.provenance`), the numpy /
scipy / scikit-learn / torch versions and the training split's fingerprint.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from posebench.data.dataset import read_meta
from posebench.data.protocols import default_protocol, get_protocol
from posebench.data.registry import ensure_dataset, load_dataset, posebench_home
from posebench.errors import InputError, MethodError
from posebench.io import atomic_dir, load_npz, savez_atomic, write_json_atomic
from posebench.provenance import closure_code_version, environment, library_versions, portable_path
from posebench.skeletons import SKELETONS, get_skeleton

ENTRY_POINT_GROUP = "posebench.methods"

#: What a method may need, and what that means for a dataset split.
NEEDS: dict[str, str] = {
    "images": "image crops of the test (and training) split",
    "poses_2d": "2D joint positions (ground truth or detections) of every sample",
    "cameras": "camera intrinsics (and extrinsics for multi-view methods)",
    "train_3d": "3D ground truth of the training split",
}

#: Built-in methods: name -> "module:attribute". Also registered as entry points in
#: pyproject.toml; listed here so a source checkout works without an installed distribution.
BUILTIN_METHODS: dict[str, str] = {
    "mean-pose": "baselines.mean_pose:MeanPose",
    "nearest-neighbour": "baselines.nearest_neighbour:NearestNeighbour",
    "simple-baseline": "reference_models.epipolarpose.methods:SimpleBaselineEP",
    "triangulation-oracle": "baselines.triangulation_oracle:TriangulationOracle",
    "epipolarpose-fs": "reference_models.epipolarpose.methods:EpipolarPoseFS",
    "epipolarpose-ss-ru": "reference_models.epipolarpose.methods:EpipolarPoseSSRU",
}


class Method:
    """Base class of a pose estimation method (see the module docstring)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()
    defaults: ClassVar[dict[str, Any]] = {}
    #: kept for plugins that set it; cache keys no longer depend on a hand-bumped number
    version: ClassVar[int] = 1
    #: extra first-party modules whose source changes the fit (beyond the class's own modules
    #: and what they import, which are found automatically)
    code_modules: ClassVar[tuple[str, ...]] = ()
    #: False for methods whose fit is cheaper than reading a cache (or that hold the training
    #: set itself as state)
    cache_fit: ClassVar[bool] = True
    #: False for methods that learn nothing from a training split (fit(None, seed) is called)
    uses_training: ClassVar[bool] = True
    uses_torch: ClassVar[bool] = False  # True: fitted/predicted with torch (see run_provenance)

    def __init__(self, config: dict[str, Any] | None = None):
        self.config = resolve_config(self.name, self.defaults, config or {})

    # -- to implement -------------------------------------------------------------------
    def fit(self, train, seed: int = 0) -> None:
        """Learn from the training split (default: nothing to learn)."""

    def predict(self, test) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        """Fitted state as numpy arrays (default: none)."""
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what `state()` returned."""

    # -- storage (override for torch checkpoints etc.) -------------------------------------
    def save(self, directory: Path) -> None:
        savez_atomic(Path(directory) / "state.npz", **self.state())

    def load(self, directory: Path) -> None:
        self.load_state(load_npz(Path(directory) / "state.npz", what="a fitted method state"))

    # -- identity ---------------------------------------------------------------------------
    def code_version(self) -> str:
        """sha256 of the source that computes this method's numbers (its class hierarchy's
        modules, `code_modules` and every first-party module they import)."""
        mods = [c.__module__ for c in type(self).__mro__ if c is not object]
        return closure_code_version(tuple(dict.fromkeys([*mods, *self.code_modules])))

    def config_hash(self, seed: int = 0) -> str:
        """12 hex digits of sha256 over (name, version, config, seed)."""
        blob = json.dumps({"method": self.name, "version": self.version, "config": self.config,
                           "seed": int(seed)}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


# ------------------------------------------------------------------------------ configuration
def _coerce(name: str, key: str, value: Any, default: Any) -> Any:
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            low = value.strip().lower()
            if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(value)
            return low in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise InputError(f"option {key}={value!r} of method '{name}' is not a valid "
                         f"{type(default).__name__}; expected e.g. {key}={default}; fix the "
                         "value.") from None
    return value


def resolve_config(name: str, defaults: dict[str, Any], options: dict[str, Any]) -> dict:
    """Defaults updated by `options`; unknown keys and ill-typed values raise InputError."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "none"
        raise InputError(f"method '{name}' has no option {', '.join(unknown)}; expected one of: "
                         f"{allowed}; see `posebench methods --verbose`.")
    out = dict(defaults)
    for k, v in options.items():
        out[k] = _coerce(name, k, v, defaults[k])
    return out


def parse_options(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """['key=value', ...] -> {key: value} (values stay strings; the method converts them)."""
    out = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"option {item!r} is not of the form key=value; expected e.g. "
                             "--option epochs=5.")
        out[key.strip()] = value.strip()
    return out


# ----------------------------------------------------------------------------------- registry
def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def registered_methods() -> dict[str, str]:
    """name -> "module:attribute" of every method: the built-ins, then entry points (a third
    party cannot shadow a built-in name; its entry is listed under its own name only)."""
    out = dict(BUILTIN_METHODS)
    for name, ep in sorted(_entry_points().items()):
        out.setdefault(name, ep.value)
    return out


def load_method_class(name: str) -> type:
    """Import the class registered as `name` (InputError if unknown or broken)."""
    methods = registered_methods()
    if name not in methods:
        raise InputError(f"unknown method '{name}'; expected one of {', '.join(sorted(methods))}; "
                         "see `posebench methods` (third-party methods register in the "
                         f"'{ENTRY_POINT_GROUP}' entry-point group).")
    target = methods[name]
    module, _, attr = target.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"method '{name}' is registered as {target} but could not be loaded "
                         f"({type(exc).__name__}: {exc}); expected an importable class; "
                         "reinstall the package that provides it.") from None
    if not (isinstance(obj, type) and issubclass(obj, Method)):
        raise InputError(f"method '{name}' is registered as {target}, which is not a subclass of "
                         "posebench.methods.Method; expected a Method class; fix the package "
                         "that registers it.")
    return obj


def get_method(name: str, options: dict[str, Any] | None = None) -> Method:
    """An instance of method `name` configured with `options` (key -> value)."""
    cls = load_method_class(name)
    if not cls.name:  # a third-party class without a name takes its registered one
        cls = type(cls.__name__, (cls,), {"name": name})
    return cls(dict(options or {}))


def describe_methods() -> list[dict[str, Any]]:
    """One record per registered method: name, needs, description, options, target, error."""
    rows = []
    for name, target in sorted(registered_methods().items()):
        row = {"name": name, "target": target, "needs": [], "description": "", "options": {},
               "error": ""}
        try:
            cls = load_method_class(name)
            row["needs"] = sorted(getattr(cls, "needs", ()))
            row["description"] = getattr(cls, "description", "") or (cls.__doc__ or "").strip()
            row["options"] = dict(getattr(cls, "defaults", {}))
        except InputError as exc:
            row["error"] = str(exc)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------- needs check
def _skeleton_root(name: str) -> int:
    return SKELETONS[name].root if name in SKELETONS else 0


def fill_invisible_2d(poses_2d: np.ndarray, skeleton: str) -> np.ndarray:
    """(N, J, 2) px with each invisible (NaN) joint set to its nearest visible ancestor's
    position (the root's when none is), for lifting methods that need every joint.

    Joints leave the image at its border or go behind the camera; a lifting input must still
    have J joints, and the parent's position is the smallest assumption (zero bone length).
    Samples whose root is invisible keep NaN (`check_needs` refuses them)."""
    out = np.array(poses_2d, dtype=np.float64, copy=True)
    if skeleton not in SKELETONS or np.isfinite(out).all():
        return out
    parents = SKELETONS[skeleton].parents
    for _ in range(len(parents)):  # a chain of missing ancestors resolves in depth steps
        missing = ~np.isfinite(out).all(axis=-1)
        if not missing.any():
            break
        for j, p in enumerate(parents):
            if p >= 0:
                m = missing[:, j]
                out[m, j] = out[m, p]
    return out
def check_needs(method: Method, dataset, role: str) -> None:
    """Raise MethodError when `dataset` (role "train" or "test") lacks what `method` needs."""
    needs = set(getattr(method, "needs", ()))
    where = f"split '{dataset.split}' of dataset '{dataset.name}'"
    if "images" in needs and dataset.images is None:
        kind = dataset.meta.get("kind", "")
        if kind in ("h36m", "3dhp"):
            how = (f"create them with `posebench data prepare {kind} --from LAYOUT PATH --images "
                   f"FRAMES --image-size N --name {dataset.name}` (docs/datasets.md)")
        else:
            how = "regenerate it with images (no --no-images)"
        raise MethodError(f"method '{method.name}' needs images but {where} has none; expected a "
                          f"dataset generated or prepared with images; {how}, or pick a method "
                          "without 'images' in `posebench methods`.")
    if "poses_2d" in needs:
        # a sample needs its 2D root and half its joints; other invisible joints (outside the
        # image, behind the camera: NaN) are filled by `fill_invisible_2d`
        fin = np.isfinite(dataset.poses_2d).all(axis=-1)
        root = _skeleton_root(dataset.skeleton)
        bad = ~fin[:, root] | (fin.mean(axis=1) < 0.5)
        if bad.all() or (role == "test" and bad.any()):
            raise MethodError(f"method '{method.name}' needs 2D poses but {where} has no usable "
                              f"2D (root and half the joints visible) for {int(bad.sum())} of "
                              f"{len(dataset)} samples; expected 2D joints for every sample; "
                              "use a dataset with 2D annotations.")
    if "cameras" in needs and not (np.all(dataset.cameras.f > 0) and len(dataset.cameras)):
        raise MethodError(f"method '{method.name}' needs camera intrinsics but {where} has none "
                          "valid (focal length <= 0); expected calibrated cameras; re-prepare "
                          "the dataset with its calibration.")
    if "train_3d" in needs and role == "train":
        if not dataset.has_3d:
            raise MethodError(f"method '{method.name}' needs 3D ground truth for training but "
                              f"{where} has none; expected a split with poses_3d; pass "
                              "--train-split with a 3D-annotated split (e.g. train).")


# ---------------------------------------------------------------------------------- fit/cache
def cache_key(method: Method, train, seed: int) -> dict:
    """Everything that changes a fitted state: options + seed (`config_hash`), code version,
    library versions and the training split's fingerprint."""
    return {"method": method.name, "config_hash": method.config_hash(seed),
            "code_version": method.code_version(), "libraries": library_versions(),
            "train_fingerprint": train.fingerprint()}


def cache_dir_for(method: Method, train, seed: int) -> Path:
    """$POSEBENCH_HOME/methods/<name>-<sha256(cache_key)[:16]>-<train fingerprint[:12]>."""
    key = cache_key(method, train, seed)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return (posebench_home() / "methods"
            / f"{method.name}-{digest}-{key['train_fingerprint'][:12]}")


@dataclass
class FitInfo:
    cache_dir: Path | None
    from_cache: bool
    cpu_s: float
    wall_s: float


def fit_or_load(method: Method, train, seed: int = 0, *, use_cache: bool = True) -> FitInfo:
    """Fit `method` on `train` (seeded), or restore its cached fit for the same config, seed and
    training data. A fresh fit is written to the cache atomically."""
    cacheable = use_cache and getattr(method, "cache_fit", True)
    directory = cache_dir_for(method, train, seed) if cacheable else None
    if directory is not None and (directory / "method.json").is_file():
        method.load(directory)
        return FitInfo(directory, True, 0.0, 0.0)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    method.fit(train, seed)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if directory is not None:
        with atomic_dir(directory) as tmp:
            method.save(tmp)
            write_json_atomic(tmp / "method.json", {
                "method": method.name, "key": cache_key(method, train, seed),
                "config": method.config, "seed": int(seed),
                "train": {"dataset": train.name, "split": train.split, "samples": len(train),
                          "fingerprint": train.fingerprint()},
                "fit_cpu_s": round(cpu, 3), "fit_wall_s": round(wall, 3)})
    return FitInfo(directory, False, cpu, wall)


# ----------------------------------------------------------------------------------------- run
@dataclass
class RunResult:
    """Predictions for a protocol's rows and how they were obtained."""

    poses_3d: np.ndarray          # (n, J, 3) mm, root-relative camera frame
    index: np.ndarray             # (n,) rows of the protocol's canonical order
    method: str
    config: dict
    seed: int
    protocol: str
    dataset: str
    fit: FitInfo | None
    predict_cpu_s: float
    predict_wall_s: float
    record: dict = field(default_factory=dict)
    train_split: str | None = None
    options: dict = field(default_factory=dict)   # what the user gave (--option), as given


def validate_predictions(method: Method, poses: np.ndarray, test) -> np.ndarray:
    """Check a method's output shape and values; returns float64 (n, J, 3)."""
    poses = np.asarray(poses, dtype=np.float64)
    expected = (len(test), test.num_joints, 3)
    if poses.shape != expected:
        raise MethodError(f"method '{method.name}' returned predictions of shape {poses.shape}, "
                          f"expected {expected}; fix the method's predict().")
    if not np.isfinite(poses).all():
        raise MethodError(f"method '{method.name}' returned NaN/inf for "
                          f"{int((~np.isfinite(poses)).any(axis=(1, 2)).sum())} samples; "
                          "expected finite mm; check its training or inputs.")
    return poses


def run_method(name: str, dataset: str, *, protocol: str | None = None,
               train_split: str = "train", seed: int = 0,
               options: dict[str, Any] | None = None, use_cache: bool = True) -> RunResult:
    """Fit (or restore) method `name` on `train_split` and predict the protocol's test rows.

    Returned `index` counts rows of the protocol's canonical order (0..n-1 over
    ``protocol.select(test_split)``), the order `posebench eval` matches predictions to.
    """
    method = get_method(name, options)
    root = ensure_dataset(dataset)
    kind = read_meta(root).get("kind", "")
    proto = get_protocol(protocol) if protocol else default_protocol(kind)
    test_full = load_dataset(dataset, proto.split)
    rows = proto.select(test_full)
    if len(rows) == 0:
        raise InputError(f"protocol '{proto.name}' selects no rows of split '{proto.split}' of "
                         f"dataset '{dataset}'; expected a protocol for this dataset; pick one "
                         "with --protocol (see `posebench protocols`).")
    test = test_full.take(rows)
    check_needs(method, test, "test")
    fit = None
    if method.uses_training:
        train = load_dataset(dataset, train_split)
        check_needs(method, train, "train")
        fit = fit_or_load(method, train, seed, use_cache=use_cache)
    else:
        method.fit(None, seed)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    poses = validate_predictions(method, method.predict(test), test)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    poses = _root_relative(poses, test.skeleton)
    return RunResult(poses, np.arange(len(rows), dtype=np.int64), method.name, method.config,
                     seed, proto.name, str(dataset), fit, cpu, wall,
                     train_split=train_split if method.uses_training else None,
                     options={k: str(v) for k, v in (options or {}).items()})


def _root_relative(poses: np.ndarray, skeleton: str) -> np.ndarray:
    """(N, J, 3) mm predictions with the skeleton's root joint moved to the origin.

    Methods predict in the camera frame; the anchor protocols that score the prediction as
    given (VideoPose3D's P1/P2, the 3DHP script: ground-truth root zeroed only) expect
    root-relative poses, and every other protocol root-centres anyway, so `run` writes them
    root-relative once, for all protocols."""
    r = get_skeleton(skeleton).root
    return poses - poses[:, r:r + 1]


def run_provenance(result: RunResult, out: str | Path | None = None,
                   label: str | None = None) -> dict:
    """``record["provenance"]`` of a `posebench run` (kind "run"): method, options, seed,
    training split, the argv that regenerates the predictions, CPU seconds and environment.
    Paths are stored portably (relative to the current folder, or as names)."""
    cmd = ["posebench", "run", result.method, "--dataset", portable_path(result.dataset),
           "--protocol", result.protocol]
    if result.train_split is not None:
        cmd += ["--train-split", result.train_split]
    cmd += ["--seed", str(int(result.seed))]
    for k, v in sorted(result.options.items()):
        cmd += ["--option", f"{k}={v}"]
    if label:
        cmd += ["--label", label]
    if out is not None:
        cmd += ["--out", portable_path(out)]
    fit = result.fit
    # torch-trained methods say so (`uses_torch`); their numbers depend on torch's version,
    # threads and device, which the gate then judges by interval, not bit for bit
    torch_used = bool(getattr(load_method_class(result.method), "uses_torch", False))
    device = result.config.get("device", "cpu") if torch_used else None
    return {"kind": "run", "method": result.method, "options": dict(result.options),
            "config": dict(result.config), "seed": int(result.seed),
            "train_split": result.train_split, "profile": None, "variant": None,
            "command": cmd,
            "cpu_time_s": {"fit": None if fit is None else round(fit.cpu_s, 3),
                           "predict": round(result.predict_cpu_s, 3)},
            "wall_time_s": {"fit": None if fit is None else round(fit.wall_s, 3),
                            "predict": round(result.predict_wall_s, 3)},
            "fit_from_cache": None if fit is None else bool(fit.from_cache),
            "environment": {**environment(device=str(device) if device else None),
                            **({} if torch_used else {"torch_threads": None})}}


def sidecar_path(predictions: str | Path) -> Path:
    """Where `posebench run` puts the provenance of a predictions file: ``<file>.run.json``."""
    predictions = Path(predictions)
    return predictions.with_name(predictions.name + ".run.json")


def write_predictions(result: RunResult, out: str | Path, label: str | None = None) -> Path:
    """Write `poses_3d` + `index` to `out` (.npz, atomic) and a provenance sidecar
    ``<out>.run.json`` (`run_provenance`, the label, dataset, protocol and the sha256 of the
    predictions file it describes, which `posebench eval` checks before merging it)."""
    out = Path(out)
    savez_atomic(out, poses_3d=result.poses_3d, index=result.index)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    write_json_atomic(sidecar_path(out), {
        "format": "posebench-run", "label": label or result.method,
        "method": result.method, "config": result.config, "seed": int(result.seed),
        "dataset": Path(result.dataset).name if Path(result.dataset).is_absolute()
        else result.dataset,
        "protocol": result.protocol, "samples": int(len(result.index)),
        "predictions_sha256": digest,
        "provenance": run_provenance(result, out, label)})
    return out
