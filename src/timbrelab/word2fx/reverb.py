"""Word → reverb settings from text embeddings, for words nobody rated: data, folds, metrics, CV, shipped model.

Data (``reverb_examples``). SocialFX reverb contributions (``socialfx_reverb_contributions.csv``): a
participant heard a stimulus through the Rafii–Pardo reverberator at ``param`` = "d,g,m,f,E" (E on a
raw scale, 0.29 … 2,723, median ≈ 10) and typed words (``words``, already cleaned). Only English rows
are used (6,726 of 6,791). One example = one (word, param) pair per distinct lower-cased word of a
contribution (a word typed twice in one contribution counts once).

Eligible words: words with at least ``MIN_SUPPORT`` = 5 occurrences. Why 5 and not 3: a word's label
is the mean of its contributions' settings, and with 3 contributions that mean is mostly noise — the
split-half reliability (Pearson r between the means of two random halves of each word's
contributions) of log decay time is 0.32 for words with ≥ 3 occurrences, 0.48 for ≥ 5, 0.68 for
≥ 10; ≥ 10 would leave only ~300 words. Rarer words are used nowhere (neither training nor test).

Targets, all in 0…1 (``to_targets``): perceptual scales first — log d, log rt with
``rt = d·ln(0.001)/ln(g)`` (decay time is predicted instead of g; ``g = 0.001^(d/rt)`` is recovered),
m linear, log f, log E_raw — then min–max scaled by ``TARGET_LO``/``TARGET_HI``, the range of those
values over all English contributions (the stimulus design: 256 distinct settings; these ranges carry
no word information). A word's label is the mean target of its examples.

Folds (``make_folds``; committed in ``lexicon/data/socialfx_reverb_folds.json`` by
``scripts/make_reverb_folds.py``): the eligible words, sorted, shuffled with ``FOLD_SEED`` and dealt
into 4 word-disjoint folds. Fold k's test words are fold k; its training words are the other three.

Model selection never sees a test fold: inside each outer fold, ``carve_validation`` takes 20 % of
the training words (seed = fold) as an inner validation split; every hyper-parameter (k, bandwidth,
weighting, MLP epoch) is chosen there, then kNN/kernel/mean are refitted on all training words (the
MLP keeps its early-stopped weights from the inner-training words).

Metrics (``metrics``), per fold over its test words (each word counts once, against its label), then
mean ± sd over the 4 folds:
- ``mae_<target>``: MAE on each normalised target, and ``mae`` their mean;
- ``rt_log2``: decay-time error |log2(rt_pred / rt_label)| in octaves of time (a factor-of-2 error
  is 1; a ratio is the perceptual measure, seconds would be dominated by long decays);
- ``cutoff_oct``: low-pass cutoff error |log2(f_pred / f_label)| in octaves;
- ``E_db``: wet-gain error |20·log10(E_pred / E_label)| on the raw E scale, treating E as a gain;
- ``d_log2`` (comb delay, octaves), ``g_mae`` (comb gain recovered from d and rt), ``m_ms`` (stereo
  spread, ms). Labels in parameter units come from the word's mean target (so rt_label, f_label are
  geometric means of its contributions).
``human split-half`` is a reference, not a method: for each test word, the mean of a random half of
its contributions scored against the mean of the other half (both noisier than a full-word label,
so it is a pessimistic estimate of how well one crowd agrees with another).

Methods (``method_specs``): ``mean`` (mean training target; weighting by support or per word chosen
on the inner split); ``nearest`` (the single most similar training word by MiniLM cosine, its label);
``knn-<enc>`` and ``kernel-<enc>`` (``models.KNNRegressor`` / ``KernelRegressor``; k, bandwidth and
weighting chosen on the inner split) for encoders MiniLM, GloVe 50-d, MiniLM with the prompt
"a {} sound", and their concatenation (MiniLM ⊕ GloVe, each unit-norm, /√2); ``mlp-minilm`` (the
Venkatesh et al. network, ``models.MLPRegressor``, SGD lr 0.1, MAE loss) trained on one row per word
(its label) rather than one per contribution (2-core budget: ~12 s per epoch on contributions), at
most 300 epochs, the epoch (early stopping, patience 40) and the weighting chosen on the inner split.
"Weighting": ``support`` weights a training word by its number of occurrences, ``word`` weights every
word equally.

Shipped model (``train_final`` / ``ReverbWordModel``): the method with the lowest inner-validation
``mae`` averaged over the 4 folds (test scores are computed but never consulted), with its
hyper-parameters chosen on a 20 % inner split of all eligible words (seed 0), refitted on all
eligible words. ``ReverbWordModel.predict(words)`` returns Audealize-map-scale ``[d, g, m, f, E,
wetdry]`` for ``ReverbSettings.from_list``. E: the contributions' raw E and the map's E come from
different procedures; raw E is mapped to the map scale by a monotone quantile mapping from the
distribution of eligible words' labels (geometric-mean raw E per word) to the distribution of the 369
map words' E — both are per-word consensus values, so like is matched with like. Caveat, measured
(``map_agreement``): over the 369 map words, the rank correlation of a word's map E with its
contributions' mean raw E is ≈ 0.02 (decay time: ≈ 0.83, cutoff ≈ 0.43), so the predicted E says
little about the map's E. g is clipped to 1e-4 … 0.999 and wetdry is 1 as in every map entry.

Train the shipped file: ``python -m timbrelab.word2fx.reverb --train-final``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from timbrelab.word2fx.data import _data_text, carve_validation, word_key

CONTRIBUTIONS_FILE = "socialfx_reverb_contributions.csv"
MAP_FILE = "audealize_reverb.json"
FOLDS_FILE = "socialfx_reverb_folds.json"
MIN_SUPPORT = 5
N_FOLDS = 4
FOLD_SEED = 20240607
VAL_FRACTION = 0.2
TARGETS = ("log_d", "log_rt", "m", "log_f", "log_E")
G_MIN, G_MAX = 1e-4, 0.999
MODEL_NAME = "word2reverb"
WEIGHTS_FILE = "word2reverb.npz"
MLP_WEIGHTS_FILE = "word2reverb.safetensors"
TRAIN_COMMAND = "python -m timbrelab.word2fx.reverb --train-final"
FOLDS_PROTOCOL = (
    "English rows of socialfx_reverb_contributions.csv; one example per distinct lower-cased word of a "
    f"contribution's 'words'; eligible words have >= {MIN_SUPPORT} examples; the eligible words, sorted, are "
    f"shuffled with numpy.random.default_rng({FOLD_SEED}).permutation and dealt round-robin into {N_FOLDS} "
    "word-disjoint folds. Fold k tests its own words (label: the mean normalised target of the word's examples) "
    "and trains on the eligible words of the other folds; hyper-parameters are chosen on a word-disjoint inner "
    f"validation split of {VAL_FRACTION:.0%} of the training words (timbrelab.word2fx.data.carve_validation, seed = fold)."
)


# ----------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class ReverbExamples:
    """One row per (contribution, distinct word): the word (lower-cased) and the raw ``d,g,m,f,E``."""

    words: np.ndarray  # (n,) str
    params: np.ndarray  # (n, 5) raw d (s), g, m (s), f (Hz), E (raw scale)
    row: np.ndarray  # (n,) index of the contribution in the CSV

    def __len__(self) -> int:
        return len(self.words)


@lru_cache(maxsize=None)
def reverb_examples() -> ReverbExamples:
    words, params, rows = [], [], []
    for i, r in enumerate(csv.DictReader(_data_text(CONTRIBUTIONS_FILE).splitlines())):
        if r["language"] != "English":
            continue
        p = [float(v) for v in r["param"].split(",")]
        for w in dict.fromkeys(x.strip().lower() for x in r["words"].split(",") if x.strip()):
            words.append(w)
            params.append(p)
            rows.append(i)
    return ReverbExamples(np.array(words), np.array(params, np.float64), np.array(rows))


@lru_cache(maxsize=None)
def _contribution_params() -> np.ndarray:
    """Raw params of every English contribution (each once), for the target ranges."""
    return np.array([[float(v) for v in r["param"].split(",")] for r in csv.DictReader(_data_text(CONTRIBUTIONS_FILE).splitlines())
                     if r["language"] == "English"])


def perceptual(params) -> np.ndarray:
    """Raw ``(n, 5)`` d, g, m, f, E → ``(n, 5)`` log d, log rt, m, log f, log E."""
    P = np.atleast_2d(np.asarray(params, np.float64))
    d, g, m, f, E = P.T
    rt = d * np.log(0.001) / np.log(g)
    return np.c_[np.log(d), np.log(rt), m, np.log(f), np.log(E)]


@lru_cache(maxsize=None)
def target_range() -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` of the perceptual values over all English contributions (the stimulus design)."""
    V = perceptual(_contribution_params())
    return V.min(axis=0), V.max(axis=0)


