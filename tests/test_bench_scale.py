"""`timbrelab bench scale` (issue 17): its quick run measures what it says (the numbers live in reports/scale)."""

import pytest

from conftest import needs_synth

pytestmark = [pytest.mark.slow, needs_synth]


def test_quick_scale_run_compares_executors_resumes_and_measures_the_index(bench_run):
    run = bench_run("scale")
    assert run.code == 0, run.err
    r = run.report
    t = r["throughput"]
    assert set(t["apply"]) == {"1 process", "1 process, 1 thread", "2 workers"}  # --no-ray
    assert set(t["threads_speedup_1_process"]) == {"apply", "classify"} and all(v > 0 for v in t["threads_speedup_1_process"].values())
    assert set(r["targets"]) >= {"apply_scaling_2_workers", "classify_scaling_2_workers", "apply_speedup_2_workers"}
    for cmd in ("apply", "classify"):
        for row in t[cmd].values():
            assert row["identical_to_1_process"] is True
            assert row["files_per_s"] > 0 and row["marginal_files_per_s"] > 0
    assert r["targets_met"]["identical_outputs"] is True
    res = r["resume"]
    assert res["processed_twice"] == 0 and res["temporary_files_left"] == []
    assert res["second_run_already_done"] + res["second_run_processed"] == res["files"] == 6
    assert r["targets_met"]["resume_no_work_twice"] is True
    ix = r["index"]
    assert set(ix["vectors"]) == {"10000"} and ix["vectors"]["10000"]["recall_at_10"] >= 0.9
    assert ix["build"]["1 process"]["s_per_1000_files"] > 0
    assert "not run" in r["targets"]["latency_1m"] and r["targets_met"]["latency_1m"] is False  # 1M was not measured: not claimed
    md = next(run.out_dir.glob("bench_scale.md")).read_text()
    assert "| 2 workers |" in md and "| 1 process, 1 thread |" in md and "**Resume**" in md and (run.out_dir / "bench_scale.png").exists()
