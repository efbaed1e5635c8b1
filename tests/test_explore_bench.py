"""`timbrelab bench explore`: the quick run (4 instruments, one epoch) through every part of the report."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.slow


def test_quick_bench_reports_disentanglement_reconstruction_interpolation_speed_and_goals(bench_run):
    r = bench_run("explore")
    assert r.code == 0, r.err[-2000:]
    rep = r.report
    assert set(rep["seeds"]) == {"seed 0", "seed 1"} and rep["selected"] in rep["seeds"]
    for seed in rep["seeds"].values():
        d = seed["disentanglement"]
        for k in ("instrument_from_timbre", "instrument_from_pitch", "pitch_from_pitch", "pitch_from_timbre"):
            assert 0.0 <= d[k] <= 1.0
        assert d["chance_instrument"] == pytest.approx(0.25)  # the quick run's four instruments
        rec = seed["reconstruction"]
        assert math.isfinite(rec["logmel_mae_db"]) and rec["notes"] > 0
        it = seed["interpolation"]
        assert it["triples"] > 0 and it["alphas"] == [0.0, 0.25, 0.5, 0.75, 1.0]
        for m in ("griffin-lim", "harmonic"):
            assert 0.0 <= it[m]["monotonic_fraction"] <= 1.0 and it[m]["pitch"]["n"] == 5 * it["triples"]
            assert all(len(row[m]["p_target"]) == 5 for row in it["rows"])
    assert rep["spread"]["disentanglement.instrument_from_timbre"]["n"] == 2
    assert rep["speed"]["cli_interpolation_set_seconds"] is not None and rep["speed"]["studio_note_seconds_griffin-lim"] > 0
    assert rep["speed"]["studio_http_note_seconds_griffin-lim"] > 0 and rep["speed"]["studio_http_note_seconds_harmonic"] > 0
    assert set(rep["verdict"]) >= {"instrument from z_timbre ≥ 0.9", "studio note ≤ 1 s"}
    assert rep["provenance"]["command"].startswith("timbrelab bench explore")
    text = (r.out_dir / "bench_explore.md").read_text()
    assert "Disentanglement" in text and "Goals" in text
    for png in ("interpolation.png", "traversal.png", "latents.png"):
        assert (r.out_dir / png).exists()
