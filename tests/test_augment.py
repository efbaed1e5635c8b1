"""sounds.augment: seeded, recording-like augmentation built on timbrelab's own EQ, reverb and noise."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from importlib import resources

import numpy as np
import pytest
from scipy.signal import welch

from timbrelab.errors import BadParameterError, MissingComponentError
from timbrelab.lexicon.maps import eq_map, played_curve_db
from timbrelab.sounds import augment as aug
from timbrelab.sounds.augment import CODECS, FAMILIES, ORDER, AugmentConfig, augment, draw_parameters

SR = 22050
HAVE_FFMPEG = shutil.which("ffmpeg") is not None
needs_ffmpeg = pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg is not installed (apt install ffmpeg)")


def note(duration_s=3.0, end_s=1.0, f0=220.0, seed=0, channels=1) -> np.ndarray:
    """A harmonic note (partials up to Nyquist, a little breath noise) that stops at ``end_s``."""
    t = np.arange(int(duration_s * SR)) / SR
    x = sum(np.sin(2 * np.pi * f0 * k * t + k) / k for k in range(1, int(SR / 2 / f0)))
    x = x + 0.3 * np.random.default_rng(seed).standard_normal(len(t))
    env = np.minimum(1.0, t / 0.01) * np.exp(-t * 0.7) * (t < end_s)
    x = 0.2 * x * env / np.max(np.abs(x))
    return np.repeat(x[None], channels, axis=0).astype(np.float32)


def noise(duration_s=3.0, seed=0, level=0.1, channels=1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((channels, int(duration_s * SR))) * level).astype(np.float32)


def only(family, **changes) -> AugmentConfig:
    return replace(AugmentConfig(), **changes).only(family, always=True)


def band_db(x, lo_hz, hi_hz, nperseg=2048) -> float:
    f, p = welch(np.asarray(x, np.float64).mean(axis=0), SR, nperseg=nperseg)
    return 10 * np.log10(p[(f >= lo_hz) & (f < hi_hz)].sum() + 1e-30)


def rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(x, np.float64)))))


# ---- the contract -----------------------------------------------------------------------------


def test_deterministic_and_input_untouched():
    x, acc = note(), note(f0=330.0, seed=1)
    x0, acc0 = x.copy(), acc.copy()
    cfg = AugmentConfig().without("codec")
    for seed in range(12):
        y1, r1 = augment(x, SR, cfg, seed, accompaniment=acc)
        y2, r2 = augment(x, SR, cfg, seed, accompaniment=acc)
        assert np.array_equal(y1, y2) and r1 == r2
        assert y1.dtype == np.float32 and y1.shape == x.shape
        assert y1 is not x
    assert np.array_equal(x, x0) and np.array_equal(acc, acc0)
    # different seeds give different results
    assert not np.array_equal(augment(x, SR, cfg, 1, acc)[0], augment(x, SR, cfg, 2, acc)[0])


def test_every_family_at_once_leaves_input_untouched_and_is_json():
    x, acc = note(channels=2), note(f0=330.0, seed=1)
    x0 = x.copy()
    cfg = AugmentConfig(codecs=("mp3",)) if HAVE_FFMPEG else AugmentConfig().without("codec")
    cfg = cfg.only(*cfg.enabled, always=True)
    y, rec = augment(x, SR, cfg, 3, accompaniment=acc)
    assert np.array_equal(x, x0)
    assert rec["applied"] == [f for f in ORDER if f in cfg.enabled]
    assert y.shape == x.shape and np.max(np.abs(y)) <= 1.0
    assert json.loads(json.dumps(rec)) == rec


def test_one_dimensional_input_keeps_its_shape():
    x = note()[0]
    y, rec = augment(x, SR, only("eq"), 0)
    assert y.shape == x.shape and rec["applied"] == ["eq"]


def test_none_does_nothing():
    x = note()
    y, rec = augment(x, SR, AugmentConfig.none(), 5, accompaniment=note(seed=1))
    assert np.array_equal(y, x) and y is not x
    assert rec["applied"] == []
    assert AugmentConfig.none().enabled == ()
    x1 = x[0].copy()
    y1, _ = augment(x1, SR, AugmentConfig.none(), 5)
    y1[:] = 0  # the output never shares memory with the input
    assert np.array_equal(x1, x[0])


def test_turning_one_family_off_leaves_the_others_draws_unchanged():
    full = AugmentConfig()
    for seed in range(40):
        base = draw_parameters(full, seed)
        for fam in FAMILIES:
            ablated = draw_parameters(full.without(fam), seed)
            assert fam not in ablated
            assert ablated == {k: v for k, v in base.items() if k != fam}
    # also through augment: the record of every other family is the same
    x, acc = note(), note(f0=330.0, seed=1)
    cfg = full.without("codec")
    for seed in range(6):
        _, r = augment(x, SR, cfg, seed, accompaniment=acc)
        for fam in r["applied"]:
            _, r2 = augment(x, SR, cfg.without(fam), seed, accompaniment=acc)
            assert fam not in r2["applied"]
            assert [f for f in r["applied"] if f != fam] == r2["applied"]
            for other in r2["applied"]:
                assert r2[other] == r[other], (seed, fam, other)


def test_changing_one_familys_ranges_leaves_the_others_draws_unchanged():
    a = AugmentConfig()
    b = replace(a, noise_snr_db_range=(0.0, 5.0), eq_sources=("audealize",), noise_probability=1.0)
    for seed in range(20):
        da, db = draw_parameters(a, seed), draw_parameters(b, seed)
        assert {k: v for k, v in da.items() if k not in ("noise", "eq")} == {k: v for k, v in db.items() if k not in ("noise", "eq")}


# ---- the families -----------------------------------------------------------------------------


def crowd_curve(source: str, index: int, word: str) -> np.ndarray:
    """The 40 raw gains of a crowd EQ entry, straight from the lexicon's data (not through augment)."""
    if source == "audealize":
        entry = eq_map().entries[index]
        assert entry.word == word
        return np.array(entry.settings)
    rows = list(csv.DictReader(resources.files("timbrelab.lexicon").joinpath("data", "socialfx_eq_contributions.csv")
                               .read_text(encoding="utf-8").splitlines()))
    assert rows[index]["descriptor"].strip().lower() == word
    return np.array([float(v) for k, v in rows[index].items() if k.startswith("RSC_")])


