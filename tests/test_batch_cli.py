"""Issue 8: batches that finish, arguments that mean what they say, errors that are one line."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import needs_synth, sha256
from timbrelab.batch import MANIFEST_NAME
from timbrelab.audio import read_audio, write_audio
from timbrelab.dsp.signals import pink_noise


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (sha256(p) if p.is_file() else "dir") for p in sorted(folder.rglob("*"))}


def one_error_line(err: str) -> str:
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


@pytest.fixture
def takes(tmp_path):
    """A producer's folder: two good takes, a corrupt one, a macOS sidecar, a text file, a sub-folder."""
    d = tmp_path / "takes"
    d.mkdir()
    write_audio(d / "a.wav", pink_noise(0.4, 16000, seed=1), 16000, bit_depth="16")
    (d / "b_corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    write_audio(d / "c.flac", pink_noise(0.4, 16000, seed=2), 16000)
    (d / "._a.wav").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (d / ".DS_Store").write_bytes(b"junk")
    (d / "notes.txt").write_text("take 3 was best")
    (d / "old").mkdir()
    return d


# --- batches ---------------------------------------------------------------------------------------

def test_folder_batch_goes_on_past_a_bad_file_and_summarises(cli, takes, tmp_path):
    before = snapshot(takes)
    code, out, err = cli("apply", takes, "-o", tmp_path / "out", "warm", "-q")
    assert code == 1  # a file failed
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name != MANIFEST_NAME) == ["a.wav", "c.flac"]
    assert "summary: 2 of 3 files processed, 1 failed, 4 skipped" in out
    assert "failed:  " in out and "b_corrupt.wav" in out
    for name in ("._a.wav", ".DS_Store", "notes.txt", "old"):
        assert f"skipped: {takes / name}" in out, name
    assert "b_corrupt.wav" in err and "Traceback" not in err
    assert snapshot(takes) == before  # inputs untouched


def test_batch_with_every_file_bad_leaves_no_folder(cli, tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "x.wav").write_bytes(b"not audio")
    code, out, err = cli("apply", d, "-o", tmp_path / "out", "warm", "-q")
    assert code == 1 and not (tmp_path / "out").exists()
    assert "0 of 1 file processed, 1 failed" in out


def test_classify_names_the_bad_file_and_reports_the_others(cli, tmp_path):
    sr = 22050
    t = np.arange(sr * 3) / sr
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    write_audio(tmp_path / "a.wav", tone, sr)
    (tmp_path / "bad.wav").write_bytes(b"garbage")
    write_audio(tmp_path / "c.wav", tone, sr)
    code, out, err = cli("classify", tmp_path / "a.wav", tmp_path / "bad.wav", tmp_path / "c.wav")
    assert code == 1
    assert f"{tmp_path / 'a.wav'} (3.0 s" in out and f"{tmp_path / 'c.wav'} (3.0 s" in out
    assert "bad.wav" in err and "summary: 2 of 3 files processed, 1 failed" in out
    code, out, err = cli("classify", tmp_path / "a.wav", tmp_path / "bad.wav", tmp_path / "c.wav", "--json")
    assert code == 1 and set(json.loads(out)) == {str(tmp_path / "a.wav"), str(tmp_path / "c.wav")}


def test_same_named_inputs_are_refused_before_anything_is_written(cli, tmp_path):
    d = tmp_path / "takes"
    d.mkdir()
    write_audio(d / "a.wav", pink_noise(0.3, 16000, seed=1), 16000)
    write_audio(d / "a.flac", pink_noise(0.3, 16000, seed=2), 16000)
    code, out, err = cli("apply", d, "-o", tmp_path / "out", "warm", "--format", "flac", "-q")
    assert code == 2 and not (tmp_path / "out").exists()
    line = one_error_line(err)
    assert "a.wav" in line and "a.flac" in line and "out/a.flac" in line
    # two folders holding the same name: refused too
    e = tmp_path / "more"
    e.mkdir()
    write_audio(e / "a.wav", pink_noise(0.3, 16000, seed=3), 16000)
    code, _, err = cli("apply", d / "a.wav", e / "a.wav", "-o", tmp_path / "out2", "warm", "-q")
    assert code == 2 and not (tmp_path / "out2").exists() and "would both be written" in err


