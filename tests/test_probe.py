"""timbrelab.probe: the reference data, the embedder protocol and loader, experiment 2 and its command.

A toy embedder stands in for a language–audio model: audio → 16 band levels in dB (60 Hz … 10 kHz,
log-spaced, mean removed: level-invariant), text → a fixed vector per text from a seeded hash, or a
direction the test gives it. Sources are 1 s of synthetic audio at 22.05 kHz, so the file runs fast.
"""

from __future__ import annotations

import hashlib
import json
import sys
import types

import numpy as np
import probe_toys
import pytest

from timbrelab.errors import BadParameterError, MissingComponentError
from timbrelab.probe import embedders as emb_mod
from timbrelab.probe.embedders import cosine, load_embedder
from timbrelab.probe.experiment2 import (
    Source, descriptor_direction, mixture_source, plan_for, run_experiment2, summarise, trend,
)
from timbrelab.probe.reference import SUMMARY_KEYS, experiment2_config, experiment2_reference, prompt_for

SR = 22050
EDGES_HZ = np.geomspace(60.0, 10000.0, 17)
WORDS = {"eq": ["bright", "warm", "tinny"], "reverb": ["church", "echo"]}


def band_levels_db(audio, sample_rate) -> np.ndarray:
    return probe_toys.band_levels_db(audio, sample_rate, EDGES_HZ)


class ToyEmbedder:
    """Deterministic: band levels for audio; for text, ``sign · directions[text]`` or a hash-seeded vector."""

    def __init__(self, name="toy", directions=None, sign=1.0):
        self.name, self.directions, self.sign = name, directions or {}, sign
        self.audio_calls = 0

    def embed_audio(self, audio, sample_rate):
        assert audio.dtype == np.float32 and audio.ndim == 2
        self.audio_calls += 1
        return band_levels_db(audio, sample_rate)

    def embed_text(self, texts):
        out = []
        for t in texts:
            if t in self.directions:
                out.append(self.sign * np.asarray(self.directions[t]))
            else:
                seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
                out.append(np.random.default_rng(seed).standard_normal(16))
        return np.array(out)


def make_toy(**options):
    return ToyEmbedder(**options)


@pytest.fixture(scope="module")
def sources():
    """Three 1 s sources with one spectral shape (white noise, seeds 1 and 2, and their mixture), so an
    effect moves every source's band levels the same way."""
    rng1, rng2 = np.random.default_rng(1), np.random.default_rng(2)
    a = Source("noise-a", (0.1 * rng1.standard_normal((2, SR))).astype(np.float32), SR, "white noise, seed 1", "-")
    b = Source("noise-b", (0.05 * rng2.standard_normal((1, SR))).astype(np.float32), SR, "white noise, seed 2", "-")
    return [a, b, mixture_source(a, b)]


@pytest.fixture(scope="module")
def directions(sources):
    """Per prompt: how the word's effect at full strength moves the toy's audio embedding (mean over sources)."""
    from timbrelab.fx import apply

    out = {}
    for effect, words in WORDS.items():
        for w in words:
            plan = plan_for(effect, w, 1.0)
            out[prompt_for(w)] = np.mean([band_levels_db(apply(s.audio, SR, plan=plan, tail_s=0.0).audio, SR) - band_levels_db(s.audio, SR)
                                          for s in sources], axis=0)
    return out


@pytest.fixture(scope="module")
def oracle_run(sources, directions):
    """One run, three embedders: aligned with each effect, opposed to it, and unrelated (hashed text)."""
    embs = [ToyEmbedder("aligned", directions), ToyEmbedder("opposed", directions, -1.0), ToyEmbedder("hashed")]
    return run_experiment2(embs, sources=sources, words=WORDS, progress=False), embs


# --- reference data ---------------------------------------------------------------------------------

