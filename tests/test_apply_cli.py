"""End-to-end: `timbrelab apply` on real files, and every kind of bad input."""

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import sha256
from timbrelab.batch import MANIFEST_NAME
from timbrelab.audio import read_audio, write_audio
from timbrelab.dsp.analysis import band_energy_db, decay_time_s
from timbrelab.dsp.signals import pink_noise
from timbrelab.fx import apply, apply_file, plan_effects


def low_minus_high_db(audio, sr):
    return band_energy_db(audio, sr, 20, 200) - band_energy_db(audio, sr, 2000, 8000)


def test_warm_and_bright_tilt_the_spectrum(cli, pink_wav, tmp_path):
    x, sr = read_audio(pink_wav)
    base = low_minus_high_db(x, sr)
    code, out, err = cli("apply", pink_wav, "-o", tmp_path / "warm.wav", "warm", "-q")
    assert code == 0, err
    assert "crowd map word 'warm'" in out
    warm, _ = read_audio(tmp_path / "warm.wav")
    code, _, err = cli("apply", pink_wav, "-o", tmp_path / "bright.wav", "bright", "-q")
    assert code == 0, err
    bright, _ = read_audio(tmp_path / "bright.wav")
    assert low_minus_high_db(warm, sr) > base + 3
    assert low_minus_high_db(bright, sr) < base - 3


def test_church_lengthens_decay(tmp_path, cli):
    sr = 22050
    click = np.zeros((1, sr), np.float32)
    click[0, 100] = 0.5
    write_audio(tmp_path / "click.wav", click, sr, bit_depth="float")
    code, out, err = cli("apply", tmp_path / "click.wav", "-o", tmp_path / "church.wav", "church", "-q")
    assert code == 0, err
    y, _ = read_audio(tmp_path / "church.wav")
    assert y.shape[1] > click.shape[1] + 3 * sr  # the tail rings out (rt60 ≈ 4.6 s)
    assert decay_time_s(y[:, 100:], sr) > 2.0


def test_eq_amount_zero_is_bit_for_bit(cli, pink_wav, tmp_path):
    out = tmp_path / "same.wav"
    code, _, err = cli("apply", pink_wav, "-o", out, "warm", "--eq-amount", "0", "-q")
    assert code == 0, err
    a, _ = sf.read(str(pink_wav), dtype="int16")
    b, _ = sf.read(str(out), dtype="int16")
    assert sf.info(str(out)).subtype == "PCM_16" and np.array_equal(a, b)


def test_streaming_equals_whole_file(tmp_path):
    x = pink_noise(2.5, 44100, channels=2, seed=5)
    write_audio(tmp_path / "in.wav", x, 44100, bit_depth="float")
    plan = plan_effects("warm, small room")
    whole = apply(x, 44100, plan=plan).audio
    for bf in (1000, 4096, 100_000):
        apply_file(tmp_path / "in.wav", tmp_path / f"o{bf}.wav", plan, block_frames=bf, bit_depth="float", progress=False)
        y, _ = read_audio(tmp_path / f"o{bf}.wav")
        assert y.shape == whole.shape and np.array_equal(y, whole), bf


def test_report_json_and_settings_roundtrip(cli, pink_wav, tmp_path):
    sj = tmp_path / "settings.json"
    code, _, err = cli("apply", pink_wav, "-o", tmp_path / "a.wav", "warm, small room", "--settings-json", sj, "-q")
    assert code == 0, err
    rep = json.loads(sj.read_text())
    assert len(rep["plan"]["eq"]["effective_gains_db"]) == 40
    assert set(rep["plan"]["reverb"]) >= {"d_s", "g", "m_s", "f_hz", "E", "rt60_s"}
    assert [d["effect"] for d in rep["plan"]["descriptors"]] == ["eq", "reverb"]
    code, _, err = cli("apply", pink_wav, "-o", tmp_path / "b.wav", "--from-settings", sj, "-q")
    assert code == 0, err
    assert np.array_equal(read_audio(tmp_path / "a.wav")[0], read_audio(tmp_path / "b.wav")[0])


