"""The engineering EQ lexicon: words mixing engineers use for frequency regions and characters.

"Add air", "less boxy", "more presence", "make it sound like a telephone": sentence embeddings
cannot know what "air" means to an engineer, and no crowd map rated these words. The lexicon
(``data/engineering_lexicon.toml``, written by hand from the audio-production literature, each term
naming its sources and, where they disagree, what was chosen) gives each term an EQ shape:

- a region boost or cut ("presence": +5 dB from 2.5 to 6 kHz), a bell ("boom": 125 Hz), a shelf
  ("air": +5 dB above 10 kHz), or a device's band limit ("telephone": 300–3400 Hz, stop bands −24 dB);
- ``Term.curve_db()``: the 40 band gains (dB at ``dsp.eq.BAND_CENTERS_HZ``) that "more <term>" plays
  at amount 1 — played as they are, not min–max stretched like a crowd curve, so "air" lifts the top
  and leaves the rest alone;
- a band limit can be added, not removed ("less telephone" is refused: its inverse is a 24 dB boost
  of everything the telephone drops).

``lexicon().lookup(word)`` forgives case, hyphens/spaces and simple inflections, like the crowd maps.
How a lexicon term ranks against the crowd maps and the models is :mod:`timbrelab.lexicon.resolve`'s
rule; how it informs the word → EQ model is ``word2fx.eq_task`` (the lexicon anchors).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from timbrelab.errors import BadParameterError
from timbrelab.lexicon.maps import inflection_candidates, normalize

EDGE_OCTAVES = 0.25  # soft edges of regions and shelves (logistic scale, in octaves)
SHAPE_KINDS = ("region", "bell", "high-shelf", "low-shelf", "band-limit", "tilt")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def shape_db(shape: dict, freqs_hz) -> np.ndarray:
    """The gain in dB of one lexicon shape at ``freqs_hz`` (see the data file's header)."""
    f = np.asarray(freqs_hz, np.float64)
    o = np.log2(f)
    k = shape["kind"]
    if k == "region":
        lo, hi = np.log2(shape["lo_hz"]), np.log2(shape["hi_hz"])
        return shape["db"] * (_sigmoid((o - lo) / (EDGE_OCTAVES / 4)) - _sigmoid((o - hi) / (EDGE_OCTAVES / 4)))
    if k == "bell":
        sigma = shape["octaves"] / 2.3548  # full width at half height → standard deviation
        return shape["db"] * np.exp(-0.5 * ((o - np.log2(shape["hz"])) / sigma) ** 2)
    if k == "high-shelf":
        return shape["db"] * _sigmoid((o - np.log2(shape["hz"])) / (EDGE_OCTAVES / 4))
    if k == "low-shelf":
        return shape["db"] * _sigmoid(-(o - np.log2(shape["hz"])) / (EDGE_OCTAVES / 4))
    if k == "band-limit":
        hp = -10 * np.log10(1 + (shape["lo_hz"] / f) ** 4)  # 2nd-order Butterworth magnitudes
        lp = -10 * np.log10(1 + (f / shape["hi_hz"]) ** 4)
        return np.maximum(hp + lp, -float(shape["depth_db"]))
    if k == "tilt":
        return shape["db_per_octave"] * (o - np.log2(shape["pivot_hz"]))
    raise BadParameterError(f"unknown lexicon shape kind '{k}' (known: {', '.join(SHAPE_KINDS)})")


@dataclass(frozen=True)
class Term:
    """One lexicon term: its forms, EQ shapes and sources."""

    name: str
    forms: tuple[str, ...]
    shapes: tuple[dict, ...]
    sources: tuple[str, ...]
    choice: str = ""

    @property
    def band_limit(self) -> bool:
        """A device character (telephone, radio …): can be added, not removed."""
        return any(s["kind"] == "band-limit" for s in self.shapes)

    def curve_db(self) -> np.ndarray:
        """The 40 band gains in dB that "more <term>" plays at amount 1."""
        from timbrelab.dsp.eq import BAND_CENTERS_HZ

        return np.sum([shape_db(s, BAND_CENTERS_HZ) for s in self.shapes], axis=0)

    def shape_summary(self) -> str:
        parts = []
        for s in self.shapes:
            k = s["kind"]
            if k == "region":
                parts.append(f"{s['db']:+g} dB {_hz(s['lo_hz'])}–{_hz(s['hi_hz'])}")
            elif k == "bell":
                parts.append(f"{s['db']:+g} dB bell at {_hz(s['hz'])} ({s['octaves']:g} oct)")
            elif k in ("high-shelf", "low-shelf"):
                parts.append(f"{s['db']:+g} dB {'above' if k == 'high-shelf' else 'below'} {_hz(s['hz'])}")
            elif k == "band-limit":
                parts.append(f"band limit {_hz(s['lo_hz'])}–{_hz(s['hi_hz'])} (−{s['depth_db']:g} dB outside)")
            else:
                parts.append(f"tilt {s['db_per_octave']:+g} dB/oct about {_hz(s['pivot_hz'])}")
        return "; ".join(parts)

    def to_dict(self, sources: dict | None = None) -> dict:
        d = {"term": self.name, "forms": list(self.forms), "shape": self.shape_summary(), "shapes": [dict(s) for s in self.shapes],
             "sources": list(self.sources), "choice": self.choice, "band_limit": self.band_limit}
        if sources is not None:
            d["citations"] = [sources[s]["cite"] for s in self.sources]
        return d


def _hz(x: float) -> str:
    return f"{x / 1000:g} kHz" if x >= 1000 else f"{x:g} Hz"


class EngineeringLexicon:
    """The terms, their forms and the sources they cite."""

    def __init__(self, terms: list[Term], sources: dict[str, dict]):
        self.terms = terms
        self.sources = sources
        self._by_form: dict[str, Term] = {}
        for t in terms:
            for f in t.forms:
                key = normalize(f)
                if key in self._by_form and self._by_form[key] is not t:
                    raise BadParameterError(f"engineering lexicon: form '{f}' belongs to both '{self._by_form[key].name}' and '{t.name}'")
                self._by_form[key] = t
            for s in t.sources:
                if s not in sources:
                    raise BadParameterError(f"engineering lexicon: term '{t.name}' cites unknown source '{s}'")
            for s in t.shapes:
                shape_db(s, [1000.0])  # refuses unknown kinds at load time

    def __len__(self) -> int:
        return len(self.terms)

    def lookup(self, word: str) -> Term | None:
        """The term a word names (exact form, then simple inflections), or None."""
        for cand in inflection_candidates(word):
            if cand in self._by_form:
                return self._by_form[cand]
        return None

    def find_in(self, text: str) -> tuple[Term, str] | None:
        """The term whose form is the longest run of whole words inside ``text`` (not ``text`` itself):
        ("hi-hat sizzle" → sizzle, "warm up the low mids" → low mids), with the words found; or None."""
        words = text.split()
        for n in range(len(words) - 1, 0, -1):
            for i in range(len(words) - n + 1):
                t = self.lookup(" ".join(words[i : i + n]))
                if t is not None:
                    return t, " ".join(words[i : i + n])
        return None

    def forms(self) -> list[str]:
        """Every form of every term, as written in the data file."""
        return [f for t in self.terms for f in t.forms]


@lru_cache(maxsize=None)
def lexicon() -> EngineeringLexicon:
    """The shipped engineering lexicon (``lexicon/data/engineering_lexicon.toml``)."""
    raw = tomllib.loads(resources.files("timbrelab.lexicon").joinpath("data", "engineering_lexicon.toml").read_text(encoding="utf-8"))
    terms = [Term(name=t["name"], forms=tuple(t["forms"]), shapes=tuple(t["shapes"]), sources=tuple(t["sources"]), choice=t.get("choice", ""))
             for t in raw["term"]]
    return EngineeringLexicon(terms, raw["sources"])