def test_reference_tables_hold_the_release_numbers():
    ref = experiment2_reference()
    assert list(ref) == ["LAION-CLAP", "MSCLAP", "MuQ-MuLan", "OpenFLAM"]
    assert ref["MuQ-MuLan"]["reverb"]["positive_slope_rate"] == pytest.approx(0.8833, abs=1e-4)  # 88.33 % in the CSV
    assert ref["MSCLAP"]["eq"]["positive_slope_rate"] == pytest.approx(0.7333, abs=1e-4)
    assert ref["OpenFLAM"]["reverb"]["all_source_consistency_rate"] == 0.0
    assert ref["MuQ-MuLan"]["all"]["mean_pearson_r"] == pytest.approx(0.5351)
    for model, scopes in ref.items():
        assert set(scopes) == {"eq", "reverb", "all"}
        for figures in scopes.values():
            assert all(0 <= figures[k] <= 1 for k in SUMMARY_KEYS[:3]) and all(-1 <= figures[k] <= 1 for k in SUMMARY_KEYS[3:])
        # the summary is the mean of the two effects (20 words each), as the release computes it
        for k in SUMMARY_KEYS:
            assert scopes["all"][k] == pytest.approx((scopes["eq"][k] + scopes["reverb"][k]) / 2, abs=6e-5)


def test_config_and_prompt():
    cfg = experiment2_config()
    assert [len(cfg.descriptors[e]) for e in ("eq", "reverb")] == [20, 20]
    assert cfg.strengths == (0.2, 0.4, 0.6, 0.8, 1.0) and cfg.sources == ("guitar", "piano", "mixture")
    assert prompt_for("echo") == "an echo sound" and cfg.prompt("warm") == "a warm sound"


def test_reference_files_carry_their_provenance():
    from importlib import resources

    from timbrelab.probe.reference import provenance

    prov = provenance()
    assert "MIT" in prov["licence"] and "Deng, Pardo & Pappas" in prov["citation"]
    data = resources.files("timbrelab.probe").joinpath("data")
    for name, entry in prov["files"].items():
        assert hashlib.sha256(data.joinpath(name).read_bytes()).hexdigest() == entry["sha256"], name
    assert "LICENSE" in prov["files"]


# --- embedders --------------------------------------------------------------------------------------

def test_load_by_module_factory_and_options(monkeypatch):
    mod = types.ModuleType("toy_probe_embedders")
    mod.make_toy, mod.ToyEmbedder = make_toy, ToyEmbedder
    monkeypatch.setitem(sys.modules, "toy_probe_embedders", mod)
    e = load_embedder("toy_probe_embedders:make_toy", name="from-module")
    assert e.name == "from-module" and isinstance(e, emb_mod.Embedder)
    assert e.embed_audio(np.zeros((1, 1000), np.float32) + 0.1, SR).shape == (16,)
    assert e.embed_text(["a warm sound", "a cold sound"]).shape == (2, 16)
    np.testing.assert_array_equal(e.embed_text(["a warm sound"]), e.embed_text(["a warm sound"]))  # deterministic
    with pytest.raises(BadParameterError, match="has no nothing"):
        load_embedder("toy_probe_embedders:nothing")
    with pytest.raises(BadParameterError, match="cannot be made"):
        load_embedder("toy_probe_embedders:make_toy", colour="red")


