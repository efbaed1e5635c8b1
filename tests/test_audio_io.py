import numpy as np
import pytest
import soundfile as sf

from timbrelab.audio import (
    AtomicAudioWriter, as_audio, choose_subtype, info, iter_blocks, read_audio, resample, write_audio,
)
from timbrelab.errors import AudioFileError, BadParameterError


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".aiff", ".mp3"])
def test_roundtrip_keeps_rate_and_channels(tmp_path, ext):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 22050)) * 0.1).astype(np.float32)
    p = tmp_path / f"x{ext}"
    write_audio(p, x, 22050)
    y, sr = read_audio(p)
    assert sr == 22050 and y.shape[0] == 2 and y.dtype == np.float32
    if ext in (".wav", ".flac", ".aiff"):  # lossless at 24 bit
        assert y.shape == x.shape and np.max(np.abs(y - x)) < 1e-5
    else:  # lossy codecs: length within a frame or two, same channel count
        assert abs(y.shape[1] - x.shape[1]) < 4096


def test_bit_depth_selectable_and_inherited(tmp_path):
    x = np.zeros((1, 1000), np.float32)
    write_audio(tmp_path / "a.wav", x, 8000, bit_depth="16")
    assert sf.info(str(tmp_path / "a.wav")).subtype == "PCM_16"
    write_audio(tmp_path / "b.flac", x, 8000, bit_depth="24")
    assert sf.info(str(tmp_path / "b.flac")).subtype == "PCM_24"
    assert choose_subtype("c.wav", None, "FLOAT") == "FLOAT"
    assert choose_subtype("c.flac", None, "FLOAT") == "PCM_24"  # FLAC cannot hold float
    with pytest.raises(BadParameterError):
        choose_subtype("c.flac", "float")


def test_pcm16_is_exact_through_float(tmp_path):
    q = (np.arange(-32768, 32768, 7, dtype=np.int32) / 32768.0).astype(np.float32)[None, :]
    write_audio(tmp_path / "q.wav", q, 44100, bit_depth="16")
    y, _ = read_audio(tmp_path / "q.wav")
    assert np.array_equal(y, q)


def test_blocks_and_info(tmp_path):
    x = np.linspace(-0.5, 0.5, 10_000, dtype=np.float32)[None, :]
    write_audio(tmp_path / "x.wav", x, 16000, bit_depth="float")
    i = info(tmp_path / "x.wav")
    assert (i.sample_rate, i.channels, i.frames) == (16000, 1, 10_000)
    blocks = list(iter_blocks(tmp_path / "x.wav", 3000))
    assert [b.shape[1] for b in blocks] == [3000, 3000, 3000, 1000]
    assert np.array_equal(np.concatenate(blocks, axis=1), x)


def test_resample_length():
    x = np.zeros((2, 44100), np.float32)
    assert resample(x, 44100, 16000).shape == (2, 16000)


def test_bad_files(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioFileError, match="empty"):
        read_audio(tmp_path / "empty.wav")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(AudioFileError, match="corrupt.wav: not a decodable audio file"):
        read_audio(tmp_path / "corrupt.wav")
    sf.write(str(tmp_path / "zero.wav"), np.zeros((0, 1), np.float32), 44100)
    with pytest.raises(AudioFileError, match="no audio"):
        read_audio(tmp_path / "zero.wav")
    bad = np.zeros((100, 1), np.float32)
    bad[50] = np.nan
    sf.write(str(tmp_path / "nan.wav"), bad, 44100, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN"):
        read_audio(tmp_path / "nan.wav")
    with pytest.raises(AudioFileError, match="unsupported"):
        read_audio(tmp_path / "x.txt")
    with pytest.raises(AudioFileError, match="no such file"):
        read_audio(tmp_path / "missing.wav")


def test_atomic_writer_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.wav"
    with pytest.raises(RuntimeError):
        with AtomicAudioWriter(target, 8000, 1) as w:
            w.write(np.zeros((1, 100), np.float32))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_as_audio_validates():
    assert as_audio(np.zeros(10)).shape == (1, 10)
    with pytest.raises(BadParameterError, match="channels, samples"):
        as_audio(np.zeros((1000, 2)))
    with pytest.raises(BadParameterError):
        as_audio("not audio")
    with pytest.raises(AudioFileError, match="NaN"):
        as_audio(np.array([0.0, np.inf]))


def test_outputs_get_ordinary_permissions(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        p = write_audio(tmp_path / "p.wav", np.zeros((1, 100), np.float32), 8000)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o644  # not mkstemp's private 0600


@pytest.mark.parametrize("encoder", ["ffmpeg", "libsndfile"])
def test_mp3_by_either_encoder_keeps_the_music(tmp_path, monkeypatch, encoder):
    """MP3 goes through ffmpeg's LAME where ffmpeg is installed (faster, VBR V2), else libsndfile's; both
    give back the signal: a 440 Hz tone stays a 440 Hz tone at about its level, length within LAME's padding."""
    from timbrelab.audio import have_ffmpeg

    if encoder == "ffmpeg" and not have_ffmpeg():
        pytest.skip("ffmpeg is not installed (scripts/setup.sh installs it)")
    monkeypatch.setenv("TIMBRELAB_MP3_ENCODER", encoder)
    sr = 44100
    t = np.arange(sr * 2) / sr
    x = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 440 * t)]).astype(np.float32)
    p = tmp_path / "tone.mp3"
    write_audio(p, x, sr)
    y, sr_y = read_audio(p)
    assert sr_y == sr and y.shape[0] == 2 and abs(y.shape[1] - x.shape[1]) < 4096
    spec = np.abs(np.fft.rfft(y[0, sr // 2 : sr // 2 + sr]))
    assert abs(np.argmax(spec) - 440) <= 1  # 1 Hz bins
    assert np.sqrt(np.mean(y[0, sr // 2 : -sr // 2] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.1)
    assert [q.name for q in tmp_path.iterdir()] == ["tone.mp3"]  # no temporary file left


def test_an_interrupted_mp3_write_leaves_nothing(tmp_path):
    from timbrelab.audio import _FFmpegEncoder

    p = tmp_path / "cut.mp3"
    with pytest.raises(RuntimeError):
        with AtomicAudioWriter(p, 44100, 2) as w:
            w.write(np.zeros((2, 44100), np.float32))
            encoder = w._file
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary file
    if isinstance(encoder, _FFmpegEncoder):
        assert encoder._proc.poll() is not None  # the encoder process is gone, reaped
