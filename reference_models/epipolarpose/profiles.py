"""Profiles and variants of the EpipolarPose study: the one place that reads a profile
(``smoke | cpu | paper`` or a TOML path) and turns one of its stages into a trainer config.

Shared by `pipeline` (``posebench reproduce epipolarpose``), `preflight` (its checks) and
`methods` (the ``epipolarpose-*`` methods); imports no torch.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

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
