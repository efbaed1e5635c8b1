"""From the explorer's log-mel spectrograms back to audio: Griffin-Lim, and a harmonic resynthesis.

``griffin_lim_audio(logmel)``: the mel filterbank inverted by non-negative least squares
(``features.logmel.mel_to_magnitude``), then 64 iterations of fast Griffin-Lim
(``features.stft.griffin_lim``) — the paper's method; everything, pitch included, comes from the
decoded spectrogram.

``harmonic_audio(logmel, f0_hz)``: phase-coherent additive synthesis. The decoded spectrogram is
inverted to magnitudes as above; in each frame, the magnitude within ± f0/2 of every harmonic k·f0
becomes that harmonic's amplitude (calibrated on a unit sinusoid), and the harmonics are summed with
continuous phase. No phase has to be guessed, so nothing smears — but the fundamental is *given*: the
explorer passes the pitch its pitch latent reads, so this path's pitch is right whenever that reading
is. Inharmonic partials (bells, mallets) are moved to the nearest harmonic; noise (breath, bow,
hammer) is dropped.

Both return float32 ``(1, samples)`` at ``FEATURES.sample_rate``, peak-normalised to −1 dBFS.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from timbrelab.explore.data import FEATURES, NOTE_SAMPLES

PEAK = 10 ** (-1 / 20)
METHODS = ("griffin-lim", "harmonic")


def _stft_config():
    from timbrelab.features.stft import STFTConfig

    return STFTConfig(n_fft=FEATURES.n_fft, hop=FEATURES.hop)


def _normalise(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, np.float32)
    peak = float(np.abs(y).max()) if y.size else 0.0
    return (y * (PEAK / peak)).astype(np.float32) if peak > 0 else y


def griffin_lim_audio(logmel: np.ndarray, n_iter: int = 64, seed: int = 0) -> np.ndarray:
    """Log-mel ``(128, 44)`` or ``(n, 128, 44)`` → audio ``(1, NOTE_SAMPLES)`` or ``(n, NOTE_SAMPLES)``."""
    from timbrelab.features.logmel import mel_to_magnitude
    from timbrelab.features.stft import griffin_lim

    lm = np.asarray(logmel, np.float32)
    single = lm.ndim == 2
    mag = mel_to_magnitude(lm[None] if single else lm, FEATURES)
    y = griffin_lim(mag, _stft_config(), n_iter=n_iter, length=NOTE_SAMPLES, seed=seed).numpy()
    y = np.stack([_normalise(v) for v in y])
    return y if not single else y[:1]


@lru_cache(maxsize=1)
def _sinusoid_gain() -> float:
    """Σ of the STFT magnitude a unit-amplitude sinusoid leaves in one frame (the harmonic amplitudes' calibration)."""
    from timbrelab.features.stft import stft

    import torch

    n = FEATURES.n_fft * 8
    t = np.arange(n) / FEATURES.sample_rate
    x = torch.from_numpy(np.sin(2 * np.pi * 1000.0 * t).astype(np.float32))
    mag = stft(x, _stft_config()).abs().numpy()
    return float(mag[:, mag.shape[1] // 2].sum())


def harmonic_audio(logmel: np.ndarray, f0_hz: float, seed: int = 0, max_harmonics: int = 80) -> np.ndarray:
    """Log-mel ``(128, 44)`` and a fundamental → audio ``(1, NOTE_SAMPLES)`` (see the module docstring)."""
    from timbrelab.features.logmel import mel_to_magnitude

    mag = mel_to_magnitude(np.asarray(logmel, np.float32), FEATURES).astype(np.float64)  # (bins, frames)
    sr, hop, n_fft = FEATURES.sample_rate, FEATURES.hop, FEATURES.n_fft
    bin_hz = sr / n_fft
    cum = np.concatenate([np.zeros((1, mag.shape[1])), np.cumsum(mag, axis=0)])  # band sums by difference
    n_h = int(min(max_harmonics, (0.5 * sr * 0.95) // f0_hz))
    gain = _sinusoid_gain()
    t = np.arange(NOTE_SAMPLES) / sr
    frame_t = np.arange(mag.shape[1]) * hop / sr
    rng = np.random.default_rng(seed)
    y = np.zeros(NOTE_SAMPLES)
    for k in range(1, n_h + 1):
        lo = int(np.clip(np.floor((k - 0.5) * f0_hz / bin_hz), 0, mag.shape[0]))
        hi = int(np.clip(np.ceil((k + 0.5) * f0_hz / bin_hz), lo + 1, mag.shape[0]))
        amp = (cum[hi] - cum[lo]) / gain  # per frame
        y += np.interp(t, frame_t, amp) * np.sin(2 * np.pi * k * f0_hz * t + rng.uniform(0, 2 * np.pi))
    return _normalise(y[None])


def midi_to_hz(pitch: float) -> float:
    return float(440.0 * 2 ** ((float(pitch) - 69) / 12))


def render(logmel: np.ndarray, method: str, pitch_midi: int | None = None, seed: int = 0) -> np.ndarray:
    """One note's audio ``(1, NOTE_SAMPLES)`` by ``method`` (one of ``METHODS``)."""
    from timbrelab.errors import BadParameterError

    if method == "griffin-lim":
        return griffin_lim_audio(logmel, seed=seed)
    if method == "harmonic":
        if pitch_midi is None:
            raise BadParameterError("harmonic resynthesis needs the note's pitch")
        return harmonic_audio(logmel, midi_to_hz(pitch_midi), seed=seed)
    raise BadParameterError(f"unknown resynthesis method {method!r} (known: {', '.join(METHODS)})")
