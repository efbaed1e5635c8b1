"""`timbrelab index` and the index behind `timbrelab search` (src/timbrelab/probe/search.py, probe/ann.py).

On the toy embedder of tests/describe_toys.py ("bright" ↔ the high bands; ``CALLS`` counts what was
really embedded). What is checked: the index folder (meta.sqlite rows and vectors.usearch vectors
agree); an incremental update (a file added, changed, deleted → the counts); a build killed in the
middle (a real crash, ``os._exit``, in another process) keeps its checkpoints and the rerun embeds only
the rest; a checkpoint cut between its two steps is repaired on load; the HNSW ranking equals the exact
one; ``index`` then ``search --index DIR`` (no file read) gives the ranking ``search FOLDER`` gives;
the one-line errors of a bad ``--index``; one update at a time; and ``ann_benchmark`` at a small size.
"""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import describe_toys
from describe_toys import BandEmbedder

TOY = "describe_toys:band_embedder"
TESTS = Path(__file__).parent


pytestmark = pytest.mark.usefixtures("timbrelab_cache")  # timbrelab's cache in each test's own folder (conftest.timbrelab_cache)


@pytest.fixture
def library(tmp_path) -> Path:
    """9 sounds: a/, b/, c/ each with bright.wav, dark.wav, mid.wav (same audio in each folder: ties)."""
    root = tmp_path / "library"
    for sub in ("a", "b", "c"):
        describe_toys.write_sounds(root / sub)
    (root / "notes.txt").write_text("not audio")
    return root


def rows(index_dir: Path) -> dict:
    """path → (key, reason) of meta.sqlite's files table."""
    db = sqlite3.connect(index_dir / "meta.sqlite")
    try:
        return {p: (k, r) for k, p, r in db.execute("SELECT key, path, reason FROM files")}
    finally:
        db.close()


def vector_keys(index_dir: Path) -> set:
    from usearch.index import Index

    return set(np.asarray(Index.restore(str(index_dir / "vectors.usearch")).keys, dtype=np.uint64).tolist())


def consistent(index_dir: Path) -> None:
    r = rows(index_dir)
    assert vector_keys(index_dir) == {k for k, reason in r.values() if reason is None}


def run(cli, *args):
    """(code, stdout JSON or text, stderr, audio files embedded)."""
    before = describe_toys.CALLS["audio"]
    code, out, err = cli(*args, "--embedder", TOY)
    try:
        out = json.loads(out)
    except ValueError:
        pass
    return code, out, err, describe_toys.CALLS["audio"] - before


def counts(j) -> tuple:
    return j["files"], j["embedded"], j["reused"], j["dropped"], len(j["failed"])


# ------------------------------------------------------------------------------------- incremental


