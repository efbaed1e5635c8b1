"""Word → reverb data: SocialFX reverb contributions, their targets, per-word labels, the folds, the map scale.

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
``rt = d·ln(0.001)/ln(g)`` (``dsp.reverb.decay_time_s``; decay time is predicted instead of g, and
``g = 0.001^(d/rt)`` is recovered by ``dsp.reverb.comb_gain``), m linear, log f, log E_raw — then
min–max scaled by the range of those values over all English contributions (the stimulus design:
256 distinct settings; these ranges carry no word information). A word's label is the mean target of
its examples (``word_table``).

Folds (``make_folds``; committed in ``lexicon/data/socialfx_reverb_folds.json`` by
``scripts/make_reverb_folds.py``): the eligible words, sorted, shuffled with ``FOLD_SEED`` and dealt
into 4 word-disjoint folds. Fold k's test words are fold k; its training words are the other three.

The map scale (``e_quantile_tables``, ``raw_to_map_E``): the contributions' raw E and the Audealize
map's E come from different procedures; raw E is mapped to the map scale by a monotone quantile
mapping from the distribution of eligible words' labels (geometric-mean raw E per word) to the
distribution of the 369 map words' E — both are per-word consensus values, so like is matched with
like. Caveat, measured (``map_agreement``): over the 369 map words, the rank correlation of a word's
map E with its contributions' mean raw E is ≈ 0.02 (decay time: ≈ 0.83, cutoff ≈ 0.43), so the
predicted E says little about the map's E.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from timbrelab.dsp.reverb import comb_gain, decay_time_s
from timbrelab.word2fx.data import _data_text

CONTRIBUTIONS_FILE = "socialfx_reverb_contributions.csv"
MAP_FILE = "audealize_reverb.json"
FOLDS_FILE = "socialfx_reverb_folds.json"
MIN_SUPPORT = 5
N_FOLDS = 4
FOLD_SEED = 20240607
VAL_FRACTION = 0.2
TARGETS = ("log_d", "log_rt", "m", "log_f", "log_E")
G_MIN, G_MAX = 1e-4, 0.999
FOLDS_PROTOCOL = (
    "English rows of socialfx_reverb_contributions.csv; one example per distinct lower-cased word of a "
    f"contribution's 'words'; eligible words have >= {MIN_SUPPORT} examples; the eligible words, sorted, are "
    f"shuffled with numpy.random.default_rng({FOLD_SEED}).permutation and dealt round-robin into {N_FOLDS} "
    "word-disjoint folds. Fold k tests its own words (label: the mean normalised target of the word's examples) "
    "and trains on the eligible words of the other folds; hyper-parameters are chosen on a word-disjoint inner "
    f"validation split of {VAL_FRACTION:.0%} of the training words (timbrelab.eval.crossval.carve_validation, seed = fold)."
)


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
    rt = decay_time_s(d, g)
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
    g = np.clip(comb_gain(d, rt), G_MIN, G_MAX)
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
