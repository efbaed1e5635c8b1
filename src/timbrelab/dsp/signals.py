"""Test signals: seeded white and pink noise, float32 ``(channels, samples)``."""

from __future__ import annotations

import numpy as np


def white_noise(duration_s: float, sample_rate: int, channels: int = 1, seed: int = 0, level: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((channels, int(duration_s * sample_rate))) * level).astype(np.float32)


def pink_noise(duration_s: float, sample_rate: int, channels: int = 1, seed: int = 0, level: float = 0.1) -> np.ndarray:
    """Noise with a 1/f power spectrum (−3 dB/octave), shaped in the frequency domain, RMS = ``level``."""
    n = int(duration_s * sample_rate)
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal((channels, n // 2 + 1)) + 1j * rng.standard_normal((channels, n // 2 + 1))
    f = np.fft.rfftfreq(n, 1 / sample_rate)
    spec *= 1 / np.sqrt(np.maximum(f, f[1] if n > 1 else 1.0))
    spec[:, 0] = 0
    x = np.fft.irfft(spec, n, axis=-1)
    x *= level / np.sqrt(np.mean(x**2, axis=-1, keepdims=True))
    return x.astype(np.float32)
