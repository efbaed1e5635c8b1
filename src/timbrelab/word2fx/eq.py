"""Word → EQ curve: the Venkatesh et al. (2022) experiment, our variants, and the shipped model.

Protocol (``data.fold_split``): for each of the paper's four folds, train on every English
contribution whose word is not a test word (all consistencies); test on the test words'
contributions with consistency > 0.7. A validation split of 15 % of the *training* words
(``data.carve_validation``, seed = fold) chooses epochs, k and bandwidths; test words never reach
training or validation. Targets: gains clipped to ±4 dB, scaled to 0…1.

Metrics (per fold, then mean ± sd over the four folds):

- **MAE (dB)**: mean absolute error over the 40 bands and all test contributions, on the ±4 dB scale.
- **PCM**: Partial Curve Mapping (``similaritymeasures.pcm``) between the predicted curve and each
  test contribution, for test words with ≥ 2 test contributions. Curves are drawn as
  (band index 0…39, gain in dB clipped to ±4); the paper does not state its axes, so absolute PCM
  values are comparable to its figures only loosely (its human reference is 2.9).
- **Human reference**: each contribution of those words against the mean of the *other* test
  contributions of its word — how well one person agrees with the rest.

Every method is a :class:`Method`: a feature (an embedding, or one-hot) and a regressor factory, with
options. ``run_method`` returns per-fold metrics and predictions; the bench prints them all.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from timbrelab.word2fx import data as D
from timbrelab.word2fx.data import embed
from timbrelab.word2fx.models import KernelRegressor, PolarityKernelRegressor, KNNRegressor, MeanRegressor, MLPConfig, MLPRegressor, RidgeRegressor

MODEL_NAME = "word2eq"

# ---------------------------------------------------------------- features


class OneHot:
    """The paper's "no embedding" input: one column per training word; a word not seen in training is all zeros."""

    def fit(self, words):
        self.vocab_ = {w: i for i, w in enumerate(sorted(set(words)))}
        return self

    def transform(self, words) -> np.ndarray:
        X = np.zeros((len(words), len(self.vocab_)), np.float32)
        for r, w in enumerate(words):
            if w in self.vocab_:
                X[r, self.vocab_[w]] = 1.0
        return X


# ---------------------------------------------------------------- methods


@dataclass
class Method:
    name: str
    feature: str  # encoder spec for `embed`, "onehot", or "none"
    make: Callable[[dict], object]  # hyper-parameters → regressor
    grid: list = field(default_factory=lambda: [{}])  # hyper-parameters tried on the validation split
    consistency_weight: bool = False  # weight training contributions by ratings_consistency
    map_supervision: bool = False  # add Audealize map curves of non-test, non-validation words
    ensemble: tuple = ()  # names of methods whose predictions are averaged (feature/make unused)
    paper: str = ""  # the paper's name for it, if the paper has it
    note: str = ""


def _mlp(**kw) -> Callable[[dict], MLPRegressor]:
    return lambda hp: MLPRegressor(MLPConfig(**{**kw, **hp}))


def _polarity(related_are_nearest: bool = False) -> Callable[[dict], PolarityKernelRegressor]:
    """Polarity-aware kernel regression over WordNet relations among a word's first ``max_senses`` senses."""

    def make(hp: dict) -> PolarityKernelRegressor:
        from functools import partial

        from timbrelab.lexicon.wordnet import relation

        hp = dict(hp)
        rel = partial(relation, max_senses=hp.pop("max_senses", None))
        return PolarityKernelRegressor(relation=rel, related_are_nearest=related_are_nearest, **hp)

    return make


KNN_GRID = [{"k": k} for k in (3, 5, 10, 20, 40)]
RIDGE_GRID = [{"alpha": a} for a in (1, 3, 10, 30, 100, 300)]
KERNEL_GRID = [{"bandwidth": b} for b in (0.02, 0.05, 0.1, 0.2, 0.5)]
POLARITY_GRID = [{**g, "max_senses": k} for g in KERNEL_GRID for k in (3, 5, None)]


