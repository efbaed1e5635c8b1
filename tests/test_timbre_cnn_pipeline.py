"""Timbre CNN pipeline: windows from rendered data, training, the checkpoint round trip, classification,
the benchmark (the metrics themselves: tests/test_eval.py)."""

import json

import numpy as np
import pytest

from timbrelab.errors import AudioFileError, BadParameterError, MissingComponentError
from timbrelab.timbre_cnn import data as TD

from conftest import needs_synth
from timbrelab.sounds.render import Renderer


def _tiny_windows(n_per_class=6, classes=("violin", "flute")):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_per_class * len(classes), 96, 128)).astype(np.float32)
    for i in range(len(X)):  # class-dependent spectra: an easy problem
        X[i, (i % len(classes)) * 40 : (i % len(classes)) * 40 + 20] += 4.0
    Y = TD.multi_hot([[classes[i % len(classes)]] for i in range(len(X))])
    return TD.Windows(X, np.arange(len(X)), Y, [f"c{i}" for i in range(len(X))])


def test_windows_subset_concat_and_validation_split():
    w = _tiny_windows()
    train, val = TD.split_validation(w, 0.34, seed=1)
    assert set(train.names).isdisjoint(val.names) and train.n_clips + val.n_clips == w.n_clips
    assert set(val.labels) == set(train.labels)  # stratified; every class keeps training clips
    both = TD.concat([train, val])
    assert both.n_clips == w.n_clips and both.clip.max() == both.n_clips - 1 and len(both.X) == len(w.X)


def test_training_learns_an_easy_problem_and_keeps_the_best_epoch():
    from timbrelab.timbre_cnn.evaluate import clip_probabilities
    from timbrelab.timbre_cnn.models import TimbreCNNConfig
    from timbrelab.timbre_cnn.train import TrainConfig, train_model

    w = _tiny_windows(8)
    train, val = TD.split_validation(w, 0.25, seed=0)
    r = train_model(TimbreCNNConfig("dieleman", len(TD.CLASSES), width=8), train, val, TrainConfig(max_epochs=6, patience=6, batch_size=4), progress=False)
    accs = [h["val_accuracy"] for h in r.history]
    assert r.history[-1]["train_loss"] < r.history[0]["train_loss"]
    assert max(accs) == 1.0
    assert float((clip_probabilities(r.model, val).argmax(1) == val.labels).mean()) == max(accs)  # best weights kept


@needs_synth
def test_features_from_a_rendered_dataset(tmp_path, monkeypatch):
    from timbrelab.sounds.datasets import PhraseSetSpec, build

    ds = build(PhraseSetSpec("t", ("TimGM6mb",), ("violin", "flute"), per_instrument=1, duration_s=3.0), progress=False, root=tmp_path)
    w = TD.from_dataset(ds, progress=False)
    assert w.X.shape[1:] == (96, 128) and w.n_clips == 2
    assert np.bincount(w.clip).tolist() == [2, 2]  # 3 s → 141 frames → one window + one aligned to the end
    assert [TD.CLASSES[i] for i in w.labels] == ["violin", "flute"]


def _seeded_model(fit_on):
    """A model whose every window gets its own, clearly non-uniform probabilities: seeded He-normal
    weights, the standardizer fitted on ``fit_on``'s windows, and a random (not zero) output layer.
    An untrained model's zero output layer gives every class 1/28, which every ordering holds for."""
    import torch

    from timbrelab.timbre_cnn.classify import TimbreClassifier
    from timbrelab.timbre_cnn.models import TimbreCNNConfig, build_model

    torch.manual_seed(0)
    model = build_model(TimbreCNNConfig("dieleman", len(TD.CLASSES), width=8))
    model.standardizer.fit(TD.clip_windows(fit_on, 22050, TD.FrontEndConfig()))
    torch.nn.init.normal_(model.output_layer.weight, std=0.3)
    return TimbreClassifier(model.eval(), TD.FrontEndConfig(), TD.CLASSES)


def _render(name: str, program_pitch: int, seconds: float = 12.0):
    from timbrelab.sounds.phrases import make_phrase
    from timbrelab.sounds.taxonomy import instrument

    with Renderer("TimGM6mb", 22050) as r:
        return r.render_events(program_pitch, make_phrase(instrument(name), 1, seconds))


