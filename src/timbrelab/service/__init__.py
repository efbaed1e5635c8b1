"""The service layer: what the CLI and the studio call, with explicit model lifetimes.

A :class:`Service` owns the models one process uses. Each is loaded from the registry
(:mod:`timbrelab.models`) the first time a request needs it and held until :meth:`Service.close`, so
a server (the studio) pays each load once and a one-shot command only loads what it uses (a crowd-map
word loads no model at all). There are no module-level model caches and no process-global switches:
two services (say, a test's and the studio's) never share state, and the word → effect fallback is
an argument, not a global.

The language–audio embedder of ``describe`` / ``embed`` / ``search`` is one more such model: given as a
spec (``Service(embedder="timbreclap")``, the default; any spec :func:`timbrelab.probe.embedders.load_embedder`
takes, or an embedder object), loaded on first use and held, with the text embeddings of the describe
vocabulary, until :meth:`Service.close`.

>>> from timbrelab.service import Service
>>> with Service() as s:
...     s.plan("warm, small room").summary().splitlines()[0]
"  'warm' → EQ from crowd map word 'warm' (122 contributions, agreement 0.81) [in both maps; better supported as EQ (1.00 vs 1.00 percentile)]"
"""

from __future__ import annotations

import threading
from typing import Iterable

#: the embedder ``describe`` / ``embed`` / ``search`` use unless told otherwise: timbrelab's own
#: language–audio model (a built-in name of ``timbrelab.probe.embedders.BUILTIN_EMBEDDERS``)
DEFAULT_EMBEDDER = "timbreclap"


