"""Clip-level predictions (window probabilities averaged over a clip, as the paper does) and scores."""

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


def clip_probabilities(model, w: Windows, batch_size: int = 64) -> np.ndarray:
    """Mean of the window probabilities of each clip: ``(clips, classes)``."""
    p = window_probabilities(model, w.X, batch_size)
    out = np.zeros((w.n_clips, p.shape[1]))
    np.add.at(out, w.clip, p)
    return out / np.bincount(w.clip, minlength=w.n_clips)[:, None]


def score(model, w: Windows, multi_label: bool) -> tuple[dict, np.ndarray]:
    """Scores on one test set and the clip probabilities behind them."""
    probs = clip_probabilities(model, w)
    if multi_label:
        return multi_label_scores(probs, w.Y), probs
    return single_label_scores(probs, w.labels), probs