@needs_synth
def test_classify_a_long_file_with_a_timeline(tmp_path):
    from timbrelab.audio import write_audio
    from timbrelab.ml.checkpoint import load_checkpoint, save_checkpoint
    from timbrelab.timbre_cnn.classify import TimbreClassifier, classify, classify_file
    from timbrelab.timbre_cnn.evaluate import window_probabilities

    sr = 22050
    audio = _render("violin", 40)
    built = _seeded_model(audio)
    model = built.model
    save_checkpoint(tmp_path / "m.safetensors", built.to_checkpoint())
    loaded = TimbreClassifier.from_checkpoint(load_checkpoint(tmp_path / "m.safetensors"))
    write_audio(tmp_path / "long.wav", audio, sr, bit_depth="float")  # float: the file holds exactly `audio`

    # the reference: the mean of the windows' softmax outputs of the model as built (not as saved)
    fe = TD.FrontEndConfig()
    windows = TD.clip_windows(audio, sr, fe)
    per_window = window_probabilities(model, windows, batch_size=8)
    assert per_window.shape == (len(windows), len(TD.CLASSES)) == (5, 28)  # 12 s = 4 windows of 2.73 s + one aligned to the end
    clip = per_window.mean(axis=0)
    assert clip.max() > 3 / 28 and clip.min() < 0.5 / 28  # far from the untrained model's uniform 1/28
    assert len(set(per_window.argmax(axis=1))) > 1  # the windows disagree: the timeline has something to show

    res = classify_file(tmp_path / "long.wav", top=3, model=loaded)  # streamed, through the saved and reloaded model
    assert res.windows == len(windows) and len(res.timeline) == res.windows and len(res.top) == 3
    assert res.duration_s == pytest.approx(audio.shape[1] / sr)
    got = np.array([res.probabilities[c] for c in TD.CLASSES])
    np.testing.assert_allclose(got, clip, atol=1e-5)  # saved + loaded + streamed = built + whole clip
    assert sum(res.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    order = np.argsort(-clip)[:3]
    assert [n for n, _ in res.top] == [TD.CLASSES[i] for i in order]  # the three most probable, best first
    assert res.top[0][1] > res.top[1][1] > res.top[2][1]
    np.testing.assert_allclose([p for _, p in res.top], clip[order], atol=1e-5)
    # the timeline: each window's own top instrument and probability, windows in time order
    assert [t["instrument"] for t in res.timeline] == [TD.CLASSES[k] for k in per_window.argmax(axis=1)]
    np.testing.assert_allclose([t["probability"] for t in res.timeline], per_window.max(axis=1), atol=1e-3)
    starts = [t["start_s"] for t in res.timeline]
    assert starts == sorted(starts) and starts[0] == 0 and res.timeline[-1]["end_s"] == pytest.approx(res.duration_s, abs=0.01)

    same = classify(audio, sr, top=3, model=loaded)  # in memory: the same answer, number for number
    assert [n for n, _ in same.top] == [n for n, _ in res.top]
    np.testing.assert_allclose([same.probabilities[c] for c in TD.CLASSES], got, atol=1e-5)
    assert same.timeline == res.timeline
    other = classify(_render("flute", 73), sr, top=3, model=loaded)  # another sound, another answer
    assert np.abs(np.array([other.probabilities[c] for c in TD.CLASSES]) - got).max() > 0.05

    with pytest.raises(BadParameterError):
        classify_file(tmp_path / "long.wav", top=0, model=loaded)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioFileError):
        classify_file(tmp_path / "empty.wav", model=loaded)


@pytest.mark.slow
@needs_synth
def test_bench_quick_writes_every_metric(bench_run):
    run = bench_run("timbre-cnn")  # --quick --models dieleman-1x
    assert run.code == 0, run.err
    r = run.report
    m = r["models"]["dieleman-1x"]
    assert m["params"] > 0 and m["seeds"] == [0, 1] and m["inference_windows_per_second"]["mean"] > 0
    for t in ("notes", "phrases", "medley", "debian"):
        assert {"accuracy", "macro_f1"} <= set(m[t]) and len(m[t]["accuracy"]["values"]) == 2
    assert {"micro_f1", "macro_f1"} <= set(m["mixes"]) and "no_instrument_rate" in m["none"]
    for t in ("medley", "debian"):
        assert 0 <= m[t]["top3"]["mean"] <= 1 and m[t]["accuracy"]["mean"] <= m[t]["top3"]["mean"]
    runs = r["runs"]
    assert [(x["model"], x["seed"]) for x in runs] == [("dieleman-1x", 0), ("dieleman-1x", 1)]
    mean = np.mean([x["medley"]["accuracy"] for x in runs])
    assert abs(m["medley"]["accuracy"]["mean"] - mean) < 1e-12  # the table's mean is the runs' mean
    assert r["paper_irmas"][1]["macro_f1"] == 0.516 and r["selected_by_validation"] == "dieleman-1x"
    assert r["data"]["corpus"]["purpose"] == "train" and r["validation_source"] == "TimGM6mb"
    assert (run.out_dir / "confusion_medley.png").exists() and (run.out_dir / "bench_timbre_cnn.png").exists()
    assert "0.559" in run.out and "±" in run.out  # the paper's figures printed beside ours; spreads shown
    assert len(list((run.out_dir / "runs").glob("dieleman-1x-seed*.json"))) == 2  # finished runs kept for resuming
    assert len(list((run.out_dir / "runs").glob("dieleman-1x-seed*.safetensors"))) == 2  # with their weights


