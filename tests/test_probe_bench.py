"""`timbrelab bench probe`: the quick run on the built-in TimbreCLAP models and the crowd-curve toy
embedder (tests/probe_toys.py), and the message when no embedder is given while timbrelab has no
built-in one."""

from __future__ import annotations


def test_without_any_embedder_it_says_so(cli, tmp_path, monkeypatch):
    from timbrelab.probe import embedders

    monkeypatch.setattr(embedders, "BUILTIN_EMBEDDERS", {})  # as in an install without the built-in models
    code, out, err = cli("bench", "probe", "--quick", "--out", tmp_path)
    assert code != 0 and err.count("\n") == 1 and "there is no embedder to probe" in err and "--embedder SPEC" in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_quick_run_writes_json_markdown_and_figures(bench_run):
    run = bench_run("probe")
    assert run.code == 0, run.err
    r = run.report
    assert r["benchmark"] == "probe" and r["quick"] and r["embedders"] == ["timbreclap", "timbreclap-heldout", "crowd-eq"]
    assert r["ranking_held_out"]["timbreclap"].startswith("no") and r["experiment2_seeds"] is None  # the quick run retrains nothing
    e2 = r["experiment2"]["crowd-eq"]
    assert set(e2) == {"eq", "reverb", "all"} and 0 <= e2["eq"]["positive_slope_rate"] <= 1
    assert e2["eq"]["positive_slope_rate"] == 1.0  # the toy's text vector is the crowd curve: EQ moves it towards the word
    rank = r["socialfx_ranking"]
    assert rank["crowd-eq"]["eq"]["change"]["mrr"] > 2 * rank["crowd-eq"]["eq"]["change"]["chance_mrr"]
    assert set(rank["text_reference"]) == {"eq", "reverb"}
    for name in ("bench_probe.md", "bench_probe.png", "bench_probe_ranking.png"):
        assert (run.out_dir / name).stat().st_size > 0
    md = (run.out_dir / "bench_probe.md").read_text()
    assert "| MuQ-MuLan (release) |" in md and "## SocialFX ranking" in md and "text-only reference" in md