def test_index_updates_incrementally(cli, library, tmp_path):
    d = tmp_path / "lib.idx"
    code, j, err, embedded = run(cli, "index", library, "--index", d, "--json")
    assert code == 0, err
    assert counts(j) == (9, 9, 0, 0, 0) and embedded == 9 and j["index"] == str(d) and j["folder"] == str(library.resolve())
    assert sorted(p.name for p in d.iterdir()) == ["meta.sqlite", "update.lock", "vectors.usearch"]
    assert len(rows(d)) == 9
    consistent(d)
    meta = dict(sqlite3.connect(d / "meta.sqlite").execute("SELECT name, value FROM meta").fetchall())
    assert meta["format"] == "timbrelab-search-index/2" and meta["embedder"] == "toy-bands" and meta["dim"] == "8"
    assert meta["folder"] == str(library.resolve())

    code, j, err, embedded = run(cli, "index", library, "--index", d, "--json")  # nothing changed
    assert counts(j) == (9, 0, 9, 0, 0) and embedded == 0

    keys = rows(d)
    p = library / "b" / "mid.wav"  # changed: embedded again, under a new key
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    (library / "c" / "dark.wav").unlink()  # deleted: dropped
    describe_toys.write_sounds(library / "d")  # added
    code, j, err, embedded = run(cli, "index", library, "--index", d, "--json")
    assert code == 0 and counts(j) == (11, 4, 7, 1, 0) and embedded == 4
    now = rows(d)
    assert "c/dark.wav" not in now and now["b/mid.wav"][0] > max(k for k, _ in keys.values())
    assert {p: k for p, (k, _) in now.items() if p in keys and p != "b/mid.wav"} == {p: k for p, (k, _) in keys.items()
                                                                                      if p not in ("b/mid.wav", "c/dark.wav")}
    consistent(d)

    # a broken file: named on stderr in one line, the rest indexed, exit 1; remembered while unchanged
    (library / "a" / "broken.wav").write_bytes(b"RIFF-but-not-a-wave" * 8)
    code, out, err, embedded = run(cli, "index", library, "--index", d)
    assert code == 1 and embedded == 0
    assert [ln for ln in err.splitlines()] == [ln for ln in err.splitlines() if ln.startswith(f"timbrelab: error: {library / 'a' / 'broken.wav'}: ")]
    assert len(err.splitlines()) == 1
    assert out.splitlines()[-1] == f"12 audio files: 0 embedded, 11 reused, 1 could not be read (index: {d})"
    assert rows(d)["a/broken.wav"][1]
    code, out, err, _ = run(cli, "index", library, "--index", d)
    assert code == 1 and "(unchanged since the last try)" in err
    consistent(d)

    code, j, err, embedded = run(cli, "index", library, "--index", d, "--rebuild", "--json")
    assert counts(j) == (12, 11, 0, 0, 1) and embedded == 11  # the broken file is tried again too (it fails)


def test_the_default_index_lives_in_the_cache_and_an_old_npz_is_replaced(cli, library, timbrelab_cache):
    from timbrelab.probe.search import index_path

    where = index_path("toy-bands", library.resolve(), timbrelab_cache)
    where.parent.mkdir(parents=True)
    where.with_suffix(".npz").write_bytes(b"an index of format /1")
    code, out, err, embedded = run(cli, "index", library)
    assert code == 0 and embedded == 9, err
    assert out.splitlines() == ["note: the index was made by an older timbrelab (format /1): rebuilt",
                                f"9 audio files: 9 embedded, 0 reused (index: {where})"]
    assert not where.with_suffix(".npz").exists() and (where / "meta.sqlite").is_file()
    code, j, err, embedded = run(cli, "search", "bright", library, "--json")  # search finds it
    assert embedded == 0 and j["reused"] == 9 and j["index"] == str(where)


# ------------------------------------------------------------------------------------- resumable

CRASH = """
import os, sys
from pathlib import Path
import describe_toys
from timbrelab.probe.search import update_index

class Dies(describe_toys.BandEmbedder):  # the power goes off while the 6th file is embedded
    n = 0
    def embed_audio(self, audio, sample_rate):
        Dies.n += 1
        if Dies.n == 6:
            os._exit(3)
        return super().embed_audio(audio, sample_rate)

update_index(Dies(), sys.argv[1], index_dir=sys.argv[2], commit_every_files=2, save_every_s=1e9, progress=False)
"""


def test_a_build_killed_in_the_middle_keeps_its_checkpoints(library, tmp_path):
    from timbrelab.probe.search import update_index

    d = tmp_path / "idx"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-c", CRASH, str(library), str(d)], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 3, p.stderr
    assert len(rows(d)) == 4  # checkpoints after files 2 and 4; the 5th was embedded but not kept
    consistent(d)
    before = describe_toys.CALLS["audio"]
    up = update_index(BandEmbedder(), library, index_dir=d, progress=False)
    assert (up.files, up.reused, up.embedded) == (9, 4, 5) and describe_toys.CALLS["audio"] - before == 5
    consistent(d)


