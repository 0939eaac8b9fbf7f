"""Checks shared by several commands (so every error names what the user typed)."""

from __future__ import annotations

from pathlib import Path

from posebench.errors import InputError
from posebench.metrics.pss import PoseStructureScore, load_pss


def check_pss_model_path(given: str) -> None:
    """InputError naming `given` when it is not a readable PSS model path: the file must
    exist, and a .json (or stem) needs its companion .npz, which holds the centres."""
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


def load_pss_model(given: str):
    """`posebench.metrics.pss.load_pss(given)` (an ensemble, or a single model as a
    one-member ensemble) after `check_pss_model_path`, with a malformed file (meta_json that is
    not a JSON description of a model, centres of the wrong shape) refused in one sentence
    naming the file the user gave."""
    check_pss_model_path(given)
    npz, _ = PoseStructureScore._paths(Path(given))
    try:
        return load_pss(npz)
    except InputError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise InputError(f"PSS model {given} could not be read ({type(exc).__name__}: {exc}); "
                         "expected a model written by `posebench pss fit`; re-fit it.") from None
