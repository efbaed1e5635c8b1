"""The 40-band graphic EQ of SocialEQ / Audealize, realised as one minimum-phase FIR filter.

Design: the 40 band gains (dB, times ``amount``) are interpolated on a log-frequency axis with a
shape-preserving cubic (PCHIP, so no overshoot between bands) into a dense magnitude response; bands
at or above Nyquist are dropped and the last kept gain is held up to Nyquist, the first held down to
DC. A minimum-phase filter with that magnitude is made by the real-cepstrum (homomorphic) method,
truncated with a short fade, and its response is corrected twice at the band centres so it meets
the curve there (a test measures ≤ 0.5 dB error from 40 Hz to 16 kHz at 44.1 and 48 kHz). It runs as
block-invariant FFT convolution (``dsp.stream.FIRStream``), so streaming a long file gives exactly
the result of processing it whole. Minimum phase means no pre-ringing and no added latency.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.fft as sfft
from scipy.interpolate import PchipInterpolator

from timbrelab.dsp.amount import MAX_EQ_AMOUNT, check_amount  # noqa: F401  (re-exported: GraphicEQ's amount)
from timbrelab.errors import BadParameterError
from timbrelab.dsp.stream import FIRStream, run_stream

#: band centres (Hz) of the SocialEQ / Audealize 40-band graphic EQ
BAND_CENTERS_HZ = np.array(
    [20, 50, 83, 120, 161, 208, 259, 318, 383, 455, 537, 628, 729, 843, 971, 1114, 1273, 1452, 1652,
     1875, 2126, 2406, 2719, 3070, 3462, 3901, 4392, 4941, 5556, 6244, 7014, 7875, 8839, 9917, 11124,
     12474, 13984, 15675, 17566, 19682],
    dtype=np.float64,
)
N_BANDS = len(BAND_CENTERS_HZ)
#: largest gain of a single band after scaling (dB); bigger asks are refused, not silently cut
MAX_BAND_GAIN_DB = 36.0
#: bands closer than this fraction of Nyquist are dropped (a peaking band cannot sit at Nyquist)
NYQUIST_MARGIN = 0.95
#: Q of the SocialEQ / Audealize peaking bands (for comparisons with biquad EQs)
EQ_Q_FACTOR = 4.31


def _active_bands(sample_rate: int) -> np.ndarray:
    return BAND_CENTERS_HZ < NYQUIST_MARGIN * sample_rate / 2


def design_length(sample_rate: int) -> int:
    """FIR length: a power of two covering ~0.17 s (resolves the 20/50/83 Hz bands)."""
    return int(2 ** np.ceil(np.log2(0.17 * sample_rate)))


def target_response_db(gains_db: np.ndarray, freqs_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """The curve the EQ follows, in dB, at arbitrary frequencies (PCHIP over log-frequency)."""
    keep = _active_bands(sample_rate)
    centres = BAND_CENTERS_HZ[keep]
    gains = np.asarray(gains_db, np.float64)[keep]
    interp = PchipInterpolator(np.log(centres), gains, extrapolate=False)
    f = np.clip(np.asarray(freqs_hz, np.float64), centres[0], centres[-1])
    return interp(np.log(f))


def _min_phase_fir(mag_db_full_grid: np.ndarray, n_taps: int) -> np.ndarray:
    """Minimum-phase FIR with the given magnitude (dB on an rfft grid), by the real cepstrum."""
    n_fft = 2 * (len(mag_db_full_grid) - 1)
    log_mag = mag_db_full_grid * (np.log(10.0) / 20.0)
    cep = sfft.irfft(log_mag, n_fft)
    fold = np.zeros(n_fft)
    fold[0] = cep[0]
    fold[1 : n_fft // 2] = 2 * cep[1 : n_fft // 2]
    fold[n_fft // 2] = cep[n_fft // 2]
    h = sfft.irfft(np.exp(sfft.rfft(fold)), n_fft)[:n_taps]
    fade = max(16, n_taps // 16)
    h[-fade:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, fade)))
    return h


def response_at(taps: np.ndarray, freqs_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Magnitude response (dB) of FIR taps at the given frequencies (exact DTFT)."""
    n = np.arange(len(taps))
    w = 2 * np.pi * np.asarray(freqs_hz, np.float64)[:, None] / sample_rate
    h = (taps[None, :] * np.exp(-1j * w * n[None, :])).sum(axis=1)
    return 20 * np.log10(np.maximum(np.abs(h), 1e-12))


