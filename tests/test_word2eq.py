"""word → EQ: the Venkatesh et al. protocol, the shipped model, and phrases that compose."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from timbrelab.errors import MissingComponentError
from timbrelab.fx import plan_effects
from timbrelab.lexicon import wordnet
from timbrelab.word2fx import data as D
from timbrelab.word2fx import eq as W

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


@pytest.mark.parametrize("map_supervision", [False, True])
def test_no_test_word_reaches_training_or_validation(map_supervision):
    log = {"fit": set(), "predict": set()}
    m = W.Method("spy", "none", lambda hp: Spy(log), map_supervision=map_supervision)
    s = D.fold_split(3)
    predict, info, _ = W.fit_method(m, s.train, set(s.test_words), seed=3)
    assert log["fit"] and not log["fit"] & set(s.test_words)
    assert not log["predict"] & set(s.test_words)  # validation words are training words
    predict(s.test.words)
    assert set(s.test.words) <= log["predict"]


def test_validation_split_is_word_disjoint_and_seeded():
    words = D.fold_split(1).train.words
    a, b = D.carve_validation(words, 0.15, 1), D.carve_validation(words, 0.15, 1)
    assert (a == b).all() and 0.1 < a.mean() < 0.25
    assert not set(words[a]) & set(words[~a])


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
    m = W.EQWordModel.load()
    g = m.predict(["warm", "tinny", "toasty"])
    assert g.shape == (3, 40) and np.abs(g).max() <= 4
    low, high = slice(1, 7), slice(24, 36)  # 50–260 Hz, 3–11 kHz
    assert g[0, low].mean() > g[0, high].mean() and g[1, low].mean() < g[1, high].mean()


def test_shipped_model_refuses_a_damaged_file(tmp_path, monkeypatch):
    from timbrelab import weights

    for name in (weights.MANIFEST, W.WEIGHTS_FILE):
        shutil.copy(weights.weights_dir() / name, tmp_path / name)
    with open(tmp_path / W.WEIGHTS_FILE, "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\0\0\0\0")
    monkeypatch.setattr(weights, "weights_dir", lambda: tmp_path)
    with pytest.raises(MissingComponentError, match="does not match"):
        W.EQWordModel.load()


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
    (r,) = plan_effects("less boomy").resolutions  # boomy is a reverb word: inverted EQ from the model
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
