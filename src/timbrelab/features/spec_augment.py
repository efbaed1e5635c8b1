"""SpecAugment-style masking of feature maps for training (Park et al., 2019), seeded.

``SpecAugmentConfig(freq_masks, max_bands, time_masks, max_frames)``: each map gets ``freq_masks``
bands of random width 0 … ``max_bands`` and ``time_masks`` frame spans of width 0 … ``max_frames``,
filled with a per-band value (the training features' band means: zero after standardisation, as
Park et al. fill with the mean). ``spec_augment(x, rng, config, fill)`` returns a masked copy of a
batch ``(n, bands, frames)`` (or ``(n, 1, bands, frames)``); the random draws come only from ``rng``,
so a seeded generator gives the same masks. With every count 0 it returns ``x`` unchanged.

Why: a recording chain (microphone, room, EQ, codec) removes or colours whole bands and moments;
masks make a model use every band's evidence rather than a few.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from timbrelab.configs import config_from_dict
from timbrelab.errors import BadParameterError


@dataclass(frozen=True)
class SpecAugmentConfig:
    freq_masks: int = 0  # masked bands per map (0: none)
    max_bands: int = 0   # widest band mask, in bands
    time_masks: int = 0  # masked frame spans per map
    max_frames: int = 0  # widest time mask, in frames

    def __post_init__(self):
        for k, v in asdict(self).items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise BadParameterError(f"SpecAugment: {k} must be a whole number ≥ 0, got {v!r}")

    @property
    def active(self) -> bool:
        return bool(self.freq_masks and self.max_bands) or bool(self.time_masks and self.max_frames)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SpecAugmentConfig":
        return config_from_dict(cls, d, "SpecAugment")


def _spans(rng: np.random.Generator, n: int, count: int, widest: int, length: int) -> np.ndarray:
    """``(n, count, 2)`` start/stop pairs: widths uniform in 0 … widest (capped by length), starts uniform."""
    widths = rng.integers(0, min(widest, length) + 1, size=(n, count))
    starts = rng.integers(0, length - widths + 1)
    return np.stack([starts, starts + widths], axis=-1)


def spec_augment(x: torch.Tensor, rng: np.random.Generator, config: SpecAugmentConfig, fill: torch.Tensor) -> torch.Tensor:
    """A masked copy of feature maps ``x`` ``(n, [1,] bands, frames)``; ``fill``: ``(bands,)`` values
    for masked cells. Draws from ``rng`` only when the config is active."""
    if not config.active:
        return x
    bands, frames = x.shape[-2], x.shape[-1]
    if fill.shape != (bands,):
        raise BadParameterError(f"SpecAugment: fill must hold one value per band ({bands}), got {tuple(fill.shape)}")
    n = x.shape[0]
    keep = torch.ones((n, bands, frames), dtype=torch.bool)
    if config.freq_masks and config.max_bands:
        for i, spans in enumerate(_spans(rng, n, config.freq_masks, config.max_bands, bands)):
            for a, b in spans:
                keep[i, a:b, :] = False
    if config.time_masks and config.max_frames:
        for i, spans in enumerate(_spans(rng, n, config.time_masks, config.max_frames, frames)):
            for a, b in spans:
                keep[i, :, a:b] = False
    if x.dim() == 4:
        keep = keep[:, None]
    filled = fill.to(x.dtype)[:, None].expand(bands, frames)
    return torch.where(keep, x, filled)
