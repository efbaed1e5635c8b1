"""The SocialFX ranking: does an embedder pick the word a person gave for a processed sound?

Human judgements the project has: in SocialFX, every EQ and reverb contribution is a person's word
for one processed stimulus — a 40-band EQ curve (SocialEQ) or Rafii–Pardo reverb settings. So each
contribution is a query with a known answer:

1. **Render** the contribution's settings with timbrelab's own DSP on each source: the contributed
   40 gains through :class:`timbrelab.dsp.eq.GraphicEQ` (amount 1); the contributed ``d, g, m, f, E``
   through :class:`timbrelab.dsp.reverb.Reverb` (amount 1, wet/dry 1), the contribution's raw ``E``
   mapped onto the Audealize map's scale by the word → reverb model's quantile tables
   (:func:`timbrelab.word2fx.reverb_data.raw_to_map_E`), so the wet level is the one the shipped
   reverb would play for such a setting. ``tail_s = 0`` (processed and original span the same time,
   as in experiment 2); a clip whose peak exceeds 1 after the EQ is scaled down by one constant gain.
2. **Embed** the processed and original audio and "a <word> sound" (:func:`timbrelab.probe.reference.
   prompt_for` of the word, hyphens as spaces) for every candidate word.
3. **Score** each candidate, averaged over the sources, three ways computed from the same embeddings:

   - ``processed``: cos(embed_audio(processed), text);
   - ``delta``: cos(processed, text) − cos(original, text) — experiment 2's Δ: how far the processing
     moved the audio towards the word;
   - ``change``: cos(embed_audio(processed) − embed_audio(original), text) — the direction of the change.
4. **Rank** the candidates; the contributor's word should come first: mean reciprocal rank, AUC (the
   fraction of other candidates ranked below it) and top-1 rate (:mod:`timbrelab.eval.ranking`; ties
   resolved by exact expectation), beside **chance** (``H_n / n`` per query, exactly; AUC ½).

**Held-out words.** EQ: the four folds of Venkatesh et al. (``lexicon/data/socialfx_folds.json``):
the candidates of fold k are its 31 test words; its queries are those words' contributions with
consistency > 0.7 (the word → EQ test protocol, :mod:`timbrelab.word2fx.eq_task`). Reverb: the four
word-disjoint folds of the word → reverb bench (``lexicon/data/socialfx_reverb_folds.json``, words
with ≥ 5 occurrences); each has ~142 test words, so the candidates of fold k are its
``max_reverb_words`` (default :data:`DEFAULT_MAX_REVERB_WORDS`) best-supported test words (most
contributions; ties by name); its queries are their contributions (a contribution that gave several
of the candidate words is a query for each, and its other words are left out of that query's
competitors: they are not wrong). The folds of Venkatesh et al. overlap (fold 1 and fold 4 share
words): each fold is ranked on its own and the figures pool every fold's queries.

**Text-only reference.** The word → EQ / word → reverb method timbrelab ships (the recipe's
``[train] method``) fitted, per fold, on the fold's *training* words only
(:func:`timbrelab.eval.crossval.fit_select`, seed = fold, exactly as its bench cross-validates it —
the shipped model itself has seen every word, so it would not be a held-out reference); it predicts
settings for each candidate word from text alone, and a candidate's score is minus the distance of
its predicted settings to the contribution's settings: the MAE over the 40 bands on the ±4 dB scale
(EQ), the MAE over the five normalised targets log d, log rt, m, log f, log E (reverb) — each model's
own error measure. An embedder that beats it hears more in the audio than a text model can guess.

**Bounds** (every run states them): at most ``max_per_word`` contributions per word
(:data:`DEFAULT_MAX_PER_WORD`, drawn without replacement by ``numpy.random.default_rng(seed)``), the
first ``excerpt_s`` seconds of each source (:data:`DEFAULT_EXCERPT_S`); each processed clip is made
once and embedded by every embedder of the run. Sources: the bundled guitar and experiment 2's piano
(:func:`default_sources`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from timbrelab.errors import BadParameterError
from timbrelab.probe.embedders import Embedder, check_embedding, cosine, load_embedder
from timbrelab.probe.reference import prompt_for

EFFECTS = ("eq", "reverb")
SCORINGS = ("processed", "delta", "change")
DEFAULT_MAX_PER_WORD = 3
DEFAULT_EXCERPT_S = 3.0
DEFAULT_MAX_REVERB_WORDS = 30
DEFAULT_SEED = 0


def default_sources(excerpt_s: float | None = DEFAULT_EXCERPT_S, piano_path=None) -> list:
    """The bundled guitar and experiment 2's piano (:mod:`timbrelab.probe.experiment2`), first ``excerpt_s`` seconds."""
    from timbrelab.probe.experiment2 import guitar_source, piano_source

    return [guitar_source(excerpt_s), piano_source(excerpt_s, piano_path)]


