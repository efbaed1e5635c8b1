"""Multi-channel reverb: every channel's wet signal comes from that channel's own content.

Mono and stereo must stay what the reverberator gave before multi-channel support: ``_legacy_process``
below is a frozen copy of that code (valid for 1 and 2 channels, double precision, exact recursions).
The reverb now computes in single precision with the all-pass as its truncated impulse response
(issue 16, for speed), so "the same" means within single precision: max error ≤ 1e-5 of the peak.
"""

import math

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from timbrelab.dsp.reverb import ALLPASS_GAIN, Reverb, ReverbSettings
from timbrelab.dsp.stream import run_stream

SR = 22050
CHURCH = ReverbSettings(d_s=0.06, g=0.8, m_s=0.008, f_hz=6000.0, E=0.9)  # with low-pass
BRIGHT = ReverbSettings(d_s=0.03, g=0.6, m_s=-0.004, f_hz=20000.0, E=0.4)  # no low-pass at 22.05 kHz


def _legacy_recursion(x_ext, y_ext, delay, gain, n, ff=0.0):
    for j in range(0, n, delay):
        k = min(delay, n - j)
        seg = x_ext[..., j : j + k] + gain * y_ext[..., j : j + k]
        if ff:
            seg = seg + ff * x_ext[..., delay + j : delay + j + k]
        y_ext[..., delay + j : delay + j + k] = seg


def _legacy_process(stream, x, block_frames, settings):
    """The pre-fix ReverbStream.process, driven with the new stream's coefficients (1 or 2 channels)."""
    sos = butter(2, settings.f_hz / (SR / 2), output="sos") if settings.f_hz < 0.95 * SR / 2 else None
    channels = x.shape[0]
    assert channels in (1, 2)
    xh = [np.zeros((channels, d)) for d in stream.comb_delays]
    yh = [np.zeros((channels, d)) for d in stream.comb_delays]
    apx = [np.zeros((1, d)) for d in stream.ap_delays]
    apy = [np.zeros((1, d)) for d in stream.ap_delays]
    ap_src = [0, 1] if channels >= 2 else [0, 0]
    lp = None if sos is None else np.zeros((sos.shape[0], 2, 2))
    out = []
    for s in range(0, x.shape[1], block_frames):
        blk = x[:, s : s + block_frames]
        n = blk.shape[1]
        bank = np.zeros((channels, n))
        for i, (d, g) in enumerate(zip(stream.comb_delays, stream.comb_gains)):
            x_ext = np.concatenate([xh[i], blk], axis=1)
            y_ext = np.concatenate([yh[i], np.empty((channels, n))], axis=1)
            _legacy_recursion(x_ext, y_ext, d, g, n)
            bank += y_ext[:, d:]
            xh[i], yh[i] = x_ext[:, -d:], y_ext[:, -d:]
        bank *= stream.comb_norm
        lr = np.empty((2, n))
        for j, d in enumerate(stream.ap_delays):
            src = bank[ap_src[j] : ap_src[j] + 1]
            x_ext = np.concatenate([apx[j], src], axis=1)
            y_ext = np.concatenate([apy[j], np.empty((1, n))], axis=1)
            _legacy_recursion(x_ext, y_ext, d, ALLPASS_GAIN, n, ff=-ALLPASS_GAIN)
            lr[j] = y_ext[0, d:]
            apx[j], apy[j] = x_ext[:, -d:], y_ext[:, -d:]
        if sos is not None:
            lr, lp = sosfilt(sos, lr, axis=-1, zi=lp)
        wet = lr.mean(axis=0, keepdims=True) if channels == 1 else lr
        out.append(blk + stream.wet_gain * wet)
    return np.concatenate(out, axis=1)


