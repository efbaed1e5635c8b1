"""Timbre CNN training on the one training loop (``timbrelab.ml.train.fit``): the runs match those of the
hand-written loop it replaced (bit for bit on a CPU like the recording machine's; to float rounding on others).

``tests/data/timbre_cnn_train_reference.safetensors`` holds the final weights and per-epoch history
of two short seeded runs on the synthetic set below, recorded with the previous loop (commit
dd3169c, ``python tests/test_timbre_cnn_train.py --record``; same torch 2.13.0+cpu build, 2 threads).
Both runs stop early and restore an earlier best epoch, so the bookkeeping is covered too.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

REFERENCE = Path(__file__).parent / "data" / "timbre_cnn_train_reference.safetensors"
REFERENCE_THREADS = 2  # PyTorch intra-op threads the reference was recorded with (set for the run, whatever the cores)


def tiny_windows(seed=0, n_clips=24, classes=("violin", "flute", "piano")):
    """A seeded synthetic set: clips of 1–2 windows, class-dependent band energy (learnable, not trivial)."""
    from timbrelab.timbre_cnn import data as TD

    rng = np.random.default_rng(seed)
    xs, owner, labels = [], [], []
    for i in range(n_clips):
        k = i % len(classes)
        n = 1 + (i % 2)
        x = rng.standard_normal((n, 96, 128)).astype(np.float32) - 5.0
        x[:, k * 30 : k * 30 + 16] += rng.uniform(0.5, 2.0)
        xs.append(x)
        owner += [i] * n
        labels.append([classes[k]])
    return TD.Windows(np.concatenate(xs), np.array(owner), TD.multi_hot(labels), [f"c{i}" for i in range(n_clips)])


def runs():
    """The two recorded runs: (name, model config, train config)."""
    from timbrelab.timbre_cnn import data as TD
    from timbrelab.timbre_cnn.models import TimbreCNNConfig
    from timbrelab.timbre_cnn.train import TrainConfig

    n = len(TD.CLASSES)
    return [
        ("small-rect", TimbreCNNConfig("small-rect", n, width=4), TrainConfig(max_epochs=5, patience=2, batch_size=8)),
        ("dieleman", TimbreCNNConfig("dieleman", n, width=8), TrainConfig(max_epochs=6, patience=2, batch_size=6, lr=3e-3, seed=3)),
    ]


def train_runs():
    """Train every run on the synthetic set: {name: (state_dict as numpy, best_epoch, history)}."""
    import torch

    from timbrelab.timbre_cnn import data as TD
    from timbrelab.timbre_cnn.train import train_model

    train, val = TD.split_validation(tiny_windows(), 0.25, seed=0)
    out = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(REFERENCE_THREADS)  # the bits depend on the thread count, not on the machine's cores
    try:
        for name, model_config, train_config in runs():
            r = train_model(model_config, train, val, train_config, progress=False)
            state = {k: v.detach().numpy().copy() for k, v in r.model.state_dict().items()}
            out[name] = (state, r.best_epoch, r.history)
    finally:
        torch.set_num_threads(threads)
    return out


def record() -> None:
    from safetensors.numpy import save_file

    tensors, meta = {}, {}
    for name, (state, best_epoch, history) in train_runs().items():
        tensors.update({f"{name}/{k}": v for k, v in state.items()})
        meta[name] = json.dumps({"best_epoch": best_epoch, "history": [{k: v for k, v in h.items() if k != "seconds"} for h in history]})
    save_file(tensors, str(REFERENCE), metadata=meta)
    print(f"wrote {REFERENCE}")


if __name__ == "__main__" and "--record" in sys.argv:
    record()


@pytest.mark.slow
def test_training_matches_the_recorded_loop_and_repeats_bit_for_bit():
    """The one loop reproduces the hand-written loop's runs: the same epochs, validation accuracies and
    best epoch, and the same weights and losses up to float rounding. Bit equality with the recording
    holds only on a CPU like the recording machine's: oneDNN picks its kernels by instruction set
    (AVX2, AVX-512, AMX), which changes the last bits. Bit equality is asserted where it holds
    everywhere: two runs on this machine."""
    from safetensors import safe_open

    with safe_open(str(REFERENCE), "np") as f:
        meta = f.metadata()
        want = {k: f.get_tensor(k) for k in f.keys()}
    got = train_runs()
    assert set(got) == set(meta)
    for name, (state, best_epoch, history) in got.items():
        ref = json.loads(meta[name])
        assert best_epoch == ref["best_epoch"] and len(history) == len(ref["history"]), name
        assert best_epoch < len(history), name  # early stopping restored an earlier epoch's weights
        for h, r in zip(history, ref["history"]):
            assert h["epoch"] == r["epoch"] and h["val_accuracy"] == r["val_accuracy"], name
            assert h["train_loss"] == pytest.approx(r["train_loss"], rel=1e-5), name
        assert set(state) == {k.split("/", 1)[1] for k in want if k.startswith(name + "/")}, name
        for k, v in state.items():
            # atol: a convolution's bias before a batch norm has no effect on the output, so rounding drives it
            # (seen: 1.6e-3 off on an AMX CPU); every other tensor agrees to < 5e-4, where another seed differs by ~0.1
            np.testing.assert_allclose(v, want[f"{name}/{k}"], rtol=1e-3, atol=2e-3, err_msg=f"{name}: {k}")
    again = train_runs()
    for name, (state, best_epoch, history) in got.items():
        assert again[name][1] == best_epoch and [h["train_loss"] for h in again[name][2]] == [h["train_loss"] for h in history], name
        for k, v in state.items():
            np.testing.assert_array_equal(v, again[name][0][k], err_msg=f"{name}: {k}")


# ------------------------------------------------------------------------------- the recipe


def test_the_shipped_recipe_names_the_bench_choice_and_its_training_sets():
    from timbrelab.bench.timbre_cnn import recipe
    from timbrelab.ml.recipes import load_recipe
    from timbrelab.sounds.catalogue import SPLITS
    from timbrelab.timbre_cnn import data as TD
    from timbrelab.timbre_cnn.models import paper_configs
    from timbrelab.timbre_cnn.train import recipe_specs, train_config_of

    r = load_recipe("timbre-cnn")
    assert r == load_recipe("timbre_cnn") and r["model"]["name"] == "timbre_cnn"
    t = r["train"]
    assert t["architecture"] in paper_configs(len(TD.CLASSES_WITH_NONE))
    assert TD.FrontEndConfig.from_dict(t["front_end"]) == TD.FrontEndConfig()
    assert train_config_of(t).seed == 0 and train_config_of(t).patience >= 1
    specs = recipe_specs(t)
    assert {s.kind for s in specs.values()} == {"corpus", "augmented"}
    corpus = specs["corpus"]
    assert corpus.purpose == "train" and corpus.source_names == SPLITS["train"] and "MuseScore_General" not in corpus.source_names
    assert t["validation_source"] in corpus.source_names
    args = type("A", (), {"set": [], "quick": False})()
    assert recipe(args) == r  # the bench trains exactly what the recipe ships


TINY_RECIPE = """
[model]
name = "timbre_cnn"
loader = "timbrelab.timbre_cnn.classify:TimbreClassifier"
trainer = "timbrelab.timbre_cnn.train:train_recipe"
[data]
description = "two instruments, a few clips"
[train]
architecture = "dieleman-1x"
max_epochs = 1
validation_source = "TimGM6mb"
validation_clips_per_class = 2
[train.front_end.logmel]
log_offset = 1e-4
[train.data.corpus]
kind = "corpus"
name = "tiny-corpus"
sources = ["TimGM6mb", "FluidR3_GM"]
instruments = ["violin", "flute"]
clips_per_class = 3
no_instrument_clips = 2
duration_s = 3.0
[train.data.augmented]
kind = "augmented"
name = "tiny-augmented"
[train.data.augmented.augment]
"""


@pytest.mark.needs_synth
def test_timbrelab_train_writes_a_run_the_registry_loads(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TIMBRELAB_CACHE", str(tmp_path / "cache"))
    (tmp_path / "tiny.toml").write_text(TINY_RECIPE)
    code, out, err = cli("train", "--recipe", tmp_path / "tiny.toml", "-o", tmp_path / "run", "-q")
    assert code == 0, err
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["name"] == "timbre_cnn" and run["loader"] == "timbrelab.timbre_cnn.classify:TimbreClassifier"
    m = run["metrics"]
    assert m["epochs_run"] == 1 and 0 <= m["val_accuracy"] <= 1 and m["clips"]["validation"] >= 2 and m["params"] > 0
    assert m["data"]["corpus"]["name"] == "tiny-corpus" and m["validation_source"] == "TimGM6mb"
    from timbrelab.models import load_path

    clf = load_path(tmp_path / "run" / "timbre_cnn.safetensors")
    assert clf.front_end.logmel.log_offset == 1e-4  # the recipe's front end, not the default
    assert clf.info == {"architecture": "dieleman-1x"}
    res = clf.classify(np.zeros((1, 22050), np.float32) + 0.01, 22050, top=2)
    assert len(res.top) == 2
    # resumable: the state after each epoch stays in the cache, keyed by the recipe; the same command again
    # goes on from it (here: the run had finished, so it trains no epoch and gives the same weights back)
    states = list((tmp_path / "cache" / "train-state").glob("timbre-cnn-*/state.safetensors"))
    assert len(states) == 1
    code, out, err = cli("train", "--recipe", tmp_path / "tiny.toml", "-o", tmp_path / "run2", "-q")
    assert code == 0, err
    again = load_path(tmp_path / "run2" / "timbre_cnn.safetensors")
    for k, v in clf.model.state_dict().items():
        assert (v == again.model.state_dict()[k]).all(), k
    assert json.loads((tmp_path / "run2" / "run.json").read_text())["metrics"]["history"] == m["history"]
    code, out, err = cli("train", "--recipe", tmp_path / "tiny.toml", "-o", tmp_path / "run3", "-q", "--set", "train.seed=1")
    assert code == 0, err
    assert len(list((tmp_path / "cache" / "train-state").glob("timbre-cnn-*/state.safetensors"))) == 2  # another recipe: its own state


# ------------------------------------------------------------------------------- resuming a run


def tiny_clip_maps(seed=0, n_clips=18, classes=("violin", "flute", "piano")):
    """Whole-clip maps (160 frames: random 128-frame crops) with learnable class-dependent bands."""
    from timbrelab.timbre_cnn import data as TD

    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n_clips, 96, 160)) - 5.0).astype(np.float16)
    y = np.arange(n_clips) % len(classes)
    for i, k in enumerate(y):
        X[i, k * 30 : k * 30 + 16] += np.float16(1.5)
    return TD.ClipMaps(X, y, [{"name": f"c{i}"} for i in range(n_clips)], tuple(classes), TD.FrontEndConfig())


MASKS = {"freq_masks": 2, "max_bands": 12, "time_masks": 1, "max_frames": 20}


@pytest.mark.parametrize("options", [{}, {"spec_augment": MASKS, "lr_schedule": "cosine", "precision": "bf16"}], ids=["plain", "masks-cosine-bf16"])
def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch, options):
    """train_on_clips with a state file: stopped after its 2nd epoch (as a session ending would stop it),
    then started again, it ends with exactly the weights, best epoch and scores of an uninterrupted run
    (with SpecAugment masks, a cosine learning rate and bf16 steps too: the masks' random stream and the
    scheduler resume with the rest)."""
    import torch

    from timbrelab.ml import checkpoint as ck
    from timbrelab.timbre_cnn.models import TimbreCNNConfig
    from timbrelab.timbre_cnn.train import TrainConfig, train_on_clips

    maps = tiny_clip_maps()
    val = tiny_clip_maps(seed=1, n_clips=6).windows()
    mc = TimbreCNNConfig("small-rect", 3, width=4)
    cfg = TrainConfig(max_epochs=4, patience=None, batch_size=4, epoch_clips=12, seed=2, **options)
    whole = train_on_clips(mc, maps, val, cfg, progress=False)

    state = tmp_path / "run.state.safetensors"
    real_save, saves = ck.save_training_state, []

    def save_then_stop(path, name, st):
        real_save(path, name, st)
        saves.append(st["epoch"])
        if len(saves) == 2:
            raise KeyboardInterrupt("the session ended")

    monkeypatch.setattr(ck, "save_training_state", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_on_clips(mc, maps, val, cfg, progress=False, state_path=state)
    assert state.exists() and ck.load_training_state(state)["epoch"] == 2
    monkeypatch.setattr(ck, "save_training_state", real_save)
    resumed = train_on_clips(mc, maps, val, cfg, progress=False, state_path=state)
    assert state.exists() and ck.load_training_state(state)["epoch"] == 4  # kept: the caller deletes it once its results are written
    assert resumed.best_epoch == whole.best_epoch and len(resumed.history) == len(whole.history) == 4
    for a, b in zip(resumed.history, whole.history):
        assert a["val_accuracy"] == b["val_accuracy"] and a["train_loss"] == b["train_loss"]
    for k, v in whole.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    # stopped after training but before its results were written: the finished state returns the same model, no epoch again
    monkeypatch.setattr(ck, "save_training_state", save_then_stop)
    again = train_on_clips(mc, maps, val, cfg, progress=False, state_path=state)
    assert len(saves) == 2 and again.best_epoch == whole.best_epoch and len(again.history) == 4
    for k, v in whole.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k]), k


def test_stacked_clip_maps_read_like_one_array_without_copying():
    from timbrelab.data.adapters import CropDataset
    from timbrelab.errors import BadParameterError
    from timbrelab.timbre_cnn import data as TD

    a, b = tiny_clip_maps(seed=0, n_clips=5), tiny_clip_maps(seed=1, n_clips=4)
    s = TD.ClipMaps.stack(a, b.subset([3, 1]))
    X = np.concatenate([a.X, b.X[[3, 1]]])
    assert s.X.shape == X.shape and s.n_clips == 7 and s.X.dtype == X.dtype
    assert all(np.array_equal(s.X[i], X[i]) for i in range(7))
    assert np.array_equal(s.X[5, :, 2:9], X[5, :, 2:9]) and s.X.parts[0] is a.X  # a view, not a copy
    assert s.y.tolist() == a.y.tolist() + b.y[[3, 1]].tolist() and s.rows[5] == b.rows[3]
    with pytest.raises(IndexError):
        s.X[7]
    crops = CropDataset(s.X, s.y, 8, seed=0).batch(list(range(7)))[0]  # the training loop's reader
    assert crops.shape == (7, X.shape[1], 8)
    other = TD.ClipMaps(a.X, a.y, a.rows, ("violin", "flute", "cello"), a.front_end)
    with pytest.raises(BadParameterError):
        TD.ClipMaps.stack(a, other)