def test_ctrl_c_keeps_what_was_embedded(library, tmp_path):
    from timbrelab.probe.search import update_index

    class Stops(BandEmbedder):
        n = 0

        def embed_audio(self, audio, sample_rate):
            if Stops.n == 7:
                raise KeyboardInterrupt
            Stops.n += 1
            return super().embed_audio(audio, sample_rate)

    d = tmp_path / "idx"
    with pytest.raises(KeyboardInterrupt):
        update_index(Stops(), library, index_dir=d, progress=False)  # no checkpoint was due: kept on the way out
    up = update_index(BandEmbedder(), library, index_dir=d, progress=False)
    assert (up.reused, up.embedded) == (7, 2)


def test_a_checkpoint_cut_between_vectors_and_rows_is_repaired_on_load(library, tmp_path):
    from usearch.index import Index

    from timbrelab.probe.search import update_index

    d = tmp_path / "idx"
    update_index(BandEmbedder(), library, index_dir=d, progress=False)
    r = rows(d)
    vec = Index.restore(str(d / "vectors.usearch"))
    vec.remove(r["a/dark.wav"][0])  # a row whose vector was never saved
    vec.add(10_000, np.ones(8, np.float32))  # a vector whose row was never committed
    vec.save(str(d / "vectors.usearch"))
    before = describe_toys.CALLS["audio"]
    up = update_index(BandEmbedder(), library, index_dir=d, progress=False)
    assert (up.reused, up.embedded) == (8, 1) and describe_toys.CALLS["audio"] - before == 1
    consistent(d)
    assert 10_000 not in vector_keys(d) and rows(d)["a/dark.wav"][0] > 10_000  # keys are never reused


def test_one_update_at_a_time(library, tmp_path):
    from timbrelab.errors import BadParameterError
    from timbrelab.probe.search import SearchIndex, update_index

    d = tmp_path / "idx"
    held, _ = SearchIndex.open(d, library.resolve(), "toy-bands", "toy-bands")
    try:
        with pytest.raises(BadParameterError, match="is being updated by another timbrelab"):
            update_index(BandEmbedder(), library, index_dir=d, progress=False)
    finally:
        held.close()
    assert update_index(BandEmbedder(), library, index_dir=d, progress=False).embedded == 9


# ------------------------------------------------------------------------------------- ranking


def test_the_hnsw_ranking_equals_the_exact_one(library, tmp_path, monkeypatch):
    from timbrelab.probe import ann
    from timbrelab.probe.search import SearchIndex, rank, update_index

    # a small folder: the whole ranking, ties by path, through the graph as through the exact scores
    update_index(BandEmbedder(), library, index_dir=tmp_path / "idx", progress=False)
    t = BandEmbedder().embed_text(["bright"])[0]
    idx = SearchIndex.open_readonly(tmp_path / "idx", "toy-bands", "toy-bands")
    exact = rank(idx, t, 9)
    assert [p for p, _ in exact[:3]] == ["a/bright.wav", "b/bright.wav", "c/bright.wav"]
    paths, m = idx.matrix()  # the scores are the float64 cosines of the stored float32 vectors
    want = (m / np.linalg.norm(m, axis=1, keepdims=True)) @ (t / np.linalg.norm(t))
    assert sorted(paths, key=lambda p: (-want[paths.index(p)], p)) == [p for p, _ in exact]
    np.testing.assert_allclose([s for _, s in exact], sorted(want, reverse=True), rtol=0, atol=1e-12)
    monkeypatch.setattr(ann, "NUMPY_MAX_VECTORS", 0)
    assert rank(idx, t, 9) == exact and rank(idx, t, 2) == exact[:2]  # usearch's brute force
    monkeypatch.setattr(ann, "use_exact", lambda n, count: False)
    assert rank(idx, t, 9) == exact and rank(idx, t, 2) == exact[:2]  # the graph
    idx.close()

    # 3,000 embeddings shaped like a library's (with duplicates: ties), top 10 of 50 queries
    monkeypatch.undo()
    v, qs = ann.synthetic_embeddings(3000, 32, 50, seed=1)
    v[1500:1510] = v[0]
    big, _ = SearchIndex.open(tmp_path / "big", tmp_path, "synthetic", "synthetic")
    for i, x in enumerate(v):
        big.add(f"s/{i:05d}.wav", 1, 1, vector=x.astype(np.float64))
    big.checkpoint()
    qs[0] = v[0]
    exact = [rank(big, q, 10) for q in qs]
    assert [p for p, _ in exact[0][:3]] == ["s/00000.wav", "s/01500.wav", "s/01501.wav"]
    monkeypatch.setattr(ann, "NUMPY_MAX_VECTORS", 100)
    assert ann.use_exact(len(big), 10 + ann.ANN_EXTRA_CANDIDATES)
    assert [rank(big, q, 10) for q in qs] == exact  # usearch's brute force
    monkeypatch.setattr(ann, "EXACT_MAX_VECTORS", 100)
    assert not ann.use_exact(len(big), 10 + ann.ANN_EXTRA_CANDIDATES)
    approx = [rank(big, q, 10) for q in qs]  # the graph
    big.close()
    assert approx == exact


