"""Turn parsed descriptors into effect settings, saying where each came from.

Which effect a descriptor drives (the README states the same rule):

1. ``force_effect`` (the CLI's ``--eq WORD`` / ``--reverb WORD``) decides.
2. A negated descriptor ("less muddy") drives the EQ, inverted. Reverb can be added, not removed,
   so a negated word only the reverb map knows ("less boomy") uses the EQ fallback, inverted.
   A word asked for as the effect whose map lacks it — a reverb word as an EQ ("--eq church",
   "less church", ``timbrelab curve church``) or an EQ word as a reverb — is still a known word: the
   fallback predicts that effect for it and never refuses it as unknown (it is called with
   ``known=`` the word's entry in the other map), and the resolution's note says which map it is in.
3. A word in one map drives that effect. An English crowd EQ curve resting on fewer than
   ``MIN_CROWD_NUM`` (3) contributions (186 of the 294 English EQ words have only 2) is too thin to
   play alone: such a word is treated as unmapped for the EQ and goes to the fallback — in
   ``timbrelab.apply`` the trained word → EQ model, which learned from those contributions too and
   shrinks them towards related words. Spanish words always use their map (the model is English).
4. A word in both maps drives the effect whose map supports it better: the higher percentile of
   ``agreement · log2(1 + num)`` within its own map; ties go to the EQ ("warm" → EQ, "big" → reverb).
   An engineering term of the lexicon in both maps drives the EQ, with its crowd curve ("muddy").
5. An engineering term (:mod:`timbrelab.lexicon.engineering`: "air", "presence", "boxy", "telephone"
   …) that no well-supported crowd EQ curve covers drives the EQ with its lexicon shape — also when
   only the reverb map has the word ("boomy", "thin" are EQ words to an engineer), also negated
   ("less box"; a band limit such as "telephone" cannot be negated and is refused), also with
   ``--eq``. A lexicon term is never refused as unknown.
6. A word in neither map nor the lexicon goes to the fallback. ``timbrelab.apply`` uses the trained word → EQ /
   word → reverb models (``timbrelab.word2fx.fallback``); the effect is the one whose nearest mapped
   English word is more similar by MiniLM, and if that best similarity is below ``MIN_SIMILARITY``
   the word is refused as unknown. :class:`NearestWordFallback` (a blend of the nearest mapped words)
   is the lexicon's own stand-in, used when nothing else is installed.
7. A phrase of several words that the fallback would refuse, but that contains an engineering term
   as whole words ("hi-hat sizzle", "warm up the low mids"), plays that term (the longest form found),
   and its note says so. Only what would otherwise be refused is read this way: a phrase the model
   understands keeps the model's curve.

The fallback is a strategy passed in (``resolve(..., fallback=...)``; ``timbrelab.fx.plan_effects`` and
the service layer pass the trained models); without one, :class:`NearestWordFallback` stands in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from timbrelab.dsp.reverb import comb_gain, decay_time_s
from timbrelab.errors import UnknownWordError
from timbrelab.lexicon.engineering import Term, lexicon
from timbrelab.lexicon.maps import EQ, REVERB, MapEntry, eq_map, get_map, played_curve_db, reverb_map
from timbrelab.lexicon.parse import Phrase

MIN_SIMILARITY = 0.5
NEIGHBOURS = 3
MIN_CROWD_NUM = 3  # English EQ map entries with fewer contributions go to the fallback (rule 3)


@dataclass
class Resolution:
    """How one descriptor was turned into settings."""

    phrase: Phrase
    effect: str  # "eq" or "reverb"
    source: str  # "map", "lexicon" (engineering term), "nearest" (embedding neighbours) or "model"
    settings: tuple  # EQ: 40 gains dB; reverb: (d, g, m, f, E, wetdry)
    used: list = field(default_factory=list)  # [{"word", "similarity", "weight"}]
    support: float = 1.0  # weight when several reverb descriptors are blended
    note: str = ""

    def to_dict(self) -> dict:
        return {
            "text": self.phrase.original,
            "descriptor": self.phrase.text,
            "sign": self.phrase.sign,
            "scale": self.phrase.scale,
            "effect": self.effect,
            "source": self.source,
            "used": self.used,
            "note": self.note,
        }


def used_summary(used: list) -> str:
    """One line naming what a resolution used: crowd words, a lexicon term, or the model (its reference neighbours left out)."""
    parts = []
    for u in used:
        if "model" in u:
            parts.append(f"{u['model']} model ({u['method']})")
        elif "term" in u:
            parts.append(f"lexicon '{u['term']}' ({u['shape']})")
        elif not u.get("role"):
            parts.append(u["word"])
    return ", ".join(parts)


class Fallback(Protocol):
    """Settings for a descriptor no map supplies for ``effect`` (None: the fallback chooses the effect).

    ``known``: the word's entry in the *other* effect's map when it is asked for as an effect that map
    lacks ("--eq church"); the fallback then predicts for it and must not refuse it as unknown.
    A fallback written without the ``known`` parameter is still accepted (called without it).
    """

    def __call__(self, phrase: Phrase, effect: str | None, known: MapEntry | None = None) -> Resolution: ...


def known_note(known: MapEntry, effect: str, how: str) -> str:
    """The note of a resolution for a word asked for as the effect whose map lacks it."""
    kind = {EQ: "an EQ", REVERB: "a reverb"}[known.effect]
    setting = {EQ: "EQ curve", REVERB: "reverb setting"}[effect]
    return f"'{known.word}' is {kind} word ({known.num} ratings) with no crowd {setting}: {how}"


def _map_resolution(phrase: Phrase, entry: MapEntry, note: str = "") -> Resolution:
    return Resolution(
        phrase=phrase, effect=entry.effect, source="map", settings=entry.settings,
        used=[{"word": entry.word, "lang": entry.lang, "agreement": round(entry.agreement, 3), "num": entry.num, "weight": 1.0}],
        support=entry.support, note=note,
    )


class NearestWordFallback:
    """Stand-in for unmapped words: a similarity-weighted blend of the nearest mapped words."""

    def __init__(self, encoder_name: str = "minilm", k: int = NEIGHBOURS, min_similarity: float = MIN_SIMILARITY):
        self.encoder_name = encoder_name
        self.k = k
        self.min_similarity = min_similarity
        self._index: dict[str, tuple[list[MapEntry], np.ndarray]] = {}

    def _index_for(self, effect: str):
        if effect not in self._index:
            from timbrelab.text.encoders import get_encoder

            entries = [e for e in get_map(effect).entries if e.lang == "English"]
            vecs = get_encoder(self.encoder_name).encode([e.word.replace("-", " ") for e in entries])
            self._index[effect] = (entries, vecs)
        return self._index[effect]

    def __call__(self, phrase: Phrase, effect: str | None, known: MapEntry | None = None) -> Resolution:
        from timbrelab.text.encoders import get_encoder

        q = get_encoder(self.encoder_name).encode([phrase.text])[0]
        best = {}
        for eff in ([effect] if effect else [EQ, REVERB]):
            entries, vecs = self._index_for(eff)
            sims = vecs @ q
            order = np.argsort(-sims)[: self.k]
            best[eff] = (entries, sims, order)
        eff = max(best, key=lambda e: best[e][1][best[e][2][0]])
        entries, sims, order = best[eff]
        top = float(sims[order[0]])
        if top < self.min_similarity and known is None:
            shown = phrase.text if len(phrase.text) <= 40 else phrase.text[:39] + "…"  # one short line, whatever was typed
            raise UnknownWordError(
                f"'{shown}' is not in the crowd maps and no mapped word is close enough "
                f"(nearest: '{entries[order[0]].word}', similarity {top:.2f} < {self.min_similarity}); "
                "see `timbrelab words --search`"
            )
        keep = [i for i in order if sims[i] >= self.min_similarity] or [order[0]]  # (a known word may have no close neighbour)
        w = np.maximum(np.array([sims[i] for i in keep]), 1e-6)
        w = w / w.sum()
        settings = np.average(np.array([entries[i].settings for i in keep]), axis=0, weights=w)
        if eff == REVERB:
            settings = blend_reverb_settings([entries[i].settings for i in keep], w)
        used = [{"word": entries[i].word, "similarity": round(float(sims[i]), 3), "weight": round(float(x), 3)} for i, x in zip(keep, w)]
        how = f"blended its {len(keep)} nearest {eff.upper()} words"
        return Resolution(phrase=phrase, effect=eff, source="nearest", settings=tuple(float(x) for x in settings),
                          used=used, support=top, note=known_note(known, eff, how) if known else f"not in the crowd maps: {how}")


def blend_reverb_settings(settings_list, weights) -> np.ndarray:
    """Blend reverb settings perceptually: log-average decay time, delay and cutoff, mean of the rest."""
    s = np.array(settings_list, dtype=np.float64)
    w = np.asarray(weights, np.float64)
    w = w / w.sum()
    d, g, m, f, E = s[:, 0], s[:, 1], s[:, 2], s[:, 3], s[:, 4]
    rt = decay_time_s(d, g)
    d_b = float(np.exp(w @ np.log(d)))
    rt_b = float(np.exp(w @ np.log(rt)))
    g_b = float(comb_gain(d_b, rt_b))
    wetdry = float(w @ s[:, 5]) if s.shape[1] > 5 else 1.0
    return np.array([d_b, g_b, float(w @ m), float(np.exp(w @ np.log(f))), float(w @ E), wetdry])




def _lexicon_resolution(phrase: Phrase, term: Term, note: str = "") -> Resolution:
    if phrase.sign < 0 and term.band_limit:
        raise UnknownWordError(f"'{phrase.original}': '{term.name}' is a band limit; it can be added, not removed")
    return Resolution(
        phrase=phrase, effect=EQ, source="lexicon", settings=tuple(float(x) for x in term.curve_db()),
        used=[{"term": term.name, "shape": term.shape_summary(), "sources": list(term.sources)}], note=note,
    )


def eq_gains_db(r: Resolution) -> np.ndarray:
    """The 40 band gains (dB) an EQ resolution plays at amount 1, before its sign and intensifier:
    a crowd or model curve min–max stretched to ±5 dB as Audealize plays it; a lexicon shape as it is."""
    return np.asarray(r.settings, np.float64) if r.source == "lexicon" else played_curve_db(r.settings)


def _ask(fb: Callable, phrase: Phrase, effect: str | None, known: MapEntry | None) -> Resolution:
    if known is not None:
        import inspect

        try:
            inspect.signature(fb).bind(phrase, effect, known=known)
        except (TypeError, ValueError):  # a fallback of the two-argument form
            return fb(phrase, effect)
        return fb(phrase, effect, known=known)
    return fb(phrase, effect)


def _term_inside(phrase: Phrase, refused: UnknownWordError) -> Resolution:
    """Rule 7: a refused phrase that contains an engineering term plays the term; else the refusal stands."""
    found = lexicon().find_in(phrase.text) if " " in phrase.text else None
    if found is None:
        raise refused
    term, words = found
    return _lexicon_resolution(phrase, term, f"the engineering term '{term.name}' ('{words}') in a phrase the models do not know")


def resolve(phrase: Phrase, force_effect: str | None = None, fallback: Callable | None = None) -> Resolution:
    """Settings for one descriptor, by the rules in the module docstring."""
    try:
        return _resolve(phrase, force_effect, fallback)
    except UnknownWordError as exc:
        if force_effect == REVERB:
            raise
        return _term_inside(phrase, exc)


def _resolve(phrase: Phrase, force_effect: str | None, fallback: Callable | None) -> Resolution:
    e_eq_any = eq_map().lookup(phrase.text)
    e_eq = e_eq_any
    if e_eq is not None and e_eq.lang == "English" and e_eq.num < MIN_CROWD_NUM:
        e_eq = None  # too thin a crowd curve (rule 3): the fallback decides
    e_rv = reverb_map().lookup(phrase.text)
    term = lexicon().lookup(phrase.text)
    fb = fallback if fallback is not None else NearestWordFallback()
    # the word's entry in the other map, for an effect whose map lacks the word (rule 2)
    other = {EQ: e_rv if e_eq_any is None else None, REVERB: e_eq_any if e_rv is None else None}
    if force_effect is not None:
        entry = e_eq if force_effect == EQ else e_rv
        if force_effect == REVERB and phrase.sign < 0:
            raise UnknownWordError(f"'{phrase.original}': reverb can be added, not removed")
        if force_effect == EQ and entry is None and term is not None:
            return _lexicon_resolution(phrase, term, "chosen with --eq: an engineering term")
        return _map_resolution(phrase, entry, "chosen with --" + force_effect) if entry else _ask(fb, phrase, force_effect, other[force_effect])
    if phrase.sign < 0:
        if e_eq is not None:
            return _map_resolution(phrase, e_eq, "negated: the opposite EQ curve")
        if term is not None:
            return _lexicon_resolution(phrase, term, "negated: the opposite of the engineering term's shape")
        r = _ask(fb, phrase, EQ, other[EQ])
        if e_rv is not None:
            r.note = f"'{e_rv.word}' is a reverb word and reverb cannot be removed: the opposite of the EQ curve predicted for it"
        return r
    if e_eq is not None and e_rv is not None:
        if term is not None:
            return _map_resolution(phrase, e_eq, f"in both maps; an engineering term ('{term.name}'), so the crowd EQ curve")
        if e_rv.support_pct > e_eq.support_pct:
            return _map_resolution(phrase, e_rv, f"in both maps; better supported as reverb ({e_rv.support_pct:.2f} vs {e_eq.support_pct:.2f} percentile)")
        return _map_resolution(phrase, e_eq, f"in both maps; better supported as EQ ({e_eq.support_pct:.2f} vs {e_rv.support_pct:.2f} percentile)")
    if e_eq is not None:
        return _map_resolution(phrase, e_eq)
    if term is not None:
        note = f"an engineering term; '{e_rv.word}' is also a reverb word ({e_rv.num} ratings): use --reverb for that" if e_rv is not None else ""
        return _lexicon_resolution(phrase, term, note)
    if e_rv is not None:
        return _map_resolution(phrase, e_rv)
    return fb(phrase, None)