def to_targets(params) -> np.ndarray:
    lo, hi = target_range()
    return (perceptual(params) - lo) / (hi - lo)


def targets_to_perceptual(T) -> np.ndarray:
    lo, hi = target_range()
    return np.atleast_2d(np.asarray(T, np.float64)) * (hi - lo) + lo


def targets_to_params(T) -> np.ndarray:
    """0…1 targets → raw-scale ``(n, 5)`` d, g, m, f, E (g from d and rt, clipped to 1e-4 … 0.999)."""
    V = targets_to_perceptual(T)
    d, rt = np.exp(V[:, 0]), np.exp(V[:, 1])
    g = np.clip(0.001 ** (d / rt), G_MIN, G_MAX)
    return np.c_[d, g, V[:, 2], np.exp(V[:, 3]), np.exp(V[:, 4])]


@dataclass(frozen=True)
class WordTable:
    """Per-word labels: ``Y`` the mean target of the word's examples, ``support`` its number of examples."""

    words: np.ndarray  # (k,) str, sorted
    Y: np.ndarray  # (k, 5)
    support: np.ndarray  # (k,) int

    def subset(self, mask) -> "WordTable":
        return WordTable(self.words[mask], self.Y[mask], self.support[mask])

    def select(self, words) -> "WordTable":
        return self.subset(np.isin(self.words, list(words)))


