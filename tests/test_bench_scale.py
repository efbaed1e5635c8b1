"""`timbrelab bench scale` (issue 17): its quick run measures what it says (the numbers live in reports/scale)."""

import pytest

from conftest import needs_synth



@pytest.mark.slow
@needs_synth
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


def _measured(ray: bool) -> dict:
    row = {"marginal_files_per_s": 50.0}
    t = {"apply": {"2 workers": dict(row)}, "classify": {"2 workers": {"marginal_files_per_s": 80.0}}}
    if ray:
        t["apply"]["Ray, 2 workers"] = {"marginal_files_per_s": 40.0}
        t["classify"]["Ray, 2 workers"] = {"marginal_files_per_s": 64.0}
        t["ray_overhead_s_per_file"] = {"apply": 0.0, "classify": 0.016}
    return {"benchmark": "scale", "library": {"seconds_each": 5.0}, "throughput": t,
            "index": {"build": {"2 workers": {"steady_s_per_1000_files": 2.0}},
                      "vectors": {"1000000": {"build_s_per_1000": 0.5, "index_bytes": 800_000_000, "latency_ms_mean": 8.0}}}}


def test_the_cost_model_is_arithmetic_on_the_measured_rates():
    from timbrelab.bench.scale import cost_model

    c = cost_model(_measured(ray=True), files=10_000_000, nodes=32)
    a = c["commands"]["apply"]
    assert a["node_files_per_s"] == 40.0 and a["cluster_files_per_s"] == 1280.0  # Ray's rate where Ray was measured
    assert a["hours"] == round(10_000_000 / 1280 / 3600, 2)
    assert a["read_mb_per_s"] == round(1280 * 5 * 44100 * 4 / 1e6)
    ix = c["commands"]["index (embedding)"]
    assert ix["node_files_per_s"] == round(500 * 64 / 80, 2)  # the pool's index rate × what Ray kept of the pool's classify rate
    v = c["vector_index"]
    assert v["memory_gb"] == 8.0 and 0.5 * 10_000 / 3600 < v["build_hours"] < 0.5 * 10_000 * 1.3 / 3600
    assert len(c["assumptions"]) >= 4
    assert cost_model(_measured(ray=False))["commands"]["classify"]["node_files_per_s"] == 80.0
    assert cost_model({"benchmark": "scale"}) is None


def test_rerender_rebuilds_the_report_without_measuring(tmp_path, cli):
    import json
    import shutil
    from pathlib import Path

    shutil.copy(Path(__file__).resolve().parents[1] / "reports" / "scale" / "bench_scale.json", tmp_path)  # the committed report
    measured = json.loads((tmp_path / "bench_scale.json").read_text())
    code, out, err = cli("bench", "scale", "--rerender", "--out", str(tmp_path))
    assert code == 0, err
    md = (tmp_path / "bench_scale.md").read_text()
    assert "**Cost model**" in md and "re-rendered" in md and "nothing re-measured" in md
    again = json.loads((tmp_path / "bench_scale.json").read_text())
    derived = ("ray_overhead_s_per_file",)
    assert again["cost_model"]["nodes"] == 32 and again["provenance"] == measured["provenance"]
    assert {k: v for k, v in again["throughput"].items() if k not in derived} == {k: v for k, v in measured["throughput"].items() if k not in derived}
    code, out, err = cli("bench", "scale", "--rerender", "--out", str(tmp_path / "none"))
    assert code == 2 and "needs a report" in err and "Traceback" not in err