class Service:
    """Models loaded on first use and held until :meth:`close` (a context manager too).

    ``fallback``: the strategy for words in no crowd map (default: the shipped word → EQ / reverb
    models, loaded through this service); ``loader``: how a model is loaded by name (default
    :func:`timbrelab.models.load`); ``embedder``: the language–audio embedder's spec or object (default
    :data:`DEFAULT_EMBEDDER`) and ``embedder_options`` the options for its factory.
    """

    def __init__(self, fallback=None, loader=None, embedder=None, embedder_options: dict | None = None):
        self._models: dict = {}
        self._loader = loader
        self._fallback = fallback
        self._embedder_spec = DEFAULT_EMBEDDER if embedder is None else embedder
        self._embedder_options = dict(embedder_options or {})
        self._embedder = None
        self._scorer = None
        self._embedder_lock = threading.Lock()
        self._search_lock = threading.Lock()

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
        self._embedder = self._scorer = None

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
        from timbrelab.lexicon.engineering import lexicon

        lex = lexicon()
        rows = []
        for m in ([eq_map()] if effect == "eq" else [reverb_map()] if effect == "reverb" else [eq_map(), reverb_map()]):
            for e in m.entries:
                if lang and e.lang != lang:
                    continue
                if search and search.lower() not in e.word.lower():
                    continue
                thin = e.effect == "eq" and e.lang == "English" and e.num < MIN_CROWD_NUM
                term = lex.lookup(e.word) if e.effect == "eq" and e.lang == "English" else None
                rows.append({"word": e.word, "effect": e.effect, "lang": e.lang, "num": e.num, "agreement": round(e.agreement, 3),
                             "support_percentile": round(e.support_pct, 3),
                             "played_from": ("lexicon" if term is not None else "model") if thin else "map"})
                if term is not None:
                    rows[-1]["term"] = term.name
        if effect != "reverb" and lang in (None, "English"):  # the engineering lexicon's forms the EQ map lacks
            crowd_eq = {r["word"].lower() for r in rows if r["effect"] == "eq"}
            for t in lex.terms:
                for f in t.forms:
                    if f.lower() in crowd_eq or eq_map().get(f) is not None or (search and search.lower() not in f.lower()):
                        continue
                    rows.append({"word": f, "effect": "eq", "lang": "English", "num": None, "agreement": None, "support_percentile": None,
                                 "played_from": "lexicon", "term": t.name, "shape": t.shape_summary(), "sources": list(t.sources)})
        rows.sort(key=lambda r: (r["word"], r["effect"]))
        return rows

    def lexicon(self, search: str | None = None) -> dict:
        """The engineering EQ lexicon (``timbrelab words --lexicon``): its terms (forms, shape, sources,
        what was chosen where sources disagree) and the sources' citations."""
        from timbrelab.lexicon.engineering import lexicon

        lex = lexicon()
        terms = [t.to_dict(lex.sources) for t in lex.terms
                 if not search or any(search.lower() in f.lower() for f in (t.name, *t.forms))]
        return {"terms": terms, "sources": lex.sources}

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


    # --- sounds in words: describe, embed, search (the language–audio embedder) ---
    # --- separation ---
    def _model_at(self, name: str, path, loader_spec: str):
        """The shipped model ``name``, or the one in checkpoint ``path`` (a training run's), held per path."""
        if path is None:
            return self.model(name)
        from pathlib import Path

        key = f"{name}@{Path(path).resolve()}"
        if key not in self._models:
            from timbrelab.ml.registry import load_path

            if not Path(path).is_file():
                from timbrelab.errors import BadParameterError

                raise BadParameterError(f"{path}: no such {name} checkpoint")
            self._models[key] = load_path(path, loader_spec)
        return self._models[key]

    def separator(self, path=None):
        """The shipped separator, or the one in checkpoint ``path`` (e.g. a finetune-separator run), held per path."""
        return self._model_at("separator", path, "timbrelab.separate.model:Separator")

    def separate_file(self, in_path, queries, output, residual_path=None, model_path=None, **kw) -> dict:
        from timbrelab.separate.stream import separate_file

        return separate_file(self.separator(model_path), in_path, queries, output, residual_path, **kw)

    # --- explore: the GMVAE timbre/pitch space ---
    def explorer(self, path=None):
        """The shipped explorer, or the one in checkpoint ``path`` (a ``timbrelab train explorer`` run), held per path."""
        return self._model_at("explorer", path, "timbrelab.explore.model:Explorer")

    def explore_interpolate(self, source, target, alphas, pitch=None, source_path=None, method=None, model_path=None):
        """``explore.play.interpolate`` with the held explorer; ``source_path``: a user's note (a file) to start from."""
        from timbrelab.explore import play

        source_audio = sr = None
        if source_path is not None:
            from timbrelab.audio import read_audio

            source_audio, sr = read_audio(source_path)
        return play.interpolate(self.explorer(model_path), source, target, alphas, pitch, source_audio, sr, method or play.DEFAULT_METHOD)

    def explore_traverse(self, instrument, pitch, dim, values, method=None, model_path=None):
        from timbrelab.explore import play

        return play.traverse(self.explorer(model_path), instrument, pitch, dim, values, method or play.DEFAULT_METHOD)

    def explore_encode_file(self, path, top: int = 3, model_path=None) -> dict:
        """The instruments nearest a note (a file) in the timbre space and the pitch its pitch latent reads."""
        from timbrelab.audio import read_audio

        ex = self.explorer(model_path)
        audio, sr = read_audio(path)
        return ex.nearest(ex.encode_audio(audio, sr), top)

    @property
    def embedder_spec(self) -> str:
        """The embedder as configured: its spec, or the name of an embedder object given."""
        spec = self._embedder_spec
        return spec if isinstance(spec, str) else str(getattr(spec, "name", type(spec).__name__))

    def embedder(self):
        """The language–audio embedder, loaded on first use and held.

        Raises MissingComponentError (one line) when the default model is not installed, and the
        loader's BadParameterError for any other spec that does not give an embedder.
        """
        with self._embedder_lock:
            if self._embedder is None:
                from timbrelab.errors import MissingComponentError, TimbrelabError
                from timbrelab.probe.embedders import BUILTIN_EMBEDDERS, load_embedder

                spec = self._embedder_spec
                try:
                    self._embedder = load_embedder(spec, **self._embedder_options)
                except TimbrelabError as exc:
                    if spec == DEFAULT_EMBEDDER and spec not in BUILTIN_EMBEDDERS and str(exc).startswith("unknown embedder"):
                        raise MissingComponentError(
                            f"the language–audio model '{spec}' is not installed in this timbrelab (TimbreCLAP has not shipped yet); "
                            "give --embedder SPEC: an installed embedder's name or package.module:factory") from None
                    raise
            return self._embedder

    def word_scorer(self):
        """The describe vocabulary embedded by the embedder (:class:`timbrelab.probe.describe.WordScorer`), made once."""
        emb = self.embedder()
        with self._embedder_lock:
            if self._scorer is None or self._scorer.embedder is not emb:
                from timbrelab.probe.describe import WordScorer

                self._scorer = WordScorer(emb)
            return self._scorer

    def embedder_info(self) -> dict:
        """The embedder's name, fingerprint and dimension, and the describe vocabulary's size (loads both)."""
        from timbrelab.probe.describe import embedder_fingerprint

        emb, scorer = self.embedder(), self.word_scorer()
        return {"spec": self.embedder_spec, "name": emb.name, "fingerprint": embedder_fingerprint(emb), "dim": scorer.dim,
                "vocabulary": len(scorer.words), "centred": scorer.center is not None}

    def describe_file(self, path, top: int = 8):
        """The instrument (top-1 of the shipped timbre CNN, through :meth:`classify_file`, or "no instrument")
        and the ``top`` timbre words of the file (:class:`timbrelab.probe.describe.Description`)."""
        from timbrelab.probe.describe import Description, embed_audio_file
        from timbrelab.timbre_cnn.data import NO_INSTRUMENT

        scorer = self.word_scorer()
        top = scorer.check_top(top)
        words = scorer.top(embed_audio_file(self.embedder(), path), top)
        c = self.classify_file(path, top=1)
        if c.no_instrument or not c.top:
            instrument, probability, none = NO_INSTRUMENT, c.probabilities.get(NO_INSTRUMENT, 0.0), True
        else:
            (instrument, probability), none = c.top[0], False
        return Description(str(path), instrument, float(probability), none, words, self.embedder().name)

    def embed_file(self, path):
        """The embedder's audio embedding of a file: float64 ``(d,)``, as the embedder gives it."""
        from timbrelab.probe.describe import embed_audio_file

        return embed_audio_file(self.embedder(), path)

    def index(self, folder, index_dir=None, rebuild: bool = False, progress: bool | None = False, on_fail=None, executor=None):
        """Build or update the search index of ``folder`` (:func:`timbrelab.probe.search.update_index`): in the
        cache, or in ``index_dir``; ``executor`` (:mod:`timbrelab.parallel`): where files are embedded. One
        update or search at a time per service."""
        from timbrelab.probe.search import update_index

        emb = self.embedder()
        spec = self._embedder_spec if isinstance(self._embedder_spec, str) else None  # for an executor's other processes
        with self._search_lock:
            return update_index(emb, folder, rebuild=rebuild, progress=progress, on_fail=on_fail, index_dir=index_dir,
                                executor=executor, embedder_spec=spec, embedder_options=dict(self._embedder_options))

    def search(self, query: str, folder=None, top: int = 10, rebuild: bool = False, progress: bool | None = False, on_fail=None,
               index_dir=None, executor=None):
        """The audio files under ``folder`` ranked by cosine with ``query``'s text embedding, the folder's
        index brought up to date first (:func:`timbrelab.probe.search.search`); ``index_dir`` alone: the index
        made there by ``timbrelab index``, searched as it is. One search at a time per service, so two
        requests for one folder never embed the same files twice."""
        from timbrelab.probe.search import search

        emb = self.embedder()
        spec = self._embedder_spec if isinstance(self._embedder_spec, str) else None  # for an executor's other processes
        with self._search_lock:
            return search(emb, query, folder, top=top, rebuild=rebuild, progress=progress, on_fail=on_fail, index_dir=index_dir,
                          executor=executor, embedder_spec=spec, embedder_options=dict(self._embedder_options))