def methods() -> dict[str, Method]:
    ms = [
        Method("mean", "none", lambda hp: MeanRegressor(), paper="mean curve", note="mean training curve, whatever the word"),
        Method("onehot-mlp", "onehot", _mlp(), paper="no embedding", note="one-hot word input; unseen words are all-zero"),
        Method("glove-mlp", "glove", _mlp(), paper="GloVe-6B", note="GloVe 6B 50-d (the paper used 300-d)"),
        Method("minilm-mlp", "minilm", _mlp(), note="all-MiniLM-L6-v2 sentence embedding"),
        # --- our variants, one idea at a time ---
        Method("minilm-mlp-consistency", "minilm", _mlp(), consistency_weight=True, note="+ contributions weighted by consistency"),
        Method("minilm-template-mlp", "minilm:a {} sound", _mlp(), note="prompt 'a {} sound'"),
        Method("minilm-mlp-pca8", "minilm", _mlp(pca_components=8), note="output = 8 PCA coefficients of training curves"),
        Method("glove+minilm-mlp", "glove+minilm", _mlp(), note="concatenated embeddings"),
        Method("ensemble-glove-minilm-mlp", "", lambda hp: None, ensemble=("glove-mlp", "minilm-mlp"), note="mean of the two MLPs' predictions"),
        Method("ensemble-polarity-kernel-mlp", "", lambda hp: None, ensemble=("minilm-polarity-kernel", "minilm-mlp"), note="mean of polarity kernel and MiniLM MLP"),
        Method("minilm-knn", "minilm", lambda hp: KNNRegressor(**hp), KNN_GRID, note="k nearest training words (cosine)"),
        Method("glove-kernel", "glove", lambda hp: KernelRegressor(**hp), KERNEL_GRID, note="kernel regression over training words"),
        Method("minilm-kernel", "minilm", lambda hp: KernelRegressor(**hp), KERNEL_GRID, note="kernel regression over training words"),
        Method("minilm-template-kernel", "minilm:a {} sound", lambda hp: KernelRegressor(**hp), KERNEL_GRID, note="kernel regression, prompt 'a {} sound'"),
        Method("minilm-kernel-consistency", "minilm", lambda hp: KernelRegressor(**hp), KERNEL_GRID, consistency_weight=True, note="kernel regression, consistency-weighted"),
        Method("minilm-kernel-map", "minilm", lambda hp: KernelRegressor(**hp), KERNEL_GRID, map_supervision=True, note="kernel regression + Audealize map words (adds none: every map word is a contribution word)"),
        Method("minilm-polarity-kernel", "minilm", _polarity(), POLARITY_GRID, note="kernel regression; WordNet antonyms mirrored"),
        Method("glove-polarity-kernel", "glove", _polarity(), POLARITY_GRID, note="kernel regression; WordNet antonyms mirrored"),
        Method("glove+minilm-polarity-kernel", "glove+minilm", _polarity(), POLARITY_GRID, note="kernel regression; WordNet antonyms mirrored"),
        Method("minilm-wordnet-kernel", "minilm", _polarity(True), POLARITY_GRID, note="kernel regression; WordNet antonyms mirrored, WordNet relatives count as nearest"),
        Method("minilm-wordnet-kernel-gain", "minilm", _polarity(True), [{**g, "gain": a} for g in POLARITY_GRID for a in (0.6, 0.8, 1.2)] + POLARITY_GRID, note="as minilm-wordnet-kernel, with a gain on the deviation from the mean curve"),
        Method("glove+minilm-wordnet-kernel", "glove+minilm", _polarity(True), POLARITY_GRID, note="kernel regression on GloVe+MiniLM; WordNet antonyms mirrored, WordNet relatives count as nearest"),
        Method("minilm-ridge", "minilm", lambda hp: RidgeRegressor(**hp), RIDGE_GRID, note="ridge regression"),
        Method("glove-ridge", "glove", lambda hp: RidgeRegressor(**hp), RIDGE_GRID, note="ridge regression"),
        Method("minilm-template-ridge", "minilm:a {} sound", lambda hp: RidgeRegressor(**hp), RIDGE_GRID, note="ridge regression, prompt 'a {} sound'"),
        Method("glove+minilm-ridge", "glove+minilm", lambda hp: RidgeRegressor(**hp), RIDGE_GRID, note="ridge regression, concatenated embeddings"),
        Method("minilm-ridge-consistency", "minilm", lambda hp: RidgeRegressor(**hp), RIDGE_GRID, consistency_weight=True, note="ridge, consistency-weighted"),
        Method("glove+minilm-kernel", "glove+minilm", lambda hp: KernelRegressor(**hp), KERNEL_GRID, note="kernel regression, concatenated embeddings"),
    ]
    return {m.name: m for m in ms}


