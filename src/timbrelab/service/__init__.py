"""The service layer: what the CLI and the studio call, with explicit model lifetimes.

A :class:`Service` owns the models one process uses. Each is loaded from the registry
(:mod:`timbrelab.models`) the first time a request needs it and held until :meth:`Service.close`, so
a server (the studio) pays each load once and a one-shot command only loads what it uses (a crowd-map
word loads no model at all). There are no module-level model caches and no process-global switches:
two services (say, a test's and the studio's) never share state, and the word → effect fallback is
an argument, not a global.

>>> from timbrelab.service import Service
>>> with Service() as s:
...     s.plan("warm, small room").summary().splitlines()[0]
"  'warm' → EQ from crowd map word 'warm' (122 contributions, agreement 0.81) [in both maps; better supported as EQ (1.00 vs 1.00 percentile)]"
"""

from __future__ import annotations

from typing import Iterable


class Service:
    """Models loaded on first use and held until :meth:`close` (a context manager too).

    ``fallback``: the strategy for words in no crowd map (default: the shipped word → EQ / reverb
    models, loaded through this service); ``loader``: how a model is loaded by name (default
    :func:`timbrelab.models.load`).
    """

    def __init__(self, fallback=None, loader=None):
        self._models: dict = {}
        self._loader = loader
        self._fallback = fallback

    # --- model lifetimes ---
    def model(self, name: str):
        """The registry model ``name``, loaded on first use."""
        if name not in self._models:
            if self._loader is None:
                from timbrelab.models import load

                self._loader = load
            self._models[name] = self._loader(name)
        return self._models[name]

    @property
    def loaded(self) -> list[str]:
        return sorted(self._models)

    def close(self) -> None:
        """Drop every loaded model (their memory is freed when nothing else holds them)."""
        self._models.clear()

    def __enter__(self) -> "Service":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def fallback(self):
        if self._fallback is None:
            from timbrelab.word2fx.fallback import ModelFallback

            self._fallback = ModelFallback(models=self.model)
        return self._fallback

    # --- words → effects ---
    def plan(self, description: str | None = None, eq_amount: float = 1.0, reverb_amount: float = 1.0,
             eq_words: Iterable[str] = (), reverb_words: Iterable[str] = ()):
        from timbrelab.fx import plan_effects

        return plan_effects(description, eq_amount, reverb_amount, eq_words, reverb_words, fallback=self.fallback)

    def apply(self, audio, sample_rate: int, description: str | None = None, **kw):
        from timbrelab.fx import apply

        plan = kw.pop("plan", None) or self.plan(description, kw.pop("eq_amount", 1.0), kw.pop("reverb_amount", 1.0),
                                                 kw.pop("eq_words", ()), kw.pop("reverb_words", ()))
        return apply(audio, sample_rate, plan=plan, **kw)

    def apply_file(self, in_path, out_path, plan, **kw) -> dict:
        from timbrelab.fx import apply_file

        return apply_file(in_path, out_path, plan, **kw)

    # --- instruments ---
    def classify(self, audio, sample_rate: int, top: int = 5):
        from timbrelab.timbre_cnn.classify import classify

        return classify(audio, sample_rate, top=top, model=self.model("timbre_cnn"))

    def classify_file(self, path, top: int = 5):
        from timbrelab.timbre_cnn.classify import classify_file

        return classify_file(path, top=top, model=self.model("timbre_cnn"))

    # --- the vocabulary ---
    def words(self, effect: str = "all", lang: str | None = None, search: str | None = None) -> list[dict]:
        """The crowd-map words (``timbrelab words``): one row per (word, effect), sorted; ``lang`` as users
        type it (``lexicon.maps.parse_lang``: any case, with or without accents; None or "all" = every
        language); ``search`` a substring."""
        from timbrelab.errors import BadParameterError
        from timbrelab.lexicon.maps import eq_map, parse_lang, reverb_map
        from timbrelab.lexicon.resolve import MIN_CROWD_NUM

        lang = parse_lang(lang) if lang else None
        if effect not in ("all", "eq", "reverb"):
            raise BadParameterError(f"effect must be all, eq or reverb, got '{effect}'")
        rows = []
        for m in ([eq_map()] if effect == "eq" else [reverb_map()] if effect == "reverb" else [eq_map(), reverb_map()]):
            for e in m.entries:
                if lang and e.lang != lang:
                    continue
                if search and search.lower() not in e.word.lower():
                    continue
                thin = e.effect == "eq" and e.lang == "English" and e.num < MIN_CROWD_NUM
                rows.append({"word": e.word, "effect": e.effect, "lang": e.lang, "num": e.num, "agreement": round(e.agreement, 3),
                             "support_percentile": round(e.support_pct, 3), "played_from": "model" if thin else "map"})
        rows.sort(key=lambda r: (r["word"], r["effect"]))
        return rows

    def word_view(self, word: str, effect: str = "eq") -> dict:
        """What one word plays as an EQ (``effect="eq"``, as ``apply --eq WORD``) or a reverb: the
        resolution line and the curve / reverb numbers (``service.views``)."""
        from timbrelab.errors import BadParameterError
        from timbrelab.service.views import eq_view, reverb_view

        if effect not in ("eq", "reverb"):
            raise BadParameterError(f"effect must be eq or reverb, got '{effect}'")
        plan = self.plan(eq_words=[word] if effect == "eq" else (), reverb_words=[word] if effect == "reverb" else ())
        return {"word": word, "effect": effect, "summary": plan.summary(), "plan": plan.to_dict(),
                "eq": eq_view(plan.eq) if plan.eq is not None else None,
                "reverb": reverb_view(plan.reverb) if plan.reverb is not None else None}

