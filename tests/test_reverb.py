import numpy as np
import pytest

from timbrelab.dsp.analysis import decay_time_s
from timbrelab.dsp.reverb import Reverb, ReverbSettings
from timbrelab.dsp.stream import run_stream
from timbrelab.errors import BadParameterError
from timbrelab.lexicon.maps import reverb_map


@pytest.mark.parametrize("word", ["small-room", "warm", "church", "big-hall", "cave", "bright"])
def test_decay_time_follows_formula(word):
    s = ReverbSettings.from_list(reverb_map().get(word).settings)
    expected = s.d_s * np.log(0.001) / np.log(s.g)
    sr = 22050
    ir = Reverb(s).impulse_response(sr, expected * 1.3 + 0.2)
    measured = decay_time_s(ir, sr)
    assert abs(measured - expected) / expected < 0.05, (measured, expected)


def test_longer_rt_for_larger_g():
    short = Reverb(ReverbSettings(d_s=0.05, g=0.5)).impulse_response(16000, 2.0)
    long = Reverb(ReverbSettings(d_s=0.05, g=0.9)).impulse_response(16000, 2.0)
    assert decay_time_s(long, 16000) > 3 * decay_time_s(short, 16000)


def test_bypass_block_invariance_channels():
    x = np.random.default_rng(0).standard_normal((2, 40_000)).astype(np.float32)
    s = ReverbSettings.from_list(reverb_map().get("church").settings)
    assert np.array_equal(Reverb(s, 0.0)(x, 44100), x)
    rv = Reverb(s, 0.7)
    whole = run_stream(rv.stream(44100, 2), x.astype(np.float64), block_frames=10**7)
    for bf in (333, 4096, 65536):
        assert np.array_equal(run_stream(rv.stream(44100, 2), x.astype(np.float64), block_frames=bf), whole)
    mono = Reverb(s)(x[:1], 44100)
    assert mono.shape[0] == 1 and mono.shape[1] > x.shape[1]  # tail appended
    assert Reverb(s)(x, 44100, tail_s=0).shape == x.shape


def test_stereo_spread_decorrelates():
    ir = Reverb(ReverbSettings(d_s=0.05, g=0.7, m_s=0.01)).impulse_response(44100, 0.5)
    assert not np.allclose(ir[0], ir[1])
    ir0 = Reverb(ReverbSettings(d_s=0.05, g=0.7, m_s=0.0)).impulse_response(44100, 0.5)
    assert np.allclose(ir0[0], ir0[1])


def test_amount_scales_wet_level():
    s = ReverbSettings(d_s=0.05, g=0.8)
    e1 = np.sum(Reverb(s, 1.0).impulse_response(16000, 1.0) ** 2)
    e05 = np.sum(Reverb(s, 0.5).impulse_response(16000, 1.0) ** 2)
    assert np.isclose(e05 / e1, 0.25, rtol=1e-6)


def test_bad_settings():
    with pytest.raises(BadParameterError, match="cannot be negative"):
        Reverb(ReverbSettings(), -0.5)
    with pytest.raises(BadParameterError, match="out of range"):
        Reverb(ReverbSettings(), 50)
    with pytest.raises(BadParameterError, match="comb gain"):
        ReverbSettings(g=1.5)
    with pytest.raises(BadParameterError):
        ReverbSettings(d_s=float("nan"))
    r = Reverb(ReverbSettings(), 0.5)
    assert Reverb.from_dict(r.to_dict()) == r
