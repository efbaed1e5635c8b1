"""Classification metrics as the instrument-recognition papers report them.

Single-label test sets (notes, real recordings): the predicted class is the arg-max of the
clip-level probabilities; *accuracy* is top-1, and precision / recall / F1 are computed on the
one-hot predictions. Multi-label test sets (mixtures, like IRMAS's predominant-instrument test): a
class is predicted when its probability is at least ``THRESHOLD`` (0.2, Pons et al. 2017 after Han
et al.); micro scores pool every (clip, class) decision, macro scores average per-class scores over
the classes present in the test labels (a class with no true clip is skipped, whatever was
predicted for it; its false positives still count in the micro scores).

Shapes: ``probs`` float ``(clips, classes)``; ``labels`` int ``(clips,)``; ``y_true`` / ``y_pred``
bool ``(clips, classes)``. Every score is a plain ``float`` in [0, 1] (0 where undefined: no
prediction for precision, no true label for recall).
"""

from __future__ import annotations

import numpy as np

from timbrelab.errors import BadParameterError

THRESHOLD = 0.2


def _prf(tp, fp, fn) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return float(p), float(r), float(f)


def accuracy(labels, pred) -> float:
    """Fraction of clips whose predicted class index equals the true one."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    if labels.shape != pred.shape or labels.ndim != 1:
        raise BadParameterError(f"accuracy: labels and predictions must be two equal 1-D arrays, got {labels.shape} and {pred.shape}")
    return float((labels == pred).mean()) if len(labels) else 0.0


def prf_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Micro and macro precision / recall / F1 of boolean ``(clips, classes)`` matrices."""
    y_true = np.asarray(y_true, bool)
    y_pred = np.asarray(y_pred, bool)
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise BadParameterError(f"scores: truth and predictions must be two equal (clips, classes) matrices, got {y_true.shape} and {y_pred.shape}")
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


def one_hot(indices, n_classes: int) -> np.ndarray:
    """bool ``(len(indices), n_classes)`` with one True per row."""
    return np.eye(n_classes, dtype=bool)[np.asarray(indices)]


def single_label_scores(probs: np.ndarray, labels: np.ndarray) -> dict:
    """``probs`` ``(clips, classes)``, ``labels`` ``(clips,)`` class indices: accuracy and P/R/F1 of the arg-max."""
    probs = np.asarray(probs)
    labels = np.asarray(labels)
    pred = probs.argmax(axis=1)
    return {"accuracy": accuracy(labels, pred), **prf_scores(one_hot(labels, probs.shape[1]), one_hot(pred, probs.shape[1]))}


def above_threshold(probs: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """Multi-label decisions: bool ``(clips, classes)``, True where the probability is ≥ ``threshold``."""
    return np.asarray(probs) >= threshold


def multi_label_scores(probs: np.ndarray, y_true: np.ndarray, threshold: float = THRESHOLD) -> dict:
    """P/R/F1 of the classes whose probability is ≥ ``threshold`` against bool ``y_true``."""
    return {"threshold": threshold, **prf_scores(y_true, above_threshold(probs, threshold))}


def confusion(labels: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """int ``(n_classes, n_classes)``: row = true class, column = predicted class."""
    m = np.zeros((n_classes, n_classes), int)
    np.add.at(m, (np.asarray(labels), np.asarray(pred)), 1)
    return m


def linear_probe_accuracy(train_x, train_y, test_x, test_y, n_classes: int, l2: float = 1e-3, iterations: int = 200) -> float:
    """Accuracy on ``test_x`` of a multinomial logistic regression fit on ``train_x`` (features standardised on
    the training set; L2 penalty ``l2``; L-BFGS from zeros, so deterministic): the "simple classifier" of a
    disentanglement table."""
    import torch

    xtr = np.asarray(train_x, np.float64)
    mean, std = xtr.mean(axis=0), xtr.std(axis=0) + 1e-8
    Xtr = torch.from_numpy((xtr - mean) / std)
    Xte = torch.from_numpy((np.asarray(test_x, np.float64) - mean) / std)
    ytr = torch.as_tensor(np.asarray(train_y), dtype=torch.long)
    W = torch.zeros(Xtr.shape[1], int(n_classes), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(int(n_classes), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=int(iterations), line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(Xtr @ W + b, ytr) + l2 * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = (Xte @ W + b).argmax(-1).numpy()
    return accuracy(np.asarray(test_y), pred)