@dataclass(frozen=True)
class Query:
    """One contribution as a ranking query: its word, its settings, the candidates it is ranked among.

    ``settings``: 40 gains in dB (EQ) or raw ``d, g, m, f, E`` (reverb); ``contribution``: the row in
    the SocialFX file; ``competitors``: the candidate words it is ranked against, its own word included.
    """

    effect: str
    fold: int
    word: str
    contribution: int
    settings: tuple
    competitors: tuple


def _pick(rows: np.ndarray, cap: int, rng) -> list[int]:
    rows = np.sort(rows)
    if len(rows) <= cap:
        return rows.tolist()
    return np.sort(rng.choice(rows, size=cap, replace=False)).tolist()


def eq_queries(folds: Sequence[int] | None = None, max_per_word: int = DEFAULT_MAX_PER_WORD, seed: int = DEFAULT_SEED) -> list[Query]:
    """EQ queries: per Venkatesh fold, its test words' contributions with consistency > 0.7 (capped per word)."""
    from timbrelab.word2fx import data as D

    d = D.eq_contributions()
    all_folds = D.venkatesh_folds()
    out = []
    for k in (folds or sorted(all_folds)):
        if k not in all_folds:
            raise BadParameterError(f"there is no EQ fold {k} (folds: {', '.join(map(str, all_folds))})")
        words = tuple(dict.fromkeys(all_folds[k]))
        rng = np.random.default_rng([seed, k])
        for w in words:
            rows = np.flatnonzero((d.words == w) & (d.consistency > D.TEST_MIN_CONSISTENCY))
            for i in _pick(rows, max_per_word, rng):
                out.append(Query("eq", k, w, int(i), tuple(float(x) for x in d.gains_db[i]), words))
    return out


def reverb_queries(folds: Sequence[int] | None = None, max_words: int = DEFAULT_MAX_REVERB_WORDS,
                   max_per_word: int = DEFAULT_MAX_PER_WORD, seed: int = DEFAULT_SEED) -> list[Query]:
    """Reverb queries: per word → reverb fold, its best-supported ``max_words`` test words' contributions (capped per word)."""
    from timbrelab.word2fx import reverb_data as RD

    ex = RD.reverb_examples()
    all_folds = RD.reverb_folds()
    words_of_row: dict[int, set] = {}
    for w, r in zip(ex.words.tolist(), ex.row.tolist()):
        words_of_row.setdefault(r, set()).add(w)
    out = []
    for k in (folds or sorted(all_folds)):
        if k not in all_folds:
            raise BadParameterError(f"there is no reverb fold {k} (folds: {', '.join(map(str, all_folds))})")
        support = {w: int(np.sum(ex.words == w)) for w in all_folds[k]}
        words = tuple(sorted(support, key=lambda w: (-support[w], w))[:max_words])
        rng = np.random.default_rng([seed, k])
        for w in words:
            for i in _pick(np.flatnonzero(ex.words == w), max_per_word, rng):
                others = words_of_row[int(ex.row[i])] - {w}
                out.append(Query("reverb", k, w, int(ex.row[i]), tuple(float(x) for x in ex.params[i]),
                                 tuple(c for c in words if c not in others)))
    return out