@pytest.mark.slow
@needs_synth
def test_bench_with_every_run_kept_rebuilds_no_data_and_gives_the_same_table(bench_run, cli, tmp_path, monkeypatch):
    """What a fresh clone does with the committed runs: the table again, no corpus built, no training."""
    import json
    import shutil

    run = bench_run("timbre-cnn")
    runs = tmp_path / "runs"
    shutil.copytree(run.out_dir / "runs", runs)
    for w in runs.glob("*seed1*.safetensors"):  # the selected run's weights (seed 0) are what the confusion matrices need
        w.unlink()
    monkeypatch.setenv("TIMBRELAB_CACHE", str(tmp_path / "empty-cache"))
    out = tmp_path / "again"
    code, _, err = cli(*run.argv[:run.argv.index("--out")], "--out", out, "--runs", runs)
    assert code == 0, err
    assert not (tmp_path / "empty-cache").exists() or not any((tmp_path / "empty-cache").rglob("*.npy"))  # nothing rendered
    again = json.loads((out / "bench_timbre_cnn.json").read_text())
    assert again["models"] == run.report["models"] and again["clips"] == run.report["clips"]
    assert again["confusion_matrices_of"] == "dieleman-1x seed 0" and (out / "confusion_medley.png").exists()
    before = (run.out_dir / "bench_timbre_cnn.md").read_text().split("Total run time")[0]
    assert (out / "bench_timbre_cnn.md").read_text().split("Total run time")[0] == before  # the same table


@pytest.mark.slow
@needs_synth
def test_bench_jobs_trains_the_runs_side_by_side_as_the_serial_bench_does(bench_run, cli, tmp_path, monkeypatch):
    """``--jobs 2``: the two seeds in two worker processes (one thread each), the same runs as one after the other."""
    run = bench_run("timbre-cnn")
    monkeypatch.setenv("TIMBRELAB_CACHE", str(run.out_dir / "cache"))  # the data the serial run built: nothing is rendered again
    out, runs = tmp_path / "out", tmp_path / "runs"
    code, stdout, err = cli(*run.argv[:run.argv.index("--out")], "--jobs", "2", "--out", out, "--runs", runs)
    from timbrelab.parallel import threads_per_worker

    assert code == 0, err
    threads = threads_per_worker(2)  # cores ÷ 2: 1 on the 2-core machines of this project
    assert f"2 worker processes ({threads} thread{'s' if threads != 1 else ''} each)" in stdout
    report = json.loads((out / "bench_timbre_cnn.json").read_text())
    serial = {r["seed"]: r for r in run.report["runs"]}
    for r in report["runs"]:
        assert r["torch_threads"] == threads
        s = serial[r["seed"]]
        assert r["params"] == s["params"] and r["epochs_run"] == s["epochs_run"]
        # the same data, seed and settings: the losses agree to the rounding of another thread count
        np.testing.assert_allclose([h["train_loss"] for h in r["history"]], [h["train_loss"] for h in s["history"]], rtol=1e-4)
    assert sorted(p.name.split("-")[2] for p in runs.glob("dieleman-1x-seed*.safetensors")) == ["seed0", "seed1"]
    assert not list(runs.glob("*.state.safetensors"))  # finished runs leave no training state
    code, _, err = cli("bench", "timbre-cnn", "--quick", "--jobs", "0", "--out", tmp_path / "x", "--runs", tmp_path / "y")
    assert code != 0 and "--jobs" in err and err.count("\n") == 1


@needs_synth
def test_cli_classify_with_the_shipped_model(cli, tmp_path):
    from timbrelab import weights

    if "timbre_cnn" not in weights.manifest():
        pytest.fail("the package ships no timbre_cnn weights (run `timbrelab train timbre-cnn -o runs/timbre-cnn && timbrelab ship runs/timbre-cnn`)")
    code, out, err = cli("render", "piano", "-o", tmp_path / "p.wav", "--soundfont", "TimGM6mb", "--pitch", "60")
    assert code == 0, err
    code, out, err = cli("classify", tmp_path / "p.wav", "--top", "3")
    assert code == 0, err
    lines = [l for l in out.splitlines() if "%" in l]
    assert len(lines) == 3 and all(any(c in l for c in TD.CLASSES) for l in lines)
    code, out, err = cli("classify", tmp_path / "p.wav", "--json")
    assert code == 0 and abs(sum(json.loads(out)[str(tmp_path / "p.wav")]["probabilities"].values()) - 1) < 1e-3
    code, out, err = cli("classify", tmp_path / "missing.wav")
    assert code != 0 and err.count("\n") == 1


