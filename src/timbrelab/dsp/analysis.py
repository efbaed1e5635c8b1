"""Measurements used by tests, the demo report and benchmarks: spectra, band energies, decay time."""

from __future__ import annotations

import numpy as np
from scipy.signal import welch


def average_spectrum_db(audio: np.ndarray, sample_rate: int, n_fft: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Long-term average power spectrum (Welch, Hann, 50 % overlap) of the channel mean.

    Returns ``(freqs_hz, power_db)``.
    """
    x = np.asarray(audio, np.float64).mean(axis=0)
    n = min(n_fft, len(x))
    f, p = welch(x, fs=sample_rate, nperseg=n, noverlap=n // 2)
    return f, 10 * np.log10(np.maximum(p, 1e-20))


def band_energy_db(audio: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> float:
    """Energy (dB, arbitrary reference) between ``low_hz`` and ``high_hz``."""
    f, p_db = average_spectrum_db(audio, sample_rate)
    band = (f >= low_hz) & (f < high_hz)
    return float(10 * np.log10(np.sum(10 ** (p_db[band] / 10)) + 1e-30))


def smooth_octave_db(freqs_hz: np.ndarray, power_db: np.ndarray, fraction: int = 6) -> np.ndarray:
    """Fractional-octave smoothing of a power spectrum (for plots)."""
    p = 10 ** (power_db / 10)
    out = np.empty_like(p)
    half = 2 ** (1 / (2 * fraction))
    for i, f in enumerate(freqs_hz):
        band = (freqs_hz >= f / half) & (freqs_hz <= f * half)
        out[i] = p[band].mean() if band.any() else p[i]
    return 10 * np.log10(np.maximum(out, 1e-20))


def energy_decay_db(impulse_response: np.ndarray, normalise: bool = True) -> np.ndarray:
    """Schroeder backward-integrated energy decay curve (dB), channels summed.

    ``normalise``: 0 dB at the start; otherwise relative to a unit impulse's energy."""
    e = np.asarray(impulse_response, np.float64) ** 2
    if e.ndim == 2:
        e = e.sum(axis=0)
    edc = np.cumsum(e[::-1])[::-1]
    ref = max(edc[0], 1e-30) if normalise else 1.0
    return 10 * np.log10(np.maximum(edc / ref, 1e-30))


def decay_time_s(impulse_response: np.ndarray, sample_rate: int, from_db: float = -5.0, to_db: float = -35.0) -> float:
    """RT60 from a line fit to the energy decay curve between ``from_db`` and ``to_db`` (T30 by default)."""
    edc = energy_decay_db(impulse_response)
    i0 = int(np.argmax(edc <= from_db))
    i1 = int(np.argmax(edc <= to_db))
    if i1 <= i0 + 2:
        return float("nan")
    t = np.arange(i0, i1) / sample_rate
    slope = np.polyfit(t, edc[i0:i1], 1)[0]
    return float(-60.0 / slope)