@lru_cache(maxsize=None)
def word_table(min_support: int = MIN_SUPPORT) -> WordTable:
    ex = reverb_examples()
    T = to_targets(ex.params)
    vocab, inv, counts = np.unique(ex.words, return_inverse=True, return_counts=True)
    Y = np.zeros((len(vocab), T.shape[1]))
    np.add.at(Y, inv, T)
    Y /= counts[:, None]
    keep = counts >= min_support
    return WordTable(vocab[keep], Y[keep], counts[keep])


def eligible_words(min_support: int = MIN_SUPPORT) -> list[str]:
    return word_table(min_support).words.tolist()


# ---------------------------------------------------------------------------------------- folds
def make_folds(seed: int = FOLD_SEED, min_support: int = MIN_SUPPORT, n_folds: int = N_FOLDS) -> dict[int, tuple[str, ...]]:
    """Deterministic word-disjoint folds (see ``FOLDS_PROTOCOL``)."""
    words = sorted(eligible_words(min_support))
    order = np.random.default_rng(seed).permutation(len(words))
    return {k + 1: tuple(sorted(words[i] for i in order[k::n_folds])) for k in range(n_folds)}


def folds_document() -> dict:
    folds = make_folds()
    return {
        "protocol": FOLDS_PROTOCOL,
        "seed": FOLD_SEED,
        "min_support": MIN_SUPPORT,
        "source": CONTRIBUTIONS_FILE,
        "n_words": sum(len(v) for v in folds.values()),
        "folds": {str(k): list(v) for k, v in folds.items()},
    }


