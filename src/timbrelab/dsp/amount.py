"""How much of an effect: one validator for every effect's ``amount`` (0 bypass, 1 the setting)."""

from __future__ import annotations

import numpy as np

from timbrelab.errors import BadParameterError

#: |amount| above this is refused: 2 = twice the crowd's curve is already a strong effect
MAX_EQ_AMOUNT = 2.0


def check_amount(amount, name: str = "amount", low: float = -MAX_EQ_AMOUNT, high: float = MAX_EQ_AMOUNT) -> float:
    """Validate an effect amount; raise BadParameterError for NaN, wrong type or out of range."""
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.integer, np.floating)):
        raise BadParameterError(f"{name} must be a number, got {amount!r}")
    amount = float(amount)
    if not np.isfinite(amount) or not (low <= amount <= high):
        raise BadParameterError(
            f"{name} {amount:g} is out of range: use {low:g} … {high:g} (1 = the crowd's setting, 0 = bypass)"
        )
    return amount
