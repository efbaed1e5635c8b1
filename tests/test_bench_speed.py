"""`timbrelab bench speed`: the measuring machinery (the numbers themselves live in reports/speed)."""

import json

import pytest

from timbrelab.bench import provenance as P
from timbrelab.bench import speed as S


@pytest.mark.slow
def test_a_fresh_cli_process_is_timed_and_its_own_memory_read(tmp_path):
    r = S.run_cli(["words", "--search", "warm", "--json"], tmp_path)
    assert r.exit_code == 0 and 0.05 < r.wall_s < 60
    assert r.peak_rss_mb is not None and 20 < r.peak_rss_mb < 2000
    bad = S.run_cli(["curve", "qwerty"], tmp_path)
    assert bad.exit_code != 0 and bad.peak_rss_mb is not None  # the exit path still reports memory
    assert not list(tmp_path.glob("hwm-*"))


def test_provenance_names_commit_packages_machine_and_command():
    p = P.provenance("timbrelab bench speed --repeats 3")
    assert p["command"] == "timbrelab bench speed --repeats 3"
    assert set(p["packages"]) == {"timbrelab", "numpy", "torch"} and p["packages"]["numpy"]
    assert p["machine"]["cpus"] >= 1 and p["python"].count(".") == 2
    assert "commit" in p["git"] and "dirty" in p["git"]
    json.dumps(p)
    assert "timbrelab bench speed --repeats 3" in P.markdown_footer(p)
    assert P.command_line("speed", ["--only", "apply"]) == "timbrelab bench speed --only apply"


def _fake_result() -> dict:
    runs = {"wall_s": [1.0, 1.1, 1.2], "peak_rss_mb": [100.0, 101.0, 102.0], "exit_codes": [0, 0, 0], "median_wall_s": 1.1, "median_peak_rss_mb": 101.0}
    apply = {w: {"resolves_by": how, **runs} for w, how in S.APPLY_WORDS}
    words = list(S.MODEL_WORDS)
    return {
        "sections": ["apply", "classify"],
        "provenance": P.provenance("timbrelab bench speed"),
        "targets": {"model_word_time": "t", "classify_memory_flat": "c"},
        "targets_met": {"model_word_time": True, "classify_memory_flat": False},
        "apply": {"input": "x.flac", "repeats": 3, "apply": apply, "model_words": words,
                  "model_word_time_ratio_vs_map_word_by_word": dict.fromkeys(words, 1.0), "model_word_extra_s_by_word": dict.fromkeys(words, 0.0)},
        "classify": {"classify": {k: {"duration_s": v, **runs} for k, v in S.CLASSIFY_LENGTHS_S.items()}},
    }


def test_markdown_and_plot_of_a_result(tmp_path):
    r = _fake_result()
    md = S.markdown(r)
    assert md.count("\n| `apply`") == len(S.APPLY_WORDS) and md.count("| `classify`") == 3
    assert "**met**" in md and "**NOT met**" in md and "Command: `timbrelab bench speed`" in md
    S.plot(r, tmp_path / "speed.png")
    assert (tmp_path / "speed.png").stat().st_size > 1000


def test_sections_are_registered_for_growth():
    assert list(S.SECTIONS) == ["apply", "classify", "encode", "commands"]
    for s in S.SECTIONS.values():
        assert callable(s.measure) and callable(s.table)
    assert "model_word_time_ratio_vs_map_word" in S.SECTIONS["apply"].headline and S.SECTIONS["classify"].headline == ("classify_peak_rss_mb",)


@pytest.mark.slow
def test_a_small_run_writes_its_report(tmp_path):
    """The classify section on the 10 s file only (the full bench takes about a minute)."""
    assert S.main(["--only", "classify", "--classify-max-s", "10", "--out", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "bench_speed.json").read_text())
    assert list(r["classify_peak_rss_mb"]) == ["10 s"] and r["targets_met"] == {"classify_memory_flat": True}
    assert r["provenance"]["command"] == "timbrelab bench speed --only classify --classify-max-s 10 --out " + str(tmp_path)
    assert (tmp_path / "bench_speed.md").exists() and (tmp_path / "bench_speed.png").exists()


def test_encode_rows_compare_with_ffmpeg():
    r = {"encode": {"wav": {"median_wall_s": 1.8, "median_peak_rss_mb": 120.0, "kbps": 1411.0, "encode_s": 0.0},
                    "mp3": {"median_wall_s": 3.2, "median_peak_rss_mb": 121.0, "kbps": 108.0, "encode_s": 1.4}},
         "ffmpeg": {"wav": {"median_wall_s": 0.3, "encode_s": 0.0, "kbps": 1411.0}, "mp3": {"median_wall_s": 2.1, "encode_s": 1.8, "kbps": 112.0}}}
    rows = S._encode_rows(r)
    assert rows[0].endswith("(reference) |") and "encoding +1.40 s; ffmpeg +1.80 s at 112 kbps" in rows[1] and "(108 kbps)" in rows[1]


def test_help_has_a_paragraph_and_examples():
    import argparse

    sub = argparse.ArgumentParser().add_subparsers()
    S.register(sub)
    p = sub.choices["speed"]
    assert len(p.description.split()) >= 15 and p.epilog.startswith("examples:")
    assert 2 <= sum(line.strip().startswith("timbrelab bench speed") for line in p.epilog.splitlines()) <= 5
