"""Word → EQ curve as a cross-validation task: the Venkatesh et al. (2022) experiment and our variants.

Protocol (:mod:`timbrelab.eval.crossval` with the task below): for each of the paper's four folds
(``data.venkatesh_folds``), train on every English contribution whose word is not a test word (all
consistencies); test on the test words' contributions with consistency > 0.7. A validation split of
15 % of the *training* words (``eval.crossval.carve_validation``, seed = fold; its contributions with
consistency > 0.7 are scored) chooses epochs, k and bandwidths; test words never reach training or
validation. Targets: gains clipped to ±4 dB, scaled to 0…1.

Metrics (per fold, then mean ± sd over the four folds):

- **MAE (dB)**: mean absolute error over the 40 bands and all test contributions, on the ±4 dB scale.
- **PCM**: Partial Curve Mapping (``similaritymeasures.pcm``) between the predicted curve and each
  test contribution, for test words with ≥ 2 test contributions. Curves are drawn as
  (band index 0…39, gain in dB clipped to ±4); the paper does not state its axes, so absolute PCM
  values are comparable to its figures only loosely (its human reference is 2.9).
- **Human reference**: each contribution of those words against the mean of the *other* test
  contributions of its word — how well one person agrees with the rest.

Every method is data (:mod:`timbrelab.word2fx.methods`; ``methods()`` is the catalogue the bench
runs). ``run_method`` returns per-fold metrics and predictions in the bench's report shape.
"""

from __future__ import annotations

import numpy as np

from timbrelab.eval import crossval as CV
from timbrelab.word2fx import data as D
from timbrelab.word2fx.methods import ALL_SENSES, early_stopped, fit_predictor

VAL_FRACTION = 0.15

# ---------------------------------------------------------------- methods, as data

KNN_GRID = [{"k": k} for k in (3, 5, 10, 20, 40)]
RIDGE_GRID = [{"alpha": a} for a in (1, 3, 10, 30, 100, 300)]
KERNEL_GRID = [{"bandwidth": b} for b in (0.02, 0.05, 0.1, 0.2, 0.5)]
POLARITY_GRID = [{**g, "max_senses": k} for g in KERNEL_GRID for k in (3, 5, ALL_SENSES)]
WORDNET = {"related_are_nearest": True}


#: the polarity grid with a gain ≤ 1 on the deviation from the mean curve (shrinkage), for the lexicon-anchor methods
SHRINK_GRID = [{**g, "gain": a} for g in POLARITY_GRID for a in (0.6, 0.8, 1.0)]
ANCHOR_SCALES = (0.5, 0.8, 1.1)
ANCHOR_WEIGHTS = (1.0, 4.0)


def _anchor_grid(grid: list[dict]) -> list[dict]:
    return [{**g, "anchor_scale": s, "anchor_weight": w} for g in grid for s in ANCHOR_SCALES for w in ANCHOR_WEIGHTS]


def lexicon_anchors(exclude=(), scale: float = 1.0) -> tuple[list[str], np.ndarray]:
    """The engineering lexicon's forms as training examples: ``(words, gains in dB (n, 40))``, each
    term's curve standardised like a SocialEQ contribution (zero mean, unit sd over the 40 bands) and
    times ``scale``; forms in ``exclude`` are left out."""
    from timbrelab.lexicon.engineering import lexicon

    exclude = {str(w).lower() for w in exclude}
    words, curves = [], []
    for t in lexicon().terms:
        c = t.curve_db()
        z = (c - c.mean()) / max(float(c.std()), 1e-9)
        for f in t.forms:
            if f.lower() not in exclude:
                words.append(f.lower())
                curves.append(z * scale)
    return words, np.array(curves).reshape(-1, 40)


def _m(name, regressor, features, grid=None, **kw) -> dict:
    return {"name": name, "regressor": regressor, "features": features, "grid": grid or [{}], **kw}


