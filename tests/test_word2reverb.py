"""Word → reverb: data, folds (word-disjoint, committed), no leakage, metrics, shipped predictor, quick bench."""

import json
import math

import numpy as np
import pytest

from timbrelab import models
from timbrelab.eval import crossval as CV
from timbrelab.word2fx import models as M
from timbrelab.word2fx import reverb as R
from timbrelab.word2fx import reverb_data as RD
from timbrelab.word2fx import reverb_task as RT


def test_examples_and_eligible_words():
    ex = RD.reverb_examples()
    assert len(ex) > 15_000 and ex.params.shape == (len(ex), 5)
    table = RD.word_table()
    assert table.support.min() >= RD.MIN_SUPPORT and len(table.words) == len(set(table.words.tolist()))
    assert "echo" in table.words and "warm" in table.words
    assert ((table.Y >= 0) & (table.Y <= 1)).all()


def test_target_transform_round_trips():
    P = np.array([[0.0319, 0.84, -0.01, 16021.0, 2.018], [0.0559, 0.94, -0.0092, 3078.0, 19.629]])
    back = RD.targets_to_params(RD.to_targets(P))
    np.testing.assert_allclose(back, P, rtol=1e-9, atol=1e-12)
    T = RD.to_targets(RD._contribution_params())
    assert T.min() == pytest.approx(0) and T.max() == pytest.approx(1)


def test_folds_word_disjoint_and_match_committed_file():
    committed = RD.reverb_folds()
    fresh = RD.make_folds()
    assert committed == fresh, "socialfx_reverb_folds.json is stale: rerun scripts/make_reverb_folds.py"
    words = [w for f in committed.values() for w in f]
    assert len(words) == len(set(words)) == len(RD.eligible_words())
    assert sorted(len(f) for f in committed.values()) == [141, 142, 142, 142]
    doc = json.loads(RD._data_text(RD.FOLDS_FILE))
    assert doc == RD.folds_document()  # the protocol text too: rerun scripts/make_reverb_folds.py
    assert doc["seed"] == RD.FOLD_SEED and doc["min_support"] == RD.MIN_SUPPORT
    assert RD.make_folds(seed=RD.FOLD_SEED + 1) != fresh  # the seed matters: the check above can fail


@pytest.mark.parametrize("fold", [1, 2, 3, 4])
def test_no_test_word_reaches_training_or_validation(fold, monkeypatch):
    task = RT.ReverbTask()
    train_ex, test_ex, test_words = CV.fold_split(task, fold)
    is_val = CV.carve_validation(train_ex.words, task.val_fraction, fold)
    test, train, val = set(test_ex.words), set(train_ex.words[~is_val]), set(train_ex.words[is_val])
    assert test == set(RD.reverb_folds()[fold]) == set(test_words)
    assert not (test & train) and not (test & val) and not (train & val)
    assert train | val | test == set(RD.eligible_words())
    assert 0.15 < len(val) / (len(val) + len(train)) < 0.25
    seen = {"fit": [], "predict": []}

    class Spy(M.MeanRegressor):
        def fit(self, X, Y, sample_weight=None, words=None, **kw):
            seen["fit"].append(set(words))
            return super().fit(X, Y, sample_weight)

        def predict(self, X, words=None):
            seen["predict"].append(set(words))
            return super().predict(X)

    monkeypatch.setitem(M.REGRESSORS, "spy", Spy)
    fitted, sel = CV.fit_select(task, {"name": "spy", "regressor": "spy", "features": "none", "grid": [{"weighting": "word"}, {"weighting": "support"}]},
                                train_ex, exclude=test_words, seed=fold)
    *inner, refit = seen["fit"]
    assert all(f == train for f in inner) and refit == train | val  # chosen on the inner split, refitted on all training words
    assert all(p == val for p in seen["predict"])  # selection predicts only validation words


def test_metrics_zero_on_labels_and_known_errors():
    Y = RD.word_table().Y[:20]
    m = RT.metrics(Y, Y)
    assert set(m) == set(RT.METRIC_ORDER) and all(v == pytest.approx(0, abs=1e-12) for v in m.values())
    # shifting the log-rt target by one octave of time gives an rt error of exactly 1
    lo, hi = RD.target_range()
    Y2 = Y.copy()
    Y2[:, 1] += math.log(2) / (hi[1] - lo[1])
    assert RT.metrics(Y2, Y)["rt_log2"] == pytest.approx(1.0)
    Y3 = Y.copy()
    Y3[:, 3] += math.log(2) / (hi[3] - lo[3])
    assert RT.metrics(Y3, Y)["cutoff_oct"] == pytest.approx(1.0)


def test_selection_uses_inner_validation_only():
    def result(name, val, test):
        f = CV.FoldResult(1, {"mae": test}, np.zeros((1, 5)), None, CV.Selection({}, val))
        return CV.MethodResult({"name": name}, [f])

    assert CV.select({"a": result("a", 0.2, 0.01), "b": result("b", 0.1, 0.9)}) == "b"


def test_every_method_is_data():
    specs = RT.method_specs()
    assert json.loads(json.dumps(specs)) == specs and [s["name"] for s in specs][:2] == ["mean", "nearest"]
    assert {s["regressor"] for s in specs} <= set(M.REGRESSORS) and len({s["name"] for s in specs}) == len(specs) == 11