@lru_cache(maxsize=None)
def reverb_folds() -> dict[int, tuple[str, ...]]:
    """The committed folds (``lexicon/data/socialfx_reverb_folds.json``)."""
    raw = json.loads(_data_text(FOLDS_FILE))["folds"]
    return {int(k): tuple(v) for k, v in sorted(raw.items(), key=lambda kv: int(kv[0]))}


@dataclass(frozen=True)
class ReverbFold:
    fold: int
    train: WordTable  # inner-training words
    val: WordTable  # inner-validation words (from the training words only)
    test: WordTable

    @property
    def train_all(self) -> WordTable:
        return WordTable(np.r_[self.train.words, self.val.words], np.r_[self.train.Y, self.val.Y], np.r_[self.train.support, self.val.support])


def fold_split(fold: int) -> ReverbFold:
    table = word_table()
    test_words = reverb_folds()[fold]
    is_test = np.isin(table.words, test_words)
    train = table.subset(~is_test)
    val = carve_validation(train.words, VAL_FRACTION, seed=fold)
    return ReverbFold(fold, train.subset(~val), train.subset(val), table.subset(is_test))


# -------------------------------------------------------------------------------------- metrics
def metrics(Y_pred, Y_true) -> dict[str, float]:
    """Errors of predicted vs label targets (rows = words, each counted once); see the module docstring."""
    Yp, Yt = np.atleast_2d(np.asarray(Y_pred, np.float64)), np.atleast_2d(np.asarray(Y_true, np.float64))
    Vp, Vt = targets_to_perceptual(Yp), targets_to_perceptual(Yt)
    Pp, Pt = targets_to_params(Yp), targets_to_params(Yt)
    out = {f"mae_{n}": float(np.mean(np.abs(Yp[:, j] - Yt[:, j]))) for j, n in enumerate(TARGETS)}
    out["mae"] = float(np.mean(np.abs(Yp - Yt)))
    out["rt_log2"] = float(np.mean(np.abs(Vp[:, 1] - Vt[:, 1])) / np.log(2))
    out["cutoff_oct"] = float(np.mean(np.abs(Vp[:, 3] - Vt[:, 3])) / np.log(2))
    out["E_db"] = float(np.mean(np.abs(Vp[:, 4] - Vt[:, 4])) * 20 / np.log(10))
    out["d_log2"] = float(np.mean(np.abs(Vp[:, 0] - Vt[:, 0])) / np.log(2))
    out["g_mae"] = float(np.mean(np.abs(Pp[:, 1] - Pt[:, 1])))
    out["m_ms"] = float(np.mean(np.abs(Vp[:, 2] - Vt[:, 2])) * 1000)
    return out


METRIC_ORDER = ["mae", *[f"mae_{n}" for n in TARGETS], "rt_log2", "cutoff_oct", "E_db", "d_log2", "g_mae", "m_ms"]


