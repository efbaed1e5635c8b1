"""`classify` streams its windows (issue #8): memory does not grow with the file's length, and the
results of short files are those recorded from the shipped weights (tests/data/classify_reference.json,
``python scripts/record_reference.py classify``; re-recorded when the shipped weights change — the
weights of before the one checkpoint format gave identical results in it, checked when it came)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from timbrelab.timbre_cnn import classify as C
from timbrelab.features.logmel import LogMelStream, log_mel
from timbrelab.features.windows import WindowStream, windows
from timbrelab.timbre_cnn.data import FrontEndConfig

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import record_reference as R  # noqa: E402


def test_short_files_classify_as_before(tmp_path):
    ref = json.loads((DATA / "classify_reference.json").read_text(encoding="utf-8"))["clips"]
    for name, path in R.classify_clips(tmp_path).items():
        got, want = C.classify_file(path, top=5), ref[name]
        from timbrelab.audio import read_audio

        whole = C.classify(*read_audio(path), top=5)  # streamed = the whole signal at once
        assert got.windows == whole.windows and all(got.probabilities[k] == pytest.approx(v, abs=1e-5) for k, v in whole.probabilities.items())
        assert got.windows == want["windows"] and got.duration_s == pytest.approx(want["duration_s"])
        for k, v in want["probabilities"].items():
            assert got.probabilities[k] == pytest.approx(v, abs=1e-5), (name, k)
        assert [n for n, _ in got.top] == [n for n, _ in want["top"]]
        assert [(t["start_s"], t["end_s"], t["instrument"]) for t in got.timeline] == [(t["start_s"], t["end_s"], t["instrument"]) for t in want["timeline"]]
        for a, b in zip(got.timeline, want["timeline"]):
            assert a["probability"] == pytest.approx(b["probability"], abs=1.01e-3)


@pytest.mark.parametrize("rate, channels, n", [(44100, 2, 44100 * 7 + 13), (12000, 1, 5000), (22050, 3, 900), (48000, 1, 30), (16000, 2, 16000 * 3)])
def test_streamed_log_mel_and_windows_equal_the_whole_signal(rate, channels, n):
    cfg = FrontEndConfig()
    x = (np.random.default_rng(n).standard_normal((channels, n)) * 0.1).astype(np.float32)
    whole = log_mel(x, rate, cfg.logmel)
    for block in (1000, 4097, n):
        s = LogMelStream(rate, channels, cfg.logmel)
        parts = [s.process(x[:, i : i + block]) for i in range(0, n, block)] + [s.flush()]
        got = np.concatenate(parts, axis=1)
        assert got.shape == whole.shape
        np.testing.assert_allclose(got, whole, atol=1e-4)
        for frames_per_push in (1, 50, 1000):
            w = WindowStream(cfg.n_mels, cfg.frames, cfg.silence_value)
            cut = [w.push(got[:, i : i + frames_per_push]) for i in range(0, got.shape[1], frames_per_push)] + [w.finish()]
            np.testing.assert_array_equal(np.concatenate(cut), windows(got, cfg.frames, pad_value=cfg.silence_value))
            assert w.held_max <= 2 * cfg.frames + frames_per_push


def test_classify_file_holds_a_bounded_number_of_windows(tmp_path, monkeypatch):
    """A 100 s file: the model sees a few windows at a time and the audio is read in short blocks
    (before: the whole file's 37 windows in one call, read as one 175 s block)."""
    from timbrelab import audio as aio
    from timbrelab.timbre_cnn import evaluate

    rate = 16000
    x, sr = sf.read(str(Path(C.__file__).parents[1] / "examples" / "guitar_em9.flac"), dtype="float32")
    mono = np.tile(x.mean(axis=1), 11)[: 100 * sr]
    import soxr

    path = tmp_path / "long.wav"
    sf.write(str(path), soxr.resample(mono, sr, rate), rate, subtype="PCM_16")
    seen = {"windows": [], "block_frames": []}
    real_probs, real_blocks = evaluate.window_probabilities, aio.iter_blocks

    def spy_probs(model, X, batch_size=64):
        seen["windows"].append(len(X))
        return real_probs(model, X, batch_size)

    def spy_blocks(p, block_frames=1 << 16):
        seen["block_frames"].append(block_frames)
        return real_blocks(p, block_frames)

    monkeypatch.setattr(evaluate, "window_probabilities", spy_probs)
    monkeypatch.setattr(aio, "iter_blocks", spy_blocks)
    res = C.classify_file(path, top=3)
    assert res.windows == sum(seen["windows"]) >= 36
    assert max(seen["windows"]) <= 8, seen["windows"]
    assert max(seen["block_frames"]) <= 30 * rate, seen["block_frames"]
    monkeypatch.undo()
    whole = C.classify(*aio.read_audio(path), top=3)  # streaming changes nothing: the whole file in memory agrees
    for k, v in whole.probabilities.items():
        assert res.probabilities[k] == pytest.approx(v, abs=1e-5)
    assert [t["instrument"] for t in res.timeline] == [t["instrument"] for t in whole.timeline]
