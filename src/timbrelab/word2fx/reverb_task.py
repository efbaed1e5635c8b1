"""Word → reverb settings as a cross-validation task: metrics, methods as data, the human reference.

Protocol (:mod:`timbrelab.eval.crossval` with :class:`ReverbTask`): the examples are the eligible
words (``reverb_data.word_table``: one row per word, its label and support); fold ``k`` of the
committed folds tests its words and trains on the other folds' words. Model selection never sees a
test fold: inside each outer fold, 20 % of the training words (seed = fold) are an inner validation
split; every hyper-parameter (k, bandwidth, weighting, MLP epoch) is chosen there, then
kNN/kernel/mean are refitted on all training words (inner-training words, then validation words;
the MLP keeps its early-stopped weights from the inner-training words).

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

Methods (``method_specs``, each a dict of :mod:`timbrelab.word2fx.methods`): ``mean`` (mean training
target; weighting by support or per word chosen on the inner split); ``nearest`` (the single most
similar training word by MiniLM cosine, its label); ``knn-<enc>`` and ``kernel-<enc>``
(``models.KNNRegressor`` / ``KernelRegressor``; k, bandwidth and weighting chosen on the inner split)
for encoders MiniLM, GloVe 50-d, MiniLM with the prompt "a {} sound", and their concatenation
(``minilm+glove``: each part unit-norm, rows concatenated; the regressors compare by cosine);
``mlp-minilm`` (the Venkatesh et al. network, ``models.MLPRegressor``, SGD lr 0.1, MAE loss) trained
on one row per word (its label) rather than one per contribution (2-core budget: ~12 s per epoch on
contributions), at most 300 epochs, the epoch (early stopping, patience 40) and the weighting chosen
on the inner split. "Weighting": ``support`` weights a training word by its number of occurrences,
``word`` weights every word equally.
"""

from __future__ import annotations

import numpy as np

from timbrelab.eval import crossval as CV
from timbrelab.word2fx import reverb_data as RD
from timbrelab.word2fx.methods import early_stopped, fit_predictor

# ----------------------------------------------------------------------------------------- metrics


def metrics(Y_pred, Y_true) -> dict[str, float]:
    """Errors of predicted vs label targets (rows = words, each counted once); see the module docstring."""
    Yp, Yt = np.atleast_2d(np.asarray(Y_pred, np.float64)), np.atleast_2d(np.asarray(Y_true, np.float64))
    Vp, Vt = RD.targets_to_perceptual(Yp), RD.targets_to_perceptual(Yt)
    Pp, Pt = RD.targets_to_params(Yp), RD.targets_to_params(Yt)
    out = {f"mae_{n}": float(np.mean(np.abs(Yp[:, j] - Yt[:, j]))) for j, n in enumerate(RD.TARGETS)}
    out["mae"] = float(np.mean(np.abs(Yp - Yt)))
    out["rt_log2"] = float(np.mean(np.abs(Vp[:, 1] - Vt[:, 1])) / np.log(2))
    out["cutoff_oct"] = float(np.mean(np.abs(Vp[:, 3] - Vt[:, 3])) / np.log(2))
    out["E_db"] = float(np.mean(np.abs(Vp[:, 4] - Vt[:, 4])) * 20 / np.log(10))
    out["d_log2"] = float(np.mean(np.abs(Vp[:, 0] - Vt[:, 0])) / np.log(2))
    out["g_mae"] = float(np.mean(np.abs(Pp[:, 1] - Pt[:, 1])))
    out["m_ms"] = float(np.mean(np.abs(Vp[:, 2] - Vt[:, 2])) * 1000)
    return out


METRIC_ORDER = ["mae", *[f"mae_{n}" for n in RD.TARGETS], "rt_log2", "cutoff_oct", "E_db", "d_log2", "g_mae", "m_ms"]

# ----------------------------------------------------------------------------------------- methods

ENCODER_LABELS = {"minilm": "minilm", "glove": "glove", "minilm:a {} sound": "prompt", "minilm+glove": "minilm+glove"}
WEIGHTINGS = ("support", "word")
K_GRID = (1, 3, 5, 10, 20, 40, 80)
BANDWIDTH_GRID = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
MLP_EPOCHS, MLP_PATIENCE = 300, 40


