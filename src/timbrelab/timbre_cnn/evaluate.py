"""Clip-level predictions (window probabilities pooled over a clip, as the paper does) and scores.

Pooling (``pool_windows``): the paper averages the windows' probabilities. A model with the
"no instrument" class weighs each window by its instrument evidence, 1 − p(no instrument): a clip
whose instrument plays in one window and is silent in the next is that instrument (a plain mean
would let the silent window pull it towards "no instrument"), and a clip is "no instrument" only
when every window says so. Without that class the weights are all 1: the paper's mean."""

from __future__ import annotations

import numpy as np

from timbrelab.eval.classification import multi_label_scores, single_label_scores
from timbrelab.timbre_cnn.data import Windows


def window_probabilities(model, X: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Softmax probabilities of every window: ``(windows, classes)``."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            out.append(torch.softmax(model(torch.from_numpy(np.ascontiguousarray(X[i : i + batch_size]))), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.n_classes), np.float32)


#: a window's weight never falls below this (a clip of silent windows still has a defined mean)
MIN_WEIGHT = 1e-6


def window_weights(probs: np.ndarray, classes) -> np.ndarray:
    """Each window's weight in its clip: 1 − p(no instrument) with that class, else 1."""
    from timbrelab.timbre_cnn.data import NO_INSTRUMENT

    if NO_INSTRUMENT not in classes:
        return np.ones(len(probs))
    return np.maximum(1.0 - probs[:, list(classes).index(NO_INSTRUMENT)], MIN_WEIGHT)


def pool_windows(probs: np.ndarray, classes) -> np.ndarray:
    """One clip's probabilities from its windows' ``(windows, classes)``: the weighted mean (see the module docstring)."""
    wt = window_weights(probs, classes)
    return (wt[:, None] * probs).sum(axis=0) / wt.sum()


def clip_probabilities(model, w: Windows, batch_size: int = 64) -> np.ndarray:
    """Pooled window probabilities of each clip (``pool_windows``): ``(clips, classes)``."""
    p = window_probabilities(model, w.X, batch_size)
    wt = window_weights(p, w.classes)
    out = np.zeros((w.n_clips, p.shape[1]))
    np.add.at(out, w.clip, wt[:, None] * p)
    return out / np.bincount(w.clip, weights=wt, minlength=w.n_clips)[:, None]


def score(model, w: Windows, multi_label: bool) -> tuple[dict, np.ndarray]:
    """Scores on one test set and the clip probabilities behind them."""
    probs = clip_probabilities(model, w)
    if multi_label:
        return multi_label_scores(probs, w.Y), probs
    return single_label_scores(probs, w.labels), probs
