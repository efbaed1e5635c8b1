"""Training TimbreCLAP: contrastive pairs, a directional term, word-disjoint validation.

Data: :func:`timbrelab.clap.data.pair_features` (corpus clips with instrument captions; clips through
crowd EQ curves and reverbs with the words people gave for them). Each step draws a batch of items;
a clip item takes one of its captions at random, a processed item one of its words (as the probe
prompts it, ``"a <word> sound"``). Two losses, both symmetric multi-positive InfoNCE over the batch
(items with the same label — instrument or word — are each other's positives):

- **pairs**: audio embedding of the item ↔ its text;
- **direction**: for processed items, the change the effect made, ``normalize(e(processed) −
  e(source))`` ↔ the word. This is what experiment 2 asks of an embedding: the effect for "warm"
  should move the sound *towards* "a warm sound".

**Held-out words** (``exclude``): every text of a word in :func:`timbrelab.clap.data.excluded_words`
of the excluded list (the word, inflections, WordNet synonyms; a phrase containing one) is removed
from the processed items before anything else; an item left with no word is dropped.
``timbreclap-heldout`` excludes the 40 words of experiment 2; the fold models of ``bench probe``
exclude those and a SocialFX fold's test words.

**Validation** (the epoch budget is chosen here, never on the probe or the test words): a
word-disjoint ``val_word_fraction`` of the remaining words (seeded) whose processed items are held
out, scored by the mean reciprocal rank of the item's word among all validation words by Δ =
cos(processed, text) − cos(source, text) (experiment 2's quantity); and the clips of
``val_source`` (a corpus source, held out of the caption pairs) scored by zero-shot instrument
accuracy ("a <instrument> sound" among the classes); and experiment 2's own protocol on validation
data (:func:`validation_sweep`: validation words with a crowd-map setting, played at strengths 0.2 …
1.0 on a guitar phrase, a piano phrase and their mixture from the validation source). The score is
the mean of the sweep's positive-slope rate, its mean Pearson r and the instrument accuracy; the best
epoch's weights are kept (early stopping with ``patience``). Deterministic for a seed (one torch
thread count).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from timbrelab.errors import BadParameterError


@dataclass
class CLAPTrainConfig:
    max_epochs: int = 40
    patience: int = 6
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    direction_weight: float = 1.0
    word_prior: bool = False  # the text tower also reads the word → effect prior (a memory of the training words' crowd settings)
    direction_mode: str = "normalized"  # "normalized": normalize(e(processed) − e(source)) · text; "delta": the raw difference (experiment 2's Δ)
    max_logit_scale: float = 100.0
    seed: int = 0
    val_word_fraction: float = 0.15
    val_source: str = "TimGM6mb"
    val_max_items: int = 2000  # processed validation items scored (a seeded subset)
    val_sweep_words: int = 60  # validation words with a crowd-map setting swept over strengths (0: no sweep)

    def __post_init__(self):
        if self.direction_mode not in ("normalized", "delta"):
            raise BadParameterError(f"TimbreCLAP training: direction_mode must be 'normalized' or 'delta', got {self.direction_mode!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CLAPTrainConfig":
        from timbrelab.configs import config_from_dict

        return config_from_dict(cls, d, "TimbreCLAP training")


@dataclass
class Split:
    """Training and validation items after held-out words are removed (indices into the pair features)."""

    train: np.ndarray
    train_words: list  # per training item: its words (processed) or None (clip)
    val_items: np.ndarray  # processed items of validation words
    val_words: list  # the validation words
    val_item_words: list  # per validation item: its validation words
    val_clips: np.ndarray  # clip items of the validation source
    excluded_items: int
    excluded_words: int


def split(pf, excluded: set, cfg: CLAPTrainConfig) -> Split:
    from timbrelab.clap.data import is_excluded

    rng = np.random.default_rng([cfg.seed, 1])
    words_of = {}
    for it in pf.items:
        for w in it.get("words", ()):
            if w not in words_of:
                words_of[w] = not is_excluded(w, excluded)
    kept_words = sorted(w for w, ok in words_of.items() if ok)
    n_val = int(round(cfg.val_word_fraction * len(kept_words)))
    val_words = set(rng.permutation(kept_words)[:n_val].tolist()) if n_val else set()
    train, train_words, val_items, val_item_words, val_clips = [], [], [], [], []
    dropped = 0
    for i, it in enumerate(pf.items):
        if it["kind"] == "clip":
            if it["source"] == cfg.val_source:
                val_clips.append(i)
            else:
                train.append(i)
                train_words.append(None)
            continue
        ok = [w for w in it["words"] if words_of[w]]
        tr = [w for w in ok if w not in val_words]
        va = [w for w in ok if w in val_words]
        if not ok:
            dropped += 1
        if tr:
            train.append(i)
            train_words.append(tr)
        elif va:
            val_items.append(i)
            val_item_words.append(va)
    val_items = np.array(val_items, int)
    if len(val_items) > cfg.val_max_items:
        keep = np.sort(rng.choice(len(val_items), cfg.val_max_items, replace=False))
        val_items, val_item_words = val_items[keep], [val_item_words[k] for k in keep]
    return Split(np.array(train, int), train_words, val_items, sorted(val_words), val_item_words, np.array(val_clips, int), dropped,
                 sum(1 for ok in words_of.values() if not ok))


def _multi_positive_nce(logits, pos):
    """Mean over rows of −log(Σ softmax over the row's positives), both directions."""
    import torch

    def one(lg, p):
        lse = torch.logsumexp(lg, dim=1)
        pos_lse = torch.logsumexp(lg.masked_fill(~p, float("-inf")), dim=1)
        return (lse - pos_lse).mean()

    return 0.5 * (one(logits, pos) + one(logits.T, pos.T))


def train(pf, corpus_rows, excluded: set, cfg: CLAPTrainConfig | None = None, model_config: dict | None = None, progress: bool | None = None,
          name: str = "timbreclap", corpus=None):
    """Train one TimbreCLAP on pair features ``pf`` without the ``excluded`` word forms. Returns
    ``(TimbreCLAP, metrics)``. ``corpus``: the clean corpus data set, for the validation sweep (none
    without it)."""
    import torch

    from timbrelab.clap.model import TimbreCLAP, TimbreCLAPConfig, TimbreCLAPNet
    from timbrelab.features.timbre_stats import TimbreStatsConfig
    from timbrelab.ml.train import LoopConfig, fit
    from timbrelab.probe.reference import prompt_for
    from timbrelab.sounds.taxonomy import class_names
    from timbrelab.text.encoders import embed

    cfg = cfg or CLAPTrainConfig()
    t_start = time.perf_counter()
    sp = split(pf, excluded, cfg)
    if len(sp.train) == 0:
        raise BadParameterError("TimbreCLAP: no training items are left")
    # texts: every caption of the training clips, every prompt of a training / validation word, the class prompts
    texts: dict[str, int] = {}

    def tid(t: str) -> int:
        return texts.setdefault(t, len(texts))

    item_texts = []  # per training item: candidate text ids
    item_labels = []  # per training item: candidate label ids (parallel to texts)
    labels: dict[str, int] = {}
    for i, ws in zip(sp.train, sp.train_words):
        it = pf.items[i]
        if ws is None:
            item_texts.append([tid(t) for t in it["texts"]])
            item_labels.append([labels.setdefault(it["label"], len(labels))] * len(it["texts"]))
        else:
            item_texts.append([tid(prompt_for(w)) for w in ws])
            item_labels.append([labels.setdefault("word:" + w, len(labels)) for w in ws])
    val_word_ids = [tid(prompt_for(w)) for w in sp.val_words]
    sweep = validation_sweep(corpus, sp.val_words, cfg, pf.stats_config, progress) if corpus is not None and cfg.val_sweep_words else None
    if sweep is not None:
        sweep["text_ids"] = [tid(prompt_for(w)) for w in sweep["words"]]
    classes = [c for c in class_names()]
    class_ids = [tid(prompt_for(c)) for c in classes]
    memory = word_memory(pf, sp) if cfg.word_prior else {"eq": {}, "reverb": {}}
    memory_ids = {e: [tid(prompt_for(w)) for w in sorted(m)] for e, m in memory.items()}
    rows = embed(list(texts), TimbreCLAPConfig().text_encoder if model_config is None else TimbreCLAPConfig.from_dict(model_config).text_encoder)
    R = torch.from_numpy(np.asarray(rows, np.float32))

    torch.manual_seed(cfg.seed)
    mc = TimbreCLAPConfig.from_dict({**(model_config or {}), "stats_dim": pf.X.shape[1], "text_dim": R.shape[1],
                                     "prior_eq_words": len(memory["eq"]), "prior_reverb_words": len(memory["reverb"])})
    net = TimbreCLAPNet(mc)
    with torch.no_grad():
        for e in ("eq", "reverb"):
            if memory[e]:
                getattr(net, f"{e}_keys").copy_(R[torch.tensor(memory_ids[e])])
                getattr(net, f"{e}_values").copy_(torch.from_numpy(np.stack([memory[e][w] for w in sorted(memory[e])]).astype(np.float32)))
    X = torch.from_numpy(np.asarray(pf.X, np.float32))
    Xo = torch.from_numpy(np.nan_to_num(np.asarray(pf.X_orig, np.float32)))
    net.standardizer.fit(pf.X[sp.train].T[None])  # one "band" per statistic, items as frames
    is_proc = torch.from_numpy(np.array([ws is not None for ws in sp.train_words]))
    train_idx = torch.from_numpy(sp.train)
    rng = np.random.default_rng([cfg.seed, 2])
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    max_scale = float(np.log(cfg.max_logit_scale))

    def loss_on(batch):
        b = batch.numpy()
        pick = [int(rng.integers(len(item_texts[k]))) for k in b]
        t = torch.tensor([item_texts[k][j] for k, j in zip(b, pick)])
        lab = torch.tensor([item_labels[k][j] for k, j in zip(b, pick)])
        with torch.no_grad():
            net.logit_scale.clamp_(0.0, max_scale)
        scale = net.logit_scale.exp()
        A = net.encode_audio(X[train_idx[batch]])
        T = net.encode_text(R[t])
        pos = lab[:, None] == lab[None, :]
        loss = _multi_positive_nce(scale * A @ T.T, pos)
        p = is_proc[batch]
        if cfg.direction_weight and int(p.sum()) > 1:
            Ao = net.encode_audio(Xo[train_idx[batch][p]])
            D = A[p] - Ao
            D = torch.nn.functional.normalize(D, dim=-1) if cfg.direction_mode == "normalized" else D
            loss = loss + cfg.direction_weight * _multi_positive_nce(scale * D @ T[p].T, pos[p][:, p])
        return loss

    @torch.no_grad()
    def validate(model) -> float:
        model.eval()
        s = validation_scores(model, X, Xo, R, sp, val_word_ids, class_ids, classes, pf, sweep)
        return s["score"]

    loop = LoopConfig(max_epochs=cfg.max_epochs, patience=cfg.patience, batch_size=cfg.batch_size, seed=cfg.seed, mode="max")
    fitted = fit(net, loss_on, len(sp.train), loop, opt, validate=validate, progress=progress, desc=f"train {name}")
    net.eval()
    final = validation_scores(net, X, Xo, R, sp, val_word_ids, class_ids, classes, pf, sweep)
    with torch.no_grad():
        clips = sp.train[~is_proc.numpy()]
        sub = np.random.default_rng([cfg.seed, 3]).choice(clips, size=min(5000, len(clips)), replace=False)
        center = net.encode_audio(X[torch.from_numpy(np.sort(sub))]).mean(0).numpy()
    model = TimbreCLAP(net, TimbreStatsConfig.from_dict(pf.stats_config), name, audio_center=center)
    metrics = {
        "best_epoch": fitted.best_epoch, "epochs_run": len(fitted.history), "history": fitted.history, "validation": final,
        "training_seconds": round(time.perf_counter() - t_start, 1),
        "items": {"train": int(len(sp.train)), "train_processed": int(is_proc.sum()), "val_word_items": int(len(sp.val_items)),
                  "val_clips": int(len(sp.val_clips)), "dropped_for_excluded_words": sp.excluded_items},
        "words": {"train": len({w for ws in sp.train_words if ws for w in ws}), "validation": len(sp.val_words),
                  "excluded_word_forms": len(excluded), "excluded_data_words": sp.excluded_words},
        "train_config": cfg.to_dict(), "model_config": mc.to_dict(), "pairs": pf.key,
        "prior_words": {e: len(m) for e, m in memory.items()},
    }
    return model, metrics


def validation_scores(net, X, Xo, R, sp: Split, val_word_ids, class_ids, classes, pf, sweep=None) -> dict:
    """Word MRR by Δ among the validation words, zero-shot instrument accuracy on the validation
    source, and (with ``sweep``) experiment 2's figures on validation words and clips. The score:
    the mean of the sweep's positive-slope rate, its mean Pearson r and the instrument accuracy (the
    word MRR and the instrument accuracy without a sweep)."""
    import torch

    with torch.no_grad():
        out = _validation_scores(net, X, Xo, R, sp, val_word_ids, class_ids, classes, pf)
        if sweep is not None and sweep["words"]:
            from timbrelab.probe.experiment2 import summarise, trend

            T = net.encode_text(R[torch.tensor(sweep["text_ids"])])
            A = net.encode_audio(torch.from_numpy(sweep["X"]))  # (cases, strengths, d) flattened
            A0 = net.encode_audio(torch.from_numpy(sweep["X0"]))
            rows = []
            for c, (effect, w_i, src_i) in enumerate(sweep["cases"]):
                t = T[w_i]
                a = A[c * len(sweep["strengths"]):(c + 1) * len(sweep["strengths"])]
                d = (a @ t - A0[src_i] @ t).numpy()
                rows.append({"effect": effect, "word": sweep["words"][w_i], **trend(sweep["strengths"], d)})
            sm = summarise(rows)
            out["sweep"] = {k: sm[k] for k in ("positive_slope_rate", "positive_final_delta_rate", "all_source_consistency_rate",
                                                "mean_pearson_r", "cases", "descriptors")}
            parts = [sm["positive_slope_rate"], sm["mean_pearson_r"], out.get("instrument_accuracy", 0.0)]
            out["score"] = float(np.mean(parts))
        return out


def word_memory(pf, sp: Split) -> dict:
    """The word → effect prior's memory: for every *training* word of a processed item (never a
    validation or held-out word), the mean crowd setting it was given for — EQ: the played curve
    (``sounds.augment.eq_pool``, ±1 per band); reverb: log d, g, m, log f, E (``reverb_pool``),
    standardised over the training items. ``{"eq": {word: (40,)}, "reverb": {word: (5,)}}``."""
    from timbrelab.sounds.augment import eq_pool, reverb_pool

    eq: dict[str, list] = {}
    rv: dict[str, list] = {}
    for i, ws in zip(sp.train, sp.train_words):
        if ws is None:
            continue
        it = pf.items[i]
        if it["kind"] == "eq":
            v, target = eq_pool(it["pool"])[1][it["index"]], eq
        else:
            d, g, m, f, E = reverb_pool(it["pool"])[1][it["index"]][:5]
            v, target = np.array([np.log(max(d, 1e-4)), g, m, np.log(max(f, 1.0)), E]), rv
        for w in ws:
            target.setdefault(w, []).append(v)
    out = {"eq": {w: np.mean(v, axis=0) for w, v in eq.items()}, "reverb": {}}
    if rv:
        allv = np.concatenate([np.array(v) for v in rv.values()])
        mu, sd = allv.mean(axis=0), np.maximum(allv.std(axis=0), 1e-6)
        out["reverb"] = {w: (np.mean(v, axis=0) - mu) / sd for w, v in rv.items()}
    return out


def validation_sweep(corpus, val_words, cfg: CLAPTrainConfig, stats_config: dict, progress=None) -> dict | None:
    """Experiment 2's protocol on validation data: up to ``val_sweep_words`` validation words that have a
    crowd-map setting, played by timbrelab's EQ / reverb (``probe.experiment2.plan_for``) at strengths
    0.2 … 1.0 on three clips of the validation source — a guitar phrase, a piano phrase and their
    mixture — never the probe's words or recordings. Returns the statistics to embed each epoch."""
    from timbrelab.features.timbre_stats import TimbreStatsConfig, timbre_stats
    from timbrelab.fx import apply
    from timbrelab.lexicon.maps import eq_map, reverb_map
    from timbrelab.probe.experiment2 import plan_for

    sc = TimbreStatsConfig.from_dict(stats_config)
    rng = np.random.default_rng([cfg.seed, 4])
    cands = [(e, w) for w in val_words for e, m in (("eq", eq_map()), ("reverb", reverb_map())) if w in m.words("English")]
    if not cands:
        return None
    cands = [cands[k] for k in np.sort(rng.permutation(len(cands))[: cfg.val_sweep_words])]
    srcs = []
    for inst in ("acoustic guitar", "piano"):
        idx = [i for i, r in enumerate(corpus.rows) if r["source"] == cfg.val_source and r["instrument"] == inst and r.get("style") == "phrase"
               and not r.get("silent")]
        if not idx:
            return None
        srcs.append(np.asarray(corpus.clip(idx[0]), np.float32).reshape(1, -1))
    mix = srcs[0] / max(np.sqrt(np.mean(srcs[0] ** 2)), 1e-9) + srcs[1] / max(np.sqrt(np.mean(srcs[1] ** 2)), 1e-9)
    srcs.append((mix * 0.5 / np.max(np.abs(mix))).astype(np.float32))
    strengths = [0.2, 0.4, 0.6, 0.8, 1.0]
    sr = corpus.sample_rate
    X0 = np.stack([timbre_stats(x, sr, sc) for x in srcs])
    words = sorted({w for _, w in cands})
    cases, X = [], []
    for effect, w in cands:
        try:
            plans = [plan_for(effect, w, s) for s in strengths]
        except BadParameterError:  # a map entry the description parser reads as no word (e.g. "very"): not playable as a word
            continue
        for k, x in enumerate(srcs):
            cases.append((effect, words.index(w), k))
            X += [timbre_stats(apply(x, sr, plan=p, tail_s=0.0).audio, sr, sc) for p in plans]
    if not cases:
        return None
    return {"words": words, "cases": cases, "strengths": strengths, "X": np.array(X, np.float32), "X0": X0.astype(np.float32)}


def _validation_scores(net, X, Xo, R, sp, val_word_ids, class_ids, classes, pf) -> dict:
    import torch

    from timbrelab.eval.ranking import reciprocal_rank

    out = {}
    if len(sp.val_items) and val_word_ids:
        idx = torch.from_numpy(sp.val_items)
        T = net.encode_text(R[torch.tensor(val_word_ids)])
        delta = (net.encode_audio(X[idx]) - net.encode_audio(Xo[idx])) @ T.T
        pos_of = {w: k for k, w in enumerate(sp.val_words)}
        rr = []
        for r, ws in zip(delta.numpy(), sp.val_item_words):
            rr += [reciprocal_rank(r, pos_of[w]) for w in ws]
        out["word_mrr"] = float(np.mean(rr))
        out["word_mrr_chance"] = float(np.mean([1.0 / k for k in range(1, len(val_word_ids) + 1)]))
    if len(sp.val_clips):
        idx = torch.from_numpy(sp.val_clips)
        T = net.encode_text(R[torch.tensor(class_ids)])
        pred = (net.encode_audio(X[idx]) @ T.T).argmax(1).numpy()
        names = {c: k for k, c in enumerate(classes)}
        truth = np.array([names.get(pf.items[i]["label"][5:], -1) for i in sp.val_clips])
        ok = truth >= 0
        out["instrument_accuracy"] = float((pred[ok] == truth[ok]).mean()) if ok.any() else 0.0
    parts = [out[k] for k in ("word_mrr", "instrument_accuracy") if k in out]
    out["score"] = float(np.mean(parts)) if parts else 0.0
    return out


# ------------------------------------------------------------------------------------- the recipe

#: the held-out word lists a recipe's ``[train] exclude`` may name
EXCLUDE_LISTS = ("none", "probe")


def probe_words() -> list[str]:
    """The 40 descriptors of experiment 2 (35 distinct words: five are both EQ and reverb words)."""
    from timbrelab.probe.reference import experiment2_config

    d = experiment2_config().descriptors
    return sorted(set(d["eq"]) | set(d["reverb"]))


def excluded_for(spec: str, extra_words=()) -> set:
    """The excluded word forms for a recipe's ``exclude`` (``"none"`` / ``"probe"``) plus ``extra_words``."""
    from timbrelab.clap.data import excluded_words

    if spec not in EXCLUDE_LISTS:
        raise BadParameterError(f"[train] exclude must be one of {', '.join(EXCLUDE_LISTS)}, got {spec!r}")
    words = (probe_words() if spec == "probe" else []) + list(extra_words)
    return excluded_words(words) if words else set()


def corpus_sets(corpus_recipe: str = "timbre-cnn", progress: bool | None = None):
    """The clean corpus and its augmented set, as the named recipe's ``[train.data]`` builds them (the
    timbre CNN's: one corpus, rendered and cached once, under every model that trains on it)."""
    from timbrelab.ml.recipes import load_recipe
    from timbrelab.sounds.corpus import build
    from timbrelab.sounds.datasets import spec_from_dict
    from timbrelab.timbre_cnn.train import _spec_json

    data = load_recipe(corpus_recipe)["train"]["data"]
    corpus = [d for d in data.values() if d.get("kind") == "corpus"]
    augmented = [d for d in data.values() if d.get("kind") == "augmented"]
    if len(corpus) != 1 or len(augmented) != 1:
        raise BadParameterError(f"recipe {corpus_recipe} must have one corpus and one augmented data table")
    base = spec_from_dict(corpus[0])
    aug_d = dict(augmented[0])
    aug_d.setdefault("base", _spec_json(base))
    return build(base, progress=progress), build(spec_from_dict(aug_d), progress=progress)


def recipe_pairs(t: dict, progress: bool | None = None):
    """``(pair features, the clean corpus)`` of a TimbreCLAP recipe's ``[train]`` table."""
    from timbrelab.clap.data import PairPlanConfig, pair_features
    from timbrelab.features.timbre_stats import TimbreStatsConfig

    corpus, augmented = corpus_sets(t.get("corpus_recipe", "timbre-cnn"), progress)
    pf = pair_features(corpus, augmented, PairPlanConfig.from_dict(t.get("pairs", {})), TimbreStatsConfig.from_dict(t.get("stats", {})), progress)
    return pf, corpus


def train_recipe(recipe: dict, progress: bool | None = None):
    """``timbrelab train timbreclap`` / ``timbreclap-heldout`` (``recipes/timbreclap*.toml``)."""
    from timbrelab.ml.recipes import Trained

    t = recipe.get("train", {})
    pf, corpus = recipe_pairs(t, progress)
    excluded = excluded_for(t.get("exclude", "none"))
    name = t.get("embedder_name", recipe["model"]["name"].replace("_", "-"))
    model, metrics = train(pf, corpus.rows, excluded, CLAPTrainConfig.from_dict(t.get("loop", {})), t.get("model", {}), progress, name, corpus)
    model.info = {"exclude": t.get("exclude", "none"), "excluded_word_forms": sorted(excluded)}
    metrics["exclude"] = t.get("exclude", "none")
    return Trained(model.to_checkpoint(recipe["model"]["name"]), metrics)
