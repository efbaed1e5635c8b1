"""Configs as data: one strict ``from_dict`` for every JSON-able config dataclass (front ends, models)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from timbrelab.errors import BadParameterError


def config_from_dict(cls, d: dict, what: str):
    """``cls(**d)``, refusing keys ``cls`` does not have (a typo in a recipe or checkpoint header is an
    error, not silently a default)."""
    known = {f.name for f in fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise BadParameterError(f"{what}: unknown settings {sorted(unknown)} (known: {sorted(known)})")
    return cls(**d)


def check_positive_int(what: str, name: str, value) -> None:
    """Refuse ``value`` unless it is a whole number ≥ 1 (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise BadParameterError(f"{what}: {name} must be a positive whole number, got {value!r}")
