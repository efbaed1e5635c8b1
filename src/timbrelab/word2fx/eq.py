"""The shipped word → EQ model: ``timbrelab.models.load("word2eq").predict(["toasty"])`` → gains in dB.

Trained by its recipe (``timbrelab/recipes/word2eq.toml``: the method the bench selected by
validation, the seed, and the bench JSON whose cross-validation figures go into the metrics)::

    timbrelab train word2eq -o runs/word2eq && timbrelab ship runs/word2eq

``train_recipe`` fits the method on every English SocialEQ contribution (all 388 words), its
hyper-parameters chosen on a 15 % inner validation split of the words (:func:`timbrelab.eval.
crossval.fit_select` with :class:`timbrelab.word2fx.eq_task.EQTask`, seed from the recipe). The
checkpoint stores everything ``predict`` needs: the method (as data), the chosen hyper-parameters,
the feature spec and the fitted regressor's arrays; nothing is refitted on load.

WordNet: the polarity kernels read WordNet (Debian ``wordnet-base``) for antonyms. Where it is not
installed the model still predicts — plain kernel regression, antonyms not mirrored, so predictions
differ from the shipped figures — and says so: ``model.notes`` names what is missing, and the
resolution of every word it predicts carries that note (``timbrelab apply`` prints it).
"""

from __future__ import annotations

import json
import time

import numpy as np

from timbrelab.word2fx import data as D
from timbrelab.word2fx.methods import Featurizer, Predictor, regressor_settings, wordnet_relation
from timbrelab.word2fx.models import REGRESSORS

MODEL_NAME = "word2eq"
KIND = "word2eq"
NO_WORDNET = ("WordNet is not installed (Debian package wordnet-base): the word2eq model ignores antonyms here, "
              "so its curves differ from the shipped figures")


class EQWordModel:
    """``predict(words) -> gains in dB (n, 40)``, clipped to ±4 dB; ``notes``: what is missing here, if anything."""

    def __init__(self, method: dict, hyper: dict, predictor: Predictor, info: dict | None = None, notes=()):
        self.method = method
        self.hyper = hyper
        self.predictor = predictor
        self.info = dict(info or {})
        self.notes = list(notes)

    @property
    def name(self) -> str:
        return self.method["name"]

    def predict(self, words) -> np.ndarray:
        words = [str(w).strip().lower() for w in words]
        return D.targets_to_db(self.predictor.predict(words))

    def to_checkpoint(self):
        from timbrelab.ml.checkpoint import Checkpoint

        tensors, reg = self.predictor.regressor.state()
        feat = self.predictor.featurizer
        return Checkpoint(
            name=MODEL_NAME, kind=KIND, tensors={f"regressor.{k}": v for k, v in tensors.items()},
            config={"method": self.method, "hyper": self.hyper, "regressor": reg, "output": "40 gains in dB (±4), the 0…1 targets × 8 − 4"},
            features={"text": feat.spec, "onehot_vocabulary": feat.vocabulary}, vocabulary=reg.get("words"), extra={"info": self.info},
        )

    @classmethod
    def from_checkpoint(cls, ckpt) -> "EQWordModel":
        from timbrelab.errors import MissingComponentError

        if ckpt.kind != KIND:
            raise MissingComponentError(f"'{ckpt.name}' is a {ckpt.kind} checkpoint, not a word2eq model")
        c = ckpt.config
        method, hyper = c["method"], c["hyper"]
        tensors = {k[len("regressor."):]: v for k, v in ckpt.tensors.items() if k.startswith("regressor.")}
        kind = method["regressor"]
        notes = []
        if kind == "polarity-kernel":
            from timbrelab.lexicon import wordnet

            relation = None
            if wordnet.available():
                relation = wordnet_relation(regressor_settings(method, hyper)[1])
            else:
                notes.append(NO_WORDNET)
            regressor = REGRESSORS[kind].from_state(tensors, c["regressor"], relation=relation)
        else:
            regressor = REGRESSORS[kind].from_state(tensors, c["regressor"])
        feat = Featurizer(ckpt.features["text"], ckpt.features.get("onehot_vocabulary"))
        return cls(method, hyper, Predictor(feat, regressor), ckpt.extra.get("info"), notes)


def train_recipe(recipe: dict, progress=None):
    """The trainer of ``recipes/word2eq.toml``: returns the checkpoint and its metrics (see the module docstring)."""
    from timbrelab.errors import BadParameterError
    from timbrelab.eval.crossval import fit_select
    from timbrelab.ml.recipes import Trained
    from timbrelab.word2fx.eq_task import EQTask, examples, methods

    t = recipe.get("train", {})
    catalogue = methods()
    method = t.get("method")
    if isinstance(method, str):
        if method not in catalogue:
            raise BadParameterError(f"word2eq recipe: unknown method '{method}' (see timbrelab bench word2eq --list)")
        method = catalogue[method]
    if not isinstance(method, dict) or method.get("ensemble"):
        raise BadParameterError("word2eq recipe: [train] method must name one method (not an ensemble) or be a method table")
    seed = int(t.get("seed", 0))
    t0 = time.perf_counter()
    fitted, sel = fit_select(EQTask(), method, examples(), exclude=(), seed=seed)
    info = {"val_mae_db": round(sel.val_score, 4), "hyper": sel.hyper, **sel.info}
    model = EQWordModel(method, sel.hyper, fitted, info)
    metrics = {"method": method["name"], "training_seconds": round(time.perf_counter() - t0, 2),
               "validation_mae_db_all_words": info["val_mae_db"], "hyper": sel.hyper}
    source = t.get("cross_validation_json")
    if source:
        try:
            bench = json.loads(open(source, encoding="utf-8").read())
            b = bench["methods"][method["name"]]
        except (OSError, ValueError, KeyError) as exc:
            raise BadParameterError(f"word2eq recipe: cannot read the cross-validation of '{method['name']}' from {source} ({exc}); "
                                    "run timbrelab bench word2eq, or --set train.cross_validation_json=''") from None
        metrics["cross_validation"] = {k: b[k] for k in ("mae_db_mean", "mae_db_sd", "pcm_mean", "pcm_sd", "val_mae_db_mean")}
        metrics["cross_validation_source"] = f"timbrelab bench word2eq ({source})"
        metrics["selected_by_validation_in_that_bench"] = bench.get("selected_by_validation")
    return Trained(model.to_checkpoint(), metrics)