def method_specs(quick: bool = False) -> list[dict]:
    """The methods the bench runs, in its order (``quick``: GloVe only, no MLP)."""
    enc = ["glove"] if quick else ["minilm", "glove", "minilm:a {} sound", "minilm+glove"]
    specs = [
        {"name": "mean", "regressor": "mean", "features": "none", "grid": [{"weighting": w} for w in WEIGHTINGS]},
        {"name": "nearest", "regressor": "knn", "features": "glove" if quick else "minilm", "grid": [{"k": 1, "weighting": "word"}]},
    ]
    for e in enc:
        specs.append({"name": f"knn-{ENCODER_LABELS[e]}", "regressor": "knn", "features": e, "grid": [{"k": k, "weighting": w} for k in K_GRID for w in WEIGHTINGS]})
    for e in enc:
        specs.append({"name": f"kernel-{ENCODER_LABELS[e]}", "regressor": "kernel", "features": e,
                      "grid": [{"bandwidth": b, "weighting": w} for b in BANDWIDTH_GRID for w in WEIGHTINGS]})
    if not quick:
        specs.append({"name": "mlp-minilm", "regressor": "mlp", "features": "minilm", "params": {"max_epochs": MLP_EPOCHS, "patience": MLP_PATIENCE},
                      "grid": [{"weighting": w} for w in WEIGHTINGS]})
    return specs


# ----------------------------------------------------------------------------------------- the task


def examples() -> CV.Examples:
    """The eligible words as cross-validation examples: one row each, its label and support."""
    t = RD.word_table()
    return CV.Examples(t.words, t.Y, {"support": t.support})


class ReverbTask:
    """The word → reverb task for :mod:`timbrelab.eval.crossval` (see the module docstring)."""

    name = "word2reverb"
    val_fraction = RD.VAL_FRACTION
    refit_on = "inner+validation"

    def examples(self) -> CV.Examples:
        return examples()

    def folds(self) -> dict[int, tuple[str, ...]]:
        return RD.reverb_folds()

    def scored(self, held_out: CV.Examples) -> np.ndarray:
        return np.ones(len(held_out), bool)

    def refits(self, method: dict) -> bool:
        return not early_stopped(method)

    @staticmethod
    def weights(train: CV.Examples, weighting: str | None) -> np.ndarray:
        return train.columns["support"].astype(np.float64) if weighting == "support" else np.ones(len(train))

    def fit(self, method, hp, train, exclude, seed, val):
        w = self.weights(train, hp.get("weighting", method.get("weighting")))
        pred = fit_predictor(method, hp, train.words, train.Y, w, seed, *((val.words, val.Y) if val is not None else ()))
        return pred, ({"best_epoch": int(pred.regressor.best_epoch_)} if early_stopped(method) else {})

    def val_score(self, pred, val) -> float:
        return float(np.mean(np.abs(pred - val.Y)))

    def metrics(self, pred, test) -> dict[str, float]:
        return metrics(pred, test.Y)


def chosen_hyper(method: dict, selection: CV.Selection) -> dict:
    """The hyper-parameters as the reports show them (the MLP's chosen epoch as ``epochs``)."""
    return {**selection.hyper, "epochs": selection.info["best_epoch"]} if early_stopped(method) else dict(selection.hyper)


def cross_validate(specs: list[dict] | None = None, folds=None, progress=None) -> dict:
    """Run every method on every fold. Returns per method: per-fold test metrics, chosen hyper-parameters,
    inner-validation MAE, mean ± sd; plus the human split-half reference and the test predictions."""
    task = ReverbTask()
    specs = specs or method_specs()
    folds = list(folds or sorted(task.folds()))
    results = CV.cross_validate(task, specs, folds, progress=(lambda name, fold: progress(f"fold {fold} {name}")) if progress else None)
    out: dict = {"methods": {}, "human_split_half": {"folds": []}, "predictions": {"words": [], "fold": [], "label": []}}
    ex = task.examples()
    for fold in folds:
        _, test, _ = CV.fold_split(task, fold, ex)
        A, B = RD.split_half_reference(test.words, seed=fold)
        out["human_split_half"]["folds"].append(metrics(A, B))
        out["predictions"]["words"] += test.words.tolist()
        out["predictions"]["fold"] += [fold] * len(test)
        out["predictions"]["label"] += test.Y.tolist()
    for name, r in results.items():
        m = r.method
        out["methods"][name] = {
            "kind": m["regressor"], "encoder": m["features"], "spec": m,
            "folds": [f.metrics for f in r.folds],
            "hyperparameters": [chosen_hyper(m, f.selection) for f in r.folds],
            "inner_val_mae": [f.selection.val_score for f in r.folds],
            "fit_s": [f.seconds for f in r.folds],
            "predictions": [row for f in r.folds for row in f.predictions.tolist()],
            "summary": r.summary(),
            "inner_val_mae_mean": r.val_score_mean(),
        }
    out["human_split_half"]["summary"] = CV.summarise(out["human_split_half"]["folds"])
    out["selected_by_inner_validation"] = CV.select(results)
    out["folds"] = folds
    out["n_test_words"] = {str(f): int(n) for f, n in zip(*np.unique(out["predictions"]["fold"], return_counts=True))}
    return out
