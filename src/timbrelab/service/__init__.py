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
