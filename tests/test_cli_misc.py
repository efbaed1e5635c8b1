"""`words`, `curve`, `demo` and a miniature `bench fx` run end to end."""

import json

import pytest


def test_words_lists_vocabulary(cli):
    code, out, err = cli("words", "--search", "room")
    assert code == 0
    assert "small-room" in out and "reverb" in out
    code, out, _ = cli("words", "--effect", "eq", "--json")
    rows = json.loads(out)
    assert len(rows) == 294 and all(r["effect"] == "eq" for r in rows)
    code, out, _ = cli("words", "--search", "zzzzqqq")
    assert code == 1


def test_curve_terminal_and_png(cli, tmp_path):
    code, out, err = cli("curve", "warm", "--png", tmp_path / "warm.png")
    assert code == 0, err
    assert "█" in out and "+5.0 dB" in out
    assert (tmp_path / "warm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_writes_audio_and_report(cli, tmp_path):
    out = tmp_path / "demo"
    code, stdout, err = cli("demo", "-o", out, "--descriptor", "warm", "--descriptor", "small room", "--amount", "0.3", "--amount", "1", "-q")
    assert code == 0, err
    names = {p.name for p in out.iterdir()}
    assert {"original.flac", "warm_0.3.flac", "warm_1.flac", "small-room_1.flac", "warm.png", "small-room.png", "index.html", "demo.json"} <= names
    rec = json.loads((out / "demo.json").read_text())
    assert [d["description"] for d in rec["descriptors"]] == ["warm", "small room"]
    assert "<audio" in (out / "index.html").read_text()


def test_bench_fx_small(cli, tmp_path):
    pytest.importorskip("pedalboard")
    j = tmp_path / "fx.json"
    code, out, err = cli("bench", "fx", "--minutes", "0.1", "--stream-minutes", "0.1", "--repeats", "1", "--out", tmp_path, "--json", j)
    assert code == 0, err
    r = json.loads(j.read_text())
    for key in ("eq_time_ratio_vs_pedalboard", "eq_realtime_factor", "reverb_time_s", "stream_peak_rss_mb", "eq_max_error_db"):
        assert isinstance(r[key], float) and r[key] > 0
    assert r["eq_max_error_db"] < 0.5
    assert (tmp_path / "bench_fx.md").exists() and (tmp_path / "bench_fx.png").exists()


def test_demo_shows_a_model_word(cli, tmp_path):
    code, stdout, err = cli("demo", "-o", tmp_path / "d", "--descriptor", "toasty", "--amount", "1", "-q")
    assert code == 0, err
    assert "word2eq model" in stdout and "word2eq model" in (tmp_path / "d" / "index.html").read_text()


def test_cli_errors_are_one_line(cli):
    code, out, err = cli("curve", "qwerty zxcv")
    assert code != 0 and err.count("\n") == 1 and err.startswith("timbrelab: error:")
