"""The shipped word → reverb model: ``timbrelab.models.load("word2reverb").predict(["cathedral"])``.

``predict(words)`` returns Audealize-map-scale ``[d, g, m, f, E, wetdry]`` rows for
``ReverbSettings.from_list``: the fitted method predicts the five 0…1 targets (clipped), they go back
to parameters (``reverb_data``: log d, log rt, m, log f, log E; g from d and rt, clipped to
1e-4 … 0.999), and raw E is mapped onto the map's E scale by the quantile tables fitted at training
(``reverb_data.raw_to_map_E``). wetdry is 1, as in every map entry.

Trained by its recipe (``timbrelab/recipes/word2reverb.toml``: the method ``timbrelab bench
word2reverb`` selected by inner validation — the lowest inner-validation MAE averaged over the 4
folds; test scores are computed but never consulted —, the seed, and the bench JSON whose
cross-validation figures go into the metrics)::

    timbrelab train word2reverb -o runs/word2reverb && timbrelab ship runs/word2reverb

``train_recipe`` chooses the method's hyper-parameters on a 20 % inner split of all eligible words
(seed from the recipe) and refits it on all of them (:func:`timbrelab.eval.crossval.fit_select` with
:class:`timbrelab.word2fx.reverb_task.ReverbTask`). The checkpoint stores what ``predict`` needs —
the fitted regressor's arrays, the target range and the E quantile tables —; nothing is refitted on load.
"""

from __future__ import annotations

import json
import time

import numpy as np

from timbrelab.dsp.reverb import comb_gain
from timbrelab.word2fx import reverb_data as RD
from timbrelab.word2fx.methods import Featurizer, Predictor
from timbrelab.word2fx.models import REGRESSORS

MODEL_NAME = "word2reverb"
KIND = "word2reverb"
SCALE_TENSORS = ("E_src_q", "E_dst_q", "target_lo", "target_hi")


class ReverbWordModel:
    """The shipped word → reverb predictor (see the module docstring)."""

    def __init__(self, method: dict, hyper: dict, predictor: Predictor, src_q, dst_q, target_lo, target_hi, info: dict | None = None):
        self.method, self.hyper, self.predictor = method, hyper, predictor
        self.src_q, self.dst_q = np.asarray(src_q, np.float64), np.asarray(dst_q, np.float64)
        self.target_lo, self.target_hi = np.asarray(target_lo, np.float64), np.asarray(target_hi, np.float64)
        self.info = dict(info or {})
        self.notes: list[str] = []

    @property
    def name(self) -> str:
        return self.method["name"]

    def predict_targets(self, words) -> np.ndarray:
        return np.clip(self.predictor.predict([str(w) for w in words]), 0.0, 1.0)

    def predict_raw(self, words) -> np.ndarray:
        """``(n, 5)`` d, g, m, f, E on the contributions' (raw E) scale."""
        V = self.predict_targets(words) * (self.target_hi - self.target_lo) + self.target_lo
        d, rt = np.exp(V[:, 0]), np.exp(V[:, 1])
        return np.c_[d, np.clip(comb_gain(d, rt), RD.G_MIN, RD.G_MAX), V[:, 2], np.exp(V[:, 3]), np.exp(V[:, 4])]

    def predict(self, words: list[str]) -> np.ndarray:
        """``(n, 6)`` Audealize map scale ``[d, g, m, f, E, wetdry]`` for ``ReverbSettings.from_list``."""
        words = [str(w) for w in words]
        if not words:
            return np.zeros((0, 6))
        P = self.predict_raw(words)
        E = RD.raw_to_map_E(P[:, 4], self.src_q, self.dst_q)
        return np.c_[P[:, :4], E, np.ones(len(words))]

    def to_checkpoint(self):
        from timbrelab.ml.checkpoint import Checkpoint

        tensors, reg = self.predictor.regressor.state()
        scale = dict(zip(SCALE_TENSORS, (self.src_q, self.dst_q, self.target_lo, self.target_hi)))
        return Checkpoint(
            name=MODEL_NAME, kind=KIND, tensors={**{f"regressor.{k}": v for k, v in tensors.items()}, **scale},
            config={"method": self.method, "hyper": self.hyper, "regressor": reg, "targets": list(RD.TARGETS), "min_support": RD.MIN_SUPPORT,
                    "output": "[d, g, m, f, E, wetdry] on the Audealize map scale"},
            features={"text": self.predictor.featurizer.spec}, vocabulary=self.info.get("words"), extra={"info": {k: v for k, v in self.info.items() if k != "words"}},
        )

    @classmethod
    def from_checkpoint(cls, ckpt) -> "ReverbWordModel":
        from timbrelab.errors import MissingComponentError

        if ckpt.kind != KIND:
            raise MissingComponentError(f"'{ckpt.name}' is a {ckpt.kind} checkpoint, not a word2reverb model")
        c = ckpt.config
        tensors = {k[len("regressor."):]: v for k, v in ckpt.tensors.items() if k.startswith("regressor.")}
        regressor = REGRESSORS[c["method"]["regressor"]].from_state(tensors, c["regressor"])
        scale = [ckpt.tensors[k] for k in SCALE_TENSORS]
        return cls(c["method"], c["hyper"], Predictor(Featurizer(ckpt.features["text"]), regressor), *scale,
                   info={**ckpt.extra.get("info", {}), "words": ckpt.vocabulary})


