"""The word-disjoint cross-validation harness (timbrelab.eval.crossval) on a toy task it knows nothing of."""

import numpy as np
import pytest

from timbrelab.eval import crossval as CV

WORDS = [f"w{i:02d}" for i in range(40)]


class Const:
    """Predicts a constant ``c`` (the grid's hyper-parameter) for every word."""

    def __init__(self, c):
        self.c = c

    def predict(self, words):
        return np.full((len(words), 1), float(self.c))


class ToyTask:
    """Targets: 1.0 for every example; fold k tests words k, k+4, k+8, …; two examples per word
    (the second marked unscored)."""

    name = "toy"
    val_fraction = 0.25
    refit_on = "training"

    def __init__(self, refits=True):
        self._refits = refits
        self.calls = []  # (train words, exclude, val words or None, hp)

    def examples(self):
        words = np.array([w for w in WORDS for _ in range(2)])
        return CV.Examples(words, np.ones((len(words), 1)), {"scored": np.array([True, False] * len(WORDS))})

    def folds(self):
        return {k: tuple(WORDS[k - 1 :: 4]) for k in (1, 2, 3, 4)}

    def scored(self, held_out):
        return held_out.columns["scored"]

    def refits(self, method):
        return self._refits

    def fit(self, method, hp, train, exclude, seed, val):
        self.calls.append((set(train.words.tolist()), set(exclude), None if val is None else set(val.words.tolist()), dict(hp)))
        return Const(hp.get("c", 0.0) + method.get("offset", 0.0)), {"n_train": len(train)}

    def val_score(self, pred, val):
        return float(np.mean(np.abs(pred - val.Y)))

    def metrics(self, pred, test):
        return {"mae": float(np.mean(np.abs(pred - test.Y))), "n": float(len(test))}


def test_carve_validation_is_word_disjoint_seeded_and_sized():
    words = np.array([w for w in WORDS for _ in range(3)])
    a, b, c = CV.carve_validation(words, 0.25, 1), CV.carve_validation(words, 0.25, 1), CV.carve_validation(words, 0.25, 2)
    assert (a == b).all() and not (a == c).all()
    assert len(set(words[a])) == 10 and not set(words[a]) & set(words[~a])
    assert CV.carve_validation(np.array(["x", "y"]), 0.01, 0).sum() == 1  # at least one word


def test_no_test_word_reaches_training_or_selection_and_the_choice_is_by_validation_only():
    task = ToyTask()
    method = {"name": "const", "grid": [{"c": 0.0}, {"c": 0.9}, {"c": 1.2}]}
    r = CV.run_method(task, method)
    assert [f.fold for f in r.folds] == [1, 2, 3, 4]
    assert len(task.calls) == 4 * 4  # per fold: 3 grid points, then the refit
    for i, f in enumerate(r.folds):
        fold_calls = task.calls[4 * i : 4 * i + 4]
        test = set(task.folds()[f.fold])
        assert set(f.test.words.tolist()) == test and len(f.test) == len(test)  # scored test examples only
        for train_words, exclude, val_words, _ in fold_calls:
            assert not train_words & test and test <= exclude
            if val_words is not None:  # selection: validation words are training words, never in the inner fit
                assert not val_words & test and not val_words & train_words and val_words <= exclude
        *grid, refit = fold_calls
        assert [c[3] for c in grid] == method["grid"] and refit[2] is None
        assert refit[0] == set(WORDS) - test  # refitted on every training word
        assert f.selection.hyper == {"c": 0.9} and f.selection.val_score == pytest.approx(0.1)
        assert [v["val_score"] for v in f.selection.val_by_hyper] == pytest.approx([1.0, 0.1, 0.2])
        assert f.metrics == {"mae": pytest.approx(0.1), "n": 10.0}
    s = r.summary()
    assert s["mae"]["mean"] == pytest.approx(0.1) and s["mae"]["sd"] == pytest.approx(0.0, abs=1e-12)
    assert r.val_score_mean() == pytest.approx(0.1)


def test_first_of_equal_scores_wins_and_early_stopped_fits_are_kept():
    task = ToyTask(refits=False)
    fitted, sel = CV.fit_select(task, {"name": "m", "grid": [{"c": 0.8}, {"c": 1.2}, {"c": 0.8}]}, task.examples(), exclude={"w00"}, seed=3)
    assert sel.hyper == {"c": 0.8} and sel.info == {"n_train": len(task.calls[0][0]) * 2}
    assert len(task.calls) == 3 and all(c[2] is not None for c in task.calls)  # no refit


def test_refit_order_follows_the_task():
    seen = {}

    class Recorder(ToyTask):
        def fit(self, method, hp, train, exclude, seed, val):
            if val is None:
                seen[self.refit_on] = train.words.tolist()
            return super().fit(method, hp, train, exclude, seed, val)

    for order in ("training", "inner+validation"):
        t = Recorder()
        t.refit_on = order
        CV.fit_select(t, {"name": "m", "grid": [{"c": 1.0}]}, t.examples(), seed=0)
    assert sorted(seen["training"]) == sorted(seen["inner+validation"]) and seen["training"] != seen["inner+validation"]
    assert seen["training"] == ToyTask().examples().words.tolist()
    val = CV.carve_validation(ToyTask().examples().words, 0.25, 0)
    words = ToyTask().examples().words
    assert seen["inner+validation"] == words[~val].tolist() + words[val].tolist()


def test_ensembles_average_their_members_and_are_never_selected():
    task = ToyTask()
    methods = [{"name": "ens", "ensemble": ["a", "b"]}, {"name": "a", "grid": [{"c": 0.5}]}, {"name": "b", "grid": [{"c": 1.1}]}]
    res = CV.cross_validate(task, methods, folds=[2, 3])
    assert list(res) == ["ens", "a", "b"]
    for f in res["ens"].folds:
        assert f.selection is None and np.allclose(f.predictions, 0.8)
    assert np.isnan(res["ens"].val_score_mean())
    assert CV.select(res) == "b" and CV.select(res, exclude=("b",)) == "a"


def test_summarise_uses_the_sample_sd():
    s = CV.summarise([{"x": 1.0}, {"x": 2.0}, {"x": 4.0}])
    assert s["x"]["mean"] == pytest.approx(7 / 3) and s["x"]["sd"] == pytest.approx(np.std([1, 2, 4], ddof=1))
    assert CV.summarise([{"x": 3.0}])["x"] == {"mean": 3.0, "sd": 0.0}