def test_eq_follows_the_drawn_crowd_curve():
    from timbrelab.dsp.eq import BAND_CENTERS_HZ

    x = noise(level=0.05)
    signs = set()
    for seed in range(6):
        y, rec = augment(x, SR, only("eq"), seed)
        p = rec["eq"]
        assert p["source"] in ("audealize", "socialfx") and p["word"]
        assert -1.0 <= p["amount"] <= 1.0
        signs.add(np.sign(p["amount"]))
        want = np.array(p["effective_gains_db"])
        # the record is the crowd's curve as Audealize plays it (±5 dB) × the amount, read independently
        assert np.allclose(want, played_curve_db(crowd_curve(p["source"], p["index"], p["word"])) * p["amount"], atol=0.002)
        f, px = welch(x[0], SR, nperseg=4096)
        _, py = welch(y[0], SR, nperseg=4096)
        keep = (BAND_CENTERS_HZ >= 80) & (BAND_CENTERS_HZ <= 9000)
        idx = [int(np.argmin(np.abs(f - fc))) for fc in BAND_CENTERS_HZ[keep]]
        measured = 10 * np.log10(py[idx] / px[idx])
        assert np.max(np.abs(measured - want[keep])) < 1.0, (seed, p["word"])
        if np.ptp(want[keep]) > 2:
            assert np.corrcoef(measured, want[keep])[0, 1] > 0.95
    assert signs == {-1.0, 1.0}  # inverted curves are drawn too


def test_eq_draws_from_both_crowd_sources():
    seen = {draw_parameters(only("eq"), s)["eq"]["source"] for s in range(30)}
    assert seen == {"audealize", "socialfx"}
    meta, shapes = aug.eq_pool("socialfx")
    assert len(meta) > 1000 and shapes.shape[1] == 40
    assert np.allclose(np.abs(shapes).max(axis=1), 1.0)


def test_reverb_adds_a_decaying_tail_after_the_note():
    x = note(end_s=1.0)
    end = int(1.0 * SR)
    assert np.all(x[:, end:] == 0)
    long_rooms = 0
    for seed in range(6):
        y, rec = augment(x, SR, only("reverb"), seed)
        p = rec["reverb"]
        assert y.shape == x.shape
        assert 0.1 <= p["amount"] <= 1.0 and len(p["settings"]) == 6
        early = rms(y[:, end : end + int(0.02 * SR)])
        assert early > 1e-4 * rms(x[:, :end]), (seed, p)  # energy after the note's end
        if p["rt60_s"] > 0.5:  # a long room: still ringing 0.2 s later, and decaying
            later = rms(y[:, end + int(0.2 * SR) : end + int(0.3 * SR)])
            assert 0 < later < early * 1.5, (seed, p)
            long_rooms += 1
    assert long_rooms > 0