@pytest.mark.slow
@needs_synth
def test_ablation_quick_reports_each_variant_against_all(bench_run):
    run = bench_run("timbre-cnn-ablation")
    assert run.code == 0, run.err
    v = run.report["variants"]
    assert list(v) == ["all", "no-augmentation", "no-noise", "no-freepats", "with-dry"]
    assert v["no-freepats"]["train_clips"] < v["all"]["train_clips"] == v["no-noise"]["train_clips"]
    assert v["all"]["train_clips"] < v["with-dry"]["train_clips"] <= 2 * v["all"]["train_clips"]  # the dry clips join
    for row in v.values():
        assert len(row["medley_accuracy"]["values"]) == 2 and 0 <= row["debian_accuracy"]["mean"] <= 1
    assert "Δ Medley" in run.out and (run.out_dir / "bench_timbre_cnn_ablation.png").exists()
    r = json.loads((run.out_dir / "bench_timbre_cnn_ablation.json").read_text())
    assert r["provenance"]["recipe"]  # the recipe it ablates is recorded


def test_ablation_refuses_unknown_variants(cli, tmp_path):
    code, out, err = cli("bench", "timbre-cnn-ablation", "--variants", "no-sparkle", "--out", tmp_path, "--runs", tmp_path / "r")
    assert code != 0 and "no-sparkle" in err and err.count("\n") == 1
    code, out, err = cli("bench", "timbre-cnn-ablation", "--variants", "no-TimGM6mb", "--out", tmp_path, "--runs", tmp_path / "r")
    assert code != 0 and "no-TimGM6mb" in err  # the validation source cannot be left out


@pytest.mark.slow
@needs_synth
def test_bench_evaluate_scores_a_checkpoint_without_training(cli, tmp_path, monkeypatch):
    from timbrelab.ml.checkpoint import save_checkpoint
    from timbrelab.timbre_cnn.classify import TimbreClassifier
    from timbrelab.timbre_cnn.models import TimbreCNNConfig, build_model

    monkeypatch.setenv("TIMBRELAB_CACHE", str(tmp_path / "cache"))
    old = TimbreClassifier(build_model(TimbreCNNConfig("dieleman", len(TD.CLASSES), width=4)), TD.FrontEndConfig(), TD.CLASSES)
    save_checkpoint(tmp_path / "old.safetensors", old.to_checkpoint())  # a model without "no instrument"
    code, out, err = cli("bench", "timbre-cnn", "--quick", "--evaluate", tmp_path / "old.safetensors", "--out", tmp_path / "r")
    assert code == 0, err
    r = json.loads((tmp_path / "r" / "bench_timbre_cnn_eval.json").read_text())
    assert r["scores"]["none"]["no_instrument_rate"] == 0.0  # it never answers "no instrument"
    assert {"accuracy", "top3", "macro_f1"} <= set(r["scores"]["medley"]) and "| medley" in out


@pytest.mark.slow
@needs_synth
def test_bench_evaluate_scores_an_ensemble_and_the_validation_clips(cli, tmp_path, monkeypatch):
    import torch

    from timbrelab.ml.checkpoint import save_checkpoint
    from timbrelab.timbre_cnn.classify import TimbreClassifier
    from timbrelab.timbre_cnn.models import TimbreCNNConfig, build_model

    monkeypatch.setenv("TIMBRELAB_CACHE", str(tmp_path / "cache"))
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        m = build_model(TimbreCNNConfig("dieleman", len(TD.CLASSES_WITH_NONE), width=4))
        torch.nn.init.normal_(m.output_layer.weight)  # not the all-zero start: the two members differ
        paths.append(tmp_path / f"m{seed}.safetensors")
        save_checkpoint(paths[-1], TimbreClassifier(m, TD.FrontEndConfig(), TD.CLASSES_WITH_NONE).to_checkpoint())
    code, out, err = cli("bench", "timbre-cnn", "--quick", "--evaluate", *paths, "--validation", "--out", tmp_path / "r")
    assert code == 0, err
    r = json.loads((tmp_path / "r" / "bench_timbre_cnn_eval.json").read_text())
    assert r["checkpoint"] == [str(p) for p in paths] and len(r["sha256"]) == 2
    assert r["clips"]["validation"] > 0 and "accuracy" in r["scores"]["validation"]
    assert "ensemble (mean probabilities) of 2 checkpoints" in out and "| validation" in out


