"""Numbers for pictures: what a page or a plot draws for an EQ, a reverb and a before/after pair.

Plain lists (JSON-ready), computed with the project's own DSP, so the studio's plots and the CLI's
PNGs show the same curves: ``eq_view`` (the 40 band gains and the filter's response), ``reverb_view``
(the settings, decay time and the energy-decay curve of its impulse response) and
``spectrum_view`` (the 1/3-octave smoothed average spectra of two audio files, over at most
``excerpt_s`` seconds from their start, so memory stays bounded for long files).
"""

from __future__ import annotations

import numpy as np

#: frequencies a response or spectrum is drawn at (log-spaced, 20 Hz … 20 kHz)
PLOT_FREQS_HZ = np.geomspace(20, 20000, 200)
EXCERPT_S = 60.0


def _r(values, digits: int = 3) -> list:
    return [round(float(v), digits) for v in values]


def eq_view(eq, sample_rate: int = 44100) -> dict:
    """``{"freqs_hz", "response_db", "band_hz", "band_gains_db", "amount"}`` of a ``dsp.eq.GraphicEQ``."""
    from timbrelab.dsp.eq import BAND_CENTERS_HZ, response_at

    return {"freqs_hz": _r(PLOT_FREQS_HZ, 1), "response_db": _r(response_at(eq.taps(sample_rate), PLOT_FREQS_HZ, sample_rate)),
            "band_hz": _r(BAND_CENTERS_HZ, 1), "band_gains_db": _r(eq.effective_gains_db), "amount": float(eq.amount)}


def reverb_view(reverb, sample_rate: int = 44100, points: int = 300) -> dict:
    """``{"settings", "rt60_s", "amount", "decay": {"t_s", "db"}}`` of a ``dsp.reverb.Reverb``: the
    energy-decay curve (Schroeder) of its wet impulse response, re. a unit impulse's energy."""
    from timbrelab.dsp.analysis import energy_decay_db

    s = reverb.settings
    duration = min(s.rt60_s * 1.2 + 0.1, 8.0)
    edc = energy_decay_db(reverb.impulse_response(sample_rate, duration), normalise=False)
    idx = np.unique(np.linspace(0, len(edc) - 1, points).astype(int))
    d = reverb.to_dict()
    return {"settings": {k: d[k] for k in ("d_s", "g", "m_s", "f_hz", "E", "wetdry")}, "rt60_s": round(float(s.rt60_s), 4),
            "amount": float(reverb.amount), "decay": {"t_s": _r(idx / sample_rate, 4), "db": _r(np.maximum(edc[idx], -120.0), 2)}}


def _excerpt(path, seconds: float) -> tuple[np.ndarray, int]:
    from timbrelab import audio as aio

    info = aio.info(path)
    want = int(seconds * info.sample_rate)
    blocks, got = [], 0
    for b in aio.iter_blocks(path):
        blocks.append(b[:, : want - got])
        got += blocks[-1].shape[1]
        if got >= want:
            break
    x = np.concatenate(blocks, axis=1) if blocks else np.zeros((info.channels, 0), np.float32)
    return x, info.sample_rate


def smoothed_spectrum_db(audio: np.ndarray, sample_rate: int, freqs_hz=PLOT_FREQS_HZ) -> np.ndarray:
    """1/3-octave smoothed long-term average spectrum (dB) at ``freqs_hz``."""
    from timbrelab.dsp.analysis import average_spectrum_db, smooth_octave_db

    if audio.shape[-1] < 2:
        return np.full(len(freqs_hz), -120.0)
    f, p = average_spectrum_db(audio, sample_rate)
    s = smooth_octave_db(f, p, 3)
    return np.interp(freqs_hz, f, s, left=np.nan, right=np.nan)


def spectrum_view(before_path, after_path, excerpt_s: float = EXCERPT_S) -> dict:
    """Average spectra of two files (their first ``excerpt_s`` seconds), for a before/after plot."""
    x, sr = _excerpt(before_path, excerpt_s)
    y, sr_y = _excerpt(after_path, excerpt_s)
    n = min(x.shape[1], int(excerpt_s * sr))
    top = min(sr, sr_y) / 2
    keep = PLOT_FREQS_HZ <= top
    freqs = PLOT_FREQS_HZ[keep]
    return {"freqs_hz": _r(freqs, 1), "before_db": _r(smoothed_spectrum_db(x, sr, freqs), 2),
            "after_db": _r(smoothed_spectrum_db(y, sr_y, freqs), 2), "excerpt_s": round(min(excerpt_s, n / sr), 3)}