def methods() -> dict[str, dict]:
    """Every word → EQ method the bench runs, by name (each a JSON/TOML-able dict)."""
    ms = [
        _m("mean", "mean", "none", paper="mean curve", note="mean training curve, whatever the word"),
        _m("onehot-mlp", "mlp", "onehot", paper="no embedding", note="one-hot word input; unseen words are all-zero"),
        _m("glove-mlp", "mlp", "glove", paper="GloVe-6B", note="GloVe 6B 50-d (the paper used 300-d)"),
        _m("minilm-mlp", "mlp", "minilm", note="all-MiniLM-L6-v2 sentence embedding"),
        # --- our variants, one idea at a time ---
        _m("minilm-mlp-consistency", "mlp", "minilm", weighting="consistency", note="+ contributions weighted by consistency"),
        _m("minilm-template-mlp", "mlp", "minilm:a {} sound", note="prompt 'a {} sound'"),
        _m("minilm-mlp-pca8", "mlp", "minilm", params={"pca_components": 8}, note="output = 8 PCA coefficients of training curves"),
        _m("glove+minilm-mlp", "mlp", "glove+minilm", note="concatenated embeddings"),
        {"name": "ensemble-glove-minilm-mlp", "ensemble": ["glove-mlp", "minilm-mlp"], "note": "mean of the two MLPs' predictions"},
        {"name": "ensemble-polarity-kernel-mlp", "ensemble": ["minilm-polarity-kernel", "minilm-mlp"], "note": "mean of polarity kernel and MiniLM MLP"},
        _m("minilm-knn", "knn", "minilm", KNN_GRID, note="k nearest training words (cosine)"),
        _m("glove-kernel", "kernel", "glove", KERNEL_GRID, note="kernel regression over training words"),
        _m("minilm-kernel", "kernel", "minilm", KERNEL_GRID, note="kernel regression over training words"),
        _m("minilm-template-kernel", "kernel", "minilm:a {} sound", KERNEL_GRID, note="kernel regression, prompt 'a {} sound'"),
        _m("minilm-kernel-consistency", "kernel", "minilm", KERNEL_GRID, weighting="consistency", note="kernel regression, consistency-weighted"),
        _m("minilm-kernel-map", "kernel", "minilm", KERNEL_GRID, map_supervision=True, note="kernel regression + Audealize map words (adds none: every map word is a contribution word)"),
        _m("minilm-polarity-kernel", "polarity-kernel", "minilm", POLARITY_GRID, note="kernel regression; WordNet antonyms mirrored"),
        _m("glove-polarity-kernel", "polarity-kernel", "glove", POLARITY_GRID, note="kernel regression; WordNet antonyms mirrored"),
        _m("glove+minilm-polarity-kernel", "polarity-kernel", "glove+minilm", POLARITY_GRID, note="kernel regression; WordNet antonyms mirrored"),
        _m("minilm-wordnet-kernel", "polarity-kernel", "minilm", POLARITY_GRID, params=WORDNET, note="kernel regression; WordNet antonyms mirrored, WordNet relatives count as nearest"),
        _m("minilm-wordnet-kernel-gain", "polarity-kernel", "minilm", [{**g, "gain": a} for g in POLARITY_GRID for a in (0.6, 0.8, 1.2)] + POLARITY_GRID,
           params=WORDNET, note="as minilm-wordnet-kernel, with a gain on the deviation from the mean curve"),
        _m("glove+minilm-wordnet-kernel", "polarity-kernel", "glove+minilm", POLARITY_GRID, params=WORDNET,
           note="kernel regression on GloVe+MiniLM; WordNet antonyms mirrored, WordNet relatives count as nearest"),
        _m("minilm-ridge", "ridge", "minilm", RIDGE_GRID, note="ridge regression"),
        _m("glove-ridge", "ridge", "glove", RIDGE_GRID, note="ridge regression"),
        _m("minilm-template-ridge", "ridge", "minilm:a {} sound", RIDGE_GRID, note="ridge regression, prompt 'a {} sound'"),
        _m("glove+minilm-ridge", "ridge", "glove+minilm", RIDGE_GRID, note="ridge regression, concatenated embeddings"),
        _m("minilm-ridge-consistency", "ridge", "minilm", RIDGE_GRID, weighting="consistency", note="ridge, consistency-weighted"),
        _m("glove+minilm-kernel", "kernel", "glove+minilm", KERNEL_GRID, note="kernel regression, concatenated embeddings"),
        # --- the engineering lexicon (issue 15) as anchors: its terms' shapes as extra training words ---
        _m("glove+minilm-wordnet-kernel-lexicon", "polarity-kernel", "glove+minilm", _anchor_grid(POLARITY_GRID), params=WORDNET,
           lexicon_anchors="others", note="as glove+minilm-wordnet-kernel + lexicon terms as anchor words (none that is a test or validation word)"),
        _m("minilm-wordnet-kernel-gain-lexicon", "polarity-kernel", "minilm", _anchor_grid(SHRINK_GRID),
           params=WORDNET, lexicon_anchors="others", note="as minilm-wordnet-kernel-gain + lexicon anchor words (none that is a test or validation word)"),
        _m("glove+minilm-wordnet-kernel-gain-lexicon", "polarity-kernel", "glove+minilm",
           _anchor_grid(SHRINK_GRID), params=WORDNET, lexicon_anchors="others",
           note="as glove+minilm-wordnet-kernel, with a gain on the deviation from the mean curve, + lexicon anchor words"),
        _m("glove+minilm-wordnet-kernel-lexicon-consistency", "polarity-kernel", "glove+minilm", _anchor_grid(POLARITY_GRID), params=WORDNET,
           lexicon_anchors="others", weighting="consistency", note="as glove+minilm-wordnet-kernel-lexicon, contributions weighted by consistency"),
        _m("glove+minilm-wordnet-kernel-lexicon-all", "polarity-kernel", "glove+minilm", _anchor_grid(POLARITY_GRID), params=WORDNET,
           lexicon_anchors="all", note="as glove+minilm-wordnet-kernel + every lexicon term as an anchor word (test words that are lexicon terms too: prior knowledge, never their crowd curves)"),
    ]
    return {m["name"]: m for m in ms}


