"""Sound sources (issue 10): sf_GMbank and freepats besides the older soundfonts; one renderer interface,
the MIDI writer for TiMidity++, coverage, determinism, controls that never leak into the next render."""

import numpy as np
import pytest

from timbrelab.errors import BadParameterError, MissingComponentError
from timbrelab.sounds import catalogue, midi
from timbrelab.sounds.render import ControlEvent, NoteEvent, Performance, Renderer, open_renderer

SR = 22050


def need(name):
    """Skip (with the Debian package to install) when a source cannot be rendered on this machine."""
    if name not in catalogue.available():
        src = catalogue.SOURCES[name]
        pytest.skip(f"{name} is not installed (Debian package {src.debian_package}{' and timidity' if src.kind == 'timidity' else ''})")


def log_spectrum(x):
    mag = np.abs(np.fft.rfft(x.mean(axis=0) * np.hanning(x.shape[1])))
    bands = np.array_split(mag[: len(mag) // 2], 64)  # up to SR / 4
    e = np.array([b.mean() for b in bands]) + 1e-9
    return 20 * np.log10(e / e.max())


def test_split_and_catalogue():
    assert catalogue.SPLITS == {"train": ("FluidR3_GM", "TimGM6mb", "sf_GMbank", "freepats"), "test": ("MuseScore_General",)}
    assert catalogue.SOURCES["freepats"].kind == "timidity" and catalogue.SOURCES["sf_GMbank"].kind == "fluidsynth"
    assert catalogue.SOUNDFONTS is catalogue.SOURCES and catalogue.soundfont_path is catalogue.source_path
    assert catalogue.split_of("sf_GMbank") == "train" and catalogue.split_of("MuseScore_General") == "test"
    with pytest.raises(BadParameterError):
        catalogue.split_of("NoSuchSource")


def test_test_soundfont_and_its_small_twin_are_never_trainable():
    for name in ("MuseScore_General", "musescore-general-soundfont-small", "/usr/share/sounds/sf3/MuseScore_General.sf3"):
        with pytest.raises(BadParameterError, match="train"):
            catalogue.check_trainable(name)
    for name in catalogue.SPLITS["train"] + ("fluidr3mono-gm-soundfont",):
        catalogue.check_trainable(name)  # no error
    assert {r.debian_package for r in catalogue.RELATED} == {"fluidr3mono-gm-soundfont", "musescore-general-soundfont-small"}


def test_freepats_coverage_comes_from_its_config():
    need("freepats")
    for program in (11, 12, 41, 43, 52, 105):
        assert not catalogue.has_program("freepats", program)
    for program in (0, 24, 40, 56, 73):
        assert catalogue.has_program("freepats", program)
    assert catalogue.has_program("freepats", "drums")
    cov = catalogue.coverage()
    assert "freepats" not in cov["marimba"] and "freepats" in cov["piano"]
    assert cov["voice"]["freepats"] == (53,)  # oohs, no choir aahs
    assert set(catalogue.single_source_classes(["FluidR3_GM", "freepats"])) == {"vibraphone", "marimba", "banjo", "viola", "contrabass"}
    with pytest.raises(BadParameterError):
        catalogue.has_program("freepats", 128)


@pytest.mark.parametrize("name", ["FluidR3_GM", "TimGM6mb", "sf_GMbank"])
def test_sf2_files_have_every_gm_program_and_a_drum_kit(name):
    need(name)
    assert catalogue.programs_of(name) == frozenset(range(128))
    assert catalogue.has_program(name, None)


@pytest.mark.parametrize("name", ["sf_GMbank", "freepats"])
def test_new_sources_render_audible_notes(name):
    need(name)
    with open_renderer(name, SR) as r:
        for program, pitch in ((0, 60), (40, 67), (56, 65), (73, 72)):
            x = r.render_note(program, pitch, 100, 0.5, 0.2)
            assert x.dtype == np.float32 and x.shape == (2, int(round(0.7 * SR / 64)) * 64)
            assert 0.01 < np.abs(x).max() < 1.0, (program, float(np.abs(x).max()))
        kit = r.render("drums", Performance((NoteEvent(36, 110, 0.0, 0.1), NoteEvent(38, 110, 0.3, 0.1))), 0.3)
        assert np.abs(kit).max() > 0.01


def test_freepats_missing_program_is_silent_not_a_fluidr3_stand_in():
    need("freepats")
    with open_renderer("freepats", SR) as r:
        x = r.render_note(12, 60, 110, 0.5, 0.2)  # freepats has no marimba; TiMidity's system config would play FluidR3's
    assert x.shape[1] > 0 and not x.any()


@pytest.mark.parametrize("name", ["sf_GMbank", "freepats"])
def test_new_sources_sound_different_from_fluidr3(name):
    need(name)
    need("FluidR3_GM")
    with Renderer("FluidR3_GM", SR) as a, open_renderer(name, SR) as b:
        for program, pitch in ((0, 60), (40, 69), (73, 72)):
            ref = log_spectrum(a.render_note(program, pitch, 100, 0.8, 0.2))
            again = log_spectrum(a.render_note(program, pitch, 100, 0.8, 0.2))
            other = log_spectrum(b.render_note(program, pitch, 100, 0.8, 0.2))
            assert np.abs(ref - again).mean() < 1e-6
            assert np.abs(ref - other).mean() > 3.0, (program, float(np.abs(ref - other).mean()))  # dB, averaged over 64 bands


def busy_performance():
    notes = (NoteEvent(60, 90, 0.0, 0.8), NoteEvent(64, 70, 0.4, 0.8), NoteEvent(67, 110, 0.9, 0.5))
    controls = (ControlEvent(0.1, "expression", 60), ControlEvent(0.5, "expression", 120), ControlEvent(0.3, "modulation", 40),
                ControlEvent(0.6, "pitch_bend", 0.5), ControlEvent(1.0, "pitch_bend", -1.0), ControlEvent(1.1, "volume", 80))
    return Performance(notes, controls)


@pytest.mark.parametrize("name", ["TimGM6mb", "sf_GMbank", "freepats"])
def test_render_is_deterministic_and_controls_never_leak(name):
    need(name)
    plain = Performance((NoteEvent(62, 100, 0.0, 0.5),))
    runs = []
    for _ in range(2):  # the same sequence of requests on a fresh renderer: bit-identical
        with open_renderer(name, SR) as r:
            runs.append([r.render(40, plain, 0.3), r.render(40, busy_performance(), 0.3), r.render(40, plain, 0.3)])
    for a, b in zip(*runs):
        assert np.array_equal(a, b)
    clean, busy, after = runs[0]
    assert np.abs(busy).max() > 0.01 and busy.shape[1] > clean.shape[1]
    # after a bend down, an expression dip and modulation, the next render sounds like a fresh one: exact for
    # TiMidity (one process per render); FluidSynth's voice slots may differ by < -40 dB after overlapping notes
    tol = 0.0 if catalogue.SOURCES[name].kind == "timidity" else 0.01 * float(np.abs(clean).max())
    assert np.abs(after - clean).max() <= tol
    with open_renderer(name, SR) as r:  # and a leaked bend would be far outside that tolerance
        leaked = r.render(40, Performance(plain.notes, (ControlEvent(0.0, "pitch_bend", -1.0),)), 0.3)
    assert np.abs(leaked - clean).max() > 10 * max(tol, 1e-4)


@pytest.mark.parametrize("name", ["FluidR3_GM", "freepats"])
def test_pitch_bend_moves_the_pitch(name):
    need(name)
    with open_renderer(name, SR) as r:
        flat = r.render(73, Performance((NoteEvent(69, 100, 0.0, 1.0),)), 0.0)
        bent = r.render(73, Performance((NoteEvent(69, 100, 0.0, 1.0),), (ControlEvent(0.0, "pitch_bend", 1.0),)), 0.0)
    f = np.fft.rfftfreq(8192, 1 / SR)
    peak = lambda x: f[np.argmax(np.abs(np.fft.rfft(x.mean(0)[4000:12192] * np.hanning(8192))))]  # noqa: E731
    assert abs(peak(flat) - 440) < 6
    assert abs(peak(bent) - 440 * 2 ** (1 / 12)) < 6  # +1 semitone: A4 -> A#4


def test_bad_requests():
    with pytest.raises(MissingComponentError, match="unknown sound source"):
        open_renderer("NoSuchSource", SR)
    with pytest.raises(BadParameterError):
        Performance((NoteEvent(60, 100, 0, 1),), (ControlEvent(0, "pitch_bend", 3.0),)).check()
    with pytest.raises(BadParameterError):
        Performance((NoteEvent(60, 100, 0, 1),), (ControlEvent(0, "sustain", 127),)).check()
    with pytest.raises(BadParameterError):
        Performance(()).check()


def test_performance_is_json_able():
    import json

    p = busy_performance()
    assert Performance.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def test_midi_writer():
    assert [midi.vlq(n) for n in (0, 0x7F, 0x80, 0x2000, 0x3FFF, 0x4000)] == [b"\x00", b"\x7f", b"\x81\x00", b"\xc0\x00", b"\xff\x7f", b"\x81\x80\x00"]
    assert midi.pitch_bend(0, 0) == b"\xe0\x00\x40" and midi.pitch_bend(1, 8191) == b"\xe1\x7f\x7f" and midi.pitch_bend(0, -8192) == b"\xe0\x00\x00"
    data = midi.midi_file([(0.5, midi.note_off(0, 60)), (0.0, midi.note_on(0, 60, 100))], end_s=1.0)
    assert data[:14] == b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0"  # format 0, one track, 480 ticks per quarter
    track = data[22:]
    assert track.startswith(b"\x00\xff\x51\x03\x07\xa1\x20")  # 120 BPM
    assert b"\x00\x90\x3c\x64" in track and b"\x83\x60\x80\x3c\x00" in track  # note on at 0, off 480 ticks later
    assert track.endswith(b"\x83\x60\xff\x2f\x00")  # end of track at 960 ticks = 1 s
    with pytest.raises(BadParameterError):
        midi.note_on(16, 60, 100)


@pytest.mark.parametrize("name", ["MuseScore_General", "sf_GMbank"])
def test_samples_loaded_on_demand_sound_the_same_as_preloaded(name):
    """Renderers load only the selected presets' samples (fast to open, an sf3 especially); bulk builds
    preload every sample. The audio must not depend on which, bit for bit, across program changes."""
    need(name)
    perf = busy_performance()
    outs = []
    for preload in (False, True):
        with Renderer(name, SR, preload=preload) as r:
            outs.append([r.render(p, perf, 0.3) for p in (0, 40, 73, 0)])
    for a, b in zip(*outs):
        assert np.abs(a).max() > 0.01 and np.array_equal(a, b)
