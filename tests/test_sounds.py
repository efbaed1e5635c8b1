"""The soundfont renderer: catalogue, taxonomy, determinism, cached data sets, the split, real recordings."""

import hashlib
import json

import numpy as np
import pytest

from timbrelab.errors import BadParameterError, MissingComponentError
from timbrelab.sounds import catalogue
from timbrelab.sounds.taxonomy import INSTRUMENTS, IRMAS, instrument

from conftest import needs_synth
from timbrelab.sounds.render import Renderer


def test_taxonomy_covers_irmas_and_is_consistent():
    names = [i.name for i in INSTRUMENTS]
    assert len(names) >= 20 and len(set(names)) == len(names)
    assert set(IRMAS) <= set(names)
    programs = [p for i in INSTRUMENTS for p in i.programs]
    assert len(programs) == len(set(programs)) and all(0 <= p <= 127 for p in programs)
    assert all(0 <= i.low < i.high <= 127 for i in INSTRUMENTS)
    assert instrument("Sax").name == "saxophone" and instrument("fiddle").name == "violin"
    with pytest.raises(BadParameterError):
        instrument("kazoo")


def test_split_is_by_soundfont_and_disjoint():
    train, test = set(catalogue.SPLITS["train"]), set(catalogue.SPLITS["test"])
    assert not train & test and train | test == set(catalogue.SOUNDFONTS)


@needs_synth
def test_all_three_soundfonts_are_installed():
    assert catalogue.available() == list(catalogue.SOUNDFONTS)


@needs_synth
@pytest.mark.parametrize("sf", ["FluidR3_GM", "TimGM6mb"])
def test_note_rendering_is_deterministic_and_audible(sf):
    with Renderer(sf, 22050) as r:
        a = r.render_note(40, 69, 100, 0.5, 0.2)
        r.render_note(0, 40, 60, 0.3, 0.1)  # something else in between
        b = r.render_note(40, 69, 100, 0.5, 0.2)
    assert a.dtype == np.float32 and a.shape[0] == 2 and a.shape[1] % 64 == 0
    assert np.array_equal(a, b)
    assert 0.02 < np.abs(a).max() < 1.0  # not quiet, not clipped
    assert np.abs(a[:, -64:]).max() < np.abs(a).max()  # the release decays


@needs_synth
def test_bad_render_requests():
    with Renderer("TimGM6mb", 22050) as r:
        with pytest.raises(BadParameterError):
            r.render_note(200, 60)
        with pytest.raises(BadParameterError):
            r.render_events(0, [])
    with pytest.raises(BadParameterError):
        Renderer("TimGM6mb", 1000)
    with pytest.raises(MissingComponentError):
        Renderer("NoSuchFont", 22050)


def test_phrases_are_musical_and_seeded():
    from timbrelab.sounds.phrases import MAJOR, MINOR, make_phrase

    inst = instrument("clarinet")
    a, b, c = make_phrase(inst, 7), make_phrase(inst, 7), make_phrase(inst, 8)
    assert a == b and a != c
    pitches = [n.pitch for n in a]
    assert all(inst.low <= p <= inst.high for p in pitches) and len(a) >= 4
    assert max(pitches) - min(pitches) <= 24
    assert all(n.start_s + n.duration_s <= 4.0 + 1e-6 for n in a)
    pcs = {p % 12 for p in pitches}
    assert any(all((p - root) % 12 in mode for p in pcs) for root in range(12) for mode in (MAJOR, MINOR))  # one key


