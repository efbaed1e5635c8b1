"""Reading what ffmpeg decodes (m4a, opus, …), and quiet, truthful MP3 decoding."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from timbrelab import audio as aio
from timbrelab.audio import info, iter_blocks, read_audio, write_audio
from timbrelab.errors import AudioFileError

HAVE_FFMPEG = bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))
needs_ffmpeg = pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg/ffprobe are not installed (apt install ffmpeg)")
SR = 48000


def _known_signal(channels=2, seconds=1.0, sr=SR):
    """Different content per channel (so a channel swap shows): sines with a slow amplitude swell."""
    t = np.arange(int(seconds * sr)) / sr
    env = 0.2 + 0.2 * np.sin(2 * np.pi * 1.5 * t) ** 2
    return np.stack([env * np.sin(2 * np.pi * (330 + 220 * c) * t) for c in range(channels)]).astype(np.float32)


def _encode(tmp_path, name, codec_args, x=None, sr=SR):
    x = _known_signal() if x is None else x
    src = tmp_path / "src.wav"
    write_audio(src, x, sr, bit_depth="16")
    out = tmp_path / name
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(src), *codec_args, str(out)],
        check=True, stdin=subprocess.DEVNULL,
    )
    return out, x


def _aligned_corr(ref, y, max_lag=4000):
    """Best correlation between ref and y over lags 0…max_lag of y (codecs add a start delay)."""
    n = ref.shape[-1] - max_lag
    best = -1.0
    for lag in range(0, max_lag):
        seg = y[lag : lag + n]
        if seg.shape[0] < n:
            break
        c = np.dot(ref[:n], seg) / (np.linalg.norm(ref[:n]) * np.linalg.norm(seg) + 1e-12)
        best = max(best, c)
    return best


def _ffmpeg_children():
    """PIDs of this process's ffmpeg/ffprobe children, zombies included (Linux /proc)."""
    me, kids = os.getpid(), []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == me and comm.startswith("ff"):
            kids.append(int(d.name))
    return kids


@needs_ffmpeg
@pytest.mark.parametrize("name,codec", [("x.m4a", ["-c:a", "aac", "-b:a", "160k"]), ("x.opus", ["-c:a", "libopus", "-b:a", "128k"])])
def test_lossy_container_info_read_blocks(tmp_path, name, codec):
    p, x = _encode(tmp_path, name, codec)
    i = info(p)
    assert (i.sample_rate, i.channels, i.decoder) == (SR, 2, "ffmpeg")
    assert abs(i.frames - x.shape[1]) <= 2048  # encoder padding at most
    y, sr = read_audio(p)
    assert sr == SR and y.dtype == np.float32 and y.shape == (2, i.frames)  # info's frame count is exact
    for c in range(2):
        assert _aligned_corr(x[c], y[c]) > 0.99, c
    assert _aligned_corr(x[0], y[1]) < 0.5  # channels not swapped or mixed
    blocks = list(iter_blocks(p, 10_000))
    assert all(b.shape == (2, 10_000) and b.dtype == np.float32 for b in blocks[:-1])
    assert np.array_equal(np.concatenate(blocks, axis=1), y)
    assert aio.is_readable_ext(p) and p.suffix in aio.INPUT_EXTS


@needs_ffmpeg
def test_lossless_via_ffmpeg_is_exact_and_keeps_channel_order(tmp_path):
    x = _known_signal(channels=6, seconds=0.5)
    p, _ = _encode(tmp_path, "six.mka", ["-c:a", "flac"], x=x)
    y, sr = read_audio(p)
    ref, _ = read_audio(tmp_path / "src.wav")  # the 16-bit source, through libsndfile
    assert sr == SR and np.array_equal(y, ref)
    i = info(p)
    assert (i.channels, i.frames, i.subtype) == (6, x.shape[1], "PCM_16")


@needs_ffmpeg
def test_closing_the_stream_early_leaves_no_process(tmp_path):
    p, _ = _encode(tmp_path, "x.m4a", ["-c:a", "aac"], x=_known_signal(seconds=3.0))
    before = set(_ffmpeg_children())
    gen = iter_blocks(p, 1024)  # 3 s of float stereo is far more than a pipe holds: ffmpeg is blocked
    next(gen)
    assert set(_ffmpeg_children()) - before  # the decoder is running
    gen.close()
    assert set(_ffmpeg_children()) == before  # killed and reaped: no zombie


@needs_ffmpeg
def test_corrupt_m4a_one_short_line(tmp_path, capfd):
    rnd = tmp_path / "noise.m4a"
    rnd.write_bytes(np.random.default_rng(1).bytes(20_000))
    good, _ = _encode(tmp_path, "x.m4a", ["-c:a", "aac"])
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # the index (moov) is at the end
    for p in (rnd, cut):
        for fn in (info, read_audio, lambda q: list(iter_blocks(q))):
            with pytest.raises(AudioFileError) as e:
                fn(p)
            msg = str(e.value)
            assert msg.startswith(f"{p.name}: not a decodable audio file") and "\n" not in msg and len(msg) < 200, msg
            assert str(tmp_path) not in msg
    assert capfd.readouterr().err == ""


@needs_ffmpeg
def test_missing_ffmpeg_is_named(tmp_path, monkeypatch):
    p, _ = _encode(tmp_path, "x.opus", ["-c:a", "libopus"])
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    for fn in (info, read_audio, lambda q: list(iter_blocks(q))):
        with pytest.raises(AudioFileError, match=r"x\.opus: .*needs ffmpeg \(apt install ffmpeg\)"):
            fn(p)
    assert read_audio(tmp_path / "src.wav")[0].shape[0] == 2  # libsndfile formats need no ffmpeg


