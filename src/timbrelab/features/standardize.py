"""Per-band standardisation whose statistics ship with a model's weights.

``Standardizer``: ``(x - mean[band]) / std[band]`` on any tensor whose last two axes are
``(bands, frames)``; ``mean``, ``std`` and ``n_values`` are buffers (saved in ``state_dict``, not
trained). ``StandardizerConfig`` (``n_bands``, ``min_std``) is its JSON-able config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from timbrelab.configs import check_positive_int, config_from_dict
from timbrelab.errors import BadParameterError

#: smallest standard deviation a Standardizer divides by (a constant band is not blown up)
MIN_STD = 1e-5


@dataclass(frozen=True)
class StandardizerConfig:
    n_bands: int = 96
    min_std: float = MIN_STD

    def __post_init__(self):
        check_positive_int("Standardizer", "n_mels", self.n_bands)
        if not (isinstance(self.min_std, (int, float)) and self.min_std > 0):
            raise BadParameterError(f"Standardizer: min_std must be a positive number, got {self.min_std!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StandardizerConfig":
        return config_from_dict(cls, d, "Standardizer")


class Standardizer(nn.Module):
    """Per-band zero mean, unit variance: ``(x - mean[band]) / std[band]``.

    ``Standardizer(96)`` or ``Standardizer(StandardizerConfig(...))``. Works on any tensor whose last
    two axes are ``(n_mels, frames)``. Until ``fit`` is called the standardizer is the identity
    (mean 0, std 1) and ``fitted`` is False. Fit it on *training* features only.
    """

    def __init__(self, config: StandardizerConfig | int = 96):
        super().__init__()
        self.config = config if isinstance(config, StandardizerConfig) else StandardizerConfig(config)
        self.n_mels = int(self.config.n_bands)
        self.register_buffer("mean", torch.zeros(self.n_mels))
        self.register_buffer("std", torch.ones(self.n_mels))
        self.register_buffer("n_values", torch.zeros((), dtype=torch.int64))

    @property
    def fitted(self) -> bool:
        return int(self.n_values) > 0

    @torch.no_grad()
    def fit(self, features) -> "Standardizer":
        """Fit on one array/tensor ``(..., n_mels, frames)`` or an iterable of them (streamed, float64 sums)."""
        if isinstance(features, (np.ndarray, torch.Tensor)):
            features = [features]
        count, total, total_sq = 0, np.zeros(self.n_mels), np.zeros(self.n_mels)
        for f in features:
            a = f.detach().cpu().numpy() if isinstance(f, torch.Tensor) else np.asarray(f)
            if a.ndim < 2 or a.shape[-2] != self.n_mels:
                raise BadParameterError(
                    f"Standardizer: features must be shaped (..., {self.n_mels} bands, frames), got {a.shape}"
                )
            if a.size == 0:
                continue
            if not np.all(np.isfinite(a)):
                raise BadParameterError("Standardizer: the training features contain NaN or infinite values")
            a = np.moveaxis(a.astype(np.float64), -2, 0).reshape(self.n_mels, -1)
            count += a.shape[1]
            total += a.sum(axis=1)
            total_sq += (a * a).sum(axis=1)
        if count == 0:
            raise BadParameterError("Standardizer: no features to fit on")
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0.0))
        self.mean.copy_(torch.from_numpy(mean))
        self.std.copy_(torch.from_numpy(np.maximum(std, self.config.min_std)))
        self.n_values.fill_(count)
        return self

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() < 2 or x.shape[-2] != self.n_mels:
            raise BadParameterError(
                f"Standardizer: expected (..., {self.n_mels} bands, frames), got shape {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return (x - self.mean[:, None]) / self.std[:, None]

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        self._check(y)
        return y * self.std[:, None] + self.mean[:, None]

    def extra_repr(self) -> str:
        return f"n_mels={self.n_mels}, fitted={self.fitted}"
