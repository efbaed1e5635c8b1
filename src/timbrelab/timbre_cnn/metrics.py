"""Classification metrics as the paper reports them: accuracy, micro and macro precision / recall / F1.

Single-label test sets (notes, real recordings): the predicted class is the arg-max of the
clip-level (window-averaged) probabilities; *accuracy* is top-1, and P/R/F1 are computed on the
one-hot predictions. Multi-label test sets (mixtures, like IRMAS's predominant-instrument test): a
class is predicted when its clip-level probability is at least ``THRESHOLD`` (0.2, the paper's);
micro scores pool every (clip, class) decision, macro scores average per-class scores over the
classes present in the test labels (a class with no true and no predicted clip is skipped).
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 0.2


def _prf(tp, fp, fn) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return float(p), float(r), float(f)


def prf_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Micro and macro precision / recall / F1 of boolean ``(clips, classes)`` matrices."""
    y_true = np.asarray(y_true, bool)
    y_pred = np.asarray(y_pred, bool)
    tp = (y_true & y_pred).sum(axis=0)
    fp = (~y_true & y_pred).sum(axis=0)
    fn = (y_true & ~y_pred).sum(axis=0)
    micro = _prf(tp.sum(), fp.sum(), fn.sum())
    present = np.flatnonzero(y_true.any(axis=0))
    per = np.array([_prf(tp[c], fp[c], fn[c]) for c in present]) if len(present) else np.zeros((1, 3))
    return {
        "micro_precision": micro[0], "micro_recall": micro[1], "micro_f1": micro[2],
        "macro_precision": float(per[:, 0].mean()), "macro_recall": float(per[:, 1].mean()), "macro_f1": float(per[:, 2].mean()),
        "n_clips": int(len(y_true)), "n_classes_present": int(len(present)),
    }


def single_label_scores(probs: np.ndarray, labels: np.ndarray) -> dict:
    """``probs`` ``(clips, classes)``, ``labels`` ``(clips,)`` class indices."""
    probs = np.asarray(probs)
    pred = probs.argmax(axis=1)
    onehot = np.eye(probs.shape[1], dtype=bool)
    return {"accuracy": float((pred == labels).mean()), **prf_scores(onehot[labels], onehot[pred])}


def multi_label_scores(probs: np.ndarray, y_true: np.ndarray, threshold: float = THRESHOLD) -> dict:
    return {"threshold": threshold, **prf_scores(y_true, np.asarray(probs) >= threshold)}


def confusion(labels: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    m = np.zeros((n_classes, n_classes), int)
    np.add.at(m, (labels, pred), 1)
    return m


def plot_confusion(matrix: np.ndarray, class_names, title: str, path) -> None:
    """Row-normalised confusion matrix (true class per row) as a PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from timbrelab.io_utils import save_figure

    m = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(0.32 * n + 2.5, 0.32 * n + 2))
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), class_names, rotation=90, fontsize=7)
    ax.set_yticks(range(n), class_names, fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=5, color="w" if m[i, j] > 0.5 else "k")
    fig.colorbar(im, ax=ax, fraction=0.04)
    save_figure(fig, path, dpi=110, bbox_inches="tight")
