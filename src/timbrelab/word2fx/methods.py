"""A word → effect method as data, and what builds it: features from words, a regressor, a predictor.

A method is a JSON/TOML-able dict (the benches write every one into their reports)::

    {"name": "glove+minilm-wordnet-kernel",
     "regressor": "polarity-kernel",                   # a kind of word2fx.models.REGRESSORS
     "features": "glove+minilm",                       # an encoder spec of timbrelab.text.embed, "onehot" or "none"
     "params": {"related_are_nearest": true},          # fixed settings of the regressor
     "grid": [{"bandwidth": 0.1, "max_senses": 5}, …], # tried on the inner validation split (eval.crossval)
     "weighting": "consistency",                       # the task's sample weighting (or a grid key)
     "map_supervision": false,                         # EQ only: add Audealize map words as examples
     "ensemble": ["glove-mlp", "minilm-mlp"],          # instead of a regressor: mean of those methods
     "paper": "GloVe-6B", "note": "…"}                 # the paper's name for it; one line for the reports

A grid point is split by :func:`regressor_settings`: ``weighting`` is the sample weighting and
``anchor_scale`` / ``anchor_weight`` set the engineering-lexicon anchors (both read by the task), ``max_senses`` (an int, or ``"all"``) is the number of WordNet senses the polarity kernel
reads, everything else goes to the regressor. The MLP also gets the fold's ``seed``.

Features: a data word is embedded in its ``word_key`` form (``big-church`` → ``big church``) with
:func:`timbrelab.text.encoders.embed`; ``onehot`` is one column per training word (the paper's "no
embedding"; an unseen word is all zeros); ``none`` is a constant column (the mean baseline).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from timbrelab.word2fx.data import word_key
from timbrelab.word2fx.models import EARLY_STOPPED, REGRESSORS, MLPConfig, MLPRegressor, PolarityKernelRegressor

ALL_SENSES = "all"


class Featurizer:
    """Words → ``(n, dim)`` float32 inputs for one feature spec; ``onehot`` is fitted on the training words."""

    def __init__(self, spec: str, vocabulary: Sequence[str] | None = None):
        self.spec = spec
        self.vocabulary = list(vocabulary) if vocabulary is not None else None
        self._col = {w: i for i, w in enumerate(self.vocabulary or [])}

    @classmethod
    def fit(cls, spec: str, words) -> "Featurizer":
        return cls(spec, sorted(set(words)) if spec == "onehot" else None)

    def __call__(self, words) -> np.ndarray:
        words = list(words)
        if self.spec == "onehot":
            X = np.zeros((len(words), len(self._col)), np.float32)
            for r, w in enumerate(words):
                if w in self._col:
                    X[r, self._col[w]] = 1.0
            return X
        if self.spec == "none":
            return np.zeros((len(words), 1), np.float32)
        from timbrelab.text.encoders import embed

        return embed([word_key(w) for w in words], self.spec)

    def to_dict(self) -> dict:
        return {"spec": self.spec, "vocabulary": self.vocabulary}

    @classmethod
    def from_dict(cls, d: dict) -> "Featurizer":
        return cls(d["spec"], d.get("vocabulary"))


#: grid keys the task reads (sample weighting, the lexicon anchors of ``word2fx.eq_task``), not the regressor
TASK_KEYS = ("weighting", "anchor_scale", "anchor_weight")


def regressor_settings(method: dict, hp: dict) -> tuple[dict, int | str | None]:
    """``(regressor keyword arguments, max_senses)`` of a method at one grid point (``TASK_KEYS`` left out)."""
    kw = {**method.get("params", {}), **{k: v for k, v in hp.items() if k not in TASK_KEYS}}
    senses = kw.pop("max_senses", None)
    return kw, senses


def wordnet_relation(max_senses):
    """WordNet's ``relation(a, b) -> −1/0/+1`` over the first ``max_senses`` senses (``"all"``: every sense)."""
    from functools import partial

    from timbrelab.lexicon.wordnet import relation

    return partial(relation, max_senses=None if max_senses in (None, ALL_SENSES) else int(max_senses))


def build_regressor(method: dict, hp: dict, seed: int = 0):
    """A fresh regressor for ``method`` at grid point ``hp`` (the MLP seeded with ``seed``)."""
    kind = method["regressor"]
    kw, senses = regressor_settings(method, hp)
    if kind == "mlp":
        return MLPRegressor(MLPConfig(**{**kw, "seed": seed}))
    if kind == "polarity-kernel":
        return PolarityKernelRegressor(relation=wordnet_relation(senses), **kw)
    return REGRESSORS[kind](**kw)


def early_stopped(method: dict) -> bool:
    return method.get("regressor") in EARLY_STOPPED


class Predictor:
    """A fitted method: ``predict(words) -> (n, n_targets)`` targets (0…1 scale of the task)."""

    def __init__(self, featurizer: Featurizer, regressor):
        self.featurizer = featurizer
        self.regressor = regressor

    def predict(self, words) -> np.ndarray:
        words = list(words)
        return self.regressor.predict(self.featurizer(words), words=words)


def fit_predictor(method: dict, hp: dict, words, Y, weights, seed: int = 0, val_words=None, val_Y=None) -> Predictor:
    """Fit ``method`` at ``hp`` on examples (``words``, targets ``Y``, sample ``weights``); the
    validation examples, if given, are there for early stopping (the MLP)."""
    words = list(words)
    feat = Featurizer.fit(method["features"], words)
    model = build_regressor(method, hp, seed)
    kw = {}
    if val_words is not None:
        kw = {"X_val": feat(val_words), "Y_val": val_Y}
    model.fit(feat(words), Y, sample_weight=weights, words=words, **kw)
    return Predictor(feat, model)
