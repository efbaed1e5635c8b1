"""Timbre CNN training on the one training loop (``timbrelab.ml.train.fit``): the weights are
bit-identical to those of the hand-written loop it replaced.

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
    from timbrelab.timbre_cnn import data as TD
    from timbrelab.timbre_cnn.train import train_model

    train, val = TD.split_validation(tiny_windows(), 0.25, seed=0)
    out = {}
    for name, model_config, train_config in runs():
        r = train_model(model_config, train, val, train_config, progress=False)
        state = {k: v.detach().numpy().copy() for k, v in r.model.state_dict().items()}
        out[name] = (state, r.best_epoch, r.history)
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


def test_training_is_bit_identical_to_the_recorded_loop():
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
            assert h["train_loss"] == pytest.approx(r["train_loss"], rel=1e-12), name
        assert set(state) == {k.split("/", 1)[1] for k in want if k.startswith(name + "/")}, name
        for k, v in state.items():
            np.testing.assert_array_equal(v, want[f"{name}/{k}"], err_msg=f"{name}: {k}")
