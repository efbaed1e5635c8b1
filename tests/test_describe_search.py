"""`timbrelab describe`, `embed` and `search` through the CLI entry (in-process), on a toy embedder with a
known answer (tests/describe_toys.py: audio → four band levels, "bright" → the high bands, words it does
not know → orthogonal to every sound).

What is checked: the words and the instrument describe gives and its JSON; embed's numbers are the
embedder's; search's ranking, and its index (a folder: meta.sqlite and vectors.usearch; more in
tests/test_index_search.py) — reused when nothing changed (no file embedded, counted on
the embedder itself), one file re-embedded when it changes, dropped when deleted, a corrupt file named
and skipped (and not decoded again while unchanged), exit codes; the centring on ``audio_center``; the
one-line error when the embedder is missing; and that the searched folder is never modified.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

import describe_toys
from describe_toys import BandEmbedder

TOY = "describe_toys:band_embedder"
BRIGHT_WORDS = {"bright", "tinny", "crisp", "shrill", "thin"}
DARK_WORDS = {"dark", "boomy", "bassy", "warm", "deep"}


pytestmark = pytest.mark.usefixtures("timbrelab_cache")  # timbrelab's cache in each test's own folder (conftest.timbrelab_cache)


@pytest.fixture
def sounds(tmp_path):
    return describe_toys.write_sounds(tmp_path / "sounds")


def snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder``: relative path → (size, mtime_ns, sha256) (None for folders)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.stat()
        out[p.relative_to(folder).as_posix()] = None if p.is_dir() else (st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def one_line_error(code, out, err, *needles):
    assert code != 0 and out == "", (code, out, err)
    assert err.count("\n") == 1 and err.startswith("timbrelab: error:") and "Traceback" not in err, err
    for n in needles:
        assert n in err, err


# ------------------------------------------------------------------------------------- describe


def test_describe_names_the_instrument_and_the_words_of_each_sound(cli, sounds, tmp_path):
    broken = tmp_path / "sounds" / "broken.wav"
    broken.write_bytes(b"RIFF-not-really-a-wave-file" * 10)
    code, out, err = cli("describe", sounds["bright"], broken, sounds["dark"], "--top", "4", "--json", "--embedder", TOY)
    assert code == 1, err  # one file failed: the batch went on, and says so
    assert f"timbrelab: error: {broken}: " in err and "summary: 2 of 3 files processed, 1 failed" in err
    got = json.loads(out)
    assert [d["path"] for d in got] == [str(sounds["bright"]), str(sounds["dark"])]
    for d, words in zip(got, (BRIGHT_WORDS, DARK_WORDS)):
        assert set(d) >= {"path", "instrument", "probability", "words", "no_instrument", "embedder"} and d["embedder"] == "toy-bands"
        assert len(d["words"]) == 4 and {w["word"] for w in d["words"]} <= words, d["words"]
        scores = [w["score"] for w in d["words"]]
        assert scores == sorted(scores, reverse=True) and scores[0] > 0.8
        assert 0 < d["probability"] <= 1 and isinstance(d["instrument"], str)

    # the instrument is what `timbrelab classify` says (its top-1), and the text form says the same
    code, cout, _ = cli("classify", sounds["dark"], "--json", "--top", "1")
    c = json.loads(cout)[str(sounds["dark"])]
    want = "no instrument" if c["no_instrument"] else c["top"][0]["instrument"]
    assert got[1]["instrument"] == want
    code, out, err = cli("describe", sounds["dark"], "--embedder", TOY)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"{sounds['dark']}:" and lines[1].startswith(f"  instrument: {want}")
    assert [ln.split()[0] for ln in lines[2:6]] == [w["word"] for w in got[1]["words"]]
    assert [float(ln.split()[1]) for ln in lines[2:6]] == pytest.approx([w["score"] for w in got[1]["words"]], abs=1e-3)
    assert len(lines) == 2 + 8  # --top defaults to 8


def test_describe_refuses_a_bad_top_and_a_lone_bad_file_in_one_line(cli, tmp_path):
    code, out, err = cli("describe", tmp_path / "never-read.wav", "--top", "0", "--embedder", TOY)
    one_line_error(code, out, err, "--top must be a whole number from 1 to 553")
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    code, out, err = cli("describe", bad, "--embedder", TOY)
    one_line_error(code, out, err, "notes.wav: not a decodable audio file")


def test_word_scores_use_the_centred_audio_embedding_when_the_embedder_has_a_center(sounds):
    from timbrelab.audio import read_audio
    from timbrelab.probe.describe import WordScorer, describe_vocabulary

    vocab = describe_vocabulary()
    plain = WordScorer(BandEmbedder(), vocab)
    assert plain.center is None and len(plain.words) == len(vocab) == 553
    x, sr = read_audio(sounds["mid"])
    a = BandEmbedder().embed_audio(x, sr)
    t = BandEmbedder().embed_text([p for _, p in vocab])
    np.testing.assert_allclose(plain.scores(a), t @ (a / np.linalg.norm(a)), atol=1e-12)

    # every training sound was dark: the centre is dark, and the mid sound, centred, looks bright
    center = BandEmbedder().embed_audio(*read_audio(sounds["dark"]))
    centred = WordScorer(BandEmbedder(audio_center=0.8 * center), vocab)
    a_c = (a - 0.8 * center) / np.linalg.norm(a - 0.8 * center)
    np.testing.assert_allclose(centred.scores(a), t @ a_c, atol=1e-12)
    assert {w for w, _ in centred.top(a, 3)} <= BRIGHT_WORDS
    assert not {w for w, _ in plain.top(a, 3)} <= BRIGHT_WORDS  # without the centre it does not
    with pytest.raises(Exception, match="audio_center has shape"):
        WordScorer(BandEmbedder(audio_center=np.zeros(3)), vocab)


# ------------------------------------------------------------------------------------- embed


def test_embed_prints_the_embedders_vectors(cli, sounds, tmp_path):
    from timbrelab.audio import read_audio

    want = {n: BandEmbedder().embed_audio(*read_audio(p)) for n, p in sounds.items()}
    code, out, err = cli("embed", sounds["bright"], sounds["dark"], "--json", "--embedder", TOY)
    assert code == 0, err
    got = json.loads(out)
    assert list(got) == [str(sounds["bright"]), str(sounds["dark"])]
    for n in ("bright", "dark"):
        np.testing.assert_allclose(got[str(sounds[n])], want[n], rtol=1e-6, atol=1e-7)

    # the text form: path, a tab, the numbers; a folder's batch summary goes to stderr (stdout is data)
    (tmp_path / "sounds" / "broken.flac").write_bytes(b"fLaC but no more")
    code, out, err = cli("embed", tmp_path / "sounds", "--embedder", TOY)
    assert code == 1 and "broken.flac" in err and "summary: 3 of 4 files processed, 1 failed" in err
    rows = dict(line.split("\t") for line in out.splitlines())
    assert sorted(rows) == sorted(str(p) for p in sounds.values())
    for n, p in sounds.items():
        np.testing.assert_allclose([float(v) for v in rows[str(p)].split()], want[n], rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------- search


def index_files(root: Path) -> list[Path]:
    """The index folders in the cache (each holds meta.sqlite and vectors.usearch)."""
    return sorted(p.parent for p in (root / "search").rglob("meta.sqlite")) if (root / "search").exists() else []


def search(cli, *args):
    before = describe_toys.CALLS["audio"]
    code, out, err = cli("search", *args, "--json", "--embedder", TOY)
    return code, (json.loads(out) if out else None), err, describe_toys.CALLS["audio"] - before


def test_search_ranks_and_updates_its_index_incrementally(cli, tmp_path, timbrelab_cache):
    root = tmp_path / "library"
    describe_toys.write_sounds(root / "pads")
    describe_toys.write_sounds(root / "keys")
    (root / "readme.txt").write_text("not audio")
    (root / ".hidden.wav").write_bytes(b"hidden: never read")
    (root / ".git").mkdir()
    (root / ".git" / "x.wav").write_bytes(b"hidden folder: never read")
    before = snapshot(root)

    code, j, err, embedded = search(cli, "bright", root)
    assert code == 0, err
    assert (j["files"], j["embedded"], j["reused"], j["dropped"], j["failed"]) == (6, 6, 0, 0, []) and embedded == 6
    assert [r["relative_path"] for r in j["results"][:2]] == ["keys/bright.wav", "pads/bright.wav"]  # ties by path
    assert [r["relative_path"] for r in j["results"][-2:]] == ["keys/dark.wav", "pads/dark.wav"]
    scores = [r["score"] for r in j["results"]]
    assert scores == sorted(scores, reverse=True) and [r["rank"] for r in j["results"]] == list(range(1, 7))
    assert j["results"][0]["path"] == str(root / "keys" / "bright.wav")
    assert len(index_files(timbrelab_cache)) == 1 and j["index"] == str(index_files(timbrelab_cache)[0])

    # nothing changed: nothing embedded, same ranking for the same query; another query reuses it too
    code, j2, err, embedded = search(cli, "bright", root)
    assert code == 0 and (j2["embedded"], j2["reused"], embedded) == (0, 6, 0) and j2["results"] == j["results"]
    code, j3, err, embedded = search(cli, "warm dark", root, "--top", "2")
    assert embedded == 0 and {r["relative_path"] for r in j3["results"]} == {"keys/dark.wav", "pads/dark.wav"}

    # one file changes (its modification time): it alone is embedded again
    p = root / "pads" / "mid.wav"
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    code, j, err, embedded = search(cli, "bright", root)
    assert (j["embedded"], j["reused"], embedded) == (1, 5, 1)

    # a file deleted: dropped from the index and from the results
    (root / "keys" / "bright.wav").unlink()
    code, j, err, embedded = search(cli, "bright", root)
    assert (j["files"], j["embedded"], j["reused"], j["dropped"], embedded) == (5, 0, 5, 1, 0)
    assert "keys/bright.wav" not in {r["relative_path"] for r in j["results"]}

    # a corrupt file: named on stderr in one line, skipped, exit 1; not decoded again while unchanged
    (root / "keys" / "broken.wav").write_bytes(b"RIFF-but-not-a-wave" * 8)
    code, j, err, embedded = search(cli, "bright", root)
    assert code == 1 and embedded == 0 and len(j["results"]) == 5
    assert j["failed"] == [{"path": str(root / "keys" / "broken.wav"), "reason": j["failed"][0]["reason"]}]
    lines = [ln for ln in err.splitlines() if ln.startswith("timbrelab: error:")]
    assert lines == [f"timbrelab: error: {root / 'keys' / 'broken.wav'}: {j['failed'][0]['reason']}"]
    code, j, err, _ = search(cli, "bright", root)
    assert code == 1 and "(unchanged since the last try)" in err and (j["embedded"], j["reused"]) == (0, 5)

    # --rebuild embeds everything again
    (root / "keys" / "broken.wav").unlink()
    code, j, err, embedded = search(cli, "bright", root, "--rebuild")
    assert code == 0 and (j["embedded"], j["reused"], embedded) == (5, 0, 5)

    # the text form says what was embedded and reused, then the ranking
    code, out, err = cli("search", "bright", "sound", root, "--top", "2", "--embedder", TOY)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("5 audio files: 0 embedded, 5 reused (index: ")
    assert lines[1] == 'best matches for "bright sound" (toy-bands):'
    assert lines[2].split() == ["1", "+0.965", str(root / "pads" / "bright.wav")] and len(lines) == 4

    # the folder was only read: the files we did not change are as they were, nothing was added
    after = snapshot(root)
    changed = {"pads/mid.wav", "keys/bright.wav"}
    assert {k: v for k, v in after.items() if k not in changed} == {k: v for k, v in before.items() if k not in changed}
    assert set(after) == set(before) - {"keys/bright.wav"}
    assert not [p for p in root.rglob("*") if p.suffix in (".npz", ".sqlite", ".usearch", ".lock")]


def test_a_damaged_index_is_rebuilt_and_another_embedder_gets_its_own(cli, sounds, timbrelab_cache):
    folder = sounds["bright"].parent
    code, j, err, _ = search(cli, "bright", folder)
    for name in ("meta.sqlite", "vectors.usearch"):  # each of its two files cut short, as by a full disk
        f = Path(j["index"]) / name
        f.write_bytes(f.read_bytes()[:200])
        code, j, err, embedded = search(cli, "bright", folder)
        assert code == 0 and embedded == 3 and len(j["notes"]) == 1 and j["notes"][0].startswith("the index could not be read ("), (name, j)
        code, j, err, embedded = search(cli, "bright", folder)
        assert embedded == 0 and j["notes"] == []

    # another fingerprint: another index, not a reuse of this one's vectors
    code, out, err = cli("search", "bright", folder, "--json", "--embedder", TOY, "--embedder-option", "fingerprint=toy-v2")
    assert code == 0 and json.loads(out)["embedded"] == 3 and len(index_files(timbrelab_cache)) == 2


def test_an_interrupted_first_run_keeps_what_it_embedded(sounds, timbrelab_cache):
    from timbrelab.probe.search import update_index

    class Stops(BandEmbedder):  # Ctrl-C while the third file is embedded
        def embed_audio(self, audio, sample_rate):
            if self.n == 2:
                raise KeyboardInterrupt
            self.n += 1
            return super().embed_audio(audio, sample_rate)

    emb = Stops()
    emb.n = 0
    with pytest.raises(KeyboardInterrupt):
        update_index(emb, sounds["bright"].parent, save_every_s=0.0)
    up = update_index(BandEmbedder(), sounds["bright"].parent)
    assert (up.reused, up.embedded) == (2, 1)


@pytest.mark.parametrize("make, args, needle", [
    (lambda d: None, ("bright", "{d}/nowhere"), "nowhere: no such folder"),
    (lambda d: (d / "empty").mkdir(), ("bright", "{d}/empty"), "no audio files in it or its sub-folders"),
    (lambda d: describe_toys.write_sounds(d / "s"), ("", "{d}/s"), "the search query is empty"),
    (lambda d: describe_toys.write_sounds(d / "s"), ("bright", "{d}/s", "--top", "0"), "--top must be a whole number of at least 1"),
    (lambda d: describe_toys.write_sounds(d / "s"), ("bright", "{d}/s/bright.wav"), "is a file: search takes a folder"),
])
def test_search_errors_are_one_line(cli, tmp_path, make, args, needle):
    make(tmp_path)
    code, out, err = cli("search", *[a.format(d=tmp_path) for a in args], "--embedder", TOY)
    one_line_error(code, out, err, needle)
    assert code == 2


# ------------------------------------------------------------------------------------- a missing embedder


@pytest.mark.parametrize("command", [("describe", "{f}"), ("embed", "{f}"), ("search", "bright", "{d}")])
def test_a_missing_embedder_is_one_line_and_nothing_is_read(cli, sounds, monkeypatch, command, timbrelab_cache):
    from timbrelab.probe import embedders

    monkeypatch.delitem(embedders.BUILTIN_EMBEDDERS, "timbreclap", raising=False)  # as before TimbreCLAP ships
    monkeypatch.setattr(embedders, "_entry_points", lambda: [])
    args = [a.format(f=sounds["bright"], d=sounds["bright"].parent) for a in command]
    code, out, err = cli(*args)  # the default embedder
    one_line_error(code, out, err, "'timbreclap' is not installed", "--embedder")
    assert code == 2
    code, out, err = cli(*args, "--embedder", "no_such_package_xyz:make")
    one_line_error(code, out, err, "embedder 'no_such_package_xyz:make': cannot import no_such_package_xyz")
    assert not (timbrelab_cache / "search").exists()  # no index was started


def test_the_service_loads_the_embedder_once_and_keeps_it(sounds):
    from timbrelab.service import Service

    made = []

    def factory():
        made.append(BandEmbedder())
        return made[-1]

    import sys
    import types

    mod = types.ModuleType("toy_describe_factory")
    mod.make = factory
    sys.modules["toy_describe_factory"] = mod
    try:
        with Service(embedder="toy_describe_factory:make") as s:
            texts = describe_toys.CALLS["text"]
            a = s.embed_file(sounds["bright"])
            s.search("bright", sounds["bright"].parent)
            scorer = s.word_scorer()
            assert s.word_scorer() is scorer and len(made) == 1
            s.search("dark", sounds["bright"].parent)
            assert describe_toys.CALLS["text"] - texts == 553 + 2  # the vocabulary once, then one query per search
            assert a.shape == (8,) and s.embedder_info()["vocabulary"] == 553
        assert s._embedder is None  # close() drops it
    finally:
        del sys.modules["toy_describe_factory"]


@pytest.mark.slow
def test_describe_on_the_bundled_guitar_says_what_the_readme_says(cli):
    """The README quotes `describe` on the bundled guitar with the shipped models: keep it true."""
    from timbrelab.demo import example_path

    code, out, err = cli("describe", str(example_path()), "--json")
    assert code == 0, err
    (r,) = json.loads(out)
    assert r["instrument"] == "acoustic bass" and round(100 * r["probability"], 1) == 29.0
    assert [w["word"] for w in r["words"][:3]] == ["bass", "war", "rolling"]  # the 4th and 5th are 4e-4 apart: not quoted
