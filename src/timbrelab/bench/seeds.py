"""Figures over training seeds: one summary for every benchmark that reports a spread."""

from __future__ import annotations

import numpy as np


def mean_sd(values) -> dict:
    """``{"mean", "sd" (sample, ddof=1; 0 for one value), "n", "values"}`` of the seeds' figures; ``None`` and
    non-finite values (a figure a seed could not give) are left out and ``n`` says how many remain."""
    v = np.array([x for x in values if x is not None and np.isfinite(x)], float)
    return {"mean": float(v.mean()) if len(v) else None, "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": int(len(v)),
            "values": [float(x) for x in v]}


def welch_t(a: dict, b: dict) -> float | None:
    """Welch's t of ``a``'s mean against ``b``'s (two :func:`mean_sd` summaries): (mean_a − mean_b) /
    sqrt(sd_a²/n_a + sd_b²/n_b). ``None`` where it is undefined: fewer than two values on a side, or no
    spread on either. Over three seeds a side, |t| ≥ 2.8 is p < 0.05 (two-sided, about 4 degrees of freedom)."""
    if a["n"] < 2 or b["n"] < 2:
        return None
    se = float(np.sqrt(a["sd"] ** 2 / a["n"] + b["sd"] ** 2 / b["n"]))
    return (a["mean"] - b["mean"]) / se if se > 0 else None


def change_cell(delta: float, t: float | None) -> str:
    """A table cell for a change of a mean with its Welch t: ``+0.084 (5.6)``; ``–`` in brackets when t is undefined."""
    return f"{delta:+.3f} ({'–' if t is None else format(t, '.1f')})"
