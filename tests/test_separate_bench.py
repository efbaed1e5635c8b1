"""`timbrelab bench separate`: the quick run (tiny corpus, a few training steps) through every part of the report."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.slow


def test_quick_bench_reports_models_baselines_spread_and_speed(bench_run):
    r = bench_run("separate")
    assert r.code == 0, r.err[-2000:]
    rep = r.report
    assert set(rep["test_sets"]) == {"held-out soundfont", "real Medley mixtures"}
    assert rep["test_sets"]["held-out soundfont"]["mixtures"] > 0 and rep["test_sets"]["real Medley mixtures"]["queries"] > 0
    assert set(rep["seeds"]) == {"seed 0", "seed 1"} and rep["selected"] in rep["seeds"]
    for seed in rep["seeds"].values():
        for phase in ("phase 1", "phase 2"):
            s = seed[phase]["held-out soundfont"]
            assert math.isfinite(s["summary"]["sdri"]["median"]) and "wrong_query_output_db" in s
        assert seed["training"]["phase1"]["query"] == "frozen" and seed["training"]["phase2"]["query"] == "trained"
    for set_name, b in rep["baselines"].items():
        assert abs(b["mixture"]["summary"]["sdri"]["median"]) < 1e-9  # the mixture improves on itself by nothing
        assert b["oracle IRM"]["summary"]["sdri"]["median"] > 6.0  # an oracle mask separates
        assert b["mixture ÷ number of sources"]["summary"]["sdri"]["median"] > 0.0
    assert rep["spread"]["phase 2"]["held-out soundfont"]["median_sdri"]["n"] == 2
    sel = rep["seeds"][rep["selected"]]["phase 2"]["held-out soundfont"]
    rows = [x for x in sel["rows"] if not x.get("absent")]
    assert rows and all(math.isfinite(x["bss_sdr"]) and math.isfinite(x["bss_sdri"]) for x in rows)  # mir_eval's BSS-eval, and its improvement
    assert math.isfinite(sel["summary"]["bss_sdri"]["median"])
    assert 0 < rep["speed"]["real_time_factor"] < 10
    assert (r.out_dir / "bench_separate.md").read_text().count("|") > 20
    assert (r.out_dir / "sdri_boxes.png").exists() and (r.out_dir / "spectrograms_violin_trumpet.png").exists()