# ---------------------------------------------------------------- metrics


def mae_db(pred_targets: np.ndarray, true_targets: np.ndarray) -> float:
    return float(np.mean(np.abs(pred_targets - true_targets)) * D.TARGET_RANGE_DB)


def _curve(targets) -> np.ndarray:
    return np.column_stack([np.arange(len(targets), dtype=np.float64), D.targets_to_db(targets)])


def pcm(pred_targets, true_targets) -> float:
    import similaritymeasures

    return float(similaritymeasures.pcm(_curve(true_targets), _curve(pred_targets)))


def pcm_rows(test: D.EQContributions) -> np.ndarray:
    """Test rows that count for PCM: those of words with ≥ 2 test contributions."""
    words, counts = np.unique(test.words, return_counts=True)
    return np.isin(test.words, words[counts >= 2])


def human_reference(test: D.EQContributions) -> dict:
    """Each contribution (of words with ≥ 2) against the mean of the other contributions of its word."""
    Y = D.eq_targets(test.gains_db)
    rows = np.flatnonzero(pcm_rows(test))
    maes, pcms = [], []
    for i in rows:
        others = (test.words == test.words[i]) & (np.arange(len(test)) != i)
        ref = Y[others].mean(axis=0)
        maes.append(mae_db(ref, Y[i]))
        pcms.append(pcm(ref, Y[i]))
    return {"mae_db": float(np.mean(maes)), "pcm": float(np.mean(pcms)), "n": len(rows)}


# ---------------------------------------------------------------- training one method on one split


def _map_examples(exclude: set[str]) -> tuple[list[str], np.ndarray]:
    from timbrelab.lexicon.maps import eq_map

    words, curves = [], []
    for e in eq_map().entries:
        w = e.word.lower()
        if e.lang == "English" and w not in exclude:
            words.append(w)
            curves.append(e.settings)
    return words, np.array(curves).reshape(-1, 40)


class _Featurizer:
    def __init__(self, feature: str):
        self.feature = feature

    def fit(self, words):
        if self.feature == "onehot":
            self.onehot_ = OneHot().fit(list(words))
        return self

    def __call__(self, words) -> np.ndarray:
        words = list(words)
        if self.feature == "onehot":
            return self.onehot_.transform(words)
        if self.feature == "none":
            return np.zeros((len(words), 1), np.float32)
        return embed(words, self.feature)


def _training_set(m: Method, train: D.EQContributions, exclude: set[str]):
    words = list(train.words)
    Y = D.eq_targets(train.gains_db)
    w = train.consistency.clip(0.05, 1.0) if m.consistency_weight else np.ones(len(train))
    if m.map_supervision:
        mw, mc = _map_examples(exclude | set(words))
        words += mw
        Y = np.vstack([Y, D.eq_targets(mc)])
        w = np.concatenate([w, np.ones(len(mw))])
    return words, Y, w


class _WordAware:
    """Passes the words along to regressors that use them (``uses_words``), and hides them from the rest."""

    def __init__(self, model):
        self.model = model

    def fit(self, X, Y, words=None, **kw):
        if getattr(self.model, "uses_words", False):
            kw["words"] = list(words)
        self.model.fit(X, Y, **kw)
        return self

    def predict(self, X, words=None):
        if getattr(self.model, "uses_words", False):
            return self.model.predict(X, words=list(words))
        return self.model.predict(X)

    def __getattr__(self, name):
        return getattr(self.model, name)


