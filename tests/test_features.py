"""Shared feature front ends (``timbrelab.features``): the log-mel, windows and standardiser moved out
of ``timbre_cnn`` give bit-identical outputs, and the complex STFT / iSTFT reconstructs perfectly.

``tests/data/features_reference.npz`` holds outputs of the front end recorded from its previous home
``timbrelab.timbre_cnn.frontend`` (commit dd3169c, ``python tests/test_features.py --record``, same
torch 2.13.0+cpu build); ``test_moved_front_end_is_bit_identical`` compares with ``==``.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

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


#: outputs stored whole (to see how far apart a failure is); the others are stored as SHA-256 of their bytes
STORED_WHOLE = ("filterbank", "mono12k", "short", "n_frames", "std_mean", "std_std")


def digest(a: np.ndarray) -> str:
    import hashlib

    a = np.ascontiguousarray(a)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()


def record() -> None:
    import timbrelab.timbre_cnn.frontend as ns  # the previous home (commit dd3169c)

    out = {}
    for k, v in reference_outputs(ns, lambda settings, frames: ns.FrontEndConfig(**settings, frames=frames)).items():
        out[k if k.split("/")[1] in STORED_WHOLE else "sha256/" + k] = v if k.split("/")[1] in STORED_WHOLE else np.array(digest(v))
    np.savez_compressed(REFERENCE, **out)
    print(f"wrote {REFERENCE}")


if __name__ == "__main__" and "--record" in sys.argv:
    record()


def front_end():
    import types

    from timbrelab.features import logmel, standardize, windows

    ns = types.SimpleNamespace(**{k: getattr(m, k) for m in (logmel, windows, standardize) for k in dir(m) if not k.startswith("_")})
    return ns, lambda settings, frames: logmel.LogMelConfig(**settings)


def test_moved_front_end_is_bit_identical():
    ref = np.load(REFERENCE)
    got = reference_outputs(*front_end())
    assert {k.removeprefix("sha256/") for k in ref.files} == set(got)
    for k, v in got.items():
        if k in ref.files:
            np.testing.assert_array_equal(v, ref[k], err_msg=k)
            assert v.dtype == ref[k].dtype, k
        else:
            assert digest(v) == str(ref["sha256/" + k]), k


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
