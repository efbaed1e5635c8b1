"""Instrument recognition with a timbre CNN: ``TimbreClassifier`` and ``classify`` / ``classify_file``.

A :class:`TimbreClassifier` is a trained ``TimbreCNN`` with the front end its training windows were
computed with (``data.FrontEndConfig``) and its class names; it saves to and loads from the one
checkpoint format (``to_checkpoint`` / ``from_checkpoint``, :mod:`timbrelab.ml.checkpoint`), which is
how the registry builds the shipped model (``timbrelab.models.load("timbre_cnn")``).

The audio is cut into log-mel windows (128 frames, 2.7 s at the paper's 12 kHz / hop 256); the clip's
instrument probabilities pool the windows' softmax outputs (``evaluate.pool_windows``: the paper's
mean, each window weighed by its instrument evidence when the model knows "no instrument"), and for a
file longer than one window the result also has a timeline: the top instrument of every window.

``classify_file`` streams: blocks of ``BLOCK_WINDOWS`` windows' worth of audio are decoded, turned
into log-mel frames (``features.logmel.LogMelStream``) and cut into windows
(``features.windows.WindowStream``), and the model sees at most ``BATCH_WINDOWS`` windows at a time;
only each window's 28 probabilities are kept. The frames and windows are exactly those of the whole
file, so the result is the one ``classify(read_audio(path))`` gives, and peak memory does not grow
with the file's length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from timbrelab.errors import AudioFileError, BadParameterError, MissingComponentError

MODEL_NAME = "timbre_cnn"
CHECKPOINT_KIND = "timbre-cnn-classifier"
BLOCK_WINDOWS = 2  # audio decoded per block, in windows (~5.5 s)
BATCH_WINDOWS = 2  # windows per forward pass of the model (larger batches only cost memory on a CPU)


class TimbreClassifier:
    """A trained timbre CNN, the front end it was trained with, and its classes.

    ``classify(audio, sample_rate, top)`` / ``classify_file(path, top)`` → :class:`Classification`;
    ``to_checkpoint()`` / ``TimbreClassifier.from_checkpoint(ckpt)`` round-trip it exactly.
    """

    def __init__(self, model, front_end, classes, info: dict | None = None):
        from timbrelab.timbre_cnn.data import FrontEndConfig

        if not isinstance(front_end, FrontEndConfig):
            raise BadParameterError(f"a timbre classifier needs the FrontEndConfig it was trained with, got {type(front_end).__name__}")
        c = model.config
        if c.n_classes != len(classes):
            raise BadParameterError(f"the model has {c.n_classes} outputs for {len(classes)} class names")
        if (c.n_mels, c.frames) != (front_end.n_mels, front_end.frames):
            raise BadParameterError(f"the model takes {c.n_mels}×{c.frames} windows, the front end makes {front_end.n_mels}×{front_end.frames}")
        if front_end.windows.hop != front_end.frames:
            raise BadParameterError("a timbre classifier cuts non-overlapping windows (windows.hop_frames must be unset)")
        self.model = model.eval()
        self.front_end = front_end
        self.classes = tuple(classes)
        self.info = dict(info or {})

    @property
    def instrument_classes(self) -> tuple:
        """The classes that are instruments (all but "no instrument")."""
        from timbrelab.timbre_cnn.data import NO_INSTRUMENT

        return tuple(c for c in self.classes if c != NO_INSTRUMENT)

    def to_checkpoint(self, name: str = MODEL_NAME):
        from timbrelab.ml.checkpoint import Checkpoint, state_to_arrays

        return Checkpoint(name=name, kind=CHECKPOINT_KIND, tensors=state_to_arrays(self.model.state_dict()), config=self.model.config.to_dict(),
                          features=self.front_end.to_dict(), vocabulary=list(self.classes), extra=self.info)

    @classmethod
    def from_checkpoint(cls, ckpt) -> "TimbreClassifier":
        from timbrelab.ml.checkpoint import arrays_to_state
        from timbrelab.timbre_cnn.data import FrontEndConfig
        from timbrelab.timbre_cnn.models import build_model

        if ckpt.kind != CHECKPOINT_KIND:
            raise MissingComponentError(f"checkpoint '{ckpt.name}' holds a {ckpt.kind}, not a timbre CNN classifier")
        model = build_model(ckpt.config)
        model.load_state_dict(arrays_to_state(ckpt.tensors))
        return cls(model, FrontEndConfig.from_dict(ckpt.features or {}), ckpt.vocabulary or (), ckpt.extra)

    def window_probabilities(self, X: np.ndarray, batch_size: int = BATCH_WINDOWS) -> np.ndarray:
        """Softmax probabilities of log-mel windows ``(n, n_mels, frames)``: ``(n, classes)``."""
        from timbrelab.timbre_cnn import evaluate

        return evaluate.window_probabilities(self.model, X, batch_size=batch_size)

    def classify(self, audio, sample_rate: int, top: int = 5) -> "Classification":
        """Instrument probabilities of in-memory audio ``(channels, samples)`` at ``sample_rate``."""
        from timbrelab.audio import as_audio
        from timbrelab.timbre_cnn.data import clip_windows

        top = _check_top(top, len(self.instrument_classes))
        x = as_audio(audio)
        w = clip_windows(x, sample_rate, self.front_end)
        probs = self.window_probabilities(w)
        step_s = self.front_end.window_step_s
        duration = x.shape[1] / sample_rate
        return _summarise(probs, _starts(len(w), step_s, duration), step_s, duration, self.classes, top)

    def classify_file(self, path, top: int = 5) -> "Classification":
        """Classify an audio file of any length, streamed (memory does not grow with its length)."""
        from timbrelab import audio as aio
        from timbrelab.features.logmel import LogMelStream
        from timbrelab.features.windows import WindowStream

        top = _check_top(top, len(self.instrument_classes))
        fe = self.front_end
        inf = aio.info(path)
        if inf.frames == 0:
            raise AudioFileError(f"{Path(path).name}: the file holds no audio")
        step_s = fe.window_step_s
        block_frames = max(1, int(BLOCK_WINDOWS * step_s * inf.sample_rate))
        mel = LogMelStream(inf.sample_rate, inf.channels, fe.logmel)
        cut = WindowStream(fe.n_mels, fe.frames, fe.silence_value)
        probs, pending = [], []

        def run(windows, final=False):
            pending.extend(windows)
            while len(pending) >= BATCH_WINDOWS or (final and pending):
                batch = np.stack(pending[:BATCH_WINDOWS])
                del pending[:BATCH_WINDOWS]
                probs.append(self.window_probabilities(batch))

        for block in aio.iter_blocks(path, block_frames):
            run(cut.push(mel.process(block)))
        run(cut.push(mel.flush()))
        run(cut.finish(), final=True)
        p = np.concatenate(probs)
        duration = inf.frames / inf.sample_rate
        return _summarise(p, _starts(len(p), step_s, duration), step_s, duration, self.classes, top)


def shipped() -> TimbreClassifier:
    """The shipped classifier, loaded from the registry (hash-checked). Each call loads a new instance:
    keep it (or use :class:`timbrelab.service.Service`, which holds one) to classify many files."""
    from timbrelab.models import load

    return load(MODEL_NAME)


NO_INSTRUMENT_NOTE = "no instrument recognised: silence, noise or a sound that is not one of the instruments"


@dataclass
class Classification:
    """Clip probabilities per instrument, the top ones, and a per-window timeline.

    A model trained with the ``"no instrument"`` class (``data.NO_INSTRUMENT``) answers it for
    silence, noise, drums and effects: then ``no_instrument`` is True and ``top`` is empty."""

    probabilities: dict
    top: list  # [(instrument, probability)], best first; empty when no instrument was recognised
    timeline: list = field(default_factory=list)  # [{"start_s", "end_s", "instrument", "probability"}]
    duration_s: float = 0.0
    windows: int = 0
    no_instrument: bool = False

    def to_dict(self) -> dict:
        d = {"top": [{"instrument": n, "probability": round(p, 4)} for n, p in self.top], "duration_s": round(self.duration_s, 3),
             "windows": self.windows, "timeline": self.timeline, "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
             "no_instrument": self.no_instrument}
        if self.no_instrument:
            d["note"] = NO_INSTRUMENT_NOTE
        return d


def _summarise(probs: np.ndarray, starts_s: list, window_s: float, duration_s: float, classes, top: int) -> Classification:
    from timbrelab.timbre_cnn.data import NO_INSTRUMENT
    from timbrelab.timbre_cnn.evaluate import pool_windows

    clip = pool_windows(probs, classes)
    none = list(classes).index(NO_INSTRUMENT) if NO_INSTRUMENT in classes else None
    if none is not None and int(clip.argmax()) == none:
        order = []
    else:
        order = [i for i in np.argsort(-clip) if i != none][:top]
    timeline = []
    if len(probs) > 1:
        for p, s in zip(probs, starts_s):
            k = int(p.argmax())
            timeline.append({"start_s": round(s, 2), "end_s": round(min(s + window_s, duration_s), 2), "instrument": classes[k], "probability": round(float(p[k]), 3)})
    return Classification({c: float(v) for c, v in zip(classes, clip)}, [(classes[i], float(clip[i])) for i in order], timeline, duration_s,
                          len(probs), no_instrument=none is not None and not order)


def _check_top(top: int, n: int) -> int:
    """``--top`` is 1 … the number of instrument classes (``n``: the classes, "no instrument" not counted)."""
    if isinstance(top, bool) or not isinstance(top, int) or not (1 <= top <= n):
        raise BadParameterError(f"--top must be a whole number from 1 to {n}")
    return top


def _starts(n_windows: int, window_s: float, duration_s: float) -> list[float]:
    """Start time of each window: every ``window_s``, the last one aligned to the end."""
    return [min(i * window_s, max(0.0, duration_s - window_s)) for i in range(n_windows)]


def classify(audio, sample_rate: int, top: int = 5, model: TimbreClassifier | None = None) -> Classification:
    """Instrument probabilities of in-memory audio ``(channels, samples)`` at ``sample_rate``
    (``model``: a :class:`TimbreClassifier`; default the shipped one, loaded for this call)."""
    return (model or shipped()).classify(audio, sample_rate, top)


def classify_file(path, top: int = 5, model: TimbreClassifier | None = None) -> Classification:
    """Classify an audio file of any length, streamed (memory does not grow with its length)."""
    return (model or shipped()).classify_file(path, top)
