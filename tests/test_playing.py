"""Expressive playing (issue 10): seeded styles over each instrument's full range, checked on the notes
and on the rendered audio (vibrato moves the pitch, a swell rises then falls, chords sound several pitches)."""

import json

import numpy as np
import pytest

from timbrelab.errors import BadParameterError
from timbrelab.sounds import catalogue
from timbrelab.sounds.playing import STYLES, make_drum_pattern, make_performance, styles_for
from timbrelab.sounds.render import Performance, open_renderer
from timbrelab.sounds.taxonomy import INSTRUMENTS, instrument

SR = 22050


def need(name):
    if name not in catalogue.available():
        pytest.skip(f"{name} is not installed (Debian package {catalogue.SOURCES[name].debian_package})")


def test_every_style_is_seeded_in_range_and_json_able():
    for inst in INSTRUMENTS:
        for style in styles_for(inst):
            for seed in range(4):
                p = make_performance(inst, style, seed, 3.0)
                assert p == make_performance(inst.name, style, seed, 3.0)
                assert p.notes and all(inst.low <= n.pitch <= inst.high for n in p.notes)
                assert all(1 <= n.velocity <= 127 and n.start_s >= 0 and n.end_s <= 3.0 + 1e-6 for n in p.notes)
                assert Performance.from_dict(json.loads(json.dumps(p.to_dict()))) == p
            assert make_performance(inst, style, 0, 3.0) != make_performance(inst, style, 1, 3.0)


def test_the_whole_range_is_used():
    inst = instrument("piano")
    pitches = {make_performance(inst, "note", s, 2.0).notes[0].pitch for s in range(300)}
    assert min(pitches) <= inst.low + 3 and max(pitches) >= inst.high - 3
    velocities = {make_performance(inst, "note", s, 2.0).notes[0].velocity for s in range(300)}
    assert min(velocities) < 40 and max(velocities) > 120


def test_styles_for_families():
    assert set(styles_for("violin")) == {"note", "swell", "vibrato", "staccato", "legato", "phrase"}
    assert {"chords", "arpeggio"} <= set(styles_for("piano")) and {"chords", "arpeggio"} <= set(styles_for("harp"))
    assert {"chords", "arpeggio"} <= set(styles_for("marimba")) and {"chords", "arpeggio"} <= set(styles_for("acoustic guitar"))
    for mono in ("flute", "trumpet", "voice", "cello"):
        assert not {"chords", "arpeggio"} & set(styles_for(mono))
    assert "swell" not in styles_for("piano") and set(styles_for("organ")) >= {"swell", "chords"}
    with pytest.raises(BadParameterError, match="does not play"):
        make_performance("trumpet", "chords", 0)
    with pytest.raises(BadParameterError, match="unknown playing style"):
        make_performance("trumpet", "glissando", 0)
    assert set(STYLES) == {s for i in INSTRUMENTS for s in styles_for(i)}


def test_chords_are_simultaneous_and_arpeggios_are_not():
    for seed in range(5):
        notes = make_performance("piano", "chords", seed, 3.0).notes
        starts = {}
        for n in notes:
            starts.setdefault(n.start_s, set()).add(n.pitch)
        assert max(len(v) for v in starts.values()) >= 3
        arp = make_performance("piano", "arpeggio", seed, 3.0).notes
        assert len({n.start_s for n in arp}) == len(arp)


def test_drum_pattern():
    a, b = make_drum_pattern(3, 3.0), make_drum_pattern(3, 3.0)
    assert a == b and a != make_drum_pattern(4, 3.0)
    pitches = {n.pitch for n in a.notes}
    assert {36, 38} <= pitches and pitches & {42, 46, 51}
    assert all(n.end_s <= 3.0 + 1e-6 for n in a.notes)


