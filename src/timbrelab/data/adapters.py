"""``torch.utils.data.Dataset`` adapters over arrays already in memory (or memory-mapped).

Each adapter works two ways: ``ds[i]`` for a ``DataLoader``, and ``ds.batch(indices)`` — one fancy
index for a whole mini-batch, what ``timbrelab.ml.train.fit``'s ``loss_on(indices)`` wants (no
per-item Python loop, no collate).

- ``WindowDataset(X, y)``: feature windows ``(n, bands, frames)`` float32 and int64 labels ``(n,)``
  (the timbre CNN's training windows, each labelled with its clip's class).
- ``CropDataset(X, y, frames, seed)``: feature maps of whole clips ``(n, bands, clip_frames)`` (any
  float dtype, e.g. float16) and labels; each ``batch`` takes a fresh seeded random crop of
  ``frames`` frames from every clip asked for (random time shift as augmentation), as float32.
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


class CropDataset(Dataset):
    """Clips' feature maps ``(n, bands, clip_frames)`` with class indices ``(n,)``; items are random
    ``frames``-long crops (a map shorter than ``frames`` is refused). The crops come from one
    ``numpy`` generator seeded with ``seed``: the same sequence of calls gives the same crops."""

    def __init__(self, X, y, frames: int, seed: int = 0):
        y = np.asarray(y)
        if X.ndim != 3 or X.shape[2] < frames or frames < 1:
            raise BadParameterError(f"CropDataset: need maps (clips, bands, ≥{frames} frames), got {X.shape}")
        if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer):
            raise BadParameterError(f"CropDataset: y must hold one class index per clip, got {y.dtype} {y.shape} for {len(X)} clips")
        self.X, self.y, self.frames = X, torch.from_numpy(y.astype(np.int64)), int(frames)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.X)

    def _crop(self, idx: np.ndarray) -> torch.Tensor:
        starts = self.rng.integers(0, self.X.shape[2] - self.frames + 1, size=len(idx))
        out = np.stack([np.asarray(self.X[i, :, s : s + self.frames], np.float32) for i, s in zip(idx, starts)])
        return torch.from_numpy(out)

    def __getitem__(self, i: int):
        return self._crop(np.array([i]))[0], self.y[i]

    def batch(self, indices):
        idx = _index(indices)
        return self._crop(idx), self.y[torch.from_numpy(idx)]


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
