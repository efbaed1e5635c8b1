"""A toy language–audio embedder with a known answer, for describe / embed / search and the studio's tab.

``band_embedder`` (``--embedder describe_toys:band_embedder``): 8 dimensions.

- audio → the levels in dB of four bands (below 250 Hz, 250 Hz–2 kHz, 2–6 kHz, above 6 kHz; mean over
  the bands removed, so loudness does not count) in dimensions 0–3, zeros in 4–7;
- text → the sum of the directions of the timbre words it contains (``DIRECTIONS``: "bright" points
  to the high bands, "dark" to the low ones …), or, when it contains none, a hash-seeded vector in
  dimensions 4–7 only: orthogonal to every sound (score exactly 0).

So a high-passed noise is described as bright / tinny / crisp / shrill / thin, a low-passed one as dark
/ boomy / bassy / warm / deep, and every other word scores 0. Deterministic; ``CALLS`` counts the
``embed_audio`` calls of every instance (how a test knows what a command really embedded).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

import numpy as np

from probe_toys import band_levels_db

EDGES_HZ = np.array([10.0, 250.0, 2000.0, 6000.0, 22000.0])
DIM = 8
#: word → direction in the four band dimensions (low … high)
DIRECTIONS = {
    "bright": (-1.0, -0.5, 0.5, 1.0), "tinny": (-1.0, -1.0, 1.0, 0.6), "crisp": (-0.6, -0.6, 0.2, 1.0),
    "shrill": (-1.0, -0.2, 0.8, 0.8), "thin": (-1.0, 0.2, 0.4, 0.4),
    "dark": (1.0, 0.5, -0.5, -1.0), "boomy": (1.0, -0.2, -0.4, -0.4), "bassy": (1.0, 0.1, -0.5, -0.6),
    "warm": (0.6, 0.8, -0.6, -0.8), "deep": (1.0, 0.3, -0.6, -0.7),
}
CALLS: Counter = Counter()


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


class BandEmbedder:
    """See the module docstring; ``audio_center`` (``(8,)``) and ``fingerprint`` are set only when given."""

    def __init__(self, name: str = "toy-bands", fingerprint: str | None = None, audio_center=None):
        self.name = name
        if fingerprint is not None:
            self.fingerprint = fingerprint
        if audio_center is not None:
            self.audio_center = np.asarray(audio_center, dtype=np.float64)

    def embed_audio(self, audio, sample_rate):
        CALLS["audio"] += 1
        v = np.zeros(DIM)
        v[:4] = band_levels_db(audio, sample_rate, EDGES_HZ)
        n = np.linalg.norm(v)
        return v / n if n > 0 else v

    def embed_text(self, texts):
        CALLS["text"] += len(texts)
        out = []
        for t in texts:
            v = np.zeros(DIM)
            for w in words_of(t):
                if w in DIRECTIONS:
                    v[:4] += DIRECTIONS[w]
            if not v.any():
                seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
                v[4:] = np.random.default_rng(seed).standard_normal(4)
            out.append(v / np.linalg.norm(v))
        return np.array(out)


def band_embedder(name: str = "toy-bands", fingerprint: str | None = None) -> BandEmbedder:
    """Factory for ``--embedder describe_toys:band_embedder`` (options arrive as strings)."""
    return BandEmbedder(name, fingerprint)


def filtered_noise(lo_hz: float, hi_hz: float, duration_s: float = 1.0, sample_rate: int = 22050, seed: int = 0) -> np.ndarray:
    """White noise keeping only ``lo_hz`` … ``hi_hz`` (FFT brick wall), float32 ``(1, samples)`` at 0.3 peak."""
    n = int(duration_s * sample_rate)
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sample_rate)
    spec[(f < lo_hz) | (f > hi_hz)] = 0
    x = np.fft.irfft(spec, n)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)[None, :]


def write_sounds(folder, sample_rate: int = 22050) -> dict:
    """bright.wav (3–10 kHz), dark.wav (40–250 Hz) and mid.wav (400–1500 Hz) in ``folder``: name → path."""
    from pathlib import Path

    from timbrelab.audio import write_audio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, (name, lo, hi) in enumerate((("bright", 3000, 10000), ("dark", 40, 250), ("mid", 400, 1500))):
        out[name] = write_audio(folder / f"{name}.wav", filtered_noise(lo, hi, sample_rate=sample_rate, seed=i), sample_rate, bit_depth="16")
    return out