def _signal(channels, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((channels, n)) * 0.2
    x[:, n // 2 :] = 0.0  # a silent half: the tail
    return x


@pytest.mark.parametrize("settings", [CHURCH, BRIGHT], ids=["lowpass", "no-lowpass"])
@pytest.mark.parametrize("channels", [1, 2])
def test_mono_and_stereo_as_before(settings, channels):
    x = _signal(channels, 30_000)
    rv = Reverb(settings, 0.8)
    first = None
    for bf in (4096, 65536):
        new = run_stream(rv.stream(SR, channels), x, block_frames=bf)
        old = _legacy_process(rv.stream(SR, channels), x, bf, settings)
        assert new.shape == old.shape
        assert np.max(np.abs(new - old)) <= 1e-5 * np.max(np.abs(old))
        tail = slice(x.shape[1] // 2, None)  # the reverb's own decay, dry path silent: the same within single precision too
        assert np.max(np.abs(new[:, tail] - old[:, tail])) <= 1e-5 * np.max(np.abs(old[:, tail]))
        if first is None:
            first = new
        else:
            assert np.array_equal(new, first)  # still block-invariant, bit for bit


def _wet(x, channels, settings=CHURCH):
    y = run_stream(Reverb(settings).stream(SR, channels), x)
    return y - x


def test_impulse_in_one_channel_stays_in_that_channel():
    n = 8000
    x = np.zeros((6, n))
    x[3, 0] = 1.0
    wet = _wet(x, 6)
    assert np.sum(wet[3] ** 2) > 0.01  # channel 3 gets its own reverb
    for c in (0, 1, 2, 4, 5):  # every other channel, its pair partner 2 included, stays exactly dry
        assert np.array_equal(wet[c], np.zeros(n)), c


@pytest.mark.parametrize("channels", [3, 4, 5, 6, 8])
def test_every_channel_gets_reverb_of_its_own_content(channels):
    """Channel c's wet signal equals what a stereo pair (c even: left, c odd: right) or, for an odd last
    channel, a mono file gives for the same content; other channels' content never leaks in."""
    n = 6000
    x = _signal(channels, n, seed=channels)
    wet = _wet(x, channels)
    for c in range(channels):
        if c == channels - 1 and channels % 2:
            ref = _wet(x[c : c + 1], 1)[0]
        else:
            pair = np.zeros((2, n))
            pair[c % 2] = x[c]
            ref = _wet(pair, 2)[c % 2]
        assert np.array_equal(wet[c], ref), c


def test_channel_4_rings_like_channel_0():
    n = 8000
    x = np.zeros((6, n))
    x[4, 0] = 1.0
    x0 = np.zeros((6, n))
    x0[0, 0] = 1.0
    assert np.array_equal(_wet(x, 6)[4], _wet(x0, 6)[0])
    assert np.sum(_wet(x, 6)[4] ** 2) > 0.01


def test_multichannel_block_invariance():
    x = _signal(6, 20_000, seed=7)
    rv = Reverb(CHURCH, 0.7)
    whole = run_stream(rv.stream(44100, 6), x, block_frames=10**7)
    for bf in (333, 4096):
        assert np.array_equal(run_stream(rv.stream(44100, 6), x, block_frames=bf), whole)


def test_impulse_response_channels():
    ir = Reverb(CHURCH).impulse_response(SR, 0.5, channels=6)
    stereo = Reverb(CHURCH).impulse_response(SR, 0.5, channels=2)
    assert np.array_equal(ir[0::2], np.repeat(stereo[:1], 3, axis=0))
    assert np.array_equal(ir[1::2], np.repeat(stereo[1:], 3, axis=0))
    assert math.isfinite(float(np.sum(ir**2)))


def test_six_channel_file_through_apply(tmp_path):
    """A 5.1 file with an impulse in channel 3 only: after `apply`, channels 0–2, 4, 5 are still silent."""
    from timbrelab.audio import read_audio, write_audio
    from timbrelab.fx import EffectPlan, apply_file

    x = np.zeros((6, SR // 2), np.float32)
    x[3, 100] = 0.5
    src, dst = tmp_path / "six.wav", tmp_path / "six_out.wav"
    write_audio(src, x, SR, bit_depth="float")
    apply_file(src, dst, EffectPlan(reverb=Reverb(CHURCH)), tail_s=0.0, bit_depth="float", progress=False)
    y, sr = read_audio(dst)
    assert sr == SR and y.shape == x.shape
    assert np.sum(y[3, 101:] ** 2) > 1e-4  # channel 3 rings
    assert not np.any(y[[0, 1, 2, 4, 5]])  # no other channel gets any of it
