"""``timbrelab.sounds.corpus``: the multi-source, many-style training corpus with a "no instrument"
class, built in resumable shards; and its augmented copies."""

import json

import numpy as np
import pytest

from conftest import needs_synth
from timbrelab.errors import BadParameterError
from timbrelab.sounds import corpus as C
from timbrelab.sounds.catalogue import has_program

SMALL = dict(instruments=("marimba", "violin"), clips_per_class=4, no_instrument_clips=4, duration_s=1.0, sample_rate=16000)


def test_rows_respect_sources_styles_and_programs():
    rows = C.CorpusSpec("t", ("FluidR3_GM", "freepats"), **SMALL).items()
    by = {}
    for r in rows:
        by.setdefault((r["source"], r["instrument"]), []).append(r)
    assert ("freepats", "marimba") not in by  # freepats has no marimba: never stood in by another sound
    assert not has_program("freepats", 12)
    assert len(by[("FluidR3_GM", "violin")]) == 4 and len(by[("freepats", "violin")]) == 4
    assert len({r["style"] for r in by[("FluidR3_GM", "violin")]}) > 1  # styles cycle
    none = by[("FluidR3_GM", C.NO_INSTRUMENT)]
    assert [r["style"] for r in none] == list(C.NO_INSTRUMENT_KINDS)
    assert len({r["seed"] for r in rows}) == len(rows)


def test_training_corpus_refuses_the_test_soundfont_and_test_corpus_only_takes_it():
    with pytest.raises(BadParameterError):
        C.CorpusSpec("t", ("MuseScore_General",), **SMALL).items()
    with pytest.raises(BadParameterError):
        C.CorpusSpec("t", ("FluidR3_GM",), purpose="test", **SMALL).items()
    assert {r["source"] for r in C.CorpusSpec("t", None, purpose="test", **SMALL).items()} == {"MuseScore_General"}
    with pytest.raises(BadParameterError):
        C.CorpusSpec("t", ("nosuch",), **SMALL).items()
    with pytest.raises(BadParameterError):
        C.CorpusSpec("t", purpose="both")


@pytest.mark.slow
@needs_synth
def test_build_is_sharded_identical_on_rebuild_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "SHARD_ITEMS", 5)
    spec = C.CorpusSpec("t", ("TimGM6mb", "freepats"), **SMALL)
    n = len(spec.items())
    calls = []
    real = C._CorpusRenderer.__call__

    def counting(self, index, row):
        calls.append(index)
        if interrupt["at"] is not None and index == interrupt["at"]:
            raise KeyboardInterrupt
        return real(self, index, row)

    interrupt = {"at": 7}
    monkeypatch.setattr(C._CorpusRenderer, "__call__", counting)
    with pytest.raises(KeyboardInterrupt):
        C.build(spec, progress=False, root=tmp_path, workers=1)  # in this process: the counting renderer sees every clip
    assert calls == list(range(8))
    calls.clear()
    interrupt["at"] = None
    ds = C.build(spec, progress=False, root=tmp_path, workers=1)
    assert calls == list(range(5, n))  # the first shard was kept
    assert len(ds) == n and ds.audio.counts == [5] * (n // 5) + ([n % 5] if n % 5 else [])
    assert ds.clip(0).shape == (1, 16000) and ds.clip(0).dtype == np.float32
    levels = [float(np.abs(ds.clip(i)).max()) for i in range(n)]
    for r, peak in zip(ds.rows, levels):
        if r["instrument"] != C.NO_INSTRUMENT or r["style"] in ("drums", "effect"):
            assert peak > 1e-3, r  # every rendered clip sounds
    other = C.build(spec, progress=False, root=tmp_path / "again", workers=1)
    assert all(np.array_equal(ds.clip(i), other.clip(i)) for i in range(n))
    assert json.loads((ds.folder / "manifest.json").read_text())["items"] == n


@pytest.mark.slow
@needs_synth
def test_worker_processes_build_the_same_files_and_resume_a_serial_build(tmp_path, monkeypatch):
    """Shards built side by side on 2 worker processes equal the serial build, file for file, for a
    corpus and its augmented copies; a build interrupted in one process resumes on workers."""
    from timbrelab.sounds.augment import AugmentConfig

    monkeypatch.setattr(C, "SHARD_ITEMS", 6)
    base = C.CorpusSpec("t", ("TimGM6mb", "freepats"), **SMALL)
    aug = C.AugmentedSpec("a", C.spec_as_dict(base), AugmentConfig().to_dict(), copies=1, seed=5)
    serial = C.build(aug, progress=False, root=tmp_path / "serial", workers=1)
    real = C._CorpusRenderer.__call__

    def stop_at_9(self, index, row):
        if index == 9:
            raise KeyboardInterrupt
        return real(self, index, row)

    monkeypatch.setattr(C._CorpusRenderer, "__call__", stop_at_9)
    with pytest.raises(KeyboardInterrupt):
        C.build(base, progress=False, root=tmp_path / "parallel", workers=1)
    monkeypatch.setattr(C._CorpusRenderer, "__call__", real)
    parallel = C.build(aug, progress=False, root=tmp_path / "parallel", workers=2)  # the corpus resumes, then the copies
    for a, b in ((serial, parallel), (C.build(base, progress=False, root=tmp_path / "serial", workers=1),
                                      C.build(base, progress=False, root=tmp_path / "parallel", workers=2))):
        assert a.manifest["files"] == b.manifest["files"]  # every shard's hash
        assert a.manifest["shard_counts"] == b.manifest["shard_counts"] and len(a.manifest["shard_counts"]) > 2


@pytest.mark.slow
@needs_synth
def test_augmented_copies_say_what_was_applied(tmp_path):
    from timbrelab.sounds.augment import AugmentConfig

    base = C.CorpusSpec("t", ("TimGM6mb",), **{**SMALL, "no_instrument_clips": 2})
    from timbrelab.sounds.datasets import spec_from_dict

    aug = C.AugmentedSpec("a", C.spec_as_dict(base), AugmentConfig().to_dict(), copies=2, seed=3)
    assert spec_from_dict(C.spec_as_dict(aug)) == aug
    ds = C.build(aug, progress=False, root=tmp_path)
    dry = C.build(base, progress=False, root=tmp_path)
    assert len(ds) == 2 * len(dry)
    assert [r["instrument"] for r in ds.rows] == [r["instrument"] for r in dry.rows for _ in range(2)]
    assert all("augment" in r for r in ds.rows)
    assert not np.array_equal(ds.clip(0), ds.clip(1))  # two different copies
    assert np.abs(ds.clip(0)).max() <= 1.0


def test_every_real_test_recording_decodes():
    from timbrelab.audio import read_audio
    from timbrelab.sounds.recordings import REAL_SETS, real_set

    for name in REAL_SETS:
        recs = real_set(name)
        assert recs, name
        for r in recs:
            audio, sr = read_audio(r.path)
            assert audio.shape[1] > 0.05 * sr and sr >= 8000, r.path