def f0_track(x, sr, f_expected, frame=2048, hop=512):
    """Frame-wise f0 by autocorrelation, searched around the expected f0 (±30 %), parabolic interpolation."""
    y = x.mean(axis=0)
    lo, hi = int(sr / (f_expected * 1.3)), int(sr / (f_expected / 1.3)) + 1
    out = []
    for start in range(0, len(y) - frame, hop):
        w = y[start : start + frame] * np.hanning(frame)
        if np.sqrt(np.mean(w**2)) < 1e-3:
            out.append(np.nan)
            continue
        spec = np.fft.rfft(w, 2 * frame)
        ac = np.fft.irfft(np.abs(spec) ** 2)[: frame]
        k = lo + int(np.argmax(ac[lo:hi]))
        a, b, c = ac[k - 1], ac[k], ac[k + 1]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        out.append(sr / (k + shift))
    return np.array(out)


@pytest.mark.parametrize("name", ["FluidR3_GM", "freepats"])
def test_vibrato_modulates_the_pitch(name):
    need(name)
    inst = instrument("clarinet")
    perf = next(p for p in (make_performance(inst, "vibrato", s, 3.0) for s in range(50)) if 60 <= p.notes[0].pitch <= 76)
    depth = max(abs(c.value) for c in perf.controls)
    straight = Performance(perf.notes)
    f = 440 * 2 ** ((perf.notes[0].pitch - 69) / 12)
    with open_renderer(name, SR) as r:
        wobbly = f0_track(r.render(71, perf, 0.0), SR, f)
        plain = f0_track(r.render(71, straight, 0.0), SR, f)
    onset = next(c.time_s for c in perf.controls if c.value != 0)
    first = int((onset + 0.5) * SR / 512)
    last = int((perf.notes[0].end_s - 0.1) * SR / 512)
    cents = lambda t: 1200 * np.log2(t[first:last][np.isfinite(t[first:last])] / f)  # noqa: E731
    spread_wobbly, spread_plain = np.std(cents(wobbly)), np.std(cents(plain))
    assert spread_plain < 5, spread_plain
    assert spread_wobbly > max(3 * spread_plain, 0.25 * depth * 100 / np.sqrt(2)), (spread_wobbly, spread_plain, depth)


@pytest.mark.parametrize("name", ["FluidR3_GM", "freepats"])
def test_swell_rises_then_falls(name):
    need(name)
    perf = make_performance("flute", "swell", 5, 3.0)
    note = perf.notes[0]
    peak_t = max(perf.controls, key=lambda c: c.value).time_s
    with open_renderer(name, SR) as r:
        x = r.render(73, perf, 0.0).mean(axis=0)
    rms = lambda t: float(np.sqrt(np.mean(x[int((t - 0.1) * SR) : int((t + 0.1) * SR)] ** 2)))  # noqa: E731
    early, mid, late = rms(note.start_s + 0.2), rms(peak_t), rms(note.end_s - 0.15)
    assert mid > 2 * early and mid > 2 * late, (early, mid, late)


def test_chords_sound_several_pitches():
    need("FluidR3_GM")
    perf = make_performance("organ", "chords", 2, 3.0)
    first = [n for n in perf.notes if n.start_s == perf.notes[0].start_s]
    seg_end = min(n.end_s for n in first)
    with open_renderer("FluidR3_GM", SR) as r:
        x = r.render(19, perf, 0.0).mean(axis=0)
    y = x[int((first[0].start_s + 0.05) * SR) : int(seg_end * SR)]
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    floor = np.median(spec)
    heard = 0
    for n in first:
        f = 440 * 2 ** ((n.pitch - 69) / 12)
        band = (freqs > f * 0.985) & (freqs < f * 1.015)
        heard += spec[band].max() > 30 * floor
    assert len(first) >= 3 and heard >= 3, (len(first), heard)


@pytest.mark.parametrize("name", ["FluidR3_GM", "freepats"])
def test_drums_render(name):
    need(name)
    with open_renderer(name, SR) as r:
        x = r.render("drums", make_drum_pattern(1, 2.0), 0.2)
    assert np.abs(x).max() > 0.05