# ---------------------------------------------------------------- metrics


def mae_db(pred_targets: np.ndarray, true_targets: np.ndarray) -> float:
    return float(np.mean(np.abs(pred_targets - true_targets)) * D.TARGET_RANGE_DB)


def _curve(targets) -> np.ndarray:
    return np.column_stack([np.arange(len(targets), dtype=np.float64), D.targets_to_db(targets)])


def pcm(pred_targets, true_targets) -> float:
    import similaritymeasures

    return float(similaritymeasures.pcm(_curve(true_targets), _curve(pred_targets)))


def pcm_rows(words: np.ndarray) -> np.ndarray:
    """Test rows that count for PCM: those of words with ≥ 2 test contributions."""
    uniq, counts = np.unique(words, return_counts=True)
    return np.isin(words, uniq[counts >= 2])


def human_reference(test: D.EQContributions) -> dict:
    """Each contribution (of words with ≥ 2) against the mean of the other contributions of its word."""
    Y = D.eq_targets(test.gains_db)
    rows = np.flatnonzero(pcm_rows(test.words))
    maes, pcms = [], []
    for i in rows:
        others = (test.words == test.words[i]) & (np.arange(len(test)) != i)
        ref = Y[others].mean(axis=0)
        maes.append(mae_db(ref, Y[i]))
        pcms.append(pcm(ref, Y[i]))
    return {"mae_db": float(np.mean(maes)), "pcm": float(np.mean(pcms)), "n": len(rows)}


def human_reference_folds(folds=(1, 2, 3, 4)) -> dict:
    per = [{"fold": f, **human_reference(D.fold_split(f).test)} for f in folds]
    return {
        "method": "human", "mae_db_mean": float(np.mean([p["mae_db"] for p in per])), "mae_db_sd": float(np.std([p["mae_db"] for p in per], ddof=1)),
        "pcm_mean": float(np.mean([p["pcm"] for p in per])), "pcm_sd": float(np.std([p["pcm"] for p in per], ddof=1)), "folds": per,
    }


# ---------------------------------------------------------------- the task


def _map_examples(exclude: set[str]) -> tuple[list[str], np.ndarray]:
    from timbrelab.lexicon.maps import eq_map

    words, curves = [], []
    for e in eq_map().entries:
        w = e.word.lower()
        if e.lang == "English" and w not in exclude:
            words.append(w)
            curves.append(e.settings)
    return words, np.array(curves).reshape(-1, 40)


def examples(data: D.EQContributions | None = None) -> CV.Examples:
    """The contributions as cross-validation examples: word, 0…1 targets, consistency."""
    data = data or D.eq_contributions()
    return CV.Examples(data.words, D.eq_targets(data.gains_db), {"consistency": data.consistency})