def train_recipe(recipe: dict, progress=None):
    """The trainer of ``recipes/word2reverb.toml``: returns the checkpoint and its metrics (see the module docstring)."""
    from timbrelab.errors import BadParameterError
    from timbrelab.eval.crossval import fit_select
    from timbrelab.ml.recipes import Trained
    from timbrelab.word2fx.reverb_task import METRIC_ORDER, ReverbTask, chosen_hyper, method_specs

    t = recipe.get("train", {})
    method = t.get("method")
    if isinstance(method, str):
        catalogue = {m["name"]: m for m in method_specs()}
        if method not in catalogue:
            raise BadParameterError(f"word2reverb recipe: unknown method '{method}' (known: {', '.join(catalogue)})")
        method = catalogue[method]
    if not isinstance(method, dict):
        raise BadParameterError("word2reverb recipe: [train] method must name a method or be a method table")
    seed = int(t.get("seed", 0))
    t0 = time.perf_counter()
    task = ReverbTask()
    ex = task.examples()
    fitted, sel = fit_select(task, method, ex, exclude=(), seed=seed)
    hyper = chosen_hyper(method, sel)
    src_q, dst_q = RD.e_quantile_tables()
    lo, hi = RD.target_range()
    model = ReverbWordModel(method, hyper, fitted, src_q, dst_q, lo, hi, info={"final_inner_val_mae": sel.val_score, "n_words": len(ex),
                                                                             "words": ex.words.tolist()})
    metrics = {"method": method["name"], "hyperparameters": hyper, "final_inner_val_mae": sel.val_score,
               "training_seconds": round(time.perf_counter() - t0, 2)}
    source = t.get("cross_validation_json")
    if source:
        try:
            bench = json.loads(open(source, encoding="utf-8").read())
            r = bench["methods"][method["name"]]
            if bench.get("quick"):
                raise ValueError("a --quick run: one fold only")
        except (OSError, ValueError, KeyError) as exc:
            raise BadParameterError(f"word2reverb recipe: cannot read the cross-validation of '{method['name']}' from {source} ({exc}); "
                                    "run timbrelab bench word2reverb, or --set train.cross_validation_json=''") from None
        metrics.update({
            "cv_test": {k: r["summary"][k] for k in METRIC_ORDER},
            "cv_inner_val_mae": r["inner_val_mae_mean"],
            "selection": f"lowest inner-validation MAE averaged over the {len(bench['folds'])} folds (the bench selected "
                         f"{bench.get('selected_by_inner_validation')}); hyper-parameters on a {RD.VAL_FRACTION:.0%} inner split of all words (seed {seed})",
            "inner_val_mae_by_method": {n: m["inner_val_mae_mean"] for n, m in bench["methods"].items()},
            "cross_validation_source": f"timbrelab bench word2reverb ({source})",
        })
    return Trained(model.to_checkpoint(), metrics)