def test_reverb_settings_are_valid_for_both_sources():
    from timbrelab.dsp.reverb import ReverbSettings

    for source in ("audealize", "socialfx"):
        meta, settings = aug.reverb_pool(source)
        assert len(meta) == len(settings) > 300
        for row in settings[:: max(1, len(settings) // 200)]:
            ReverbSettings.from_list(row)  # raises when out of range
        assert 0.0 <= settings[:, 4].min() and settings[:, 4].max() <= 1.0  # E on the map's scale


def test_noise_is_added_at_the_drawn_snr_in_every_colour():
    x = note()
    seen = {}
    for seed in range(30):
        y, rec = augment(x, SR, only("noise"), seed)
        p = rec["noise"]
        measured = 20 * np.log10(rms(x) / rms(y.astype(np.float64) - x))
        assert abs(measured - p["snr_db"]) < 1.0
        assert 10.0 <= p["snr_db"] <= 50.0
        seen.setdefault(p["color"], y.astype(np.float64) - x)
    assert set(seen) == {"white", "pink", "brown"}
    tilt = {c: band_db(n, 100, 400) - band_db(n, 4000, 8000) for c, n in seen.items()}
    # over 4 → 8 kHz vs 0.1 → 0.4 kHz: white ≈ −12 dB (bandwidth ratio), pink ≈ 0, brown ≈ +12 dB
    assert tilt["white"] < tilt["pink"] - 6 < tilt["brown"] - 12


def test_bandlimit_removes_energy_beyond_the_cutoffs():
    x = noise()
    modes = set()
    for seed in range(12):
        y, rec = augment(x, SR, only("bandlimit"), seed)
        p = rec["bandlimit"]
        modes.add(p["mode"])
        if p["lowpass_hz"] is not None:
            lo = p["lowpass_hz"]
            assert 3000 <= lo <= 11000
            if lo < 0.9 * SR / 2 / 1.3:
                assert band_db(y, lo * 1.3, SR / 2) < band_db(x, lo * 1.3, SR / 2) - 15, p
                assert abs(band_db(y, 1000, lo / 1.5) - band_db(x, 1000, lo / 1.5)) < 1.0
        if p["highpass_hz"] is not None:
            hi = p["highpass_hz"]
            assert 40 <= hi <= 400
            assert band_db(y, 0, hi / 2, nperseg=8192) < band_db(x, 0, hi / 2, nperseg=8192) - 10, p
    assert modes == {"lowpass", "highpass", "both"}


def test_accompaniment_is_mixed_at_the_drawn_relative_level():
    x = note(channels=2)
    other = note(duration_s=5.0, f0=330.0, end_s=4.5, seed=2)  # mono, longer than the clip
    for seed in range(8):
        y, rec = augment(x, SR, only("accompaniment"), seed, accompaniment=other)
        p = rec["accompaniment"]
        assert -20.0 <= p["relative_db"] <= -8.0
        added = y.astype(np.float64) - x
        assert 20 * np.log10(rms(added) / rms(x)) == pytest.approx(p["relative_db"], abs=0.05)
        # it is the drawn stretch of the other clip, on both channels
        seg = other[0, p["offset_samples"] : p["offset_samples"] + x.shape[1]].astype(np.float64)
        for ch in range(2):
            assert np.corrcoef(added[ch], seg)[0, 1] > 0.999
    # a short accompaniment is looped; none given → skipped, with the reason
    y, rec = augment(x, SR, only("accompaniment"), 0, accompaniment=other[:, : SR // 2])
    assert rec["applied"] == ["accompaniment"]
    y, rec = augment(x, SR, only("accompaniment"), 0)
    assert rec["applied"] == [] and "accompaniment" in rec["skipped"] and np.array_equal(y, x)


def test_gain_sets_the_peak_and_nothing_ever_clips():
    x = note()
    for seed in range(5):
        y, rec = augment(x, SR, only("gain"), seed)
        assert 20 * np.log10(np.max(np.abs(y))) == pytest.approx(rec["gain"]["peak_db"], abs=0.01)
    hot = np.clip(note() * 6.0, -1, 1).astype(np.float32)  # peaks at full scale
    cfg = replace(AugmentConfig(), gain_probability=0.0, eq_probability=1.0, reverb_probability=1.0,
                  noise_probability=1.0, accompaniment_probability=1.0, noise_snr_db_range=(0.0, 10.0),
                  accompaniment_db_range=(-1.0, 0.0)).without("codec")
    guarded = 0
    for seed in range(10):
        y, rec = augment(hot, SR, cfg, seed, accompaniment=hot[:, ::-1])
        assert np.max(np.abs(y)) <= 1.0
        guarded += "clip_guard_db" in rec
    assert guarded > 0  # the guard did act
    for seed in range(10):
        y, rec = augment(hot, SR, AugmentConfig().without("codec"), seed, accompaniment=hot)
        assert np.max(np.abs(y)) <= 1.0


# ---- codec -----------------------------------------------------------------------------------


def _lag(y, x, max_lag=3000) -> int:
    a, b = np.asarray(y, np.float64).mean(axis=0), np.asarray(x, np.float64).mean(axis=0)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    cc = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    return int(lags[np.argmax(cc[lags])])


@needs_ffmpeg
@pytest.mark.parametrize("codec", sorted(CODECS))
def test_codec_round_trip_is_time_aligned_and_lossy(codec):
    x = note(end_s=2.5)
    cfg = only("codec", codecs=(codec,), codec_bitrates_kbps=(24,))
    y, rec = augment(x, SR, cfg, 0)
    p = rec["codec"]
    assert p["codec"] == codec and p["bitrate_kbps"] >= 24 and "delay_samples" in p
    assert y.shape == x.shape and y.dtype == np.float32
    assert abs(_lag(y, x)) <= 2, (codec, _lag(y, x))
    err_db = 20 * np.log10(rms(y.astype(np.float64) - x) / rms(x))
    assert -45 < err_db < -3, err_db  # changed (lossy) but still the same sound
    y2, _ = augment(x, SR, cfg, 0)
    assert np.array_equal(y, y2)  # deterministic


@needs_ffmpeg
@pytest.mark.parametrize("codec", ["mp3", "aac"])
def test_low_bitrate_codec_reduces_the_bandwidth(codec):
    x = note(end_s=2.5)
    y, rec = augment(x, SR, only("codec", codecs=(codec,), codec_bitrates_kbps=(16,)), 0)
    # the encoder's low-pass: the top band loses (much) more than the body of the sound
    assert band_db(y, 8000, SR / 2) < band_db(x, 8000, SR / 2) - 20
    assert abs(band_db(y, 200, 3000) - band_db(x, 200, 3000)) < 1.5


@needs_ffmpeg
def test_codec_raises_a_refused_bitrate_and_keeps_stereo():
    x = note(channels=2)
    y, rec = augment(x, SR, only("codec", codecs=("vorbis",), codec_bitrates_kbps=(16,)), 0)
    p = rec["codec"]  # libvorbis refuses 16 kbps stereo at 22,050 Hz: the plan raises it
    assert p["asked_bitrate_kbps"] == 16 and p["bitrate_kbps"] > 16
    assert y.shape == x.shape and abs(_lag(y, x)) <= 2


def test_codec_without_ffmpeg_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(aug.shutil, "which", lambda name: None)
    aug.codec_plan.cache_clear()
    try:
        with pytest.raises(MissingComponentError, match="ffmpeg"):
            augment(note(), SR, only("codec"), 0)
    finally:
        aug.codec_plan.cache_clear()


# ---- config ----------------------------------------------------------------------------------


def test_config_json_round_trip_and_variants():
    cfg = AugmentConfig()
    assert AugmentConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    odd = replace(cfg, enabled=("noise", "eq"), noise_colors=("pink",), codec_bitrates_kbps=(8,), eq_amount_range=(-2, 0.5))
    back = AugmentConfig.from_dict(json.loads(json.dumps(odd.to_dict())))
    assert back == odd and back.noise_colors == ("pink",) and back.eq_amount_range == (-2.0, 0.5)
    assert set(cfg.without("reverb").enabled) == set(FAMILIES) - {"reverb"}
    assert cfg.without("reverb").reverb_probability == cfg.reverb_probability
    assert cfg.only("noise", always=True).enabled == ("noise",)
    assert cfg.only("noise", always=True).noise_probability == 1.0


@pytest.mark.parametrize("changes", [
    {"noise_snr_db_range": [50, 10]},
    {"eq_probability": 1.5},
    {"eq_probability": True},
    {"enabled": ["eq", "chorus"]},
    {"enabled": "eq, reverb"},
    {"codecs": ["wma"]},
    {"codec_bitrates_kbps": [0]},
    {"highpass_hz_range": [40, 5000]},
    {"eq_amount_range": [-3, 1]},
    {"reverb_amount_range": [-0.5, 1]},
    {"gain_peak_db_range": [-10, 3]},
    {"lowpass_hz_range": [3000]},
    {"noise_snr_db_range": [10, float("nan")]},
    {"noise_colors": []},
    {"eq_sources": ["freesound"]},
    {"amount": 1.0},  # unknown key
])
def test_bad_config_is_refused(changes):
    d = AugmentConfig().to_dict()
    d.update(changes)
    with pytest.raises(BadParameterError):
        AugmentConfig.from_dict(d)


@pytest.mark.parametrize("seed", [-1, True, 1.5, "7"])
def test_bad_seed_is_refused(seed):
    with pytest.raises(BadParameterError):
        augment(note(), SR, AugmentConfig(), seed)


def test_without_unknown_family_is_refused():
    with pytest.raises(BadParameterError):
        AugmentConfig().without("chorus")