def test_output_folder_equal_to_input_folder_is_refused(cli, takes):
    before = snapshot(takes)
    code, _, err = cli("apply", takes, "-o", takes, "warm", "-q")
    assert code == 2 and "overwrite an input" in one_error_line(err)
    assert snapshot(takes) == before


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_m4a_and_opus_in_a_folder_are_decoded(cli, tmp_path):
    d = tmp_path / "phone"
    d.mkdir()
    write_audio(tmp_path / "src.wav", pink_noise(0.5, 48000, seed=4, channels=2), 48000)
    for name, codec in (("memo.m4a", "aac"), ("voice.opus", "libopus")):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(tmp_path / "src.wav"), "-c:a", codec, str(d / name)], check=True)
    code, out, err = cli("apply", d, "-o", tmp_path / "out2", "warm", "--format", "flac", "-q")
    assert code == 0, err
    assert "summary: 2 of 2 files processed, 0 failed, 0 skipped" in out
    assert sorted(p.name for p in (tmp_path / "out2").iterdir() if p.name != MANIFEST_NAME) == ["memo.flac", "voice.flac"]
    y, sr = read_audio(tmp_path / "out2" / "voice.flac")
    assert sr == 48000 and y.shape[0] == 2 and y.shape[1] >= 0.45 * 48000


def test_a_folder_of_unwritable_types_needs_format(cli, tmp_path):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    d = tmp_path / "phone"
    d.mkdir()
    write_audio(tmp_path / "src.wav", pink_noise(0.3, 44100, seed=4), 44100)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(tmp_path / "src.wav"), str(d / "memo.m4a")], check=True)
    code, _, err = cli("apply", d, "-o", tmp_path / "out", "warm", "-q")
    assert code == 2 and "--format" in one_error_line(err) and not (tmp_path / "out").exists()


# --- arguments -------------------------------------------------------------------------------------

