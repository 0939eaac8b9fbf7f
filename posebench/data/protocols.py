"""The registry of named evaluation protocols: the anchors' presets plus any registered later.

A protocol itself (the dataclass, row selection, applicability checks) is
`posebench.data.protocol`; the presets are `posebench.data.presets`.
"""

from __future__ import annotations

from posebench.data.presets import PRESETS
from posebench.data.protocol import Protocol
from posebench.errors import InputError

PROTOCOLS: dict[str, Protocol] = {}


def register_protocol(p: Protocol) -> Protocol:
    """Add a protocol to the registry (name must be new)."""
    if p.name in PROTOCOLS:
        raise ValueError(f"protocol {p.name} registered twice")
    PROTOCOLS[p.name] = p
    return p


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise InputError(f"unknown protocol '{name}'; expected one of {', '.join(PROTOCOLS)}; "
                         "see `posebench protocols`.") from None


def list_protocols() -> list[Protocol]:
    return list(PROTOCOLS.values())


def default_protocol(dataset_kind: str) -> Protocol:
    """The protocol `posebench eval` uses when none is given, per dataset kind."""
    defaults = {"h36m": "h36m-p1", "3dhp": "3dhp-official", "synth": "synth"}
    return PROTOCOLS[defaults.get(dataset_kind, "all-frames")]



for _preset in PRESETS:
    register_protocol(_preset)