def effect_for(query: Query):
    """timbrelab's effect that renders a contribution's settings (see the module docstring)."""
    if query.effect == "eq":
        from timbrelab.dsp.eq import GraphicEQ

        return GraphicEQ(query.settings, 1.0)
    from timbrelab.dsp.reverb import Reverb, ReverbSettings
    from timbrelab.word2fx import reverb_data as RD

    d, g, m, f, E_raw = query.settings
    src_q, dst_q = _e_tables()
    E = float(np.clip(RD.raw_to_map_E([E_raw], src_q, dst_q)[0], 0.0, 20.0))
    return Reverb(ReverbSettings(float(np.clip(d, 0.001, 0.5)), float(np.clip(g, RD.G_MIN, RD.G_MAX)), float(np.clip(m, -0.015, 0.015)),
                                 float(np.clip(f, 20.0, 100_000.0)), E, 1.0), 1.0)


_E_TABLES: list = []


def _e_tables():
    if not _E_TABLES:
        from timbrelab.word2fx import reverb_data as RD

        _E_TABLES.append(RD.e_quantile_tables())
    return _E_TABLES[0]


def render(query: Query, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The source processed by the contribution's settings, same length; peak kept ≤ 1 by one gain."""
    fx = effect_for(query)
    y = fx(audio, sample_rate, tail_s=0.0) if query.effect == "reverb" else fx(audio, sample_rate)
    y = np.ascontiguousarray(y[:, : audio.shape[1]], dtype=np.float32)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return (y / peak).astype(np.float32) if peak > 1.0 else y


def text_reference_scores(queries: list[Query]) -> list[np.ndarray]:
    """Per query: the text-only reference's score of each competitor (minus the distance of the
    fold-fitted word → effect model's prediction to the contribution's settings; module docstring)."""
    from timbrelab.eval import crossval as CV
    from timbrelab.ml.recipes import load_recipe
    from timbrelab.word2fx import data as D
    from timbrelab.word2fx import eq_task
    from timbrelab.word2fx import reverb_data as RD
    from timbrelab.word2fx import reverb_task

    predictions: dict[tuple, dict[str, np.ndarray]] = {}
    for effect, fold in sorted({(q.effect, q.fold) for q in queries}):
        if effect == "eq":
            task, method = eq_task.EQTask(), eq_task.methods()[load_recipe("word2eq")["train"]["method"]]
        else:
            task = reverb_task.ReverbTask()
            method = {m["name"]: m for m in reverb_task.method_specs()}[load_recipe("word2reverb")["train"]["method"]]
        train, _, test_words = CV.fold_split(task, fold)
        fitted, _ = CV.fit_select(task, method, train, exclude=test_words, seed=fold)
        words = sorted({w for q in queries if (q.effect, q.fold) == (effect, fold) for w in q.competitors})
        predictions[(effect, fold)] = dict(zip(words, np.asarray(fitted.predict(words), np.float64)))
    out = []
    for q in queries:
        pred = predictions[(q.effect, q.fold)]
        truth = D.eq_targets(np.array(q.settings)) if q.effect == "eq" else RD.to_targets(np.array(q.settings))[0]
        scale = D.TARGET_RANGE_DB if q.effect == "eq" else 1.0
        out.append(np.array([-scale * float(np.mean(np.abs(pred[w] - truth))) for w in q.competitors]))
    return out


@dataclass
class RankingRun:
    """A SocialFX ranking run: per embedder and effect, per scoring, the ranking figures; the text-only
    reference; every query's result; the bounds and sources."""

    results: dict[str, dict[str, dict[str, dict]]]  # embedder → effect → scoring → ranking_summary
    reference: dict[str, dict]  # effect → ranking_summary of the text-only reference
    queries: list[dict]
    protocol: dict
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**self.results, "text_reference": self.reference, "per_query": self.queries, "protocol": self.protocol, "notes": self.notes}


