"""``torch.utils.data.Dataset`` adapters over arrays already in memory (or memory-mapped).

Each adapter works two ways: ``ds[i]`` for a ``DataLoader``, and ``ds.batch(indices)`` — one fancy
index for a whole mini-batch, what ``timbrelab.ml.train.fit``'s ``loss_on(indices)`` wants (no
per-item Python loop, no collate).

- ``WindowDataset(X, y)``: feature windows ``(n, bands, frames)`` float32 and int64 labels ``(n,)``
  (the timbre CNN's training windows, each labelled with its clip's class).
- ``MixtureDataset(mixtures, sources)``: mixtures ``(n, samples)`` and their sources ``(n, k,
  samples)`` (any float dtype, e.g. float16 memmaps of a rendered set; returned as float32).
- ``CaptionDataset(clips, captions)``: clips ``(n, samples)`` with one caption (text) each.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from timbrelab.errors import BadParameterError


def _index(indices) -> np.ndarray:
    if isinstance(indices, torch.Tensor):
        indices = indices.numpy()
    return np.asarray(indices, dtype=np.int64)


class WindowDataset(Dataset):
    """Labelled feature windows. ``X``: float32 ``(n, bands, frames)``; ``y``: class indices ``(n,)``.

    The tensors share memory with the arrays given (``torch.from_numpy``); ``batch(idx)`` returns
    ``(X[idx], y[idx])``.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray):
        X = np.asarray(X)
        y = np.asarray(y)
        if X.ndim != 3 or X.dtype != np.float32:
            raise BadParameterError(f"WindowDataset: X must be float32 (windows, bands, frames), got {X.dtype} {X.shape}")
        if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer):
            raise BadParameterError(f"WindowDataset: y must hold one class index per window, got {y.dtype} {y.shape} for {len(X)} windows")
        self.X = torch.from_numpy(X)
        self.y = torch.from_numpy(y.astype(np.int64))

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int):
        return self.X[i], self.y[i]

    def batch(self, indices):
        idx = torch.as_tensor(indices)
        return self.X[idx], self.y[idx]


class MixtureDataset(Dataset):
    """Mixtures ``(n, samples)`` with their sources ``(n, k, samples)``; items as float32 tensors
    ``(samples,)`` and ``(k, samples)``. Arrays may be memory-mapped (read item by item)."""

    def __init__(self, mixtures, sources):
        if mixtures.ndim != 2 or sources.ndim != 3 or sources.shape[0] != mixtures.shape[0] or sources.shape[2] != mixtures.shape[1]:
            raise BadParameterError(f"MixtureDataset: need mixtures (n, samples) and sources (n, k, samples), got {mixtures.shape} and {sources.shape}")
        self.mixtures, self.sources = mixtures, sources

    def __len__(self) -> int:
        return len(self.mixtures)

    def __getitem__(self, i: int):
        return (torch.from_numpy(np.asarray(self.mixtures[i], np.float32)),
                torch.from_numpy(np.asarray(self.sources[i], np.float32)))

    def batch(self, indices):
        idx = _index(indices)
        return (torch.from_numpy(np.asarray(self.mixtures[idx], np.float32)),
                torch.from_numpy(np.asarray(self.sources[idx], np.float32)))


class CaptionDataset(Dataset):
    """Clips ``(n, samples)`` (float, any dtype) paired with captions (``n`` strings)."""

    def __init__(self, clips, captions):
        captions = list(captions)
        if clips.ndim != 2 or len(clips) != len(captions) or not all(isinstance(c, str) for c in captions):
            raise BadParameterError(f"CaptionDataset: need clips (n, samples) and n captions, got {clips.shape} and {len(captions)}")
        self.clips, self.captions = clips, captions

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int):
        return torch.from_numpy(np.asarray(self.clips[i], np.float32)), self.captions[i]

    def batch(self, indices):
        idx = _index(indices)
        return torch.from_numpy(np.asarray(self.clips[idx], np.float32)), [self.captions[i] for i in idx]