def test_an_ensemble_gives_the_mean_of_its_members_probabilities():
    import torch

    from timbrelab.errors import BadParameterError
    from timbrelab.timbre_cnn.models import TimbreCNNConfig, TimbreCNNEnsemble, build_model

    members = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        m = build_model(TimbreCNNConfig("dieleman", 5, width=4)).eval()
        torch.nn.init.normal_(m.output_layer.weight)
        members.append(m)
    x = torch.randn(3, 96, 128)
    with torch.no_grad():
        mean = torch.stack([torch.softmax(m(x), 1) for m in members]).mean(0)
        got = torch.softmax(TimbreCNNEnsemble(members).eval()(x), 1)
    assert torch.allclose(got, mean, atol=1e-6) and not torch.allclose(mean, torch.softmax(members[0](x), 1), atol=1e-3)
    with pytest.raises(BadParameterError):
        TimbreCNNEnsemble([members[0], build_model(TimbreCNNConfig("dieleman", 6, width=4))])
    with pytest.raises(BadParameterError):
        TimbreCNNEnsemble([])


def test_an_option_at_its_default_leaves_a_runs_key_unchanged():
    from timbrelab.bench.timbre_cnn import _key, recipe, run_identity

    class A:
        set, quick = [], False

    t = recipe(A)["train"]
    assert _key(run_identity({**t, "with_dry": False})) == _key(run_identity(t))  # runs made before the option stay valid
    assert _key(run_identity({**t, "with_dry": True})) != _key(run_identity(t))
    from timbrelab.bench.timbre_cnn import OPTION_DEFAULTS
    from timbrelab.timbre_cnn.train import TrainConfig

    changed = {"with_dry": True, "spec_augment": {"freq_masks": 1, "max_bands": 4}, "lr_schedule": "cosine", "precision": "bf16"}
    assert set(OPTION_DEFAULTS) == set(changed)
    for k, v in OPTION_DEFAULTS.items():
        if k in TrainConfig.__dataclass_fields__:
            assert getattr(TrainConfig(), k) == v, k  # the table's default is the one training uses
        assert _key(run_identity({**t, k: v})) == _key(run_identity(t)) != _key(run_identity({**t, k: changed[k]})), k


def test_a_reference_models_runs_give_each_figures_change_and_welch_t(tmp_path):
    from scipy import stats

    from timbrelab.bench.timbre_cnn import aggregate, against_reference, reference_runs

    def row(model, seed, val, medley):
        return {"model": model, "seed": seed, "params": 10, "val_accuracy": val, "training_seconds": 1.0, "epochs_run": 1,
                "medley": {"accuracy": medley, "top3": 1.0, "macro_f1": medley}}

    ref_val, ref_medley = [0.48, 0.50, 0.46], [0.36, 0.51, 0.44]
    for s in range(3):
        (tmp_path / f"small-rect-1x-seed{s}-abc.json").write_text(json.dumps(row("small-rect-1x", s, ref_val[s], ref_medley[s])))
    (tmp_path / "small-rect-1x-seed0-abc.state.safetensors").write_bytes(b"")  # an unfinished run's state is not a run
    ref = reference_runs(tmp_path, "small-rect-1x", [0, 1, 2])
    assert [r["seed"] for r in ref] == [0, 1, 2]
    new = aggregate([row("x", s, v, m) for s, (v, m) in enumerate(zip([0.56, 0.58, 0.55], [0.60, 0.62, 0.56]))])
    c = against_reference({"x": new}, aggregate(ref))["x"]
    assert set(c) == {"val acc", "Medley top-1"}  # figures neither side has are left out
    assert c["Medley top-1"]["delta"] == pytest.approx(np.mean([0.60, 0.62, 0.56]) - np.mean(ref_medley))
    assert c["Medley top-1"]["t"] == pytest.approx(stats.ttest_ind([0.60, 0.62, 0.56], ref_medley, equal_var=False).statistic)
    with pytest.raises(BadParameterError, match="seed 3"):
        reference_runs(tmp_path, "small-rect-1x", [0, 3])
    (tmp_path / "small-rect-1x-seed1-def.json").write_text(json.dumps(row("small-rect-1x", 1, 0.5, 0.5)))
    with pytest.raises(BadParameterError, match="2 finished runs"):  # two run keys in one folder: which is meant is unclear
        reference_runs(tmp_path, "small-rect-1x", [1])
