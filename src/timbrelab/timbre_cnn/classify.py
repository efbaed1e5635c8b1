"""Instrument recognition with the shipped timbre CNN: ``classify(audio, sample_rate)`` / ``classify_file(path)``.

The audio is cut into 128-frame log-mel windows (2.7 s at the paper's 12 kHz / hop 256); the clip's
instrument probabilities are the mean of the windows' softmax outputs (as in the paper), and for a
file longer than one window the result also has a timeline: the top instrument of every window.

``classify_file`` streams: blocks of ``BLOCK_WINDOWS`` windows' worth of audio are decoded, turned
into log-mel frames (``frontend.LogMelStream``) and cut into windows (``frontend.WindowStream``), and
the model sees at most ``BATCH_WINDOWS`` windows at a time; only each window's 28 probabilities are
kept. The frames and windows are exactly those of the whole file, so the result is the one
``classify(read_audio(path))`` gives, and peak memory does not grow with the file's length.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from timbrelab.errors import AudioFileError, BadParameterError

MODEL_NAME = "timbre_cnn"
WEIGHTS_FILE = "timbre_cnn.safetensors"
BLOCK_WINDOWS = 2  # audio decoded per block, in windows (~5.5 s)
BATCH_WINDOWS = 2  # windows per forward pass of the model (larger batches only cost memory on a CPU)


def save_model(model, path, classes, extra: dict | None = None) -> None:
    """Weights (safetensors) with the model config, front-end config and class names in its metadata."""
    from safetensors.torch import save_file

    from timbrelab.timbre_cnn.frontend import FrontEndConfig

    meta = {"model_config": json.dumps(model.config.to_dict()), "frontend": json.dumps(FrontEndConfig().to_dict()), "classes": json.dumps(list(classes)), "extra": json.dumps(extra or {})}
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path), metadata=meta)


def load_model(path=None):
    """``(model, frontend_config, classes)``; by default the shipped weights, hash-checked."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from timbrelab.timbre_cnn.frontend import FrontEndConfig
    from timbrelab.timbre_cnn.models import build_model

    if path is None:
        from timbrelab import weights

        path = weights.load_file(MODEL_NAME, WEIGHTS_FILE)
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    model = build_model(json.loads(meta["model_config"]))
    model.load_state_dict(load_file(str(path)))
    model.eval()
    return model, FrontEndConfig.from_dict(json.loads(meta["frontend"])), tuple(json.loads(meta["classes"]))


@lru_cache(maxsize=2)
def _shipped():
    return load_model()


@dataclass
class Classification:
    """Clip probabilities per instrument, the top ones, and a per-window timeline."""

    probabilities: dict
    top: list  # [(instrument, probability)], best first
    timeline: list = field(default_factory=list)  # [{"start_s", "end_s", "instrument", "probability"}]
    duration_s: float = 0.0
    windows: int = 0

    def to_dict(self) -> dict:
        return {"top": [{"instrument": n, "probability": round(p, 4)} for n, p in self.top], "duration_s": round(self.duration_s, 3),
                "windows": self.windows, "timeline": self.timeline, "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}}


def _summarise(probs: np.ndarray, starts_s: list, window_s: float, duration_s: float, classes, top: int) -> Classification:
    clip = probs.mean(axis=0)
    order = np.argsort(-clip)[:top]
    timeline = []
    if len(probs) > 1:
        for p, s in zip(probs, starts_s):
            k = int(p.argmax())
            timeline.append({"start_s": round(s, 2), "end_s": round(min(s + window_s, duration_s), 2), "instrument": classes[k], "probability": round(float(p[k]), 3)})
    return Classification({c: float(v) for c, v in zip(classes, clip)}, [(classes[i], float(clip[i])) for i in order], timeline, duration_s, len(probs))


def _check_top(top: int, n: int) -> int:
    if isinstance(top, bool) or not isinstance(top, int) or not (1 <= top <= n):
        raise BadParameterError(f"--top must be a whole number from 1 to {n}")
    return top


def _starts(n_windows: int, window_s: float, duration_s: float) -> list[float]:
    """Start time of each window: every ``window_s``, the last one aligned to the end."""
    return [min(i * window_s, max(0.0, duration_s - window_s)) for i in range(n_windows)]


def classify(audio, sample_rate: int, top: int = 5, model=None) -> Classification:
    """Instrument probabilities of in-memory audio ``(channels, samples)`` at ``sample_rate``."""
    from timbrelab.timbre_cnn.data import clip_windows
    from timbrelab.timbre_cnn.evaluate import window_probabilities

    model, fe, classes = model or _shipped()
    top = _check_top(top, len(classes))
    from timbrelab.audio import as_audio

    x = as_audio(audio)
    w = clip_windows(x, sample_rate, fe)
    probs = window_probabilities(model, w, batch_size=BATCH_WINDOWS)
    hop_s = fe.frames * fe.hop / fe.sample_rate
    duration = x.shape[1] / sample_rate
    return _summarise(probs, _starts(len(w), hop_s, duration), hop_s, duration, classes, top)


def classify_file(path, top: int = 5, model=None) -> Classification:
    """Classify an audio file of any length, streamed (memory does not grow with its length)."""
    from timbrelab import audio as aio
    from timbrelab.timbre_cnn.evaluate import window_probabilities
    from timbrelab.timbre_cnn.frontend import LogMelStream, WindowStream

    model, fe, classes = model or _shipped()
    top = _check_top(top, len(classes))
    inf = aio.info(path)
    if inf.frames == 0:
        raise AudioFileError(f"{Path(path).name}: the file holds no audio")
    window_s = fe.frames * fe.hop / fe.sample_rate
    block_frames = max(1, int(BLOCK_WINDOWS * window_s * inf.sample_rate))
    mel = LogMelStream(inf.sample_rate, inf.channels, fe)
    cut = WindowStream(fe.n_mels, fe.frames, fe.silence_value)
    probs, pending = [], []

    def run(windows, final=False):
        pending.extend(windows)
        while len(pending) >= BATCH_WINDOWS or (final and pending):
            batch = np.stack(pending[:BATCH_WINDOWS])
            del pending[:BATCH_WINDOWS]
            probs.append(window_probabilities(model, batch, batch_size=BATCH_WINDOWS))

    for block in aio.iter_blocks(path, block_frames):
        run(cut.push(mel.process(block)))
    run(cut.push(mel.flush()))
    run(cut.finish(), final=True)
    p = np.concatenate(probs)
    duration = inf.frames / inf.sample_rate
    return _summarise(p, _starts(len(p), window_s, duration), window_s, duration, classes, top)
