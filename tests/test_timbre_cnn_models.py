"""Timbre CNN front end (log-mel vs librosa, windows, standardizer) and architectures (shapes, sizes, training)."""

import json

import numpy as np
import pytest
import torch

from timbrelab.audio import resample
from timbrelab.errors import AudioFileError, BadParameterError
from timbrelab.timbre_cnn.frontend import (
    LIBROSA_TOLERANCE,
    FrontEndConfig,
    LogMel,
    Standardizer,
    log_mel,
    mel_filterbank,
    n_frames_for,
    windows,
)
from timbrelab.timbre_cnn.models import (
    ARCHITECTURES,
    TimbreCNNConfig,
    build_model,
    count_parameters,
    paper_configs,
    parameters_of,
)

SR = 12000


def harmonic_tone(duration_s=1.5, sr=SR, f0_hz=196.0, seed=0):
    """A decaying 12-harmonic tone with vibrato plus white noise at about −40 dB."""
    t = np.arange(int(duration_s * sr)) / sr
    phase = 2 * np.pi * f0_hz * (t + 0.002 * np.sin(2 * np.pi * 5 * t))
    x = sum(0.5 / k * np.sin(k * phase + k) for k in range(1, 13)) * np.exp(-1.5 * t)
    x += 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    return x.astype(np.float32)


def with_random_head(model):
    """The output layer starts at zero (logits all 0); give it weights so outputs depend on the input."""
    torch.nn.init.normal_(model.output_layer.weight, std=0.1)
    return model


@pytest.fixture(scope="module")
def configs11():
    return paper_configs(11)


# ------------------------------------------------------------------------------------- front end