def fit_method(m: Method, train: D.EQContributions, exclude: set[str], seed: int = 0, progress=None):
    """Fit one method on ``train`` (hyper-parameters chosen on a word-disjoint validation split).

    ``exclude``: words that must not enter training in any form (the fold's test words).
    Returns ``(predict(words) -> targets, info)``.
    """
    val_mask = D.carve_validation(train.words, 0.15, seed)
    inner, val = train.subset(~val_mask), train.subset(val_mask & (train.consistency > D.TEST_MIN_CONSISTENCY))
    val_words = set(train.words[val_mask].tolist())
    words, Y, w = _training_set(m, inner, exclude | val_words)
    feat = _Featurizer(m.feature).fit(words)
    X, Xv, Yv = feat(words), feat(val.words), D.eq_targets(val.gains_db)
    is_mlp = isinstance(m.make({}), MLPRegressor)
    best = None
    for hp in m.grid:
        hp = {**hp, "seed": seed} if is_mlp else hp
        model = _WordAware(m.make(hp))
        model.fit(X, Y, sample_weight=w, X_val=Xv, Y_val=Yv, progress=progress, words=words)
        score = mae_db(model.predict(Xv, val.words), Yv) if len(Yv) else 0.0
        if best is None or score < best[0]:
            best = (score, hp, model)
    val_mae, hp, model = best
    info = {"val_mae_db": round(val_mae, 4), "hyper": hp}
    if is_mlp:
        info["best_epoch"] = int(getattr(model, "best_epoch_", 0))
    else:  # non-parametric: refit on all training words with the chosen hyper-parameters
        words, Y, w = _training_set(m, train, exclude)
        feat = _Featurizer(m.feature).fit(words)
        model = _WordAware(m.make(hp)).fit(feat(words), Y, sample_weight=w, words=words)
    return (lambda ws: model.predict(feat(ws), list(ws))), info, (model, feat)


def run_method(m: Method, folds=(1, 2, 3, 4), cache: dict | None = None, progress=None) -> dict:
    """Per-fold and summary metrics of one method. ``cache`` holds other methods' predictions (for ensembles)."""
    cache = cache if cache is not None else {}
    per_fold = []
    for f in folds:
        split = D.fold_split(f)
        t0 = time.perf_counter()
        if m.ensemble:
            pred = np.mean([cache[(name, f)] for name in m.ensemble], axis=0)
            info = {"members": list(m.ensemble)}
        else:
            predict, info, _ = fit_method(m, split.train, set(split.test_words), seed=f)
            pred = predict(split.test.words)
        cache[(m.name, f)] = pred
        Y = D.eq_targets(split.test.gains_db)
        rows = pcm_rows(split.test)
        per_fold.append({
            "fold": f, "mae_db": mae_db(pred, Y),
            "pcm": float(np.mean([pcm(pred[i], Y[i]) for i in np.flatnonzero(rows)])),
            "n_test": int(len(Y)), "n_pcm": int(rows.sum()), "seconds": round(time.perf_counter() - t0, 2), **info,
        })
        if progress:
            progress()
    maes = [r["mae_db"] for r in per_fold]
    pcms = [r["pcm"] for r in per_fold]
    return {
        "method": m.name, "feature": m.feature, "paper_name": m.paper, "note": m.note,
        "mae_db_mean": float(np.mean(maes)), "mae_db_sd": float(np.std(maes, ddof=1)) if len(maes) > 1 else 0.0,
        "pcm_mean": float(np.mean(pcms)), "pcm_sd": float(np.std(pcms, ddof=1)) if len(pcms) > 1 else 0.0,
        "val_mae_db_mean": float(np.mean([r.get("val_mae_db", np.nan) for r in per_fold])),
        "folds": per_fold,
    }


def human_reference_folds(folds=(1, 2, 3, 4)) -> dict:
    per = [{"fold": f, **human_reference(D.fold_split(f).test)} for f in folds]
    return {
        "method": "human", "mae_db_mean": float(np.mean([p["mae_db"] for p in per])), "mae_db_sd": float(np.std([p["mae_db"] for p in per], ddof=1)),
        "pcm_mean": float(np.mean([p["pcm"] for p in per])), "pcm_sd": float(np.std([p["pcm"] for p in per], ddof=1)), "folds": per,
    }


# ---------------------------------------------------------------- the shipped model

SHIPPED_METHOD = "glove+minilm-wordnet-kernel"  # default; --bench-json ships the bench's selected_by_validation
WEIGHTS_FILE = "word2eq.safetensors"
TRAIN_COMMAND = "python -m timbrelab.word2fx.eq --train-final"
BENCH_JSON = "reports/word2eq/bench_word2eq.json"


