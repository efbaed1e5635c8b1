"""Words in no crowd map → the trained word → EQ / word → reverb models (replaces the nearest-word fallback).

Which effect an unmapped word drives, and whether it is refused, follow the lexicon's rule (the
effect whose nearest mapped English word is more similar by MiniLM; refused below similarity 0.5,
so "qwerty" stays an error); a word asked for as the effect whose map lacks it ("--eq church") is
never refused. The settings then come from the shipped model for that effect (``timbrelab.models.load``),
and the resolution says so (``source = "model"``), naming the model and, for reference, the nearest
crowd words; whatever the model reports missing here (``model.notes``, e.g. WordNet) is in its note.
"""

from __future__ import annotations

from timbrelab.lexicon.maps import EQ, MapEntry, eq_map
from timbrelab.lexicon.parse import Phrase
from timbrelab.lexicon.resolve import NearestWordFallback, Resolution, known_note


class ModelFallback:
    """A :class:`timbrelab.lexicon.resolve.Fallback` backed by the shipped models.

    ``models``: how a model is obtained by registry name — e.g. a :class:`timbrelab.service.Service`'s
    ``model`` method, which loads each once and holds it for the service's lifetime. Without it, this
    fallback loads what it needs from the registry on first use and holds it for its own lifetime.
    A crowd-map word never gets here, so it loads no model at all.
    """

    def __init__(self, models=None):
        self._provider = models
        self._own: dict = {}
        self.nearest = NearestWordFallback()

    def model(self, name: str):
        if self._provider is not None:
            return self._provider(name)
        if name not in self._own:
            from timbrelab import models

            self._own[name] = models.load(name)
        return self._own[name]

    def __call__(self, phrase: Phrase, effect: str | None, known: MapEntry | None = None) -> Resolution:
        near = self.nearest(phrase, effect, known=known)  # chooses the effect; refuses words unlike any mapped word
        if near.effect == EQ:
            model = self.model("word2eq")
            settings = tuple(float(x) for x in model.predict([phrase.text])[0])
        else:
            model = self.model("word2reverb")
            settings = tuple(float(x) for x in model.predict([phrase.text])[0])
        entry = eq_map().lookup(phrase.text)
        note = "not in the crowd maps: predicted by a trained model"
        if near.effect == EQ and entry is not None:
            note = f"its crowd EQ curve rests on only {entry.num} ratings: predicted by the trained model, which learned from them"
        if known is not None:
            note = known_note(known, near.effect, f"predicted by the word2{near.effect} model")
        for missing in getattr(model, "notes", ()):  # what the model lacks here (e.g. WordNet) is said, never swallowed
            note = f"{note}; {missing}"
        return Resolution(
            phrase=phrase, effect=near.effect, source="model", settings=settings,
            used=[{"model": f"word2{near.effect}", "method": model.name}] + [{**u, "role": "nearest crowd word (for reference)"} for u in near.used],
            support=near.support,
            note=note,
        )