def test_folder_in_folder_out(cli, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        write_audio(src / f"t{i}.flac", pink_noise(0.5, 16000, seed=i), 16000)
    code, out, err = cli("apply", src, "-o", tmp_path / "out", "bright", "--format", "wav", "-q")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name != MANIFEST_NAME) == ["t0.wav", "t1.wav", "t2.wav"]


def test_match_loudness_and_no_clipping(cli, tmp_path):
    import re

    from timbrelab.dsp.loudness import integrated_loudness

    ceiling = 10 ** (-0.1 / 20)
    x = pink_noise(3.0, 44100, channels=2, seed=1, level=0.3)
    x = np.clip(x, -0.99, 0.99)
    write_audio(tmp_path / "loud.wav", x, 44100, bit_depth="float")
    code, out, err = cli("apply", tmp_path / "loud.wav", "-o", tmp_path / "o.wav", "very warm", "--eq-amount", "2", "-q", "--bit-depth", "float")
    assert code == 0, err
    y, _ = read_audio(tmp_path / "o.wav")
    assert np.max(np.abs(y)) <= ceiling + 1e-6 and "clip guard" in out

    # loudness match with headroom: peaks near -18 dBFS, so the matched output cannot reach the
    # ceiling and the clip guard cannot fire; the loudness is matched, always
    q = pink_noise(3.0, 44100, channels=2, seed=1, level=0.03)
    assert np.max(np.abs(q)) < 0.15
    write_audio(tmp_path / "quiet.wav", q, 44100, bit_depth="float")
    for desc in ("bright", "very warm"):
        code, out, err = cli("apply", tmp_path / "quiet.wav", "-o", tmp_path / "m.wav", desc, "--match-loudness", "-q", "--bit-depth", "float")
        assert code == 0, err
        assert "loudness matched" in out and "clip guard" not in out, out
        y, _ = read_audio(tmp_path / "m.wav")
        assert np.max(np.abs(y)) < 0.5
        assert abs(integrated_loudness(y, 44100) - integrated_loudness(q, 44100)) < 0.1, desc

    # loudness match on the loud input: matching would push the peaks over the ceiling (+4 dBFS), so
    # the clip guard wins: peaks at the ceiling, loudness below the input's by exactly the guard's cut
    code, out, err = cli("apply", tmp_path / "loud.wav", "-o", tmp_path / "g.wav", "very warm", "--match-loudness", "-q", "--bit-depth", "float")
    assert code == 0, err
    assert "loudness matched" in out and "clip guard" in out, out
    cut_db = float(re.search(r"clip guard: peak \+[\d.]+ dBFS scaled to -0.1 dBFS \(([-+][\d.]+) dB\)", out).group(1))
    y, _ = read_audio(tmp_path / "g.wav")
    assert np.max(np.abs(y)) == pytest.approx(ceiling, abs=1e-4)
    assert cut_db < -1
    assert integrated_loudness(y, 44100) - integrated_loudness(x, 44100) == pytest.approx(cut_db, abs=0.05)


BAD = {
    "corrupt": ("in.wav", b"RIFF\x24\x00\x00\x00WAVEfmt garbage garbage garbage"),
    "empty": ("in.wav", b""),
    "unsupported": ("in.xyz", b"hello"),
}