class EQWordModel:
    """The shipped word → EQ model: ``predict(words) -> gains in dB (n, 40)``, clipped to ±4 dB.

    Trained on every English SocialEQ contribution (all 388 words); loads from the package with its
    hash checked against the manifest; needs the text encoder it was trained with (and WordNet for
    the polarity kernel; without WordNet it still predicts, ignoring antonymy, and says so).
    """

    def __init__(self, method: Method, regressor, info: dict):
        self.method = method
        self.regressor = regressor
        self.info = info

    @property
    def name(self) -> str:
        return self.method.name

    def predict(self, words) -> np.ndarray:
        words = [str(w).strip().lower() for w in words]
        X = embed(words, self.method.feature)
        if getattr(self.regressor, "uses_words", False):
            return D.targets_to_db(self.regressor.predict(X, words=words))
        return D.targets_to_db(self.regressor.predict(X))

    @classmethod
    def train(cls, method_name: str = SHIPPED_METHOD, seed: int = 0) -> "EQWordModel":
        m = methods()[method_name]
        data = D.eq_contributions()
        _, info, (model, _) = fit_method(m, data, exclude=set(), seed=seed)
        return cls(m, model.model, info)

    def save(self, path) -> None:
        from safetensors.numpy import save_file

        r = self.regressor
        if not hasattr(r, "words_"):
            raise NotImplementedError("only the kernel-family models are shipped")
        meta = {"method": self.method.name, "hyper": json.dumps(self.info["hyper"]), "words": json.dumps(r.words_), "info": json.dumps(self.info, default=str)}
        save_file({"X": r.X_.astype(np.float32), "Y": r.Y_.astype(np.float32), "W": r.W_.astype(np.float32), "mean": r.mean_.astype(np.float32)}, str(path), metadata=meta)

    @classmethod
    def load(cls) -> "EQWordModel":
        from safetensors import safe_open

        from timbrelab import weights

        path = weights.load_file(MODEL_NAME, WEIGHTS_FILE)
        with safe_open(str(path), "np") as f:
            meta = f.metadata()
            t = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}
        m = methods()[meta["method"]]
        r = m.make(json.loads(meta["hyper"]))
        r.X_, r.Y_, r.W_, r.mean_ = t["X"], t["Y"], t["W"], t["mean"]
        r.words_ = json.loads(meta["words"])
        try:
            from timbrelab.lexicon import wordnet

            wordnet.wordnet_dir()
        except Exception:
            r.relation = None  # no WordNet here: plain kernel regression
        return cls(m, r, json.loads(meta["info"]))


def train_final(bench_json: str | None = None) -> dict:
    """Train the shipped model on all words, write it into the package and record it in the manifest.

    With ``bench_json`` the method is the one the benchmark selected by validation MAE, and its
    cross-validation figures are copied into the manifest.
    """
    from timbrelab import weights

    bench = json.loads(open(bench_json, encoding="utf-8").read()) if bench_json else None
    method = bench["selected_by_validation"] if bench else SHIPPED_METHOD
    t0 = time.perf_counter()
    model = EQWordModel.train(method)
    path = weights.weights_dir() / WEIGHTS_FILE
    model.save(path)
    metrics = {"training_seconds": round(time.perf_counter() - t0, 2), "validation_mae_db_all_words": model.info["val_mae_db"], "hyper": model.info["hyper"]}
    if bench:
        b = bench["methods"][method]
        metrics["cross_validation"] = {k: b[k] for k in ("mae_db_mean", "mae_db_sd", "pcm_mean", "pcm_sd", "val_mae_db_mean")}
        metrics["cross_validation_source"] = "timbrelab bench word2eq (reports/word2eq/bench_word2eq.json)"
    return weights.register(
        MODEL_NAME, [WEIGHTS_FILE], TRAIN_COMMAND + (f" --bench-json {bench_json}" if bench_json else ""),
        "SocialEQ English contributions (918, 388 words) as copied by scripts/sync_data.py; all-MiniLM-L6-v2; WordNet 3.0 (Debian wordnet-base)",
        metrics, {"method": method, "note": methods()[method].note},
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m timbrelab.word2fx.eq", description="train the shipped word → EQ model")
    ap.add_argument("--train-final", action="store_true", help="train on all words and write it into the package")
    ap.add_argument("--bench-json", help="copy the cross-validation figures of the shipped method from this bench JSON")
    args = ap.parse_args(argv)
    if not args.train_final:
        ap.print_help()
        return 2
    e = train_final(args.bench_json)
    print(json.dumps(e, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
