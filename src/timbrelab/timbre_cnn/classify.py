"""Instrument recognition with the shipped timbre CNN: ``classify(audio, sample_rate)`` / ``classify_file(path)``.

The audio is cut into 128-frame log-mel windows (2.7 s at the paper's 12 kHz / hop 256); the clip's
instrument probabilities are the mean of the windows' softmax outputs (as in the paper), and for a
file longer than one window the result also has a timeline: the top instrument of every window.
Files are read in chunks of ``CHUNK_WINDOWS`` windows, so memory stays bounded for long files.
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
CHUNK_WINDOWS = 64


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


def classify(audio, sample_rate: int, top: int = 5, model=None) -> Classification:
    """Instrument probabilities of in-memory audio ``(channels, samples)`` at ``sample_rate``."""
    from timbrelab.timbre_cnn.data import clip_windows
    from timbrelab.timbre_cnn.evaluate import window_probabilities

    model, fe, classes = model or _shipped()
    top = _check_top(top, len(classes))
    from timbrelab.audio import as_audio

    x = as_audio(audio)
    w = clip_windows(x, sample_rate, fe)
    probs = window_probabilities(model, w)
    hop_s = fe.frames * fe.hop / fe.sample_rate
    duration = x.shape[1] / sample_rate
    starts = [min(i * hop_s, max(0.0, duration - hop_s)) for i in range(len(w))]
    return _summarise(probs, starts, hop_s, duration, classes, top)


def classify_file(path, top: int = 5, model=None) -> Classification:
    """Classify an audio file of any length, read in chunks (bounded memory)."""
    from timbrelab import audio as aio
    from timbrelab.timbre_cnn.data import clip_windows
    from timbrelab.timbre_cnn.evaluate import window_probabilities

    model, fe, classes = model or _shipped()
    top = _check_top(top, len(classes))
    inf = aio.info(path)
    if inf.frames == 0:
        raise AudioFileError(f"{Path(path).name}: the file holds no audio")
    window_s = fe.frames * fe.hop / fe.sample_rate
    chunk_frames = int(CHUNK_WINDOWS * window_s * inf.sample_rate)
    probs, starts, offset = [], [], 0
    for block in aio.iter_blocks(path, chunk_frames):
        n = block.shape[1]
        if n < 0.25 * window_s * inf.sample_rate and probs:  # a short remainder: already covered by the previous windows
            break
        w = clip_windows(block, inf.sample_rate, fe)
        p = window_probabilities(model, w)
        dur = n / inf.sample_rate
        probs.append(p)
        starts += [offset / inf.sample_rate + min(i * window_s, max(0.0, dur - window_s)) for i in range(len(w))]
        offset += n
    return _summarise(np.concatenate(probs), starts, window_s, inf.frames / inf.sample_rate, classes, top)