@pytest.mark.parametrize("case", ["corrupt", "empty", "unsupported", "zero_length", "nan", "inf", "same_path", "unknown_word", "absurd_amount", "negative_reverb", "bad_output_ext", "missing_folder", "wrong_type_amount"])
def test_bad_input_one_line_error_nothing_written(cli, tmp_path, case):
    inp = tmp_path / "in.wav"
    out = tmp_path / "out.wav"
    args_extra = []
    desc = "warm"
    if case in BAD:
        name, data = BAD[case]
        inp = tmp_path / name
        inp.write_bytes(data)
    elif case == "zero_length":
        sf.write(str(inp), np.zeros((0, 2), np.float32), 44100)
    elif case in ("nan", "inf"):
        x = np.full((4000, 1), 0.1, np.float32)
        x[1234] = np.nan if case == "nan" else np.inf
        sf.write(str(inp), x, 44100, subtype="FLOAT")
    else:
        write_audio(inp, pink_noise(0.5, 16000), 16000, bit_depth="16")
        if case == "same_path":
            out = inp
        elif case == "unknown_word":
            desc = "qwerty zxcv"
        elif case == "absurd_amount":
            args_extra = ["--eq-amount", "50"]
        elif case == "negative_reverb":
            args_extra = ["--reverb-amount", "-1"]
        elif case == "bad_output_ext":
            out = tmp_path / "out.doc"
        elif case == "missing_folder":
            out = tmp_path / "nope" / "out.wav"
        elif case == "wrong_type_amount":
            args_extra = ["--eq-amount", "loud"]
    before = {p.name: sha256(p) for p in tmp_path.iterdir()}
    try:
        code, stdout, err = cli("apply", inp, "-o", out, desc, "-q", *args_extra)
    except SystemExit as exc:  # argparse type errors exit 2 with a usage line
        code, err = exc.code, "usage error"
    assert code != 0
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert len(lines) >= 1 and "Traceback" not in err
    if case != "wrong_type_amount":
        assert len(lines) == 1 and lines[0].startswith("timbrelab: error:"), err
    after = {p.name: sha256(p) for p in tmp_path.iterdir()}
    assert after == before  # input untouched, no partial output, no temp files


def test_resample_on_request(cli, pink_wav, tmp_path):
    code, _, err = cli("apply", pink_wav, "-o", tmp_path / "r.flac", "bright", "--sample-rate", "22050", "-q")
    assert code == 0, err
    y, sr = read_audio(tmp_path / "r.flac")
    assert sr == 22050 and y.shape[0] == 2 and abs(y.shape[1] - 3 * 22050) < 10
    code, _, err = cli("apply", pink_wav, "-o", tmp_path / "bad.wav", "bright", "--sample-rate", "1000000000", "-q")
    assert code != 0 and "not a usable rate" in err and not (tmp_path / "bad.wav").exists()


def test_one_pass_writes_what_two_passes_write(tmp_path, pink_wav, monkeypatch):
    """apply_file's one-pass path (no loudness match, peak under the ceiling) gives the two-pass output
    bit for bit; over the ceiling it falls back to two passes and the clip guard, leaving no temporary file."""
    import soundfile as sf

    from timbrelab import fx

    plan = fx.plan_effects("warm, church")
    x, sr = sf.read(str(pink_wav), dtype="float32")
    quiet = tmp_path / "quiet.wav"
    sf.write(str(quiet), x / np.max(np.abs(x)) * 0.2, sr, subtype="PCM_16")
    for name, one in (("one.wav", True), ("two.wav", False)):
        monkeypatch.setattr(fx, "ONE_PASS", one)
        rep = fx.apply_file(quiet, tmp_path / name, plan, progress=False)
        assert rep["gain_db"] == 0.0 and rep["notes"] == []
    a, _ = sf.read(str(tmp_path / "one.wav"), dtype="int16")
    b, _ = sf.read(str(tmp_path / "two.wav"), dtype="int16")
    assert a.shape == b.shape and np.array_equal(a, b)
    monkeypatch.setattr(fx, "ONE_PASS", True)
    loud = fx.plan_effects("warm", eq_amount=2.0)  # +10 dB at the boosted bands on full-scale noise: over the ceiling
    sf.write(str(tmp_path / "loud.wav"), x / np.max(np.abs(x)) * 0.99, sr, subtype="FLOAT")
    rep = fx.apply_file(tmp_path / "loud.wav", tmp_path / "guarded.wav", loud, progress=False)
    assert rep["gain_db"] < 0 and rep["peak_dbfs"] == pytest.approx(-0.1, abs=0.01) and any("clip guard" in n for n in rep["notes"])
    assert sorted(q.name for q in tmp_path.iterdir()) == ["guarded.wav", "loud.wav", "one.wav", "pink.wav", "quiet.wav", "two.wav"]
