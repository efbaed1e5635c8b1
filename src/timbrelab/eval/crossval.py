"""Word-disjoint cross-validation: folds of words, model selection on training words only, mean ± sd.

One harness for every model that maps words to something (word → EQ, word → reverb, and the
language–audio probe to come). A *task* says what the examples are and how a method is fitted and
scored; the harness owns the protocol, which is the same for every task:

1. **Folds of words.** ``task.folds()`` gives each fold's held-out test words. Fold ``k`` tests on the
   examples of its words (those ``task.scored`` keeps) and trains on every example whose word is not a
   test word of fold ``k``. A test word never reaches training or model selection in any form: the
   task is told to ``exclude`` it (e.g. from extra supervision it adds).
2. **An inner validation split of the training words** (``carve_validation``: a seeded random
   ``task.val_fraction`` of the distinct training words, seed = fold id) chooses the hyper-parameters:
   each grid point of the method is fitted on the other training words and scored on the validation
   words' examples (``task.val_score``, lower is better; the first of equal scores wins).
3. **Refit.** With the chosen hyper-parameters the method is fitted again on all training words
   (``task.refit_on``: ``"training"`` — the fold's training examples in their order — or
   ``"inner+validation"`` — the inner-training examples followed by the validation examples; the
   row order only moves floating-point sums in the last bit, and each task keeps the order its
   published figures were computed in). A method the task fits iteratively with early stopping on
   the validation words (``task.refits(method)`` False, e.g. the MLP) keeps its inner fit instead.
4. **Per-fold metrics** (``task.metrics`` on the test examples), then their mean ± sd (sample sd,
   ``ddof=1``) over the folds (``summarise``).

A method is data (a JSON/TOML-able dict): ``name``, ``grid`` (hyper-parameter dicts tried on the
validation split; default ``[{}]``) and whatever the task reads to build it; a method with
``ensemble`` (a list of method names) averages those methods' test predictions fold by fold and has
no validation score of its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np


@dataclass(frozen=True)
class Examples:
    """Examples of a word-level task, one row each: the word, the target, and any other per-row values."""

    words: np.ndarray  # (n,) str: the word each example belongs to
    Y: np.ndarray  # (n, k) targets
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)  # name -> (n,) e.g. consistency, support

    def __len__(self) -> int:
        return len(self.words)

    def subset(self, mask) -> "Examples":
        return Examples(self.words[mask], self.Y[mask], {k: v[mask] for k, v in self.columns.items()})

    def concat(self, other: "Examples") -> "Examples":
        return Examples(np.r_[self.words, other.words], np.r_[self.Y, other.Y], {k: np.r_[v, other.columns[k]] for k, v in self.columns.items()})


def carve_validation(words, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask over rows: the rows of a random ``fraction`` of the distinct words (word-disjoint).

    The distinct words are sorted, then ``max(1, round(fraction · n))`` of them are drawn without
    replacement by ``numpy.random.default_rng(seed).choice``."""
    words = np.asarray(words)
    vocab = np.array(sorted(set(words.tolist())))
    rng = np.random.default_rng(seed)
    val_words = rng.choice(vocab, size=max(1, int(round(fraction * len(vocab)))), replace=False)
    return np.isin(words, val_words)


class Fitted(Protocol):
    def predict(self, words: Sequence[str]) -> np.ndarray: ...


class Task(Protocol):
    """What the harness needs of a task (see the module docstring)."""

    name: str
    val_fraction: float
    refit_on: str  # "training" | "inner+validation"

    def examples(self) -> Examples: ...

    def folds(self) -> dict[int, tuple[str, ...]]: ...

    def scored(self, held_out: Examples) -> np.ndarray: ...  # mask: which held-out examples are scored

    def refits(self, method: dict) -> bool: ...

    def fit(self, method: dict, hp: dict, train: Examples, exclude: set, seed: int, val: Examples | None) -> tuple[Fitted, dict]: ...

    def val_score(self, pred: np.ndarray, val: Examples) -> float: ...

    def metrics(self, pred: np.ndarray, test: Examples) -> dict[str, float]: ...


@dataclass
class Selection:
    """What ``fit_select`` chose: the hyper-parameters, their validation score, every grid point's score,
    and what the task's fit reported (e.g. the early-stopping epoch)."""

    hyper: dict
    val_score: float
    val_by_hyper: list = field(default_factory=list)  # [{**hp, "val_score": s}]
    info: dict = field(default_factory=dict)


