import json

import numpy as np
import pytest

from timbrelab.dsp.eq import BAND_CENTERS_HZ, GraphicEQ, response_at
from timbrelab.dsp.stream import run_stream
from timbrelab.errors import BadParameterError
from timbrelab.lexicon.maps import eq_map, played_curve_db


def measured_gain_db(eq: GraphicEQ, sample_rate: int, freqs):
    """Feed an impulse through the EQ as users do (the public call) and read its spectrum."""
    imp = np.zeros((1, sample_rate), np.float32)
    imp[0, 0] = 1.0
    ir = eq(imp, sample_rate)[0].astype(np.float64)
    return response_at(ir, freqs, sample_rate)


def curves():
    m = eq_map()
    out = [played_curve_db(m.get(w).settings) for w in ("warm", "bright", "tinny", "muddy")]
    rng = np.random.default_rng(7)
    out += [rng.uniform(-10, 10, 40) for _ in range(3)]
    return out


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("k", range(7))
def test_response_within_half_db_at_band_centres(sample_rate, k):
    gains = curves()[k]
    sel = (BAND_CENTERS_HZ >= 40) & (BAND_CENTERS_HZ <= 16000)
    got = measured_gain_db(GraphicEQ(tuple(gains)), sample_rate, BAND_CENTERS_HZ[sel])
    err = np.abs(got - gains[sel])
    assert err.max() <= 0.5, f"max error {err.max():.3f} dB at {BAND_CENTERS_HZ[sel][err.argmax()]} Hz"


def test_amount_scales_and_negates():
    g = curves()[0]
    f = BAND_CENTERS_HZ[5:30]
    half = measured_gain_db(GraphicEQ(tuple(g), 0.5), 44100, f)
    neg = measured_gain_db(GraphicEQ(tuple(g), -1.0), 44100, f)
    assert np.allclose(half, 0.5 * g[5:30], atol=0.25)
    assert np.allclose(neg, -g[5:30], atol=0.25)


def test_amount_zero_is_bit_exact_bypass():
    x = np.random.default_rng(0).standard_normal((2, 5000)).astype(np.float32)
    y = GraphicEQ(tuple(curves()[0]), 0.0)(x, 44100)
    assert y.dtype == np.float32 and np.array_equal(x, y) and y is not x


def test_bands_above_nyquist_are_dropped():
    g = np.zeros(40)
    g[-3:] = 12.0  # bands at 15.7, 17.6, 19.7 kHz: above Nyquist at 16 kHz
    eq = GraphicEQ(tuple(g))
    taps = eq.taps(16000)
    assert np.all(np.isfinite(taps))
    # flat where the dropped bands would not reach
    assert np.abs(response_at(taps, [100, 1000, 3000], 16000)).max() < 0.1


def test_block_invariance_and_no_mutation():
    x = np.random.default_rng(1).standard_normal((2, 50_000)).astype(np.float64)
    x0 = x.copy()
    eq = GraphicEQ(tuple(curves()[1]))
    whole = run_stream(eq.stream(44100, 2), x, block_frames=10**7)
    for bf in (1, 777, 4096, 65536):
        if bf == 1:
            parts = run_stream(eq.stream(44100, 2), x[:, :3000], block_frames=1)
            assert np.array_equal(parts, run_stream(eq.stream(44100, 2), x[:, :3000], block_frames=10**7))
        else:
            assert np.array_equal(run_stream(eq.stream(44100, 2), x, block_frames=bf), whole)
    assert np.array_equal(x, x0)


def test_value_semantics():
    a = GraphicEQ(tuple(curves()[0]), 0.6)
    b = GraphicEQ.from_dict(json.loads(a.to_json()))
    assert a == b and "GraphicEQ(amount=0.6" in repr(a)
    with pytest.raises(BadParameterError, match="out of range"):
        GraphicEQ(tuple(curves()[0]), 50)
    with pytest.raises(BadParameterError, match="40 band gains"):
        GraphicEQ((1.0, 2.0))
    with pytest.raises(BadParameterError):
        GraphicEQ(tuple([np.nan] * 40))
