"""Every bench report says how to reproduce it: a ``provenance`` block written by one helper
(``timbrelab.bench.provenance.report_provenance``), checked on each registered bench's quick run."""

import argparse
import importlib
import os
import platform
import re
import shlex

import pytest

from conftest import BENCH_QUICK_RUNS, needs_synth
from timbrelab.bench.provenance import options_of, report_provenance


def registered_benches() -> list[str]:
    from timbrelab.cli import BENCH_MODULES

    sub = argparse.ArgumentParser().add_subparsers()
    for name in BENCH_MODULES:
        importlib.import_module(name).register(sub)
    return list(sub.choices)


def test_every_registered_bench_has_a_quick_run():
    assert set(registered_benches()) <= set(BENCH_QUICK_RUNS), "add the new bench's quickest run to BENCH_QUICK_RUNS in tests/conftest.py"


def check_provenance(p: dict, bench: str, argv: list[str]) -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", p["git_commit"]), p["git_commit"]  # tests run in a git checkout
    assert isinstance(p["git_dirty"], bool)
    # the run's configuration as data: the bench's options, and a shipped model's recipe where it has one
    assert p["recipe"]["bench"] == bench and isinstance(p["recipe"]["options"], dict)
    if bench in ("word2eq", "word2reverb", "timbre-cnn"):
        assert p["recipe"]["model_recipe"]["model"]["loader"]
    assert p["packages"]["timbrelab"] and p["packages"]["numpy"] and p["packages"]["torch"]
    assert p["python"] == platform.python_version() and p["machine"]["cpus"] == os.cpu_count()
    # the command names the bench and, parsed again, gives the very options of the run
    from timbrelab.cli import build_parser

    words = shlex.split(p["command"])
    assert words[:3] == ["timbrelab", "bench", bench]
    again, asked = vars(build_parser().parse_args(words[1:])), vars(build_parser().parse_args(argv))
    assert {k: v for k, v in again.items() if k != "func"} == {k: v for k, v in asked.items() if k != "func"}


@pytest.mark.slow
@pytest.mark.parametrize("bench", [pytest.param(b, marks=[needs_synth] if b in ("timbre-cnn", "scale") else []) for b in BENCH_QUICK_RUNS])
def test_bench_report_has_provenance(bench_run, bench):
    if bench == "fx":
        pytest.importorskip("pedalboard")
    run = bench_run(bench)
    assert run.code == 0, run.err
    r = run.report
    assert r is not None, f"bench {bench} wrote no bench_*.json in {run.out_dir}"
    check_provenance(r["provenance"], bench, run.argv)
    assert "command" not in r and "machine" not in r  # one block, written by one helper
    assert r["provenance"]["git_commit"][:10] in (run.out_dir / next(run.out_dir.glob("bench_*.md")).name).read_text()
    if bench == "fx":  # the hot file really makes apply's clip guard take its second pass; the quiet one does not
        assert r["stream_gain_db"] == 0 and r["stream_two_pass_gain_db"] < 0


def test_command_from_argv_from_the_process_or_rebuilt_from_the_options(monkeypatch):
    from timbrelab.cli import build_parser

    assert report_provenance("fx", argv=["--minutes", "1"])["command"] == "timbrelab bench fx --minutes 1"
    monkeypatch.setattr("sys.argv", ["/usr/bin/timbrelab", "bench", "fx", "--repeats", "2"])
    assert report_provenance("fx")["command"] == "timbrelab bench fx --repeats 2"
    monkeypatch.setattr("sys.argv", ["pytest", "-q"])  # called in-process: rebuilt from what was parsed
    argv = ["bench", "word2eq", "--methods", "mean", "glove-mlp", "--out", "a folder"]
    ns = build_parser().parse_args(argv)
    assert options_of("word2eq", ns) == ["--out", "'a folder'", "--methods", "mean", "glove-mlp"]
    p = report_provenance("word2eq", ns, packages=("scipy",), torch_threads=1)
    check_provenance(p, "word2eq", argv)
    assert list(p)[:3] == ["command", "git_commit", "git_dirty"] and "scipy" in p["packages"] and p["torch_threads"] == 1
