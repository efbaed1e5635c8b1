"""The timbre CNN in the one checkpoint format: ``TimbreClassifier.to_checkpoint`` → save → load →
``from_checkpoint`` gives identical outputs, and the front end it was *trained* with comes back
(before: the default ``FrontEndConfig()`` was saved whatever the training used)."""

import numpy as np
import pytest
import torch

from timbrelab.errors import BadParameterError, MissingComponentError
from timbrelab.features.logmel import LogMelConfig
from timbrelab.features.windows import WindowConfig
from timbrelab.ml.checkpoint import load_checkpoint, save_checkpoint
from timbrelab.timbre_cnn import data as TD
from timbrelab.timbre_cnn.classify import CHECKPOINT_KIND, TimbreClassifier

#: a front end far from the default: another rate, FFT, band count, range, floor and window length
ODD = TD.FrontEndConfig(LogMelConfig(sample_rate=16000, n_fft=1024, hop=320, n_mels=64, fmin_hz=40.0, fmax_hz=7000.0, log_offset=1e-4), WindowConfig(64))


def clips(n=8, sr=22050, seconds=3.0):
    """Two synthetic 'instruments': low square-ish tones and high noisy whistles, seeded."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    out, labels = [], []
    for i in range(n):
        if i % 2 == 0:
            f = 110 * 2 ** (rng.integers(0, 12) / 12)
            x = np.sign(np.sin(2 * np.pi * f * t)) * 0.3
            labels.append(["contrabass"])
        else:
            f = 1800 * 2 ** (rng.integers(0, 12) / 12)
            x = 0.3 * np.sin(2 * np.pi * f * t) + 0.05 * rng.standard_normal(t.size)
            labels.append(["flute"])
        out.append((x[None].astype(np.float32), sr))
    return out, labels


def trained(front_end):
    from timbrelab.timbre_cnn.models import TimbreCNNConfig
    from timbrelab.timbre_cnn.train import TrainConfig, train_model

    audio, labels = clips()
    w = TD.from_clips(audio, labels, [f"c{i}" for i in range(len(labels))], front_end, progress=False)
    assert w.front_end == front_end and w.X.shape[1:] == (front_end.n_mels, front_end.frames)
    train, val = TD.split_validation(w, 0.25, seed=0)
    config = TimbreCNNConfig("dieleman", len(TD.CLASSES), n_mels=front_end.n_mels, frames=front_end.frames, width=8)
    r = train_model(config, train, val, TrainConfig(max_epochs=2, patience=2, batch_size=4), progress=False)
    return r.classifier({"note": "test"}), audio


def test_a_non_default_front_end_round_trips_with_identical_outputs(tmp_path):
    clf, audio = trained(ODD)
    assert clf.front_end == ODD
    path = save_checkpoint(tmp_path / "odd.safetensors", clf.to_checkpoint())
    ckpt = load_checkpoint(path)
    assert ckpt.kind == CHECKPOINT_KIND and ckpt.features == ODD.to_dict() and ckpt.vocabulary == list(TD.CLASSES)
    loaded = TimbreClassifier.from_checkpoint(ckpt)
    assert loaded.front_end == ODD and loaded.classes == TD.CLASSES and loaded.info == {"note": "test"}
    assert loaded.model.config == clf.model.config
    for k, v in clf.model.state_dict().items():
        assert torch.equal(v, loaded.model.state_dict()[k]), k
    x, sr = audio[1]
    a, b = clf.classify(x, sr, top=3), loaded.classify(x, sr, top=3)
    assert a.probabilities == b.probabilities and a.top == b.top and a.timeline == b.timeline  # identical, not close
    assert a.windows == len(TD.clip_windows(x, sr, ODD)) == 3  # 3 s at 16 kHz / hop 320 = 151 frames → 2 windows of 64 + 1 aligned to the end
    X = TD.clip_windows(x, sr, ODD)
    np.testing.assert_array_equal(clf.window_probabilities(X), loaded.window_probabilities(X))
    # the same weights read with the default front end would see other features: the config matters
    assert not np.allclose(TD.clip_windows(x, sr, TD.FrontEndConfig())[0, :64, :64], X[0])


def test_the_default_front_end_round_trips_and_file_classification_agrees(tmp_path):
    from timbrelab.audio import write_audio
    from timbrelab.models import load_path

    clf, audio = trained(TD.FrontEndConfig(windows=WindowConfig(128)))
    save_checkpoint(tmp_path / "m.safetensors", clf.to_checkpoint())
    loaded = load_path(tmp_path / "m.safetensors", "timbrelab.timbre_cnn.classify:TimbreClassifier")  # as the registry does
    x, sr = audio[0]
    write_audio(tmp_path / "c.wav", x, sr, bit_depth="float")
    assert loaded.classify_file(tmp_path / "c.wav").probabilities == pytest.approx(clf.classify(x, sr).probabilities, abs=1e-6)


def test_mismatches_are_refused():
    from timbrelab.timbre_cnn.models import TimbreCNNConfig, build_model

    model = build_model(TimbreCNNConfig("dieleman", len(TD.CLASSES), width=8))
    with pytest.raises(BadParameterError):
        TimbreClassifier(model, ODD, TD.CLASSES)  # 96×128 model, 64×64 front end
    with pytest.raises(BadParameterError):
        TimbreClassifier(model, TD.FrontEndConfig(), TD.CLASSES[:5])
    with pytest.raises(BadParameterError):
        TimbreClassifier(model, TD.FrontEndConfig(windows=WindowConfig(128, 64)), TD.CLASSES)  # overlap: not streamable
    with pytest.raises(BadParameterError):
        TimbreClassifier(model, {"logmel": {}}, TD.CLASSES)
    ckpt = TimbreClassifier(model, TD.FrontEndConfig(), TD.CLASSES).to_checkpoint()
    ckpt.kind = "word2eq-kernel"
    with pytest.raises(MissingComponentError):
        TimbreClassifier.from_checkpoint(ckpt)
    a = TD.Windows(np.zeros((1, 96, 128), np.float32), np.zeros(1, int), TD.multi_hot([["flute"]]), ["a"])
    b = TD.Windows(np.zeros((1, 64, 64), np.float32), np.zeros(1, int), TD.multi_hot([["flute"]]), ["b"], front_end=ODD)
    with pytest.raises(BadParameterError):
        TD.concat([a, b])
    assert TD.FrontEndConfig.from_dict(ODD.to_dict()) == ODD
    with pytest.raises(BadParameterError):
        TD.FrontEndConfig.from_dict({"logmel": {}, "stft": {}})


def test_the_shipped_model_loads_from_the_registry_and_round_trips(tmp_path):
    import timbrelab.models

    assert "timbre_cnn" in timbrelab.models.available()
    shipped = timbrelab.models.load("timbre_cnn")
    assert isinstance(shipped, TimbreClassifier) and shipped.classes == TD.CLASSES_WITH_NONE  # 28 instruments + "no instrument" (issue 10)
    assert timbrelab.models.info("timbre_cnn")["loader"] == "timbrelab.timbre_cnn.classify:TimbreClassifier"
    save_checkpoint(tmp_path / "again.safetensors", shipped.to_checkpoint())
    again = TimbreClassifier.from_checkpoint(load_checkpoint(tmp_path / "again.safetensors"))
    X = np.random.default_rng(0).normal(-6, 2, (3, 96, 128)).astype(np.float32)
    np.testing.assert_array_equal(shipped.window_probabilities(X), again.window_probabilities(X))