@lru_cache(maxsize=64)
def _design_cached(gains_key: tuple, sample_rate: int) -> np.ndarray:
    gains = np.array(gains_key)
    n_taps = design_length(sample_rate)
    n_fft = 8 * n_taps
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    keep = _active_bands(sample_rate)
    centres = BAND_CENTERS_HZ[keep]
    asked = gains.copy()
    taps = None
    for _ in range(3):  # design, then correct the curve where truncation moved the band centres
        taps = _min_phase_fir(target_response_db(asked, freqs, sample_rate), n_taps)
        err = response_at(taps, centres, sample_rate) - gains[keep]
        if np.max(np.abs(err)) < 0.05:
            break
        asked[keep] = asked[keep] - err
    return taps


@dataclass(frozen=True)
class GraphicEQ:
    """40-band graphic EQ: ``GraphicEQ(gains_db, amount=1.0)(audio, sample_rate) -> audio``.

    ``gains_db``: 40 gains in dB at ``BAND_CENTERS_HZ``. ``amount`` scales them: 0 is a bit-exact
    bypass, 1 the given curve, negative the mirror-image curve ("less warm"), |amount| ≤ 2.
    Never mutates its input. Printable, comparable (==) and JSON-serialisable (``to_dict``).
    """

    gains_db: tuple = field(default=(0.0,) * N_BANDS)
    amount: float = 1.0

    def __post_init__(self):
        g = np.asarray(self.gains_db, dtype=np.float64).ravel()
        if g.shape != (N_BANDS,):
            raise BadParameterError(f"a graphic EQ needs {N_BANDS} band gains in dB, got {g.size}")
        if not np.all(np.isfinite(g)):
            raise BadParameterError("EQ gains must be finite numbers of dB")
        object.__setattr__(self, "gains_db", tuple(round(float(x), 6) for x in g))
        object.__setattr__(self, "amount", check_amount(self.amount, "EQ amount"))
        if np.max(np.abs(self.effective_gains_db)) > MAX_BAND_GAIN_DB:
            raise BadParameterError(f"EQ band gains beyond ±{MAX_BAND_GAIN_DB:g} dB are refused (asked {np.max(np.abs(self.effective_gains_db)):.1f} dB)")

    @property
    def effective_gains_db(self) -> np.ndarray:
        """The 40 gains actually applied (gains × amount)."""
        return np.asarray(self.gains_db) * self.amount

    @property
    def is_bypass(self) -> bool:
        return self.amount == 0.0 or not np.any(self.effective_gains_db)

    def taps(self, sample_rate: int) -> np.ndarray:
        """The minimum-phase FIR realising this EQ at ``sample_rate``."""
        return _design_cached(tuple(self.effective_gains_db.round(6)), int(sample_rate))

    def stream(self, sample_rate: int, channels: int):
        """A block-invariant stream applying this EQ (see ``dsp.stream``)."""
        return FIRStream(self.taps(sample_rate), channels)

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        from timbrelab.audio import as_audio, check_sample_rate

        audio = as_audio(audio)
        sample_rate = check_sample_rate(sample_rate)
        if self.is_bypass:
            return audio.copy()
        return run_stream(self.stream(sample_rate, audio.shape[0]), audio).astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "type": "GraphicEQ",
            "band_centers_hz": BAND_CENTERS_HZ.tolist(),
            "gains_db": list(self.gains_db),
            "amount": self.amount,
            "effective_gains_db": [round(float(x), 4) for x in self.effective_gains_db],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "GraphicEQ":
        return cls(tuple(d["gains_db"]), d.get("amount", 1.0))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def __repr__(self) -> str:
        g = self.effective_gains_db
        lo, hi = int(np.argmin(g)), int(np.argmax(g))
        return (
            f"GraphicEQ(amount={self.amount:g}, max {g[hi]:+.2f} dB @ {BAND_CENTERS_HZ[hi]:g} Hz, "
            f"min {g[lo]:+.2f} dB @ {BAND_CENTERS_HZ[lo]:g} Hz)"
        )
