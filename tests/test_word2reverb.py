"""Word → reverb: data, folds (word-disjoint, committed), no leakage, metrics, shipped predictor, quick bench."""

import json
import math

import numpy as np
import pytest

from timbrelab.word2fx import reverb as R


def test_examples_and_eligible_words():
    ex = R.reverb_examples()
    assert len(ex) > 15_000 and ex.params.shape == (len(ex), 5)
    table = R.word_table()
    assert table.support.min() >= R.MIN_SUPPORT and len(table.words) == len(set(table.words.tolist()))
    assert "echo" in table.words and "warm" in table.words
    assert ((table.Y >= 0) & (table.Y <= 1)).all()


def test_target_transform_round_trips():
    P = np.array([[0.0319, 0.84, -0.01, 16021.0, 2.018], [0.0559, 0.94, -0.0092, 3078.0, 19.629]])
    back = R.targets_to_params(R.to_targets(P))
    np.testing.assert_allclose(back, P, rtol=1e-9, atol=1e-12)
    T = R.to_targets(R._contribution_params())
    assert T.min() == pytest.approx(0) and T.max() == pytest.approx(1)


def test_folds_word_disjoint_and_match_committed_file():
    committed = R.reverb_folds()
    fresh = R.make_folds()
    assert committed == fresh, "socialfx_reverb_folds.json is stale: rerun scripts/make_reverb_folds.py"
    words = [w for f in committed.values() for w in f]
    assert len(words) == len(set(words)) == len(R.eligible_words())
    assert sorted(len(f) for f in committed.values()) == [141, 142, 142, 142]
    doc = json.loads(R._data_text(R.FOLDS_FILE))
    assert "protocol" in doc and doc["seed"] == R.FOLD_SEED and doc["min_support"] == R.MIN_SUPPORT
    assert R.make_folds(seed=R.FOLD_SEED + 1) != fresh  # the seed matters: the check above can fail


@pytest.mark.parametrize("fold", [1, 2, 3, 4])
def test_no_test_word_reaches_training_or_validation(fold):
    s = R.fold_split(fold)
    test, train, val = set(s.test.words), set(s.train.words), set(s.val.words)
    assert test == set(R.reverb_folds()[fold])
    assert not (test & train) and not (test & val) and not (train & val)
    assert train | val | test == set(R.eligible_words())
    assert 0.15 < len(val) / (len(val) + len(train)) < 0.25


def test_metrics_zero_on_labels_and_known_errors():
    Y = R.word_table().Y[:20]
    m = R.metrics(Y, Y)
    assert all(v == pytest.approx(0, abs=1e-12) for v in m.values())
    # shifting the log-rt target by one octave of time gives an rt error of exactly 1
    lo, hi = R.target_range()
    Y2 = Y.copy()
    Y2[:, 1] += math.log(2) / (hi[1] - lo[1])
    assert R.metrics(Y2, Y)["rt_log2"] == pytest.approx(1.0)
    Y3 = Y.copy()
    Y3[:, 3] += math.log(2) / (hi[3] - lo[3])
    assert R.metrics(Y3, Y)["cutoff_oct"] == pytest.approx(1.0)


def test_selection_uses_inner_validation_only():
    fake = {"methods": {"a": {"inner_val_mae_mean": 0.2, "summary": {"mae": {"mean": 0.01}}},
                        "b": {"inner_val_mae_mean": 0.1, "summary": {"mae": {"mean": 0.9}}}}}
    assert R.select_method(fake) == "b"


def test_e_quantile_mapping_is_monotone_into_map_range():
    src, dst = R.e_quantile_tables()
    E = R.raw_to_map_E(np.array([0.01, 1.0, 10.0, 100.0, 1e5]), src, dst)
    assert (np.diff(E) >= 0).all() and E[0] == pytest.approx(dst[0]) and E[-1] == pytest.approx(dst[-1])
    assert 0 < dst[0] and dst[-1] <= 1.0


def test_shipped_predictor_loads_and_returns_valid_settings():
    from timbrelab.dsp.reverb import ReverbSettings
    from timbrelab.weights import entry, weights_dir

    e = entry(R.MODEL_NAME)
    assert e["training_command"] == R.TRAIN_COMMAND and e["method"] in {s.name for s in R.method_specs()}
    assert all((weights_dir() / f).stat().st_size < 2_000_000 for f in e["files"])
    model = R.ReverbWordModel.load()
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
    for name in ("manifest.json", *weights.entry(R.MODEL_NAME)["files"]):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    monkeypatch.setattr(weights, "weights_dir", lambda: tmp_path)
    with open(tmp_path / R.WEIGHTS_FILE, "ab") as f:
        f.write(b"x")
    with pytest.raises(MissingComponentError):
        R.ReverbWordModel.load()


@pytest.mark.slow
def test_quick_bench_writes_json(cli, tmp_path):
    code, out, err = cli("bench", "word2reverb", "--quick", "--out", tmp_path, "--json", tmp_path / "r.json")
    assert code == 0, err
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["quick"] and r["folds"] == [1]
    assert {"mean", "nearest", "knn-glove", "kernel-glove"} <= set(r["methods"])
    for m in r["methods"].values():
        assert len(m["folds"]) == 1 and set(R.METRIC_ORDER) <= set(m["summary"])
    assert r["selected_by_inner_validation"] in r["methods"]
    assert (tmp_path / "bench_word2reverb.md").exists() and (tmp_path / "bench_word2reverb.png").stat().st_size > 10_000
    assert "| mean |" in out