def test_load_by_entry_point(monkeypatch):
    from importlib.metadata import EntryPoint

    mod = types.ModuleType("toy_probe_plugin")
    mod.factory = lambda: ToyEmbedder("plugged-in")
    monkeypatch.setitem(sys.modules, "toy_probe_plugin", mod)
    points = [EntryPoint(name="toy-plugin", value="toy_probe_plugin:factory", group=emb_mod.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(emb_mod, "_entry_points", lambda: points)
    assert load_embedder("toy-plugin").name == "plugged-in"
    with pytest.raises(BadParameterError) as exc:
        load_embedder("no-such-embedder")
    msg = str(exc.value)
    assert "\n" not in msg and "unknown embedder 'no-such-embedder'" in msg and "toy-plugin" in msg


def test_entry_points_are_read_from_the_metadata(monkeypatch):
    import importlib.metadata as md

    seen = {}

    def fake(**kw):
        seen.update(kw)
        return []

    monkeypatch.setattr(md, "entry_points", fake)
    from timbrelab.probe import embedders

    monkeypatch.setattr(embedders, "BUILTIN_EMBEDDERS", {})  # nothing built in, nothing installed
    with pytest.raises(BadParameterError, match="installed: none"):
        load_embedder("whatever")
    assert seen == {"group": "timbrelab.embedders"}


def test_cosine():
    assert cosine([1, 0], [2, 0]) == pytest.approx(1.0) and cosine([1, 0], [0, 3]) == pytest.approx(0.0)
    assert cosine([1, 1], [-1, -1]) == pytest.approx(-1.0) and cosine([0, 0], [1, 0]) == 0.0


def test_laion_clap_refuses_without_a_checkpoint(tmp_path):
    from timbrelab.probe.laion_clap import LaionClapEmbedder

    with pytest.raises(MissingComponentError, match="never downloads"):
        LaionClapEmbedder()
    with pytest.raises(MissingComponentError, match="does not exist"):
        LaionClapEmbedder(tmp_path / "nope.pt")


def test_laion_clap_with_package_and_checkpoint():
    """Runs only where laion_clap and a checkpoint exist (TIMBRELAB_LAION_CLAP_CHECKPOINT names the file)."""
    import os

    pytest.importorskip("laion_clap", reason="laion_clap is not installed here (and timbrelab never downloads it)")
    ckpt = os.environ.get("TIMBRELAB_LAION_CLAP_CHECKPOINT")
    if not ckpt:
        pytest.skip("no LAION-CLAP checkpoint given (TIMBRELAB_LAION_CLAP_CHECKPOINT); timbrelab never downloads one")
    e = load_embedder("timbrelab.probe.laion_clap:LaionClapEmbedder", checkpoint=ckpt)
    a = e.embed_audio(np.zeros((2, 48000), np.float32), 48000)
    assert a.shape == (512,) and e.embed_text(["a warm sound"]).shape == (1, 512)


# --- statistics -------------------------------------------------------------------------------------

def test_trend_and_constant_delta():
    t = trend([0.2, 0.4, 0.6, 0.8, 1.0], [0.1, 0.2, 0.3, 0.4, 0.5])
    assert t["slope"] == pytest.approx(0.5) and t["pearson_r"] == pytest.approx(1) and t["spearman_rho"] == pytest.approx(1)
    assert t["final_delta"] == 0.5 and not t["constant"]
    c = trend([0.2, 0.4, 0.6, 0.8, 1.0], [0.3] * 5)
    assert c == {"slope": 0.0, "pearson_r": 0.0, "spearman_rho": 0.0, "final_delta": 0.3, "constant": True}


def test_rates_on_hand_made_rows():
    rows = [{"effect": "eq", "word": w, "source": s, "slope": sl, "final_delta": fd, "pearson_r": 0.5, "spearman_rho": 0.5, "constant": False}
            for w, s, sl, fd in [("a", 1, 1, 1), ("a", 2, 1, 1), ("b", 1, 1, -1), ("b", 2, -1, -1)]]
    s = summarise(rows)
    assert s["positive_slope_rate"] == 0.75 and s["positive_final_delta_rate"] == 0.5 and s["all_source_consistency_rate"] == 0.5
    assert descriptor_direction([1, 1, -1], [0.1, 0.1, -0.1]) == "↑"
    assert descriptor_direction([-1, -1, 1], [-0.1, 0.0, 0.0]) == "↓"
    assert descriptor_direction([1, 1, -1], [-0.1, -0.1, 0.0]) == "–"


# --- experiment 2 -----------------------------------------------------------------------------------

def test_aligned_embedder_scores_one_opposed_scores_zero(oracle_run):
    run, _ = oracle_run
    aligned, opposed, hashed = run.results
    for scope in ("eq", "reverb", "all"):
        a, o = aligned.summary[scope], opposed.summary[scope]
        assert a["positive_slope_rate"] == 1.0 and a["positive_final_delta_rate"] == 1.0 and a["all_source_consistency_rate"] == 1.0
        assert o["positive_slope_rate"] == 0.0 and o["positive_final_delta_rate"] == 0.0 and o["all_source_consistency_rate"] == 0.0
        assert a["mean_pearson_r"] > 0.8 and o["mean_pearson_r"] == pytest.approx(-a["mean_pearson_r"])
        assert o["mean_spearman_rho"] == pytest.approx(-a["mean_spearman_rho"])
    assert {d["direction"] for d in aligned.descriptors} == {"↑"} and {d["direction"] for d in opposed.descriptors} == {"↓"}
    # Δ at strength s: cos(processed, text) − cos(original, text), recomputed for one row
    row = next(r for r in aligned.rows if r["word"] == "warm" and r["source"] == "noise-a")
    assert len(row["deltas"]) == 5 and row["final_delta"] == row["deltas"][-1]
    assert aligned.summary["all"]["cases"] == 15 and aligned.summary["eq"]["descriptors"] == 3


def test_each_clip_is_processed_once_for_every_embedder(oracle_run, sources):
    run, embs = oracle_run
    clips = len(sources) * (3 + 2) * 5
    assert all(e.audio_calls == clips + 2 * len(sources) for e in embs)  # + each original twice (determinism check)
    assert run.resolutions["eq:warm"]["resolution"] == "map" and run.resolutions["reverb:echo"]["effect"] == "reverb"


def test_json_layout_and_ranges(oracle_run):
    run, _ = oracle_run
    rec = json.loads(json.dumps(run.to_dict()))
    for name in ("aligned", "opposed", "hashed"):
        assert set(rec[name]) == {"eq", "reverb", "all"}
        for figures in rec[name].values():
            assert set(figures) == set(SUMMARY_KEYS)
            assert all(0 <= figures[k] <= 1 for k in SUMMARY_KEYS[:3]) and all(-1 <= figures[k] <= 1 for k in SUMMARY_KEYS[3:])
    assert len(rec["per_word"]) == 3 * 15 and {"source", "effect", "word", "prompt", "resolution", "slope", "pearson_r",
                                                 "spearman_rho", "final_delta", "deltas"} <= set(rec["per_word"][0])
    assert rec["reference"]["experiment2"]["MuQ-MuLan"]["reverb"]["positive_slope_rate"] == pytest.approx(0.8833, abs=1e-4)
    assert rec["protocol"]["direction_rule"].startswith("↑")


def test_non_deterministic_embedder_is_refused(sources):
    class Noisy(ToyEmbedder):
        def embed_audio(self, audio, sample_rate):
            return band_levels_db(audio, sample_rate) + np.random.default_rng().standard_normal(16)

    with pytest.raises(BadParameterError, match="not deterministic"):
        run_experiment2(Noisy("noisy"), sources=sources[:1], words={"eq": ["warm"]}, progress=False)


# --- the command ------------------------------------------------------------------------------------

def test_cli_unknown_embedder_is_one_line(cli):
    code, out, err = cli("probe", "exp2", "--embedder", "no-such-embedder")
    assert code != 0 and err.count("\n") == 1 and err.startswith("timbrelab: error: unknown embedder 'no-such-embedder'")


def test_cli_prints_the_release_beside_the_embedder(cli, monkeypatch, tmp_path, sources):
    """The command end to end on the toy embedder, with the sources and words narrowed for speed."""
    from timbrelab.probe import experiment2

    mod = types.ModuleType("toy_probe_cli")
    mod.make_toy = make_toy
    monkeypatch.setitem(sys.modules, "toy_probe_cli", mod)
    monkeypatch.setattr(experiment2, "default_sources", lambda excerpt_s, piano=None: sources)
    real = experiment2.run_experiment2
    monkeypatch.setattr(experiment2, "run_experiment2", lambda *a, **k: real(*a, words={"eq": ["warm"], "reverb": ["echo"]}, **k))
    code, out, err = cli("probe", "exp2", "--embedder", "toy_probe_cli:make_toy", "--embedder-option", "name=cli-toy",
                         "--json", tmp_path / "r.json", "--out", tmp_path / "o", "-q")
    assert code == 0, err
    assert "| MuQ-MuLan (release) | 0.883 |" in out and "| **cli-toy** |" in out and "Rule: ↑" in out
    rec = json.loads((tmp_path / "r.json").read_text())
    assert set(rec["cli-toy"]) == {"eq", "reverb", "all"} and rec["provenance"]["command"].startswith("timbrelab probe exp2 --embedder toy_probe_cli:make_toy")
    assert (tmp_path / "o" / "probe_exp2.md").read_text().startswith("## Experiment 2")


def test_default_sources_are_the_real_recordings():
    from timbrelab.probe.experiment2 import default_sources, find_piano

    try:
        piano_path, package, _ = find_piano()
    except MissingComponentError as exc:
        pytest.skip(str(exc))
    g, p, m = default_sources(excerpt_s=0.5)
    assert g.origin.startswith("timbrelab/examples/guitar_em9.flac") and p.origin == f"{piano_path.name} from the Debian package {package}"
    assert m.audio.shape[1] == min(g.audio.shape[1], p.audio.shape[1]) and np.max(np.abs(m.audio)) == pytest.approx(10 ** (-6 / 20), rel=1e-5)
