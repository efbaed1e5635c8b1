"""Toy embedders with a known answer, for the probe's tests and the quick run of `timbrelab bench probe`.

``crowd-eq`` (:func:`crowd_eq_embedder`): audio → the level in dB of each of the 40 SocialEQ bands
(energy between the geometric midpoints of the band centres, mean over bands removed: level-invariant);
text "a <word> sound" → the word's mean crowd EQ curve from the SocialEQ contributions (mean removed),
or a hash-seeded vector for a word without one. Its audio embedding's *change* under an EQ is the
EQ's curve, so it should rank the contributor's word well above chance; nothing in it is trained.
"""

from __future__ import annotations

import hashlib

import numpy as np

from timbrelab.dsp.eq import BAND_CENTERS_HZ

EDGES_HZ = np.r_[10.0, np.sqrt(BAND_CENTERS_HZ[:-1] * BAND_CENTERS_HZ[1:]), 21000.0]


def band_levels_db(audio, sample_rate, edges_hz=EDGES_HZ) -> np.ndarray:
    """Band levels in dB between ``edges_hz`` (default: 40 bands at the SocialEQ band centres), mean
    removed (float64 ``(len(edges_hz) - 1,)``)."""
    x = np.asarray(audio, np.float64).mean(axis=0)
    power = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / sample_rate)
    e = np.array([power[(f >= lo) & (f < hi)].sum() for lo, hi in zip(edges_hz[:-1], edges_hz[1:])])
    db = 10 * np.log10(e + 1e-12)
    return db - db.mean()


def crowd_curves() -> dict[str, np.ndarray]:
    """prompt ("a <word> sound") → the word's mean contributed EQ curve in dB, mean removed."""
    from timbrelab.probe.reference import prompt_for
    from timbrelab.word2fx import data as D

    d = D.eq_contributions()
    out = {}
    for w in d.vocabulary:
        c = d.gains_db[d.words == w].mean(axis=0)
        out[prompt_for(D.word_key(w))] = c - c.mean()
    return out


class CrowdEQEmbedder:
    """See the module docstring; ``sign`` −1 turns every text vector round (an embedder that is always wrong)."""

    def __init__(self, name: str = "crowd-eq", sign: float = 1.0):
        self.name, self.sign = name, float(sign)
        self.curves = crowd_curves()

    def embed_audio(self, audio, sample_rate):
        return band_levels_db(audio, sample_rate)

    def embed_text(self, texts):
        out = []
        for t in texts:
            if t in self.curves:
                out.append(self.sign * self.curves[t])
            else:
                seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
                out.append(np.random.default_rng(seed).standard_normal(len(BAND_CENTERS_HZ)))
        return np.array(out)


def crowd_eq_embedder(name: str = "crowd-eq", sign: str | float = 1.0) -> CrowdEQEmbedder:
    """Factory for ``--embedder probe_toys:crowd_eq_embedder`` (options arrive as strings from the CLI)."""
    return CrowdEQEmbedder(name, float(sign))
