import numpy as np
import pyloudnorm
import pytest

from timbrelab.dsp.loudness import LoudnessMeter, integrated_loudness
from timbrelab.dsp.signals import pink_noise


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
def test_matches_pyloudnorm_and_is_block_invariant(sr):
    x = pink_noise(6.0, sr, channels=2, seed=2).astype(np.float64)
    x[:, : sr] *= 0.01  # a quiet second, so the gates matter
    ref = pyloudnorm.Meter(sr).integrated_loudness(x.T)
    assert abs(integrated_loudness(x, sr) - ref) < 0.05
    m = LoudnessMeter(sr, 2)
    for i in range(0, x.shape[1], 1001):
        m.process(x[:, i : i + 1001])
    assert abs(m.integrated_lufs() - ref) < 0.05


def test_silence_is_minus_inf():
    assert integrated_loudness(np.zeros((1, 48000)), 48000) == float("-inf")
