"""Checks shared by several commands (so every error names what the user typed)."""

from __future__ import annotations

from pathlib import Path


def check_pss_model_path(given: str) -> None:
    """InputError naming `given` when it is not a readable PSS model path: the file must
    exist, and a .json (or stem) needs its companion .npz, which holds the centres."""
    from posebench.errors import InputError
    from posebench.metrics.pss import PoseStructureScore

    path = Path(given)
    npz, js = PoseStructureScore._paths(path)
    if path.suffix not in (".npz", ".json") and not npz.is_file():
        raise InputError(f"PSS model {given} is neither a .npz nor a .json model file and "
                         f"{npz.name} does not exist; expected the .npz (or .json) written by "
                         "`posebench pss fit --out`; check the path.")
    if path.suffix in (".npz", ".json") and not path.is_file():
        raise InputError(f"PSS model {given} does not exist; expected a model written by "
                         "`posebench pss fit --out`; check the path.")
    if not npz.is_file():
        raise InputError(f"PSS model {given} has no companion {npz.name} next to it (a model "
                         "is a .npz holding the centres plus a .json description); expected "
                         "both files from `posebench pss fit --out`; copy the .npz too or refit.")


_PSS_META_KEYS = ("format", "k", "normalization", "seed", "root", "algorithm", "batch_size",
                  "n_init", "max_iter", "num_joints", "fingerprint")


def load_pss_model(given: str):
    """`PoseStructureScore.load(given)` after `check_pss_model_path`, with a malformed
    description (meta_json that is not a JSON object with the model's settings) refused in
    one sentence naming the file."""
    import json

    from posebench.errors import InputError
    from posebench.io import load_npz
    from posebench.metrics.pss import PoseStructureScore

    check_pss_model_path(given)
    npz, _ = PoseStructureScore._paths(Path(given))
    arrays = load_npz(npz, what="a PSS model written by `posebench pss fit`")
    try:
        meta = json.loads(str(arrays["meta_json"])) if "meta_json" in arrays else None
    except (json.JSONDecodeError, ValueError):
        meta = None
    if "meta_json" in arrays and (not isinstance(meta, dict)
                                  or any(k not in meta for k in _PSS_META_KEYS)):
        raise InputError(f"PSS model {given}: its 'meta_json' is not a JSON description with "
                         f"{', '.join(_PSS_META_KEYS)}; expected a model written by `posebench "
                         "pss fit`; re-fit it.")
    try:
        return PoseStructureScore.load(npz)
    except (TypeError, ValueError, KeyError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"PSS model {given} could not be read ({type(exc).__name__}: {exc}); "
                         "expected a model written by `posebench pss fit`; re-fit it.") from None
