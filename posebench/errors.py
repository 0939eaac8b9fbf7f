"""User-facing errors.

`InputError` carries one sentence for a person: what was found, what was expected and how to
fix it. The CLI prints it on one line and exits with code 2 (no traceback unless --debug).
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from the user (file, shape, unit, key, option). Message is one sentence."""


class MethodError(InputError):
    """A method cannot run on the given dataset/configuration (e.g. it needs images or 2D)."""
