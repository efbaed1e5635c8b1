"""Figures over training seeds: one summary for every benchmark that reports a spread."""

from __future__ import annotations

import numpy as np


def mean_sd(values) -> dict:
    """``{"mean", "sd" (sample, ddof=1; 0 for one value), "n", "values"}`` of the seeds' figures; ``None`` and
    non-finite values (a figure a seed could not give) are left out and ``n`` says how many remain."""
    v = np.array([x for x in values if x is not None and np.isfinite(x)], float)
    return {"mean": float(v.mean()) if len(v) else None, "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": int(len(v)),
            "values": [float(x) for x in v]}