@needs_synth
def test_dataset_build_is_cached_and_identical_on_rebuild(tmp_path):
    from timbrelab.sounds.datasets import NoteSetSpec, build, spec_key

    spec = NoteSetSpec(soundfonts=("TimGM6mb",), instruments=("violin", "flute"), pitch_step=12, velocities=(90,), duration_s=0.4, release_s=0.2)
    d1 = build(spec, progress=False, root=tmp_path / "a")
    d2 = build(spec, progress=False, root=tmp_path / "b")
    assert (d1.folder / "audio.npy").read_bytes() == (d2.folder / "audio.npy").read_bytes()
    m = json.loads((d1.folder / "manifest.json").read_text())
    assert {r["instrument"] for r in m["items"]} == {"violin", "flute"}
    assert all({"soundfont", "program", "pitch", "velocity"} <= set(r) for r in m["items"])
    assert m["files"]["audio.npy"] == hashlib.sha256((d1.folder / "audio.npy").read_bytes()).hexdigest()
    assert m["key"] == spec_key(spec) and d1.folder.name == f"{spec.name}-{spec_key(spec)[:12]}"
    assert len(d1) == len(spec.items()) - len(m["dropped_silent"]) and d1.clip(0).shape == (1, spec.samples)
    mtime = (d1.folder / "audio.npy").stat().st_mtime_ns
    assert build(spec, progress=False, root=tmp_path / "a").folder == d1.folder  # cached, not rebuilt
    assert (d1.folder / "audio.npy").stat().st_mtime_ns == mtime


@needs_synth
def test_mixtures_are_the_sum_of_their_labelled_sources(tmp_path):
    from timbrelab.sounds.datasets import MixSetSpec, build

    spec = MixSetSpec(soundfonts=("TimGM6mb",), n_mixes=3, duration_s=1.0, instruments=("violin", "flute", "piano", "trumpet"))
    d = build(spec, progress=False, root=tmp_path)
    for i, labels in enumerate(d.labels()):
        assert 2 <= len(labels) <= 3 and len(set(labels)) == len(labels)
        mix = np.asarray(d.audio[i], np.float32)
        srcs = np.asarray(d.sources[i], np.float32)
        assert np.allclose(srcs.sum(axis=0), mix, atol=2e-3)
        assert all(np.abs(srcs[k]).max() > 1e-3 for k in range(len(labels)))


def test_dataset_specs_refuse_nonsense():
    from timbrelab.sounds.datasets import MixSetSpec, NoteSetSpec

    with pytest.raises(BadParameterError):
        NoteSetSpec(soundfonts=("Nope",)).items()
    with pytest.raises(BadParameterError):
        NoteSetSpec(instruments=("kazoo",)).items()
    with pytest.raises(BadParameterError):
        MixSetSpec(min_sources=3, max_sources=2).items()


def test_real_recording_labels():
    from timbrelab.sounds.recordings import recordings

    listed = recordings(only_present=False)
    assert len(listed) >= 20 and all(r.instrument in {i.name for i in INSTRUMENTS} for r in listed)
    present = recordings()
    if not present:
        pytest.skip("lmms-common / sonic-pi-samples are not installed")
    from timbrelab.audio import read_audio

    x, sr = read_audio(present[0].path)
    assert x.shape[1] > sr // 2


@needs_synth
def test_cli_render(cli, tmp_path):
    code, out, err = cli("render", "violin", "-o", tmp_path / "v.wav", "--soundfont", "TimGM6mb", "--pitch", "69")
    assert code == 0 and (tmp_path / "v.wav").exists(), err
    code, out, err = cli("render", "kazoo", "-o", tmp_path / "k.wav")
    assert code != 0 and err.count("\n") == 1 and not (tmp_path / "k.wav").exists()


@needs_synth
def test_cli_render_styles_and_sources(cli, tmp_path):
    from timbrelab.audio import read_audio

    code, out, err = cli("render", "cello", "--style", "vibrato", "--soundfont", "freepats", "-o", tmp_path / "c.wav", "--sample-rate", "22050")
    assert code == 0, err
    audio, sr = read_audio(tmp_path / "c.wav")
    assert sr == 22050 and abs(audio.shape[1] / sr - 3.0) < 0.6 and np.abs(audio).max() > 1e-3
    code, out, err = cli("render", "marimba", "--soundfont", "freepats", "-o", tmp_path / "m.wav")
    assert code != 0 and "freepats has no marimba" in err and not (tmp_path / "m.wav").exists()
    code, out, err = cli("render", "violin", "--style", "chords", "-o", tmp_path / "v.wav")
    assert code != 0 and "does not play 'chords'" in err
    code, out, err = cli("render", "--list")
    assert "freepats (train)" in out and "MuseScore_General (test)" in out and "arpeggio" in out