class EQTask:
    """The word → EQ task for :mod:`timbrelab.eval.crossval` (see the module docstring)."""

    name = "word2eq"
    val_fraction = VAL_FRACTION
    refit_on = "training"

    def examples(self) -> CV.Examples:
        return examples()

    def folds(self) -> dict[int, tuple[str, ...]]:
        return D.venkatesh_folds()

    def scored(self, held_out: CV.Examples) -> np.ndarray:
        return held_out.columns["consistency"] > D.TEST_MIN_CONSISTENCY

    def refits(self, method: dict) -> bool:
        return not early_stopped(method)

    def training_set(self, method: dict, train: CV.Examples, exclude: set, hp: dict | None = None) -> tuple[list, np.ndarray, np.ndarray]:
        """``(words, targets, sample weights)``: the training contributions; with ``map_supervision``
        the Audealize map curves of words neither excluded nor already training words; with
        ``lexicon_anchors`` the engineering lexicon's forms (:func:`lexicon_anchors`, at the grid
        point's ``anchor_scale`` and ``anchor_weight``) — ``"others"``: none that is excluded (a test
        or validation word), ``"all"``: every form (the lexicon is prior knowledge, not crowd data)."""
        hp = hp or {}
        words = list(train.words)
        Y = train.Y
        w = train.columns["consistency"].clip(0.05, 1.0) if method.get("weighting") == "consistency" else np.ones(len(train))
        if method.get("map_supervision"):
            mw, mc = _map_examples(set(exclude) | set(words))
            words += mw
            Y = np.vstack([Y, D.eq_targets(mc)])
            w = np.concatenate([w, np.ones(len(mw))])
        mode = method.get("lexicon_anchors")
        if mode:
            aw, ac = lexicon_anchors(exclude if mode == "others" else (), float(hp.get("anchor_scale", 1.0)))
            words += aw
            Y = np.vstack([Y, D.eq_targets(ac)])
            w = np.concatenate([w, np.full(len(aw), float(hp.get("anchor_weight", 1.0)))])
        return words, Y, w

    def fit(self, method, hp, train, exclude, seed, val):
        words, Y, w = self.training_set(method, train, exclude, hp)
        pred = fit_predictor(method, hp, words, Y, w, seed, *((val.words, val.Y) if val is not None else ()))
        return pred, ({"best_epoch": int(pred.regressor.best_epoch_)} if early_stopped(method) else {})

    def val_score(self, pred, val) -> float:
        return mae_db(pred, val.Y)

    def metrics(self, pred, test) -> dict[str, float]:
        rows = np.flatnonzero(pcm_rows(test.words))
        return {"mae_db": mae_db(pred, test.Y), "pcm": float(np.mean([pcm(pred[i], test.Y[i]) for i in rows]))}


class _Cached:
    """A method's test predictions from the bench's cache, as an ensemble reads them."""

    def __init__(self, cache: dict, name: str):
        self.cache, self.name = cache, name

    def prediction(self, fold: int) -> np.ndarray:
        return self.cache[(self.name, fold)]


def run_method(m: dict, folds=(1, 2, 3, 4), cache: dict | None = None, progress=None) -> dict:
    """Per-fold and summary metrics of one method, in the bench's report shape. ``cache[(name, fold)]``
    receives its test predictions (and holds other methods' for ensembles)."""
    cache = cache if cache is not None else {}
    done = {n: _Cached(cache, n) for n in m.get("ensemble", ())}
    r = CV.run_method(EQTask(), m, folds, done, progress=(lambda name, fold: progress()) if progress else None)
    per_fold = []
    for f in r.folds:
        cache[(m["name"], f.fold)] = f.predictions
        if f.selection is None:
            info = {"members": list(m["ensemble"])}
        else:
            hyper = {**f.selection.hyper, "seed": f.fold} if early_stopped(m) else f.selection.hyper
            info = {"val_mae_db": round(f.selection.val_score, 4), "hyper": hyper, **f.selection.info}
        n_pcm = int(pcm_rows(f.test.words).sum())
        per_fold.append({"fold": f.fold, **f.metrics, "n_test": len(f.test), "n_pcm": n_pcm, "seconds": round(f.seconds, 2), **info})
    s = r.summary()
    return {
        "method": m["name"], "feature": m.get("features", ""), "paper_name": m.get("paper", ""), "note": m.get("note", ""),
        "mae_db_mean": s["mae_db"]["mean"], "mae_db_sd": s["mae_db"]["sd"], "pcm_mean": s["pcm"]["mean"], "pcm_sd": s["pcm"]["sd"],
        "val_mae_db_mean": float(np.mean([p.get("val_mae_db", np.nan) for p in per_fold])),
        "folds": per_fold, "spec": m,
    }
