"""word → EQ: the Venkatesh et al. protocol (eq_task on eval.crossval), the shipped model, and phrases that compose."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from timbrelab import models
from timbrelab.errors import MissingComponentError
from timbrelab.eval import crossval as CV
from timbrelab.fx import plan_effects
from timbrelab.lexicon import wordnet
from timbrelab.word2fx import data as D
from timbrelab.word2fx import eq as EQ
from timbrelab.word2fx import eq_task as W
from timbrelab.word2fx import models as M

SHARED_FOLDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "socialfx" / "folds.json"
needs_wordnet = pytest.mark.skipif(not wordnet.available(), reason="WordNet data (Debian wordnet-base) is not installed")


def test_packaged_folds_have_the_papers_shape():
    folds = D.venkatesh_folds()
    assert sorted(folds) == [1, 2, 3, 4] and all(len(v) == 31 for v in folds.values())
    assert len(set().union(*folds.values())) == 118  # as published: 6 words are test words of two folds


def test_folds_are_the_shared_file_word_for_word():
    if not SHARED_FOLDS.exists():
        pytest.skip(f"the paper's folds file is not here to compare with ({SHARED_FOLDS}, outside the repository)")
    raw = json.loads(SHARED_FOLDS.read_text())["folds"]
    assert {int(k): tuple(w.lower() for w in v) for k, v in raw.items()} == D.venkatesh_folds()


@pytest.mark.parametrize("fold", [1, 2, 3, 4])
def test_fold_split_follows_the_protocol(fold):
    data = D.eq_contributions()
    s = D.fold_split(fold)
    assert not set(s.train.words) & set(s.test_words)
    assert set(s.test.words) <= set(s.test_words) and (s.test.consistency > 0.7).all()
    assert len(s.train) + np.isin(data.words, s.test_words).sum() == len(data) == 918


class Spy:
    """A regressor that records every word it is trained or asked about."""

    uses_words = True

    def __init__(self, log):
        self.log = log

    def fit(self, X, Y, words=None, **_):
        self.log["fit"] |= set(words)
        self.mean_ = Y.mean(axis=0)
        return self

    def predict(self, X, words=None):
        self.log["predict"] |= set(words)
        return np.tile(self.mean_, (len(X), 1))


@pytest.mark.parametrize("fold", [1, 2, 3, 4])
def test_the_harness_splits_as_the_papers_protocol(fold):
    train, test, test_words = CV.fold_split(W.EQTask(), fold)
    s = D.fold_split(fold)
    assert test_words == s.test_words and train.words.tolist() == s.train.words.tolist()
    assert test.words.tolist() == s.test.words.tolist() and np.array_equal(test.Y, D.eq_targets(s.test.gains_db))


@pytest.mark.parametrize("map_supervision", [False, True])
def test_no_test_word_reaches_training_or_validation(map_supervision, monkeypatch):
    log = {"fit": set(), "predict": set()}
    monkeypatch.setitem(M.REGRESSORS, "spy", lambda: Spy(log))
    m = {"name": "spy", "regressor": "spy", "features": "none", "map_supervision": map_supervision}
    train, test, test_words = CV.fold_split(W.EQTask(), 3)
    fitted, sel = CV.fit_select(W.EQTask(), m, train, exclude=test_words, seed=3)
    assert log["fit"] and not log["fit"] & set(test_words)
    assert not log["predict"] & set(test_words)  # validation words are training words
    fitted.predict(test.words)
    assert set(test.words) <= log["predict"]


def test_validation_split_is_word_disjoint_and_seeded():
    words = D.fold_split(1).train.words
    a, b = CV.carve_validation(words, 0.15, 1), CV.carve_validation(words, 0.15, 1)
    assert (a == b).all() and 0.1 < a.mean() < 0.25
    assert not set(words[a]) & set(words[~a])


def test_every_method_is_data():
    """JSON- and TOML-able: str/int/float/bool, lists and tables, no None, no callables."""

    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        if isinstance(x, list):
            return all(plain(v) for v in x)
        return isinstance(x, (str, int, float, bool))

    ms = W.methods()
    assert len(ms) >= 25 and all(plain(m) for m in ms.values())
    assert json.loads(json.dumps(ms)) == ms
    assert {m["regressor"] for m in ms.values() if "regressor" in m} <= set(M.REGRESSORS)


def test_mean_baseline_reproduces_the_calibration_figure():
    r = W.run_method(W.methods()["mean"])
    assert round(r["mae_db_mean"], 3) == 0.844 and abs(r["mae_db_sd"] - 0.014) < 0.003  # data README
    assert [f["n_test"] for f in r["folds"]] == [38, 40, 59, 52]


def test_metrics():
    y = np.linspace(0.3, 0.7, 40)
    assert W.mae_db(y, y) == 0 and W.pcm(y, y) == pytest.approx(0, abs=1e-9)
    assert W.mae_db(y + 0.125, y) == pytest.approx(1.0)  # 0.125 of the 8 dB range
    assert W.pcm(y[::-1], y) > W.pcm(y + 0.05 * np.sin(np.arange(40)), y) > 0


@needs_wordnet
def test_wordnet_knows_timbre_antonyms():
    assert wordnet.are_opposites("warm", "cold") and wordnet.are_opposites("quiet", "loud")
    assert wordnet.relation("bright", "brilliant") == 1 and wordnet.relation("warm", "cold") == -1
    assert wordnet.relation("warm", "guitar") == 0


def test_shipped_model_loads_and_predicts():
    m = models.load("word2eq")
    assert isinstance(m, EQ.EQWordModel) and m.name == models.info("word2eq")["metrics"]["method"]
    g = m.predict(["warm", "tinny", "toasty"])
    assert g.shape == (3, 40) and np.abs(g).max() <= 4
    low, high = slice(1, 7), slice(24, 36)  # 50–260 Hz, 3–11 kHz
    assert g[0, low].mean() > g[0, high].mean() and g[1, low].mean() < g[1, high].mean()


def test_shipped_model_refuses_a_damaged_file(tmp_path, monkeypatch):
    from timbrelab import weights

    ckpt = models.info("word2eq")["checkpoint"]
    for name in (weights.MANIFEST, ckpt):
        shutil.copy(weights.weights_dir() / name, tmp_path / name)
    with open(tmp_path / ckpt, "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\0\0\0\0")
    monkeypatch.setattr(weights, "weights_dir", lambda: tmp_path)
    with pytest.raises(MissingComponentError, match="does not match"):
        models.load("word2eq")


def test_shipped_model_round_trips_through_its_checkpoint(tmp_path):
    from timbrelab.ml.checkpoint import load_checkpoint, save_checkpoint

    m = models.load("word2eq")
    save_checkpoint(tmp_path / "c.safetensors", m.to_checkpoint())
    back = EQ.EQWordModel.from_checkpoint(load_checkpoint(tmp_path / "c.safetensors"))
    words = ["warm", "toasty", "velvety", "qwerty", "big church"]
    assert np.array_equal(back.predict(words), m.predict(words))
    assert back.method == m.method and back.hyper == m.hyper


@needs_wordnet
def test_the_recipe_trains_exactly_what_is_shipped():
    """`timbrelab train word2eq` then `ship` is the one way the shipped file is made: the recipe reproduces it
    (bit for bit on a CPU like the shipping machine's; the MiniLM embeddings in ``regressor.X`` move in the
    7th digit on a CPU with other vector instructions, e.g. AMX, so floats compare to 1e-6)."""
    from timbrelab.ml.checkpoint import load_checkpoint
    from timbrelab.ml.recipes import load_recipe

    recipe = load_recipe("word2eq", overrides=["train.cross_validation_json=''"])
    trained = EQ.train_recipe(recipe)
    shipped = load_checkpoint(models.checkpoint_path("word2eq"))
    assert trained.checkpoint.config == shipped.config and trained.checkpoint.vocabulary == shipped.vocabulary
    assert trained.checkpoint.tensors.keys() == shipped.tensors.keys()
    for k, want in shipped.tensors.items():
        got = trained.checkpoint.tensors[k]
        if np.asarray(want).dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=k)
        else:
            assert np.array_equal(got, want), k
    info = models.info("word2eq")
    assert info["training_command"].startswith("timbrelab train word2eq") and info["recipe"]["train"]["method"] == recipe["train"]["method"]
    assert trained.metrics["validation_mae_db_all_words"] == info["metrics"]["validation_mae_db_all_words"]


def test_missing_wordnet_is_said_not_swallowed(monkeypatch):
    """Without WordNet the polarity kernel still predicts (antonyms ignored) and every resolution says so."""
    from timbrelab.word2fx import fallback

    had_wordnet = wordnet.available()
    with_wordnet = models.load("word2eq")

    def absent():
        raise MissingComponentError("WordNet data is not installed")

    monkeypatch.setattr(wordnet, "wordnet_dir", absent)
    assert not wordnet.available()
    m = models.load("word2eq")
    assert len(m.notes) == 1 and "WordNet is not installed" in m.notes[0]
    assert m.predictor.regressor.relation is None
    words = ["warm", "toasty", "cold", "velvety"]
    g = m.predict(words)
    assert g.shape == (4, 40) and np.isfinite(g).all()
    if had_wordnet:
        assert with_wordnet.notes == [] and not np.allclose(g, with_wordnet.predict(words))  # WordNet changes these curves
    plan = plan_effects("toasty", fallback=fallback.ModelFallback())  # a fallback of its own: loads the model now
    (r,) = plan.resolutions
    assert r.source == "model" and "WordNet is not installed" in r.note and "WordNet is not installed" in plan.summary()


def test_unmapped_and_thin_words_use_the_model():
    plan = plan_effects("toasty")  # in the EQ map with only 2 contributions: the model decides
    (r,) = plan.resolutions
    assert r.source == "model" and r.effect == "eq" and r.used[0]["model"] == "word2eq"
    assert "word2eq model" in plan.summary()
    (r,) = plan_effects("warm").resolutions  # 122 contributions: the crowd map
    assert r.source == "map"


def test_phrases_compose():
    base = plan_effects("bright").eq.gains_db
    assert np.allclose(plan_effects("a little brighter").eq.gains_db, 0.5 * np.array(base))
    assert np.allclose(plan_effects("very bright").eq.gains_db, 1.5 * np.array(base))
    warm, muddy = np.array(plan_effects("warm").eq.gains_db), np.array(plan_effects("less muddy").eq.gains_db)
    assert np.allclose(plan_effects("warm but not muddy").eq.gains_db, warm + muddy)
    assert np.allclose(muddy, -np.array(plan_effects(eq_words=["muddy"]).eq.gains_db))
    (r,) = plan_effects("less boomy").resolutions  # boomy: a reverb word to the crowd, an EQ term to an engineer
    assert r.effect == "eq" and r.phrase.sign == -1 and r.source == "lexicon"
    (r,) = plan_effects("less toasty").resolutions  # a thin EQ map word: inverted EQ from the model
    assert r.effect == "eq" and r.phrase.sign == -1 and r.source == "model"
    (r,) = plan_effects("very airy").resolutions
    assert r.phrase.scale == 1.5


def test_cli_apply_unseen_word_says_it_used_the_model(cli, pink_wav, tmp_path):
    code, out, err = cli("apply", pink_wav, "-o", tmp_path / "t.wav", "toasty", "-q")
    assert code == 0, err
    assert "word2eq model" in out


@pytest.mark.slow
def test_bench_word2eq_writes_its_json(bench_run):
    run = bench_run("word2eq")  # --methods mean
    assert run.code == 0, run.err
    r = run.report
    m = r["methods"]["mean"]
    for k in ("mae_db_mean", "mae_db_sd", "pcm_mean"):
        assert isinstance(m[k], float) and m[k] > 0
    assert round(m["mae_db_mean"], 3) == 0.844  # the calibration figure (data README)
    assert len(m["folds"]) == 4 and "human" in r and "GloVe-6B" in r["paper"]["mae_db"]
    assert r["selected_by_validation"] == "mean" and r["provenance"]["torch_threads"] == 1
    assert (run.out_dir / "bench_word2eq.md").exists() and (run.out_dir / "bench_word2eq_curves.png").exists()
    assert "0.760" in run.out  # the paper's figures printed beside ours