def split_half_reference(words, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """For each word, the mean target of a random half of its examples and of the other half."""
    ex = reverb_examples()
    T = to_targets(ex.params)
    rng = np.random.default_rng(seed)
    A, B = [], []
    for w in words:
        idx = rng.permutation(np.flatnonzero(ex.words == w))
        h = len(idx) // 2
        A.append(T[idx[:h]].mean(axis=0))
        B.append(T[idx[h:]].mean(axis=0))
    return np.array(A), np.array(B)


# ------------------------------------------------------------------------------------- encoders
def embed(encoder: str, words) -> np.ndarray:
    """Embeddings of data words; ``encoder`` as ``word2fx.data.embed`` takes it ('concat' = 'minilm+glove')."""
    from timbrelab.word2fx.data import embed as embed_words

    return embed_words(list(words), "minilm+glove" if encoder == "concat" else encoder)


ENCODER_LABELS = {"minilm": "minilm", "glove": "glove", "minilm:a {} sound": "prompt", "concat": "minilm+glove"}


# -------------------------------------------------------------------------------------- methods
@dataclass
class MethodSpec:
    name: str
    kind: str  # mean | knn | kernel | mlp
    encoder: str
    grid: list = field(default_factory=list)  # hyper-parameter dicts; the MLP's epoch is chosen by early stopping

    def describe(self) -> str:
        return f"{self.kind} on {self.encoder}"


WEIGHTINGS = ("support", "word")
K_GRID = (1, 3, 5, 10, 20, 40, 80)
BANDWIDTH_GRID = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
MLP_EPOCHS, MLP_PATIENCE = 300, 40


def method_specs(quick: bool = False) -> list[MethodSpec]:
    enc = ["glove"] if quick else ["minilm", "glove", "minilm:a {} sound", "concat"]
    specs = [
        MethodSpec("mean", "mean", "none", [{"weighting": w} for w in WEIGHTINGS]),
        MethodSpec("nearest", "knn", "glove" if quick else "minilm", [{"k": 1, "weighting": "word"}]),
    ]
    for e in enc:
        specs.append(MethodSpec(f"knn-{ENCODER_LABELS[e]}", "knn", e, [{"k": k, "weighting": w} for k in K_GRID for w in WEIGHTINGS]))
    for e in enc:
        specs.append(MethodSpec(f"kernel-{ENCODER_LABELS[e]}", "kernel", e, [{"bandwidth": b, "weighting": w} for b in BANDWIDTH_GRID for w in WEIGHTINGS]))
    if not quick:
        specs.append(MethodSpec("mlp-minilm", "mlp", "minilm", [{"weighting": w} for w in WEIGHTINGS]))
    return specs


def spec_by_name(name: str) -> MethodSpec:
    for s in method_specs():
        if s.name == name:
            return s
    raise KeyError(name)


def _weights(table: WordTable, weighting: str) -> np.ndarray:
    return table.support.astype(np.float64) if weighting == "support" else np.ones(len(table.words))


def build(spec: MethodSpec, hp: dict, seed: int = 0):
    from timbrelab.word2fx.models import KernelRegressor, KNNRegressor, MeanRegressor, MLPConfig, MLPRegressor

    if spec.kind == "mean":
        return MeanRegressor()
    if spec.kind == "knn":
        return KNNRegressor(k=hp["k"])
    if spec.kind == "kernel":
        return KernelRegressor(bandwidth=hp["bandwidth"])
    if spec.kind == "mlp":
        return MLPRegressor(MLPConfig(max_epochs=MLP_EPOCHS, patience=MLP_PATIENCE, seed=seed))
    raise ValueError(spec.kind)


def _X(spec: MethodSpec, words) -> np.ndarray:
    if spec.encoder == "none":
        return np.zeros((len(words), 1), np.float32)
    return embed(spec.encoder, words)


def select_and_fit(spec: MethodSpec, train: WordTable, val: WordTable, seed: int = 0):
    """Choose hyper-parameters on ``val`` (inner validation words), then fit for use on unseen words.

    Returns ``(model, hp, val_mae, val_by_hp)``. kNN / kernel / mean are refitted on train ∪ val with
    the chosen hyper-parameters; the MLP keeps its best-validation-epoch weights from ``train``."""
    Xtr, Xva = _X(spec, train.words), _X(spec, val.words)
    if spec.kind == "mlp":
        fits = []
        for hp in spec.grid:
            model = build(spec, hp, seed).fit(Xtr, train.Y, sample_weight=_weights(train, hp["weighting"]), X_val=Xva, Y_val=val.Y)
            fits.append((float(np.mean(np.abs(model.predict(Xva) - val.Y))), {**hp, "epochs": int(model.best_epoch_)}, model))
        err, hp, model = min(fits, key=lambda t: t[0])
        return model, hp, err, [{**h, "val_mae": e} for e, h, _ in fits]
    scores = []
    for hp in spec.grid:
        m = build(spec, hp, seed).fit(Xtr, train.Y, sample_weight=_weights(train, hp["weighting"]))
        scores.append(float(np.mean(np.abs(m.predict(Xva) - val.Y))))
    best = int(np.argmin(scores))
    hp = dict(spec.grid[best])
    both = WordTable(np.r_[train.words, val.words], np.r_[train.Y, val.Y], np.r_[train.support, val.support])
    model = build(spec, hp, seed).fit(np.r_[Xtr, Xva], both.Y, sample_weight=_weights(both, hp["weighting"]))
    return model, hp, scores[best], [{**h, "val_mae": s} for h, s in zip(spec.grid, scores)]


def _summary(per_fold: list[dict]) -> dict:
    keys = per_fold[0].keys()
    return {k: {"mean": float(np.mean([f[k] for f in per_fold])), "sd": float(np.std([f[k] for f in per_fold], ddof=1)) if len(per_fold) > 1 else 0.0}
            for k in keys}


def cross_validate(specs: list[MethodSpec] | None = None, folds=None, progress=None) -> dict:
    """Run every method on every fold. Returns per method: per-fold test metrics, chosen hyper-parameters,
    inner-validation MAE, mean ± sd; plus the human split-half reference and the test predictions."""
    specs = specs or method_specs()
    folds = list(folds or sorted(reverb_folds()))
    out: dict = {"methods": {}, "human_split_half": {"folds": []}, "predictions": {"words": [], "fold": [], "label": []}}
    for fold in folds:
        split = fold_split(fold)
        A, B = split_half_reference(split.test.words, seed=fold)
        out["human_split_half"]["folds"].append(metrics(A, B))
        out["predictions"]["words"] += split.test.words.tolist()
        out["predictions"]["fold"] += [fold] * len(split.test.words)
        out["predictions"]["label"] += split.test.Y.tolist()
        for spec in specs:
            t0 = time.perf_counter()
            model, hp, val_mae, val_by_hp = select_and_fit(spec, split.train, split.val, seed=fold)
            pred = model.predict(_X(spec, split.test.words))
            r = out["methods"].setdefault(spec.name, {"kind": spec.kind, "encoder": spec.encoder, "folds": [], "hyperparameters": [], "inner_val_mae": [], "fit_s": [], "predictions": []})
            r["folds"].append(metrics(pred, split.test.Y))
            r["hyperparameters"].append(hp)
            r["inner_val_mae"].append(val_mae)
            r["fit_s"].append(time.perf_counter() - t0)
            r["predictions"] += pred.tolist()
            if progress:
                progress(f"fold {fold} {spec.name}")
    for r in out["methods"].values():
        r["summary"] = _summary(r["folds"])
        r["inner_val_mae_mean"] = float(np.mean(r["inner_val_mae"]))
    out["human_split_half"]["summary"] = _summary(out["human_split_half"]["folds"])
    out["selected_by_inner_validation"] = select_method(out)
    out["folds"] = folds
    out["n_test_words"] = {str(f): int(n) for f, n in zip(*np.unique(out["predictions"]["fold"], return_counts=True))}
    return out


def select_method(cv: dict) -> str:
    """The method with the lowest inner-validation MAE averaged over folds (test scores are not looked at)."""
    inner = {name: r["inner_val_mae_mean"] for name, r in cv["methods"].items()}
    return min(inner, key=inner.get)


# --------------------------------------------------------------------------- E scale and map agreement
def map_E() -> np.ndarray:
    return np.array([float(e["settings"][4]) for e in json.loads(_data_text(MAP_FILE))])


def e_quantile_tables(n: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles of eligible words' label log raw E, and of the map's E, at the same n probabilities."""
    q = np.linspace(0, 1, n)
    src = targets_to_perceptual(word_table().Y)[:, 4]
    return np.quantile(src, q), np.quantile(map_E(), q)


def raw_to_map_E(E_raw, src_q, dst_q) -> np.ndarray:
    """Monotone quantile mapping of raw E to the map's E scale (clamped at the ends)."""
    return np.interp(np.log(np.asarray(E_raw, np.float64)), src_q, dst_q)


def map_agreement() -> dict:
    """Spearman rho between each map word's setting and its contributions' label (words with ≥ 1 example)."""
    from scipy.stats import spearmanr

    entries = json.loads(_data_text(MAP_FILE))
    table = word_table(1)
    pos = {w: i for i, w in enumerate(table.words)}
    shared = [e for e in entries if e["word"].lower() in pos]
    S = np.array([e["settings"][:5] for e in shared])
    Vm = perceptual(np.c_[S[:, :4], np.ones(len(S))])
    Vc = targets_to_perceptual(table.Y[[pos[e["word"].lower()] for e in shared]])
    rho = {n: float(spearmanr(Vm[:, j], Vc[:, j])[0]) for j, n in enumerate(TARGETS[:4])}
    rho["E"] = float(spearmanr(S[:, 4], Vc[:, 4])[0])
    return {"n_words": len(shared), "spearman": rho}


# ------------------------------------------------------------------------------- shipped model
class ReverbWordModel:
    """The shipped word → reverb predictor (see the module docstring)."""

    def __init__(self, spec: MethodSpec, hp: dict, model, src_q: np.ndarray, dst_q: np.ndarray, target_lo: np.ndarray, target_hi: np.ndarray):
        self.spec, self.hp, self.model = spec, hp, model
        self.src_q, self.dst_q = src_q, dst_q
        self.target_lo, self.target_hi = target_lo, target_hi

    @property
    def name(self) -> str:
        return self.spec.name

    @classmethod
    def load(cls) -> "ReverbWordModel":
        """From the package weights (SHA-256 checked against the manifest); no network."""
        from timbrelab.weights import entry, load_file

        e = entry(MODEL_NAME)
        with np.load(load_file(MODEL_NAME, WEIGHTS_FILE), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in z.files if k != "meta"}
        spec = MethodSpec(meta["method"], meta["kind"], meta["encoder"], [meta["hyperparameters"]])
        hp = meta["hyperparameters"]
        if spec.kind == "mlp":
            from safetensors.torch import load_file as load_st

            from timbrelab.word2fx.models import MLPRegressor

            model = MLPRegressor.from_state(load_st(str(load_file(MODEL_NAME, MLP_WEIGHTS_FILE))), meta["mlp"])
        else:
            model = build(spec, hp).fit(arrays["X"], arrays["Y"], sample_weight=arrays["w"])
        self = cls(spec, hp, model, arrays["E_src_q"], arrays["E_dst_q"], arrays["target_lo"], arrays["target_hi"])
        self.manifest = e
        return self

    def predict_targets(self, words) -> np.ndarray:
        return np.clip(self.model.predict(_X(self.spec, list(words))), 0.0, 1.0)

    def predict_raw(self, words) -> np.ndarray:
        """``(n, 5)`` d, g, m, f, E on the contributions' (raw E) scale."""
        V = self.predict_targets(words) * (self.target_hi - self.target_lo) + self.target_lo
        d, rt = np.exp(V[:, 0]), np.exp(V[:, 1])
        return np.c_[d, np.clip(0.001 ** (d / rt), G_MIN, G_MAX), V[:, 2], np.exp(V[:, 3]), np.exp(V[:, 4])]

    def predict(self, words: list[str]) -> np.ndarray:
        """``(n, 6)`` Audealize map scale ``[d, g, m, f, E, wetdry]`` for ``ReverbSettings.from_list``."""
        words = [str(w) for w in words]
        if not words:
            return np.zeros((0, 6))
        P = self.predict_raw(words)
        E = raw_to_map_E(P[:, 4], self.src_q, self.dst_q)
        return np.c_[P[:, :4], E, np.ones(len(words))]


def train_final(cv: dict | None = None, progress=print) -> dict:
    """Choose the method by inner validation over the folds, fit it on all eligible words, write the
    weights and the manifest entry. Returns the manifest entry."""
    from timbrelab.weights import register, weights_dir

    t0 = time.perf_counter()
    if cv is None:
        cv = cross_validate(progress=progress)
    name = select_method(cv)
    spec = spec_by_name(name)
    table = word_table()
    val = carve_validation(table.words, VAL_FRACTION, seed=0)
    model, hp, val_mae, _ = select_and_fit(spec, table.subset(~val), table.subset(val), seed=0)
    src_q, dst_q = e_quantile_tables()
    lo, hi = target_range()
    meta = {"method": name, "kind": spec.kind, "encoder": spec.encoder, "hyperparameters": hp, "min_support": MIN_SUPPORT,
            "targets": list(TARGETS), "n_words": int(len(table.words))}
    d = weights_dir()
    files = [WEIGHTS_FILE]
    arrays = {"E_src_q": src_q, "E_dst_q": dst_q, "target_lo": lo, "target_hi": hi}
    if spec.kind == "mlp":
        from safetensors.torch import save_file

        tensors, mlp_meta = model.state()
        meta["mlp"] = mlp_meta
        save_file(tensors, str(d / MLP_WEIGHTS_FILE))
        files.append(MLP_WEIGHTS_FILE)
    else:  # neighbour methods: the training words' embeddings, labels and weights are the model
        arrays.update(X=_X(spec, table.words).astype(np.float32), Y=table.Y.astype(np.float32), w=_weights(table, hp["weighting"]).astype(np.float32),
                      words=table.words.astype(str))
    with open(d / WEIGHTS_FILE, "wb") as f:
        np.savez_compressed(f, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    r = cv["methods"][name]
    metrics_out = {
        "cv_test": {k: r["summary"][k] for k in METRIC_ORDER},
        "cv_inner_val_mae": r["inner_val_mae_mean"],
        "final_inner_val_mae": val_mae,
        "selection": "lowest inner-validation MAE averaged over the 4 folds; hyper-parameters on a 20 % inner split of all words (seed 0)",
        "inner_val_mae_by_method": {n: m["inner_val_mae_mean"] for n, m in cv["methods"].items()},
    }
    entry = register(MODEL_NAME, files, TRAIN_COMMAND,
                     f"lexicon/data/{CONTRIBUTIONS_FILE}: English, {len(table.words)} words with >= {MIN_SUPPORT} occurrences; E mapped to the map scale by quantiles of lexicon/data/{MAP_FILE}",
                     metrics_out, extra={"method": name, "hyperparameters": hp, "output": "[d, g, m, f, E, wetdry] on the Audealize map scale",
                                         "train_s": round(time.perf_counter() - t0, 1)})
    progress(f"{MODEL_NAME}: {name} {hp} (inner-val MAE {val_mae:.4f}) → {d / WEIGHTS_FILE}")
    return entry


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m timbrelab.word2fx.reverb", description=__doc__.splitlines()[0])
    p.add_argument("--train-final", action="store_true", help="cross-validate, choose by inner validation, train on all words, write weights + manifest")
    p.add_argument("--cv-json", metavar="FILE", help="reuse the cross-validation of a full `timbrelab bench word2reverb` JSON "
                   "instead of rerunning it (same selection; only its inner-validation scores and test summaries are read)")
    args = p.parse_args(argv)
    if not args.train_final:
        p.print_help()
        return 0
    cv = None
    if args.cv_json:
        with open(args.cv_json, encoding="utf-8") as f:
            cv = json.load(f)
        if cv.get("quick"):
            raise SystemExit("--cv-json needs a full (not --quick) bench run")
    train_final(cv, progress=lambda s: print(s, file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
