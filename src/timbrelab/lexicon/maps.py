"""The Audealize crowd maps (EQ: English + Spanish, reverb: English), copied into the package.

``eq_map()`` and ``reverb_map()`` return :class:`DescriptorMap` objects; ``lookup`` forgives case,
spaces/underscores vs hyphens and simple inflections ("Warmer" → warm, "boomier" → boomy,
"big church" → big-church). Each entry carries its crowd support: ``agreement`` (0–1) and ``num``
(contributions); ``support = agreement · log2(1 + num)`` and its percentile within the map decide,
for a word in both maps, which effect it drives (see ``lexicon.resolve``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

#: Audealize's EQ node plays a word's curve min–max normalised to ±1 and scaled by 5 dB × range (range 1 by default)
AUDEALIZE_EQ_RANGE_DB = 5.0

EQ = "eq"
REVERB = "reverb"
EFFECTS = (EQ, REVERB)


@dataclass(frozen=True)
class MapEntry:
    word: str
    lang: str
    effect: str
    settings: tuple  # EQ: 40 gains in dB; reverb: (d, g, m, f, E, wetdry)
    agreement: float
    num: int
    support_pct: float  # percentile (0–1] of agreement·log2(1+num) within its map

    @property
    def support(self) -> float:
        return self.agreement * float(np.log2(1 + self.num))


def normalize(text: str) -> str:
    """Lower-case, trim, spaces/underscores → hyphens, collapse repeats: 'Big  Church' → 'big-church'."""
    t = str(text).strip().lower()
    t = re.sub(r"[\s_]+", "-", t)
    t = re.sub(r"-+", "-", t).strip("-")
    return t


def inflection_candidates(word: str) -> list[str]:
    """The word itself, then base forms of simple inflections, most specific first."""
    w = normalize(word)
    out = [w]
    if "-" in w:  # inflect the last part of a compound ("bigger-room" is rare; "big-churches")
        head, last = w.rsplit("-", 1)
        out += [f"{head}-{c}" for c in inflection_candidates(last)[1:]]
        return list(dict.fromkeys(out))
    rules = []
    if w.endswith("iest") and len(w) > 5:
        rules.append(w[:-4] + "y")
    if w.endswith("ier") and len(w) > 4:
        rules.append(w[:-3] + "y")
    for suf in ("est", "er"):
        if w.endswith(suf) and len(w) > len(suf) + 2:
            stem = w[: -len(suf)]
            rules.append(stem)  # warmer -> warm
            rules.append(stem + "e")  # wider -> wide
            if len(stem) > 2 and stem[-1] == stem[-2]:
                rules.append(stem[:-1])  # bigger -> big
    if w.endswith("ness") and len(w) > 6:
        base = w[:-4]
        rules += [base[:-1] + "y" if base.endswith("i") else base]
    if w.endswith("ly") and len(w) > 4:
        rules += [w[:-2], w[:-3] + "y" if w.endswith("ily") else w[:-2]]
    if w.endswith("es") and len(w) > 4:
        rules.append(w[:-2])
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        rules.append(w[:-1])
    return list(dict.fromkeys(out + rules))


class DescriptorMap:
    """A word → settings map for one effect."""

    def __init__(self, effect: str, entries: list[MapEntry]):
        self.effect = effect
        self.entries = entries
        self._by_word: dict[str, MapEntry] = {}
        for e in sorted(entries, key=lambda e: (e.lang != "English", -e.support)):
            self._by_word.setdefault(normalize(e.word), e)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, word: str) -> bool:
        return self.lookup(word) is not None

    def get(self, word: str) -> MapEntry | None:
        """Exact (normalised) match only."""
        return self._by_word.get(normalize(word))

    def lookup(self, word: str) -> MapEntry | None:
        """Forgiving lookup: exact, then simple inflections; None when absent."""
        for cand in inflection_candidates(word):
            if cand in self._by_word:
                return self._by_word[cand]
        return None

    def words(self, lang: str | None = "English") -> list[str]:
        return sorted(e.word for e in self.entries if lang is None or e.lang == lang)

    def settings_matrix(self, lang: str | None = "English") -> tuple[list[MapEntry], np.ndarray]:
        es = [e for e in self.entries if lang is None or e.lang == lang]
        return es, np.array([e.settings for e in es], dtype=np.float64)


def played_curve_db(gains_db, range_db: float = AUDEALIZE_EQ_RANGE_DB) -> np.ndarray:
    """A word's 40 gains as Audealize's EQ plays them: min–max normalised to −1…+1, times ``range_db``.

    The map stores the crowd's consensus curve in dB, often within ±1 dB; Audealize stretches its
    shape to ±5 dB before playing it, and so does timbrelab (amount 1 = that). A flat curve stays flat.
    """
    g = np.asarray(gains_db, np.float64)
    lo, hi = float(g.min()), float(g.max())
    if hi - lo < 1e-9:
        return np.zeros_like(g)
    return ((g - lo) / (hi - lo) * 2 - 1) * range_db


def _load_json(name: str):
    return json.loads(resources.files("timbrelab.lexicon").joinpath("data", name).read_text(encoding="utf-8"))


def _build(effect: str, raw: list[dict]) -> DescriptorMap:
    supports = np.array([r["agreement"] * np.log2(1 + r["num"]) for r in raw])
    entries = []
    for r, s in zip(raw, supports):
        entries.append(
            MapEntry(
                word=r["word"], lang=r["lang"], effect=effect, settings=tuple(float(x) for x in r["settings"]),
                agreement=float(r["agreement"]), num=int(r["num"]), support_pct=float((supports <= s).mean()),
            )
        )
    return DescriptorMap(effect, entries)


@lru_cache(maxsize=None)
def eq_map() -> DescriptorMap:
    """Audealize EQ map: 394 words (294 English, 100 Spanish), 40 gains in dB each."""
    return _build(EQ, _load_json("audealize_eq.json"))


@lru_cache(maxsize=None)
def reverb_map() -> DescriptorMap:
    """Audealize reverb map: 369 English words, settings [d, g, m, f, E, wetdry]."""
    return _build(REVERB, _load_json("audealize_reverb.json"))


def get_map(effect: str) -> DescriptorMap:
    return eq_map() if effect == EQ else reverb_map()


#: accepted spellings of each map language (compared without case or accents)
LANGUAGES = {
    "English": ("english", "en", "eng", "ingles"),
    "Español": ("espanol", "es", "spa", "spanish", "castellano"),
}


def _fold(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text.strip().casefold()) if not unicodedata.combining(c))


def parse_lang(text: str) -> str | None:
    """The map language named by ``text`` (any case, with or without accents), None for 'all'."""
    from timbrelab.errors import BadParameterError

    t = _fold(text)
    if t in ("all", "any", "*"):
        return None
    for lang, names in LANGUAGES.items():
        if t == _fold(lang) or t in names:
            return lang
    raise BadParameterError(f"unknown language '{text}': use English, Español or all (case and accents do not matter)")