# ------------------------------------------------------------------------------------- the CLI


def test_index_then_search_the_index_alone(cli, library, tmp_path):
    d = tmp_path / "lib.idx"
    code, out, err, _ = run(cli, "index", library, "--index", d)
    assert code == 0 and out.splitlines()[-1] == f"9 audio files: 9 embedded, 0 reused (index: {d})", err

    (library / "a" / "bright.wav").unlink()  # the folder is not read: the index is searched as it is
    code, j, err, embedded = run(cli, "search", "bright", "sound", "--index", d, "--top", "4", "--json")
    assert code == 0 and embedded == 0, err
    assert j["updated"] is False and (j["files"], j["embedded"], j["reused"]) == (9, 0, 9)
    assert [r["relative_path"] for r in j["results"][:3]] == ["a/bright.wav", "b/bright.wav", "c/bright.wav"]
    assert j["results"][0]["path"] == str(library.resolve() / "a" / "bright.wav") and j["folder"] == str(library.resolve())
    assert err == f"9 audio files in the index, searched as it is (not updated) (index: {d})\n"

    # the same ranking as searching the folder (its own index, in the cache), once that index has caught up
    describe_toys.write_sounds(library / "a")
    code, jf, err, embedded = run(cli, "search", "bright", "sound", library, "--top", "4", "--json")
    assert embedded == 9 and [(r["relative_path"], r["score"]) for r in jf["results"]] == [(r["relative_path"], r["score"]) for r in j["results"]]

    # FOLDER and --index: that index is updated from the folder (a/ written again, c/mid.wav gone), then searched
    (library / "c" / "mid.wav").unlink()
    code, j2, err, embedded = run(cli, "search", "bright", "--index", d, library, "--json")
    assert code == 0 and counts(j2) == (8, 3, 5, 1, 0) and embedded == 3 and j2["updated"] is True
    code, out, err, embedded = run(cli, "search", "bright", "--index", d, "--top", "2")
    assert code == 0 and embedded == 0
    assert out.splitlines() == [f"8 audio files in the index, searched as it is (not updated) (index: {d})",
                                'best matches for "bright" (toy-bands):',
                                f"    1  +0.965  {library.resolve() / 'a' / 'bright.wav'}",
                                f"    2  +0.965  {library.resolve() / 'b' / 'bright.wav'}"]