def test_e_quantile_mapping_is_monotone_into_map_range():
    src, dst = RD.e_quantile_tables()
    E = RD.raw_to_map_E(np.array([0.01, 1.0, 10.0, 100.0, 1e5]), src, dst)
    assert (np.diff(E) >= 0).all() and E[0] == pytest.approx(dst[0]) and E[-1] == pytest.approx(dst[-1])
    assert 0 < dst[0] and dst[-1] <= 1.0


def test_shipped_predictor_loads_and_returns_valid_settings():
    from timbrelab.dsp.reverb import ReverbSettings
    from timbrelab.weights import weights_dir

    e = models.info(R.MODEL_NAME)
    assert e["training_command"].startswith("timbrelab train word2reverb") and e["metrics"]["method"] in {s["name"] for s in RT.method_specs()}
    assert e["loader"] == "timbrelab.word2fx.reverb:ReverbWordModel" and list(e["files"]) == [e["checkpoint"]]
    assert all((weights_dir() / f).stat().st_size < 2_000_000 for f in e["files"])
    model = models.load(R.MODEL_NAME)
    assert model.name == e["metrics"]["method"] and model.hyper == e["metrics"]["hyperparameters"]
    words = ["cathedral", "tiny closet", "underwater", "warm", "qwertyuiop"]
    S = model.predict(words)
    assert S.shape == (5, 6) and np.isfinite(S).all()
    d, g, m, f, E, wd = S.T
    assert ((g > 0) & (g < 1)).all() and (d > 0).all() and (f > 0).all() and (wd == 1).all()
    assert ((E > 0) & (E <= 1)).all() and (np.abs(m) < 0.015).all()
    settings = [ReverbSettings.from_list(row) for row in S]
    # a cathedral should ring longer than a tiny closet
    assert settings[0].rt60_s > settings[1].rt60_s
    assert model.predict([]).shape == (0, 6)


def test_weights_hash_is_checked(monkeypatch, tmp_path):
    from timbrelab import weights
    from timbrelab.errors import MissingComponentError

    src = weights.weights_dir()
    ckpt = weights.entry(R.MODEL_NAME)["checkpoint"]
    for name in ("manifest.json", ckpt):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    monkeypatch.setattr(weights, "weights_dir", lambda: tmp_path)
    with open(tmp_path / ckpt, "ab") as f:
        f.write(b"x")
    with pytest.raises(MissingComponentError, match="does not match"):
        models.load(R.MODEL_NAME)


def test_loading_refits_nothing_and_round_trips(monkeypatch, tmp_path):
    """The checkpoint holds what predict needs: loading never fits (every fit is made to fail here)."""
    from timbrelab.ml.checkpoint import load_checkpoint, save_checkpoint

    words = ["cathedral", "tiny closet", "warm", "qwertyuiop"]
    want = models.load(R.MODEL_NAME).predict(words)

    def no_fit(*a, **k):
        raise AssertionError("fitted on load")

    for cls in M.REGRESSORS.values():
        monkeypatch.setattr(cls, "fit", no_fit)
    monkeypatch.setattr(RD, "word_table", no_fit)
    m = models.load(R.MODEL_NAME)
    assert np.array_equal(m.predict(words), want)
    save_checkpoint(tmp_path / "c.safetensors", m.to_checkpoint())
    assert np.array_equal(R.ReverbWordModel.from_checkpoint(load_checkpoint(tmp_path / "c.safetensors")).predict(words), want)


def test_the_recipe_trains_exactly_what_is_shipped():
    from timbrelab.ml.checkpoint import load_checkpoint
    from timbrelab.ml.recipes import load_recipe

    recipe = load_recipe("word2reverb", overrides=["train.cross_validation_json=''"])
    trained = R.train_recipe(recipe)
    shipped = load_checkpoint(models.checkpoint_path(R.MODEL_NAME))
    assert trained.checkpoint.config == shipped.config and trained.checkpoint.vocabulary == shipped.vocabulary
    assert trained.checkpoint.tensors.keys() == shipped.tensors.keys()
    assert all(np.array_equal(trained.checkpoint.tensors[k], shipped.tensors[k]) for k in shipped.tensors)
    info = models.info(R.MODEL_NAME)
    assert info["recipe"]["train"]["method"] == recipe["train"]["method"] == info["metrics"]["method"]
    assert trained.metrics["final_inner_val_mae"] == info["metrics"]["final_inner_val_mae"]


@pytest.mark.slow
def test_quick_bench_writes_json(cli, tmp_path):
    code, out, err = cli("bench", "word2reverb", "--quick", "--out", tmp_path, "--json", tmp_path / "r.json")
    assert code == 0, err
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["quick"] and r["folds"] == [1]
    assert {"mean", "nearest", "knn-glove", "kernel-glove"} <= set(r["methods"])
    for m in r["methods"].values():
        assert len(m["folds"]) == 1 and set(RT.METRIC_ORDER) <= set(m["summary"])
    assert r["selected_by_inner_validation"] in r["methods"]
    assert (tmp_path / "bench_word2reverb.md").exists() and (tmp_path / "bench_word2reverb.png").stat().st_size > 10_000
    assert "| mean |" in out