def run_socialfx_ranking(
    embedders,
    sources: list | None = None,
    effects: Sequence[str] = EFFECTS,
    eq_folds: Sequence[int] | None = None,
    reverb_folds: Sequence[int] | None = None,
    max_per_word: int = DEFAULT_MAX_PER_WORD,
    max_reverb_words: int = DEFAULT_MAX_REVERB_WORDS,
    seed: int = DEFAULT_SEED,
    text_reference: bool = True,
    progress: bool | None = None,
) -> RankingRun:
    """Rank every query's candidate words with each embedder (module docstring); ``sources`` default
    :func:`default_sources`. ``text_reference``: also score the fold-fitted word → effect models."""
    from tqdm import tqdm

    from timbrelab.eval.ranking import ranking_summary
    from timbrelab.word2fx.data import word_key

    embs: list[Embedder] = [load_embedder(e) for e in (embedders if isinstance(embedders, (list, tuple)) else [embedders])]
    names = [e.name for e in embs]
    if len(set(names)) != len(names):
        raise BadParameterError(f"two embedders share a name ({', '.join(names)}): reports could not tell them apart")
    if set(names) & {"text_reference", "per_query", "protocol", "notes"}:
        raise BadParameterError("an embedder may not be called text_reference, per_query, protocol or notes: the report uses that key")
    unknown = [e for e in effects if e not in EFFECTS]
    if unknown or not effects:
        raise BadParameterError(f"unknown effect(s) {', '.join(unknown) or '(none given)'}; the ranking has {', '.join(EFFECTS)}")
    if max_per_word < 1 or max_reverb_words < 2:
        raise BadParameterError("the ranking needs at least one contribution per word and two reverb words per fold")
    sources = sources if sources is not None else default_sources()
    if not sources or len({s.name for s in sources}) != len(sources):
        raise BadParameterError("the ranking needs at least one source, each with its own name")
    queries: list[Query] = []
    if "eq" in effects:
        queries += eq_queries(eq_folds, max_per_word, seed)
    if "reverb" in effects:
        queries += reverb_queries(reverb_folds, max_reverb_words, max_per_word, seed)
    queries = [q for q in queries if len(q.competitors) >= 2]
    if not queries:
        raise BadParameterError("no SocialFX contribution matched the chosen folds")

    words = sorted({w for q in queries for w in q.competitors})
    prompts = {w: prompt_for(word_key(w)) for w in words}
    # an embedder with ``for_fold(effect, fold)`` gives one model per fold (trained without that fold's
    # words): each query is scored by its own fold's model
    def model_for(emb, q):
        return emb.for_fold(q.effect, q.fold) if callable(getattr(emb, "for_fold", None)) else emb

    subs: list[dict] = []  # per embedder: id(model) -> model
    for emb in embs:
        subs.append({id(m): m for m in (model_for(emb, q) for q in queries)})
    text: list[dict] = [dict() for _ in embs]  # per embedder: id(model) -> {word: vector}
    base: list[dict] = [dict() for _ in embs]  # per embedder: id(model) -> {source: vector}
    for i, emb in enumerate(embs):
        for mid, m in subs[i].items():
            ws = sorted({w for q in queries if id(model_for(emb, q)) == mid for w in q.competitors})
            t = check_embedding(m.embed_text([prompts[w] for w in ws]), None, f"{emb.name}'s text embeddings")
            if t.ndim != 2 or t.shape[0] != len(ws):
                raise BadParameterError(f"{emb.name}'s embed_text gave shape {t.shape} for {len(ws)} texts; expected ({len(ws)}, d)")
            text[i][mid] = dict(zip(ws, t))
            base[i][mid] = {s.name: check_embedding(m.embed_audio(s.audio, s.sample_rate), t.shape[1], f"{emb.name}'s audio embedding") for s in sources}

    # (embedder, model, contribution key, source) → processed embedding; a contribution shared by two folds is rendered once
    embedded: list[dict] = [dict() for _ in embs]
    keys = sorted({(q.effect, q.contribution, q.settings) for q in queries})
    with tqdm(total=len(keys) * len(sources), desc="socialfx ranking", unit="clip", disable=(progress is False) or None, leave=False) as bar:
        for key in keys:
            qs = [x for x in queries if (x.effect, x.contribution, x.settings) == key]
            for s in sources:
                y = render(qs[0], s.audio, s.sample_rate)
                for i, emb in enumerate(embs):
                    for m in {id(model_for(emb, q)): model_for(emb, q) for q in qs}.values():
                        embedded[i][(id(m), key, s.name)] = check_embedding(m.embed_audio(y, s.sample_rate), None, f"{emb.name}'s audio embedding")
                bar.update(1)

    per_query = [{"effect": q.effect, "fold": q.fold, "word": q.word, "contribution": q.contribution, "candidates": len(q.competitors)} for q in queries]
    results: dict = {}
    for i, emb in enumerate(embs):
        rows = {sc: [] for sc in SCORINGS}
        for q, pq in zip(queries, per_query):
            key = (q.effect, q.contribution, q.settings)
            mid = id(model_for(emb, q))
            per_source = {sc: [] for sc in SCORINGS}
            for s in sources:
                v, v0 = embedded[i][(mid, key, s.name)], base[i][mid][s.name]
                tw = text[i][mid]
                per_source["processed"].append([cosine(v, tw[w]) for w in q.competitors])
                per_source["delta"].append([cosine(v, tw[w]) - cosine(v0, tw[w]) for w in q.competitors])
                per_source["change"].append([cosine(v - v0, tw[w]) for w in q.competitors])
            truth = q.competitors.index(q.word)
            for sc in SCORINGS:
                scores = np.mean(per_source[sc], axis=0)
                rows[sc].append(scores)
                pq.setdefault("rank", {}).setdefault(emb.name, {})[sc] = int(1 + np.sum(scores > scores[truth]))
        results[emb.name] = {}
        for effect in dict.fromkeys(q.effect for q in queries):
            idx = [j for j, q in enumerate(queries) if q.effect == effect]
            results[emb.name][effect] = {sc: {**ranking_summary([rows[sc][j] for j in idx], [queries[j].competitors.index(queries[j].word) for j in idx]),
                                              "per_fold": _per_fold([rows[sc][j] for j in idx], [queries[j] for j in idx])} for sc in SCORINGS}

    reference = {}
    notes = []
    if text_reference:
        ref_scores = text_reference_scores(queries)
        for effect in dict.fromkeys(q.effect for q in queries):
            idx = [j for j, q in enumerate(queries) if q.effect == effect]
            reference[effect] = {**ranking_summary([ref_scores[j] for j in idx], [queries[j].competitors.index(queries[j].word) for j in idx]),
                                 "per_fold": _per_fold([ref_scores[j] for j in idx], [queries[j] for j in idx])}
        for j, pq in enumerate(per_query):
            s = ref_scores[j]
            pq["text_reference_rank"] = int(1 + np.sum(s > s[queries[j].competitors.index(queries[j].word)]))
    else:
        notes.append("text-only reference not computed")
    protocol = {
        "effects": list(dict.fromkeys(q.effect for q in queries)),
        "eq_folds": sorted({q.fold for q in queries if q.effect == "eq"}),
        "reverb_folds": sorted({q.fold for q in queries if q.effect == "reverb"}),
        "eq_candidates": "the fold's test words (Venkatesh et al.); queries: their contributions with consistency > 0.7",
        "reverb_candidates": f"the fold's {max_reverb_words} best-supported test words (word -> reverb folds); a contribution's other words are not competitors",
        "max_per_word": max_per_word, "max_reverb_words": max_reverb_words, "seed": seed,
        "prompt": "a <word> sound (hyphens as spaces)",
        "scorings": {"processed": "cos(processed, text)", "delta": "cos(processed, text) - cos(original, text)",
                     "change": "cos(embed(processed) - embed(original), text)"},
        "score_over_sources": "mean", "tail_s": 0.0,
        "text_reference": "the shipped word -> effect method fitted on the fold's training words; score = -MAE of its predicted settings to the contribution's",
        "chance": "MRR of a uniformly random ranking, H_n / n per query, exactly; AUC 0.5",
        "sources": [s.to_dict() for s in sources],
        "queries": {e: sum(q.effect == e for q in queries) for e in EFFECTS}, "clips_rendered": len(keys) * len(sources),
    }
    return RankingRun(results, reference, per_query, protocol, notes)


def _per_fold(score_rows: list, queries: list[Query]) -> dict:
    from timbrelab.eval.ranking import ranking_summary

    out = {}
    for k in sorted({q.fold for q in queries}):
        idx = [j for j, q in enumerate(queries) if q.fold == k]
        s = ranking_summary([score_rows[j] for j in idx], [queries[j].competitors.index(queries[j].word) for j in idx])
        out[str(k)] = {key: s[key] for key in ("mrr", "auc", "chance_mrr", "queries")}
    return out