def fit_select(task: Task, method: dict, train: Examples, exclude=(), seed: int = 0) -> tuple[Fitted, Selection]:
    """Choose ``method``'s hyper-parameters on an inner validation split of ``train``'s words, then fit
    it for unseen words (steps 2–3 of the module docstring). ``exclude``: words that must not enter
    training in any form (the fold's test words)."""
    exclude = set(exclude)
    val_mask = carve_validation(train.words, task.val_fraction, seed)
    inner, held = train.subset(~val_mask), train.subset(val_mask)
    val = held.subset(task.scored(held))
    inner_exclude = exclude | set(held.words.tolist())
    best = None
    trials = []
    for hp in method.get("grid") or [{}]:
        fitted, info = task.fit(method, dict(hp), inner, inner_exclude, seed, val)
        score = float(task.val_score(fitted.predict(val.words), val)) if len(val) else 0.0
        trials.append({**hp, "val_score": score})
        if best is None or score < best[0]:
            best = (score, dict(hp), fitted, info)
    score, hp, fitted, info = best
    if task.refits(method):
        rows = train if task.refit_on == "training" else inner.concat(held)
        fitted, info = task.fit(method, hp, rows, exclude, seed, None)
    return fitted, Selection(hp, score, trials, dict(info))


@dataclass
class FoldResult:
    fold: int
    metrics: dict  # metric name -> value on the fold's scored test examples
    predictions: np.ndarray  # (n_test, k), rows of ``test``
    test: Examples  # the fold's scored test examples
    selection: Selection | None  # None for an ensemble
    seconds: float = 0.0


@dataclass
class MethodResult:
    method: dict
    folds: list = field(default_factory=list)  # FoldResult per fold, in fold order

    @property
    def name(self) -> str:
        return self.method["name"]

    def summary(self) -> dict[str, dict[str, float]]:
        return summarise([f.metrics for f in self.folds])

    def val_score_mean(self) -> float:
        """Mean over folds of the chosen hyper-parameters' validation score (NaN for an ensemble)."""
        return float(np.mean([f.selection.val_score if f.selection else np.nan for f in self.folds]))

    def prediction(self, fold: int) -> np.ndarray:
        return next(f.predictions for f in self.folds if f.fold == fold)


def summarise(per_fold: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """``{metric: {"mean", "sd"}}`` over folds (sample sd, ddof = 1; 0 for a single fold)."""
    keys = per_fold[0].keys()
    return {k: {"mean": float(np.mean([f[k] for f in per_fold])),
                "sd": float(np.std([f[k] for f in per_fold], ddof=1)) if len(per_fold) > 1 else 0.0} for k in keys}


def fold_split(task: Task, fold: int, examples: Examples | None = None) -> tuple[Examples, Examples, tuple[str, ...]]:
    """``(train, test, test_words)`` of one fold: every example of a non-test word, and the scored examples of its test words."""
    ex = examples if examples is not None else task.examples()
    test_words = tuple(task.folds()[fold])
    is_test = np.isin(ex.words, test_words)
    held = ex.subset(is_test)
    return ex.subset(~is_test), held.subset(task.scored(held)), test_words


def run_method(task: Task, method: dict, folds=None, done: Mapping[str, MethodResult] | None = None,
               progress: Callable[[str, int], None] | None = None) -> MethodResult:
    """Cross-validate one method over ``folds`` (default: all of the task's). ``done``: results of
    methods already run, which an ensemble averages."""
    folds = list(folds if folds is not None else sorted(task.folds()))
    ex = task.examples()
    out = MethodResult(dict(method))
    for fold in folds:
        train, test, test_words = fold_split(task, fold, ex)
        t0 = time.perf_counter()
        if method.get("ensemble"):
            pred = np.mean([done[name].prediction(fold) for name in method["ensemble"]], axis=0)
            selection = None
        else:
            fitted, selection = fit_select(task, method, train, exclude=test_words, seed=fold)
            pred = fitted.predict(test.words)
        out.folds.append(FoldResult(fold, task.metrics(pred, test), pred, test, selection, time.perf_counter() - t0))
        if progress is not None:
            progress(method["name"], fold)
    return out


def cross_validate(task: Task, methods: Sequence[dict], folds=None, progress=None) -> dict[str, MethodResult]:
    """Every method on every fold (ensembles after their members), in the order given otherwise."""
    by_name = {m["name"]: m for m in methods}
    order = sorted(by_name, key=lambda n: bool(by_name[n].get("ensemble")))
    done: dict[str, MethodResult] = {}
    for name in order:
        done[name] = run_method(task, by_name[name], folds, done, progress)
    return {m["name"]: done[m["name"]] for m in methods}


def select(results: Mapping[str, MethodResult], exclude=()) -> str:
    """The method with the lowest mean validation score (test scores are never looked at); ensembles
    and ``exclude`` are not candidates; the first of equal scores wins."""
    scores = {n: r.val_score_mean() for n, r in results.items() if n not in exclude and np.isfinite(r.val_score_mean())}
    return min(scores, key=scores.get)
