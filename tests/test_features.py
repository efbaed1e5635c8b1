"""Shared feature front ends (``timbrelab.features``): the log-mel, windows and standardiser keep the
outputs they had when they moved out of ``timbre_cnn``, and the complex STFT / iSTFT reconstructs perfectly.

The move itself (commit dd3169c) was checked bit for bit against the previous home
``timbrelab.timbre_cnn.frontend``; that reference held SHA-256 digests, which only a CPU with the same
vector instructions reproduces (PyTorch's kernels differ in the last bits between AVX2, AVX-512 and AMX
machines: it failed on an AMX machine on 2026-11-25). ``tests/data/features_reference.npz`` now holds
every output whole, recorded from ``timbrelab.features`` at the commit that introduced this docstring
(``python tests/test_features.py --record``, torch 2.13.0+cpu; where the old reference had them whole,
within 2e-4 of it), and the test compares to float rounding — far below what
any change of the front end's arithmetic would move.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from timbrelab.audio import resample
from timbrelab.errors import AudioFileError, BadParameterError
from timbrelab.features.logmel import LIBROSA_TOLERANCE, LogMel, LogMelConfig, log_mel, mel_filterbank, n_frames_for
from timbrelab.features.standardize import Standardizer
from timbrelab.features.windows import windows

REFERENCE = Path(__file__).parent / "data" / "features_reference.npz"


def tone(duration_s, sr, f0_hz=196.0, seed=0, channels=1):
    t = np.arange(int(duration_s * sr)) / sr
    phase = 2 * np.pi * f0_hz * (t + 0.002 * np.sin(2 * np.pi * 5 * t))
    x = sum(0.5 / k * np.sin(k * phase + k) for k in range(1, 13)) * np.exp(-1.5 * t)
    rng = np.random.default_rng(seed)
    return np.stack([x + 0.01 * rng.standard_normal(t.size) for _ in range(channels)]).astype(np.float32)


#: the two recorded settings: log-mel settings and window length in frames
SETTINGS = {"default": ({}, 128),
            "other": (dict(sample_rate=16000, n_fft=1024, hop=320, n_mels=64, fmin_hz=30.0, fmax_hz=7000.0, log_offset=1e-4), 64)}


def reference_outputs(ns, make_config) -> dict:
    """Outputs of the front end found in namespace ``ns`` (attribute access: LogMel, log_mel,
    mel_filterbank, windows, LogMelStream, WindowStream, Standardizer, n_frames_for), with the
    log-mel config ``make_config(settings, frames)`` builds."""
    import torch

    out = {}
    for tag, (settings, frames) in SETTINGS.items():
        cfg = make_config(settings, frames)
        out[f"{tag}/filterbank"] = ns.mel_filterbank(cfg)
        out[f"{tag}/mono12k"] = ns.log_mel(tone(1.5, 12000)[0], 12000, cfg)
        stereo = tone(3.3, 44100, seed=1, channels=2)
        whole = ns.log_mel(stereo, 44100, cfg)
        out[f"{tag}/stereo44k"] = whole
        out[f"{tag}/short"] = ns.log_mel(tone(0.1, 22050, seed=2), 22050, cfg)
        out[f"{tag}/n_frames"] = np.array([ns.n_frames_for(n, cfg) for n in (0, 1, 255, 256, 12345)])
        with torch.no_grad():
            out[f"{tag}/batch"] = ns.LogMel(cfg)(torch.from_numpy(tone(1.0, cfg.sample_rate, seed=3, channels=3))).numpy()
        s = ns.LogMelStream(44100, 2, cfg)
        parts = [s.process(stereo[:, i : i + 5000]) for i in range(0, stereo.shape[1], 5000)] + [s.flush()]
        out[f"{tag}/stream"] = np.concatenate(parts, axis=1)
        out[f"{tag}/windows"] = ns.windows(whole, frames, pad_value=cfg.silence_value)
        out[f"{tag}/windows_hop"] = ns.windows(torch.from_numpy(whole), frames, hop_frames=frames // 3).numpy()
        out[f"{tag}/windows_short"] = ns.windows(out[f"{tag}/short"], frames, pad_value=cfg.silence_value)
        w = ns.WindowStream(cfg.n_mels, frames, cfg.silence_value)
        cut = [w.push(whole[:, i : i + 7]) for i in range(0, whole.shape[1], 7)] + [w.finish()]
        out[f"{tag}/window_stream"] = np.concatenate(cut)
        st = ns.Standardizer(cfg.n_mels).fit([out[f"{tag}/windows"], torch.from_numpy(out[f"{tag}/batch"])])
        out[f"{tag}/std_mean"], out[f"{tag}/std_std"] = st.mean.numpy(), st.std.numpy()
        with torch.no_grad():
            y = st(torch.from_numpy(out[f"{tag}/windows"]))
            out[f"{tag}/standardized"] = y.numpy()
            out[f"{tag}/inverse"] = st.inverse(y).numpy()
    return out


def record() -> None:
    np.savez_compressed(REFERENCE, **reference_outputs(*front_end()))
    print(f"wrote {REFERENCE}")


def front_end():
    import types

    from timbrelab.features import logmel, standardize, windows

    ns = types.SimpleNamespace(**{k: getattr(m, k) for m in (logmel, windows, standardize) for k in dir(m) if not k.startswith("_")})
    return ns, lambda settings, frames: logmel.LogMelConfig(**settings)


def test_front_end_outputs_are_those_recorded():
    ref = np.load(REFERENCE)
    got = reference_outputs(*front_end())
    assert set(ref.files) == set(got)
    for k, v in got.items():
        assert v.dtype == ref[k].dtype and v.shape == ref[k].shape, k
        if v.dtype.kind in "iub":
            np.testing.assert_array_equal(v, ref[k], err_msg=k)
        else:  # log-mel values are O(1..10); a changed window, filterbank or offset moves them by O(0.1) or more
            np.testing.assert_allclose(v, ref[k], rtol=1e-4, atol=1e-3, err_msg=k)


# ------------------------------------------------------------------------------------ configs


def test_configs_round_trip_through_json_and_refuse_unknown_settings():
    import json

    from timbrelab.errors import BadParameterError
    from timbrelab.features.logmel import LogMelConfig
    from timbrelab.features.standardize import StandardizerConfig
    from timbrelab.features.stft import STFTConfig
    from timbrelab.features.windows import WindowConfig

    for c in (LogMelConfig(fmin_hz=30.0, fmax_hz=5000.0, log_offset=1e-4), WindowConfig(64, 16), StandardizerConfig(40, 1e-3),
              STFTConfig(2048, 512, "sqrt-hann", False)):
        assert type(c).from_dict(json.loads(json.dumps(c.to_dict()))) == c
        with pytest.raises(BadParameterError):
            type(c).from_dict({**c.to_dict(), "bogus": 1})
    with pytest.raises(BadParameterError):
        WindowConfig(frames=0)
    with pytest.raises(BadParameterError):
        StandardizerConfig(n_bands=0)


# --------------------------------------------------------------------------------------- STFT

#: (n_fft, hop, window): each satisfies NOLA; hann/hamming/blackman at 1/4 overlap and sqrt-hann at 1/2 are also COLA
PR_SETTINGS = [(512, 128, "hann"), (512, 256, "hann"), (1024, 256, "hamming"), (400, 100, "blackman"), (256, 128, "sqrt-hann"),
               (256, 128, "rect"), (64, 16, "hann")]


@pytest.mark.parametrize("n_fft, hop, window", PR_SETTINGS)
def test_istft_of_stft_reconstructs_perfectly(n_fft, hop, window):
    import torch

    from timbrelab.features.stft import ISTFT, STFT, STFTConfig, istft, stft

    c = STFTConfig(n_fft, hop, window)
    for n in (1, 37, hop, n_fft + 1, 4097, 16000):
        x = torch.from_numpy(np.random.default_rng(n).standard_normal(n).astype(np.float32))
        spec = stft(x, c)
        assert spec.shape == (c.n_bins, c.n_frames(n)) and spec.is_complex()
        y = istft(spec, c, length=n)
        assert y.shape == x.shape and y.dtype == x.dtype
        assert (y - x).abs().max().item() < 1e-5, (n, (y - x).abs().max().item())
    x64 = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 3, 5000)))  # batch axes kept; float64 exact
    spec = STFT(c).double()(x64)
    assert spec.shape == (2, 3, c.n_bins, c.n_frames(5000))
    torch.testing.assert_close(ISTFT(c)(spec, length=5000), x64, atol=1e-12, rtol=0)


def test_stft_is_librosa_and_scaled_scipy():
    import scipy.signal
    import torch

    from timbrelab.features.stft import STFTConfig, stft

    x = np.random.default_rng(0).standard_normal(5000)
    for n_fft, hop, window, name in ((512, 128, "hann", "hann"), (1024, 256, "hamming", "hamming"), (256, 128, "rect", "boxcar")):
        ours = stft(torch.from_numpy(x), STFTConfig(n_fft, hop, window)).numpy()
        _, _, Z = scipy.signal.stft(x, nperseg=n_fft, noverlap=n_fft - hop, window=name, boundary="zeros", padded=False)
        w = scipy.signal.get_window(name, n_fft)
        assert ours.shape == Z.shape
        np.testing.assert_allclose(ours, Z * w.sum(), atol=1e-9)  # scipy divides by the window's sum
        assert np.abs(ours).max() > 10  # a real spectrum
    librosa = pytest.importorskip("librosa")
    ref = librosa.stft(x, n_fft=512, hop_length=128, window="hann", center=True, pad_mode="constant")
    np.testing.assert_allclose(stft(torch.from_numpy(x), STFTConfig(512, 128)).numpy(), ref, atol=1e-9)
    ref = librosa.stft(x, n_fft=512, hop_length=128, window="hann", center=False)
    np.testing.assert_allclose(stft(torch.from_numpy(x), STFTConfig(512, 128, center=False)).numpy(), ref, atol=1e-9)


def test_stft_refuses_settings_it_cannot_invert_and_bad_inputs():
    import torch

    from timbrelab.errors import BadParameterError
    from timbrelab.features.stft import STFTConfig, istft, stft

    with pytest.raises(BadParameterError, match="NOLA"):
        STFTConfig(512, 512, "hann", center=False)  # the periodic Hann is 0 at each frame's first sample
    with pytest.raises(BadParameterError):
        STFTConfig(512, 600)
    with pytest.raises(BadParameterError, match="half"):
        STFTConfig(256, 256, "rect")  # centred: a signal's tail could fall in no frame
    assert STFTConfig(256, 256, "rect", center=False).n_frames(1000) == 3
    with pytest.raises(BadParameterError):
        STFTConfig(512, 128, "kaiser")
    with pytest.raises(BadParameterError):
        stft(np.zeros(100, np.float32))
    with pytest.raises(BadParameterError):
        stft(torch.zeros(100, dtype=torch.int32))
    with pytest.raises(BadParameterError):
        istft(torch.zeros(10, 4, dtype=torch.complex64), STFTConfig(512, 128))  # 10 bins, not 257
    with pytest.raises(BadParameterError):
        stft(torch.zeros(100), STFTConfig(512, 128, center=False))  # shorter than one frame

# ------------------------------------------------------------------ log-mel, windows, standardizer
# (moved from tests/test_timbre_cnn_models.py with the code they test)

SR = 12000


def harmonic_tone(duration_s=1.5, sr=SR, f0_hz=196.0, seed=0):
    """A decaying 12-harmonic tone with vibrato plus white noise at about −40 dB."""
    t = np.arange(int(duration_s * sr)) / sr
    phase = 2 * np.pi * f0_hz * (t + 0.002 * np.sin(2 * np.pi * 5 * t))
    x = sum(0.5 / k * np.sin(k * phase + k) for k in range(1, 13)) * np.exp(-1.5 * t)
    x += 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    return x.astype(np.float32)


# ------------------------------------------------------------------------------------- front end


def test_log_mel_matches_librosa_within_stated_tolerance():
    librosa = pytest.importorskip("librosa")
    c = LogMelConfig()
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
    assert np.all(out == np.float32(LogMelConfig().silence_value))


# --------------------------------------------------------------------------------------- windows


def test_windows_pads_short_inputs_with_silence():
    x = np.random.default_rng(0).standard_normal((96, 50)).astype(np.float32)
    w = windows(x, frames=128)
    assert w.shape == (1, 96, 128)
    np.testing.assert_array_equal(w[0, :, :50], x)
    assert np.all(w[0, :, 50:] == np.float32(LogMelConfig().silence_value))
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


def test_bad_front_end_settings_and_shapes_raise_project_errors():
    with pytest.raises(BadParameterError):
        LogMelConfig(n_mels=0)
    with pytest.raises(BadParameterError):
        LogMelConfig(fmax_hz=7000.0)  # above Nyquist at 12 kHz
    with pytest.raises(BadParameterError):
        LogMelConfig(log_offset=0.0)
    with pytest.raises(BadParameterError):
        LogMelConfig.from_dict({"sample_rate": 12000, "nmels": 96})
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


if __name__ == "__main__" and "--record" in sys.argv:
    record()
