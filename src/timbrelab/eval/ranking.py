"""Ranking metrics: where does the right answer land when candidates are sorted by a score?

One query = a score per candidate (higher = more likely) and the index of the right candidate.
Ties are handled exactly, never by array order: the right candidate is taken to fall uniformly at
random among the candidates it ties with, and each metric is the *expectation* over that draw — so a
scorer that gives every candidate the same score gets exactly the chance figures.

- :func:`reciprocal_rank`: E[1 / rank] (rank 1 = best);
- :func:`rank_auc`: the fraction of wrong candidates scored below the right one (ties count ½) —
  the area under the ROC curve of one query;
- :func:`chance_mrr`: E[1 / rank] of a uniformly random ranking of ``n`` candidates, computed
  exactly: ``H_n / n`` (``H_n`` the n-th harmonic number); a random ranking's AUC is ½;
- :func:`ranking_summary`: MRR, mean AUC, top-1 rate and the chance MRR over many queries.

``scores``: float ``(n_candidates,)``; ``true_index``: int in ``0 … n_candidates − 1``. Every
returned figure is a plain ``float`` (MRR and AUC in [0, 1]).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from timbrelab.errors import BadParameterError


def _counts(scores, true_index: int) -> tuple[int, int, int]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    if s.size < 2:
        raise BadParameterError(f"a ranking needs at least two candidates, got {s.size}")
    if not (0 <= int(true_index) < s.size):
        raise BadParameterError(f"true index {true_index} is outside 0 … {s.size - 1}")
    if not np.all(np.isfinite(s)):
        raise BadParameterError("ranking scores must be finite numbers")
    t = s[int(true_index)]
    greater = int(np.sum(s > t))
    ties = int(np.sum(s == t)) - 1  # other candidates with the same score
    return greater, ties, s.size


def reciprocal_rank(scores, true_index: int) -> float:
    """E[1 / rank] of the right candidate, ties broken uniformly at random (exact expectation)."""
    greater, ties, _ = _counts(scores, true_index)
    ranks = np.arange(greater + 1, greater + ties + 2, dtype=np.float64)
    return float(np.mean(1.0 / ranks))


def rank_auc(scores, true_index: int) -> float:
    """Fraction of the wrong candidates scored below the right one (ties count ½)."""
    greater, ties, n = _counts(scores, true_index)
    return float((n - 1 - greater - ties + 0.5 * ties) / (n - 1))


def chance_mrr(n_candidates: int) -> float:
    """E[1 / rank] under a uniformly random ranking of ``n_candidates``: ``H_n / n``, exactly."""
    n = int(n_candidates)
    if n < 1:
        raise BadParameterError(f"chance MRR needs at least one candidate, got {n}")
    return float(np.sum(1.0 / np.arange(1, n + 1)) / n)


def ranking_summary(score_rows: Sequence, true_indices: Sequence[int]) -> dict:
    """MRR, mean AUC, top-1 rate over queries, and the chance MRR / AUC of the same candidate counts.

    ``score_rows``: one score vector per query (queries may have different numbers of candidates);
    ``true_indices``: the right candidate of each. ``chance_mrr`` is the mean of :func:`chance_mrr`
    over the queries' candidate counts.
    """
    if len(score_rows) != len(true_indices) or not len(score_rows):
        raise BadParameterError(f"ranking summary: {len(score_rows)} score rows for {len(true_indices)} answers (need as many, at least one)")
    rr = [reciprocal_rank(s, i) for s, i in zip(score_rows, true_indices)]
    auc = [rank_auc(s, i) for s, i in zip(score_rows, true_indices)]
    top1 = [float(_counts(s, i)[0] == 0) / (_counts(s, i)[1] + 1) for s, i in zip(score_rows, true_indices)]
    return {"mrr": float(np.mean(rr)), "auc": float(np.mean(auc)), "top1_rate": float(np.mean(top1)),
            "chance_mrr": float(np.mean([chance_mrr(len(s)) for s in score_rows])), "chance_auc": 0.5, "queries": len(rr)}