@pytest.mark.parametrize("make, args, needle", [
    (lambda d, lib: (d / "x").mkdir(parents=True) or (d / "x" / "mine.txt").write_text("mine"),
     ("index", "{lib}", "--index", "{d}/x"), "--index {d}/x is not a timbrelab search index and is not empty (it holds 'mine.txt')"),
    (lambda d, lib: (d / "f.idx").write_text("a file"), ("index", "{lib}", "--index", "{d}/f.idx"), "is a file: give a folder"),
    (lambda d, lib: None, ("search", "bright", "--index", "{d}/nowhere"), "--index {d}/nowhere: no such folder (make one with: timbrelab index"),
    (lambda d, lib: (d / "e").mkdir(), ("search", "bright", "--index", "{d}/e"), "--index {d}/e is not a timbrelab search index"),
    (lambda d, lib: None, ("search", "bright"), "search needs the words and the FOLDER to search"),
    (lambda d, lib: None, ("search", "bright", "--index", "{d}/lib.idx", "--embedder-option", "fingerprint=v2"),
     "was made with another version of the embedder 'toy-bands' (fingerprint toy-bands, this one v2): make it again with: "
     "timbrelab index {lib} --index {d}/lib.idx --rebuild"),
    (lambda d, lib: None, ("search", "bright", "--index", "{d}/lib.idx", "--embedder-option", "name=other"),
     "was made with the embedder 'toy-bands', not 'other': search it with --embedder toy-bands"),
    (lambda d, lib: describe_toys.write_sounds(d / "other"), ("search", "bright", "{d}/other", "--index", "{d}/lib.idx"),
     "--index {d}/lib.idx is the index of {lib} made with the embedder 'toy-bands', not of {d}/other"),
    (lambda d, lib: None, ("search", "bright", "--index", "{d}/lib.idx", "--rebuild"), "--rebuild embeds the folder's files again: give the FOLDER too"),
])
def test_bad_index_folders_are_one_line_errors(cli, library, tmp_path, make, args, needle):
    code, _, err, _ = run(cli, "index", library, "--index", tmp_path / "lib.idx")
    assert code == 0, err
    make(tmp_path, library)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    f = dict(d=tmp_path, lib=library.resolve())
    code, out, err, embedded = run(cli, *[a.format(**f) for a in args])
    assert code == 2 and out == "" and embedded == 0, (code, out, err)
    assert err.count("\n") == 1 and err.startswith("timbrelab: error:") and needle.format(**f) in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing was created or written


@pytest.mark.slow
def test_index_on_worker_processes_gives_the_same_index(cli, library, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    code, j1, err, _ = run(cli, "index", library, "--index", tmp_path / "serial", "--json")
    code, j2, err, embedded = run(cli, "index", library, "--index", tmp_path / "two", "--workers", "2", "--json")
    assert code == 0 and embedded == 0 and counts(j2) == counts(j1), err  # embedded in the workers, not here
    a, b = rows(tmp_path / "serial"), rows(tmp_path / "two")
    assert a == b
    from usearch.index import Index

    va, vb = Index.restore(str(tmp_path / "serial" / "vectors.usearch")), Index.restore(str(tmp_path / "two" / "vectors.usearch"))
    keys = np.array(sorted(k for k, _ in a.values()), dtype=np.uint64)
    np.testing.assert_array_equal(np.stack(va.get(keys)), np.stack(vb.get(keys)))


# ------------------------------------------------------------------------------------- the benchmark


def test_ann_benchmark_small():
    from timbrelab.probe.ann import CONNECTIVITY, EXPANSION_SEARCH, ann_benchmark

    r = ann_benchmark(2000, 64, queries=50, k=10, seed=0, threads=1)
    assert r["recall_at_10"] >= 0.95 and r["n_vectors"] == 2000 and r["dim"] == 64
    assert r["connectivity"] == CONNECTIVITY and r["expansion_search"] == EXPANSION_SEARCH
    assert r["build_s"] > 0 and r["index_bytes"] > 2000 * 64 * 4 and 0 < r["latency_ms_mean"] < 50 and 0 < r["latency_ms_p95"] < 50
    again = ann_benchmark(2000, 64, queries=50, k=10, seed=0, threads=1)
    assert again["recall_at_10"] == r["recall_at_10"]  # seeded
