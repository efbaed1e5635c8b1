"""Shared figures (one home for plotting): confusion matrices, training curves, and the two helpers
every figure uses.

Matplotlib's object API only: ``figure()`` makes a ``matplotlib.figure.Figure`` with its own Agg
canvas, so nothing here touches pyplot's global figure list or selects a backend (no
``matplotlib.use``): safe in a server, a test run or a notebook. ``save(fig, path)`` writes
atomically (``timbrelab.io_utils.atomic_path``: a temporary file beside the target, then rename), in
the format the extension names (``.png``, ``.svg``, ``.pdf``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def figure(figsize=(6.4, 4.8), **kwargs):
    """A new ``Figure`` drawn by its own Agg canvas (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def subplots(nrows: int = 1, ncols: int = 1, figsize=(6.4, 4.8), squeeze: bool = True, **kwargs):
    """``(fig, axes)`` like ``pyplot.subplots``, on a :func:`figure` (no pyplot state)."""
    fig = figure(figsize=figsize)
    axes = fig.subplots(nrows, ncols, squeeze=squeeze, **kwargs)
    return fig, axes


def save(fig, path, dpi: int = 110, **kwargs) -> Path:
    """Write ``fig`` to ``path`` atomically (format from the extension; ``bbox_inches="tight"`` unless given)."""
    from timbrelab.io_utils import atomic_path

    kwargs.setdefault("bbox_inches", "tight")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi, **kwargs)
    return Path(path)


def confusion_matrix(matrix, class_names, title: str = "", path=None, true_names=None):
    """Row-normalised confusion matrix (true class per row, counts printed in the cells); returns the
    ``Figure`` and, with ``path``, saves it. ``true_names``: the rows' classes when they are not all of
    ``class_names`` (the columns), e.g. only the classes a test set has: a rectangular matrix."""
    matrix = np.asarray(matrix)
    rows = list(class_names if true_names is None else true_names)
    n_r, n_c = len(rows), len(class_names)
    if matrix.shape != (n_r, n_c):
        from timbrelab.errors import BadParameterError

        raise BadParameterError(f"confusion matrix: shape {matrix.shape} does not match {n_r} × {n_c} class names")
    m = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig = figure(figsize=(0.32 * n_c + 2.5, 0.32 * n_r + 2))
    ax = fig.add_subplot()
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n_c), class_names, rotation=90, fontsize=7)
    ax.set_yticks(range(n_r), rows, fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    for i in range(n_r):
        for j in range(n_c):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=5, color="w" if m[i, j] > 0.5 else "k")
    fig.colorbar(im, ax=ax, fraction=0.04)
    if path is not None:
        save(fig, path)
    return fig


def training_curves(history, title: str = "", path=None, score_label: str = "validation score"):
    """Training loss and validation score per epoch (``history``: the ``ml.train.FitResult.history``
    records, ``{"epoch", "train_loss", "score"?}``); returns the ``Figure`` and, with ``path``, saves it."""
    epochs = [h["epoch"] for h in history]
    fig = figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", color="#3182bd", label="training loss")
    ax.set(xlabel="epoch", ylabel="training loss", title=title)
    scores = [h.get("score") for h in history]
    if any(s is not None for s in scores):
        ax2 = ax.twinx()
        ax2.plot(epochs, scores, "s-", color="#a50f15", label=score_label)
        ax2.set_ylabel(score_label)
        lines = ax.get_lines() + ax2.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="center right")
    if path is not None:
        save(fig, path)
    return fig


def spectrogram_row(logmels, labels, title: str = "", path=None, seconds_per_frame: float | None = None, range_db: float = 104.0):
    """Log-mel spectrograms side by side on one colour scale (``logmels``: ``(n, bands, frames)``, natural-log
    magnitudes; the scale spans ``range_db`` below the loudest bin); returns the ``Figure`` and, with ``path``, saves it."""
    logmels = np.asarray(logmels)
    n = len(logmels)
    fig, axes = subplots(1, n, figsize=(1.6 * n + 0.6, 2.8), squeeze=False, sharey=True)
    hi = float(logmels.max())
    lo = hi - range_db / (20 / np.log(10))
    width = logmels.shape[2] * (seconds_per_frame or 1.0)
    for ax, lm, label in zip(axes[0], logmels, labels):
        ax.imshow(lm, origin="lower", aspect="auto", vmin=lo, vmax=hi, extent=(0, width, 0, lm.shape[0]), cmap="magma")
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("s" if seconds_per_frame else "frame", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[0][0].set_ylabel("mel band", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
        fig.subplots_adjust(top=0.8, wspace=0.12)
    if path is not None:
        save(fig, path)
    return fig