def test_unquoted_multi_word_description_gives_one_file(cli, pink_wav, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("apply", pink_wav, "-o", "out2.wav", "small", "room", "-q")
    assert code == 0, err
    assert Path("out2.wav").is_file()
    assert "'small room' → REVERB" in out
    several = ["a", "little", "brighter", "but", "not", "muddy,", "in", "a", "big", "church"]
    code, out, err = cli("apply", pink_wav, "-o", "out3.wav", *several, "-q", "--tail", "0")
    assert code == 0, err
    assert Path("out3.wav").is_file() and "timbrelab: a little brighter but not muddy, in a big church" in out


def test_description_naming_a_folder_is_still_a_description(cli, pink_wav, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("warm").mkdir()
    Path("church").write_text("not audio")
    code, out, err = cli("apply", pink_wav, "-o", "out.wav", "warm", "-q")
    assert code == 0, err
    assert Path("out.wav").is_file() and "crowd map word 'warm'" in out
    code, out, err = cli("apply", pink_wav, "-o", "out2.wav", "church", "-q", "--tail", "0")
    assert code == 0, err and "REVERB" in out


def test_long_description_is_one_short_line(cli, pink_wav, tmp_path):
    for desc in ("warm, " * 50, "w" * 300, "warm " * 120):
        assert len(desc.encode()) > 255
        code, out, err = cli("apply", pink_wav, "-o", tmp_path / "o.wav", desc, "-q")
        assert code == 2
        line = one_error_line(err)
        assert "File name too long" not in line and len(line) < 400, line
        assert not (tmp_path / "o.wav").exists() and list(tmp_path.iterdir()) == [pink_wav]


def test_silently_ignored_options_are_refused_or_honoured(cli, pink_wav, tmp_path):
    code, _, err = cli("apply", pink_wav, "-o", tmp_path / "o.wav", "warm", "--sample-rate", "0", "-q")
    assert code == 2 and "sample rate 0" in one_error_line(err) and not (tmp_path / "o.wav").exists()
    # --eq-amount with --from-settings: honoured (replaces the saved amount)
    sj = tmp_path / "s.json"
    assert cli("apply", pink_wav, "-o", tmp_path / "full.wav", "warm", "--settings-json", sj, "-q")[0] == 0
    assert cli("apply", pink_wav, "-o", tmp_path / "half.wav", "warm", "--eq-amount", "0.5", "-q")[0] == 0
    code, out, err = cli("apply", pink_wav, "-o", tmp_path / "again.wav", "--from-settings", sj, "--eq-amount", "0.5", "-q")
    assert code == 0, err and "EQ amount set to 0.5" in out
    again, half, full = (read_audio(tmp_path / n)[0] for n in ("again.wav", "half.wav", "full.wav"))
    assert np.array_equal(again, half) and not np.array_equal(again, full)


@pytest.mark.parametrize("lang", ["español", "ESPAÑOL", "espanol", "es", "Spanish"])
def test_words_lang_ignores_case_and_accents(cli, lang):
    code, out, err = cli("words", "--lang", lang, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 100 and {r["lang"] for r in rows} == {"Español"}


def test_words_unknown_language_is_refused(cli):
    code, _, err = cli("words", "--lang", "klingon")
    assert code == 2 and "unknown language" in one_error_line(err)


def test_settings_json_into_missing_folder_writes_nothing(cli, pink_wav, tmp_path):
    code, _, err = cli("apply", pink_wav, "-o", tmp_path / "o.wav", "warm", "--settings-json", tmp_path / "nope" / "s.json", "-q")
    assert code == 2 and "nope" in one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pink.wav"]


@pytest.mark.parametrize("args", [
    ["apply", "IN", "-o", "OUT", "warm", "--eq-amount", "loud"],
    ["apply", "IN", "-o", "OUT", "warm", "--sample-rate", "fast"],
    ["render", "violin", "-o", "OUT", "--pitch", "A4"],
    ["classify", "IN", "--top", "three"],
    ["curve", "warm", "--amount", "lots"],
    ["apply", "IN", "-o", "OUT", "warm", "--no-such-option"],
    ["bench", "fx", "--minutes", "ten"],
])
def test_non_numeric_values_print_one_line(cli, pink_wav, tmp_path, args):
    args = [str(pink_wav) if a == "IN" else str(tmp_path / "o.wav") if a == "OUT" else a for a in args]
    code, out, err = cli(*args)
    assert code == 2
    line = one_error_line(err)
    assert line.startswith("timbrelab") and "error:" in line and "usage:" not in err
    assert not (tmp_path / "o.wav").exists()


def _subcommands():
    from timbrelab.cli import build_parser

    import argparse

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, prefix + [name])
                return
        yield prefix, parser

    return list(walk(build_parser(), []))


@pytest.mark.parametrize("cmd", [" ".join(p) for p, _ in _subcommands()])
def test_every_subcommand_help_has_a_paragraph_and_examples(cmd):
    parser = dict((" ".join(p), ps) for p, ps in _subcommands())[cmd]
    text = parser.format_help()
    assert parser.description and len(parser.description.split()) >= 15, f"{cmd}: no one-paragraph description"
    assert "examples:" in (parser.epilog or ""), f"{cmd}: no examples"
    examples = [l for l in parser.epilog.splitlines() if l.strip().startswith("timbrelab ")]
    assert 2 <= len(examples) <= 5, f"{cmd}: {len(examples)} examples"
    assert all(l.strip().startswith(f"timbrelab {cmd}") for l in examples), cmd
    assert "examples:" in text


# --- errors that were "internal error" ---------------------------------------------------------------

@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A folder nobody may write in: chmod 555 for a normal user; for root (who ignores modes) the
    operating system's refusal is simulated at the one place files are created (tempfile)."""
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
        return
    real_mkstemp, real_mkdtemp = tempfile.mkstemp, tempfile.mkdtemp

    def deny(real):
        def f(*a, **k):
            if Path(k.get("dir") or ".").resolve() == d.resolve():
                raise PermissionError(errno.EACCES, "Permission denied", str(d))
            return real(*a, **k)
        return f

    monkeypatch.setattr(tempfile, "mkstemp", deny(real_mkstemp))
    monkeypatch.setattr(tempfile, "mkdtemp", deny(real_mkdtemp))
    yield d


def test_read_only_output_folder_is_one_line_everywhere(cli, pink_wav, read_only):
    cases = [
        ["apply", pink_wav, "-o", read_only / "o.wav", "warm", "-q"],
        ["curve", "warm", "--png", read_only / "w.png"],
        ["demo", "-o", read_only / "demo", "--descriptor", "warm", "--amount", "1", "-q"],
        ["render", "violin", "-o", read_only / "v.wav"],
    ]
    for args in cases:
        code, _, err = cli(*args)
        assert code != 0, args
        line = one_error_line(err)
        assert line.startswith("timbrelab: error:") and ("read-only" in line or "Permission denied" in line), line
        assert list(read_only.iterdir()) == [], args


def test_curve_png_must_be_an_image_file(cli, tmp_path):
    for target in (tmp_path, tmp_path / "curve.wav"):
        code, _, err = cli("curve", "warm", "--png", target)
        assert code == 2 and one_error_line(err).startswith("timbrelab: error:")
    assert list(tmp_path.iterdir()) == []


def test_demo_refuses_an_existing_file_and_leaves_nothing_on_bad_options(cli, tmp_path):
    f = tmp_path / "taken"
    f.write_text("mine")
    code, _, err = cli("demo", "-o", f, "-q")
    assert code == 2 and one_error_line(err) and f.read_text() == "mine"
    for bad in (["--amount", "50"], ["--descriptor", "qwerty zxcv"], ["--amount", "-1", "--descriptor", "church"]):
        code, _, err = cli("demo", "-o", tmp_path / "d", "-q", *bad)
        assert code == 2 and one_error_line(err).startswith("timbrelab: error:"), bad
        assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"], bad


def test_demo_refuses_a_folder_holding_other_files(cli, tmp_path):
    d = tmp_path / "music"
    d.mkdir()
    (d / "song.wav").write_bytes(b"x")
    code, _, err = cli("demo", "-o", d, "-q", "--descriptor", "warm", "--amount", "1")
    assert code == 2 and "holds other files" in one_error_line(err)
    assert [p.name for p in d.iterdir()] == ["song.wav"]


def test_render_bad_seed_and_out_of_range_pitch(cli, tmp_path):
    code, _, err = cli("render", "violin", "--phrase", "--seed", "-1", "-o", tmp_path / "v.wav")
    assert code == 2 and "seed -1" in one_error_line(err) and not (tmp_path / "v.wav").exists()


@needs_synth
def test_render_warns_outside_the_playable_range(cli, tmp_path):
    code, out, err = cli("render", "violin", "--pitch", "20", "-o", tmp_path / "v.wav", "--soundfont", "TimGM6mb")
    assert code == 0 and "warning: pitch 20 is below violin's playable range" in err
    assert (tmp_path / "v.wav").exists()


# --- interruption ------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_termination_leaves_no_temporary_files(tmp_path, sig):
    # long enough that the signal lands mid-write on a fast machine too (20 s was done within the 0.2 s below
    # on one: the handlers were already restored and the process died of the signal itself)
    write_audio(tmp_path / "in.wav", pink_noise(120.0, 44100, channels=2, seed=9), 44100, bit_depth="16")
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "timbrelab.cli", "apply", str(tmp_path / "in.wav"), "-o", str(out / "o.wav"),
           "warm, church", "-q", "--block-size", "512"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not any(out.iterdir()):  # wait until it is writing its temporary file
        time.sleep(0.02)
    assert any(out.iterdir()), "apply never started writing"
    time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert list(out.iterdir()) == [], "temporary or partial files left behind"
    assert "Traceback" not in err and len([l for l in err.splitlines() if l.strip()]) == 1, err