@needs_ffmpeg
def test_libsndfile_failure_falls_back_to_ffmpeg(tmp_path):
    """An ALAC .caf (libsndfile: 'unsupported encoding') and an AAC stream misnamed .mp3 are still read."""
    for name, args in (("alac.caf", ["-c:a", "alac"]), ("really_aac.mp3", ["-c:a", "aac", "-f", "ipod"])):
        p, x = _encode(tmp_path, name, args)
        with pytest.raises(Exception):
            sf.info(str(p))
        i = info(p)
        assert i.decoder == "ffmpeg" and i.channels == 2 and i.sample_rate == SR
        y, _ = read_audio(p)
        assert _aligned_corr(x[0], y[0]) > 0.99


def test_libsndfile_path_unchanged(tmp_path):
    x = _known_signal(seconds=0.5)
    for ext in (".flac", ".mp3", ".ogg"):
        p = tmp_path / f"x{ext}"
        write_audio(p, x, SR)
        ref, sr = sf.read(str(p), dtype="float32", always_2d=True)
        y, sr2 = read_audio(p)
        assert sr2 == sr and np.array_equal(y, ref.T)
        assert info(p).decoder == "libsndfile"
        assert np.array_equal(np.concatenate(list(iter_blocks(p, 5000)), axis=1), ref.T)


def test_input_and_output_extensions():
    assert {".wav", ".flac", ".mp3", ".ogg", ".aiff", ".m4a", ".opus", ".aac", ".wma", ".webm", ".mp4", ".mka", ".caf", ".ac3"} <= aio.INPUT_EXTS
    assert aio.is_readable_ext("take.M4A") and aio.is_readable_ext(Path("a/b.opus")) and not aio.is_readable_ext("notes.txt")
    assert not aio.is_readable_ext("README") and not aio.is_readable_ext(".wav")
    assert aio.is_writable_ext("x.flac") and not aio.is_writable_ext("x.m4a")
    assert aio.container_for("x.wav") == "WAV"
    with pytest.raises(AudioFileError, match="unsupported"):
        aio.container_for("x.m4a")  # still an output check: m4a cannot be written
    with pytest.raises(AudioFileError, match="unsupported file type '.txt'"):
        info("notes.txt")


# ---- MP3: quiet decoder, truthful messages ---------------------------------------------------------


def _chatty_mp3s(tmp_path):
    """Valid MP3s that libmpg123 reports 'error: part2_3_length … too large' lines for while decoding them."""
    rng = np.random.default_rng(0)
    out = []
    for sr, n in ((16000, 16000), (16000, 5000), (8000, 8000), (22050, 22050)):
        p = tmp_path / f"noise_{sr}_{n}.mp3"
        write_audio(p, (0.1 * rng.standard_normal((1, n))).astype(np.float32), sr)
        out.append(p)
    return out


def test_valid_mp3_reads_silently(tmp_path, capfd):
    files = _chatty_mp3s(tmp_path)
    capfd.readouterr()
    for p in files:
        i = info(p)
        y, sr = read_audio(p)
        assert sr == i.sample_rate and y.shape == (1, i.frames)
        # sf.read's initial seek(0) nudges MPEG-2 (< 32 kHz) decoding by an ulp or two; blocks do not seek
        assert np.allclose(np.concatenate(list(iter_blocks(p, 1000)), axis=1), y, rtol=0, atol=1e-6)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_stderr_still_works_after_mp3_reads(tmp_path, capfd):
    p = _chatty_mp3s(tmp_path)[0]
    read_audio(p)
    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "still here\n"


def test_corrupt_mp3_says_what_is_wrong(tmp_path, capfd):
    good = tmp_path / "good.mp3"
    write_audio(good, _known_signal(seconds=2.0, sr=44100), 44100)
    data = good.read_bytes()
    rng = np.random.default_rng(0)
    noise = tmp_path / "noise.mp3"
    noise.write_bytes(rng.bytes(20_000))
    mid = bytearray(data)
    mid[len(data) // 3 : len(data) // 3 + 3000] = rng.bytes(3000)
    garbled = tmp_path / "garbled.mp3"
    garbled.write_bytes(bytes(mid))
    capfd.readouterr()
    for p, fns in ((noise, (info, read_audio)), (garbled, (read_audio, lambda q: list(iter_blocks(q, 4096))))):
        for fn in fns:
            with pytest.raises(AudioFileError) as e:
                fn(p)
            msg = str(e.value)
            assert msg.startswith(f"{p.name}: not a decodable audio file ("), msg
            assert "exist" not in msg and "\n" not in msg and len(msg) < 200, msg
    assert capfd.readouterr().err == ""  # no libmpg123 "Note:" / "error:" lines


def test_truncated_mp3_reads_what_is_there(tmp_path, capfd):
    good = tmp_path / "good.mp3"
    write_audio(good, _known_signal(seconds=2.0, sr=44100), 44100)
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    capfd.readouterr()
    y, sr = read_audio(cut)
    assert sr == 44100 and 0 < y.shape[1] < 88200
    assert capfd.readouterr().err == ""


def test_mp3_blocks_equal_whole_read(tmp_path):
    """soundfile's seek-after-read made block-wise MP3 reading return silence after a few blocks."""
    t = np.arange(88200) / 44100
    x = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 550 * t)]).astype(np.float32)
    p = tmp_path / "sine.mp3"
    write_audio(p, x, 44100)
    whole, _ = read_audio(p)
    for bf in (1000, 4096, 65536):
        blocks = np.concatenate(list(iter_blocks(p, bf)), axis=1)
        assert np.array_equal(blocks, whole), bf
    assert np.abs(whole[:, 20_000:80_000]).max(axis=1).min() > 0.2  # not silence