def test_log_mel_matches_librosa_within_stated_tolerance():
    librosa = pytest.importorskip("librosa")
    c = FrontEndConfig()
    x = harmonic_tone()
    ours = log_mel(x, SR, c)
    ref = np.log(
        librosa.feature.melspectrogram(y=x, sr=SR, n_fft=512, hop_length=256, n_mels=96, power=1.0) + c.log_offset
    )
    assert ours.shape == ref.shape == (96, 1 + len(x) // 256) == (96, n_frames_for(len(x)))
    assert ours.dtype == np.float32
    assert np.abs(ours - ref).max() < LIBROSA_TOLERANCE
    assert ours.max() - ours.min() > 5  # a real spectrum, not a constant that would trivially agree
    np.testing.assert_allclose(mel_filterbank(c), librosa.filters.mel(sr=SR, n_fft=512, n_mels=96), atol=1e-7)


def test_log_mel_downmixes_and_resamples_with_timbrelab():
    x = harmonic_tone(1.0, sr=44100)
    stereo = np.stack([x, 0.5 * x])
    out = log_mel(stereo, 44100)
    assert out.shape == (96, 1 + 12000 // 256)
    mono12k = resample(stereo.mean(axis=0, keepdims=True), 44100, 12000)
    np.testing.assert_allclose(out, log_mel(mono12k, 12000), atol=1e-6)


def test_logmel_module_batches_rows_independently():
    x = torch.from_numpy(np.stack([harmonic_tone(seed=s) for s in range(3)]))
    module = LogMel()
    batch = module(x)
    assert batch.shape == (3, 96, 1 + x.shape[1] // 256)
    torch.testing.assert_close(batch[1], module(x[1:2])[0])


def test_silence_is_fine_and_gives_the_silence_value():
    out = log_mel(np.zeros((2, 6000), np.float32), SR)
    assert np.all(out == np.float32(FrontEndConfig().silence_value))


def test_config_round_trip_through_json():
    c = FrontEndConfig(fmin_hz=30.0, fmax_hz=5000.0, log_offset=1e-4)
    assert FrontEndConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    m = TimbreCNNConfig("small-rect", 20, width=12, first_pool=(24, 32))
    assert TimbreCNNConfig.from_dict(json.loads(json.dumps(m.to_dict()))) == m


# --------------------------------------------------------------------------------------- windows


def test_windows_pads_short_inputs_with_silence():
    x = np.random.default_rng(0).standard_normal((96, 50)).astype(np.float32)
    w = windows(x, frames=128)
    assert w.shape == (1, 96, 128)
    np.testing.assert_array_equal(w[0, :, :50], x)
    assert np.all(w[0, :, 50:] == np.float32(FrontEndConfig().silence_value))
    assert np.all(windows(x, frames=128, pad_value=-3.0)[0, :, 50:] == -3.0)


def test_windows_cover_long_inputs_without_padding():
    x = np.arange(96 * 300, dtype=np.float32).reshape(96, 300)
    w = windows(x, frames=128)  # starts 0, 128, then one aligned to the end (172)
    assert w.shape == (3, 96, 128)
    np.testing.assert_array_equal(w[1], x[:, 128:256])
    np.testing.assert_array_equal(w[-1], x[:, -128:])
    assert windows(x[:, :256], frames=128).shape == (2, 96, 128)
    assert windows(x, frames=128, hop_frames=64).shape == (4, 96, 128)  # 0, 64, 128, 172
    wt = windows(torch.from_numpy(x), frames=128)
    assert isinstance(wt, torch.Tensor)
    np.testing.assert_array_equal(wt.numpy(), w)


# ---------------------------------------------------------------------------------- standardizer


def test_standardizer_fits_per_band_and_round_trips():
    rng = np.random.default_rng(1)
    band_mean = np.linspace(-10, 2, 96)[None, :, None]
    band_std = np.linspace(0.5, 4, 96)[None, :, None]
    feats = (band_mean + band_std * rng.standard_normal((40, 96, 128))).astype(np.float32)
    s = Standardizer(96)
    assert not s.fitted
    s.fit(feats)
    assert s.fitted
    y = s(torch.from_numpy(feats))
    torch.testing.assert_close(y.mean(dim=(0, 2)), torch.zeros(96), atol=1e-4, rtol=0)
    torch.testing.assert_close(y.std(dim=(0, 2), unbiased=False), torch.ones(96), atol=1e-4, rtol=0)
    torch.testing.assert_close(s.inverse(y), torch.from_numpy(feats), atol=1e-4, rtol=1e-5)
    streamed = Standardizer(96).fit([feats[:10], torch.from_numpy(feats[10:])])
    torch.testing.assert_close(streamed.mean, s.mean)
    torch.testing.assert_close(streamed.std, s.std)


def test_standardizer_statistics_ship_with_the_model_weights():
    torch.manual_seed(0)
    model = with_random_head(build_model(TimbreCNNConfig("dieleman", 5, width=8))).eval()
    feats = 3 + 2 * torch.randn(6, 1, 96, 128)
    model.standardizer.fit(feats)
    state = model.state_dict()
    assert {"standardizer.mean", "standardizer.std", "standardizer.n_values"} <= set(state)
    torch.manual_seed(1)
    fresh = build_model(model.config.to_dict()).eval()
    fresh.load_state_dict(state)
    assert fresh.standardizer.fitted
    torch.testing.assert_close(fresh(feats), model(feats))
    assert not torch.allclose(Standardizer(96)(feats), model.standardizer(feats))


# ---------------------------------------------------------------------------------------- models


def test_every_architecture_maps_a_batch_to_logits(configs11):
    assert {c.arch for c in configs11.values()} == set(ARCHITECTURES)
    x = torch.randn(2, 1, 96, 128)
    for name, config in configs11.items():
        torch.manual_seed(0)
        model = with_random_head(build_model(config)).eval()
        with torch.no_grad():
            out = model(x)
        assert out.shape == (2, 11), name
        assert torch.isfinite(out).all(), name
        assert not torch.allclose(out[0], out[1]), name
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, 0]), out)  # (batch, n_mels, frames) is accepted too
        assert torch.equal(build_model(config)(x), torch.zeros(2, 11))  # the output layer starts at zero


def test_parameter_counts_near_the_paper_and_budgets_matched(configs11):
    single = parameters_of(configs11["single-layer"])
    multi = parameters_of(configs11["multi-layer"])
    assert abs(single - 62_000) <= 0.25 * 62_000, single
    assert abs(multi - 743_000) <= 0.25 * 743_000, multi
    assert (single, multi) == (61_867, 840_619)  # the counts models.py documents
    assert parameters_of(TimbreCNNConfig("multi-layer", 11, first_pool=(24, 32))) == 742_315
    for arch in ("small-rect", "dieleman"):
        assert abs(parameters_of(configs11[f"{arch}-1x"]) / multi - 1) < 0.05, arch
        two = parameters_of(configs11[f"{arch}-2x"])
        assert 2 * multi <= two <= 2.1 * multi, arch
    torch.manual_seed(0)
    assert count_parameters(build_model(configs11["single-layer"])) == single  # meta count == real count


def test_init_is_deterministic_given_the_seed():
    config = TimbreCNNConfig("multi-layer", 11)
    torch.manual_seed(7)
    a = build_model(config).state_dict()
    torch.manual_seed(7)
    b = build_model(config).state_dict()
    torch.manual_seed(8)
    c = build_model(config).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["body.conv2.0.weight"], c["body.conv2.0.weight"])


def test_three_training_steps_reduce_the_loss():
    # The single-layer on 32-frame windows (cheap); Adam at 1e-4, the rate it needs (see models.py).
    torch.manual_seed(0)
    model = build_model(TimbreCNNConfig("single-layer", 4, frames=32, dropout=0.0)).train()
    x = torch.randn(8, 1, 96, 32)
    y = torch.arange(8) % 4
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    losses = []
    for _ in range(4):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[0] == pytest.approx(np.log(4), abs=1e-5)  # zero output layer
    assert losses[1] < losses[0] and losses[2] < losses[1] and losses[3] < losses[0] - 0.05, losses


# ------------------------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize(
    "audio, sample_rate, error",
    [
        (np.zeros((1, 0), np.float32), SR, AudioFileError),
        (np.array([[0.0, np.nan, 0.1] * 100], np.float32), SR, AudioFileError),
        (np.array([[0.0, np.inf] * 100], np.float32), SR, AudioFileError),
        (np.zeros((2, 2, 100), np.float32), SR, BadParameterError),
        (np.zeros((4000, 2), np.float32), SR, BadParameterError),  # (samples, channels)
        (np.zeros(4000, np.float32), 5, BadParameterError),
        (np.zeros(4000, np.float32), 10**9, BadParameterError),
        (np.zeros(4000, np.float32), 12000.5, BadParameterError),
        (np.array(["a", "b"]), SR, BadParameterError),
    ],
)
def test_log_mel_rejects_bad_audio(audio, sample_rate, error):
    with pytest.raises(error):
        log_mel(audio, sample_rate)


def test_bad_settings_and_shapes_raise_project_errors():
    with pytest.raises(BadParameterError):
        FrontEndConfig(n_mels=0)
    with pytest.raises(BadParameterError):
        FrontEndConfig(fmax_hz=7000.0)  # above Nyquist at 12 kHz
    with pytest.raises(BadParameterError):
        FrontEndConfig(log_offset=0.0)
    with pytest.raises(BadParameterError):
        FrontEndConfig.from_dict({"sample_rate": 12000, "nmels": 96})
    with pytest.raises(BadParameterError):
        LogMel()(torch.zeros(1000))
    with pytest.raises(AudioFileError):
        LogMel()(torch.full((1, 1000), float("nan")))
    with pytest.raises(BadParameterError):
        windows(np.zeros((1, 96, 128)))
    with pytest.raises(BadParameterError):
        windows(np.zeros((96, 128)), frames=0)
    with pytest.raises(BadParameterError):
        Standardizer(96).fit(np.zeros((4, 40, 128)))
    with pytest.raises(BadParameterError):
        Standardizer(96).fit(np.full((4, 96, 128), np.nan))
    with pytest.raises(BadParameterError):
        TimbreCNNConfig("resnet")
    with pytest.raises(BadParameterError):
        TimbreCNNConfig("single-layer", n_mels=64)  # the 80-bin filters need 80 bands
    with pytest.raises(BadParameterError):
        TimbreCNNConfig("multi-layer", dropout=1.0)
    model = build_model(TimbreCNNConfig("small-rect", 3, width=4))
    with pytest.raises(BadParameterError):
        model(torch.zeros(2, 1, 96, 100))  # not a 128-frame window
    with pytest.raises(BadParameterError):
        model(torch.zeros(2, 2, 96, 128))
