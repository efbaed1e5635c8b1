"""Fixed-length windows of a feature map: the unit a window classifier (the timbre CNN) sees.

- ``WindowConfig``: window length and hop in frames, a frozen JSON-able dataclass.
- ``windows(features, frames, hop_frames, pad_value)``: cut ``(bands, n_frames)`` into
  ``(n_windows, bands, frames)``; clip-level predictions average a model's outputs over these.
- ``WindowStream``: the same non-overlapping windows for frames that arrive in pieces (bounded memory).

The rule, for both: windows start every ``hop_frames`` frames; a map shorter than ``frames`` is padded
at the end with ``pad_value`` and gives one window; when the hops do not land on the end, one more
window is aligned to the end, so no frame is dropped and no long clip is padded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from timbrelab.configs import check_positive_int, config_from_dict
from timbrelab.errors import AudioFileError, BadParameterError


def _default_pad() -> float:
    from timbrelab.features.logmel import LogMelConfig

    return LogMelConfig().silence_value


@dataclass(frozen=True)
class WindowConfig:
    """``frames`` per window (128 frames at 12 kHz / hop 256 = 2.7 s); a new window every
    ``hop_frames`` frames (None: ``frames``, no overlap, as the timbre CNN's authors)."""

    frames: int = 128
    hop_frames: int | None = None

    def __post_init__(self):
        check_positive_int("windows", "frames", self.frames)
        if self.hop_frames is not None:
            check_positive_int("windows", "hop_frames", self.hop_frames)

    @property
    def hop(self) -> int:
        return self.frames if self.hop_frames is None else int(self.hop_frames)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "WindowConfig":
        return config_from_dict(cls, d, "windows")


def windows(logmel, frames: int = 128, hop_frames: int | None = None, pad_value: float | None = None):
    """Cut a ``(n_mels, n_frames)`` log-mel spectrogram into ``(n_windows, n_mels, frames)``.

    Windows start every ``hop_frames`` frames (default ``frames``: no overlap, as the authors' code).
    A spectrogram shorter than ``frames`` is padded at the end with ``pad_value`` (default: the log
    of silence of the default log-mel, ``LogMelConfig().silence_value``; pass your config's
    ``silence_value`` if you changed ``log_offset``) and gives one window. When the hops do not land
    on the end, one more window is aligned to the end, so no frame is dropped and no long clip is padded.
    Works on numpy arrays and torch tensors (returns the same kind).
    """
    is_torch = isinstance(logmel, torch.Tensor)
    if not is_torch:
        logmel = np.asarray(logmel)
    if logmel.ndim != 2:
        raise BadParameterError(f"windows: need a (n_mels, n_frames) log-mel spectrogram, got shape {tuple(logmel.shape)}")
    for name, v in (("frames", frames), ("hop_frames", frames if hop_frames is None else hop_frames)):
        check_positive_int("windows", name, v)
    hop_frames = frames if hop_frames is None else int(hop_frames)
    n = logmel.shape[1]
    if n == 0:
        raise AudioFileError("windows: the log-mel spectrogram has no frames")
    if n < frames:
        pad = _default_pad() if pad_value is None else float(pad_value)
        if is_torch:
            logmel = torch.nn.functional.pad(logmel, (0, frames - n), value=pad)
        else:
            logmel = np.pad(logmel, ((0, 0), (0, frames - n)), constant_values=pad)
        n = frames
    starts = list(range(0, n - frames + 1, hop_frames))
    if starts[-1] != n - frames:
        starts.append(n - frames)
    idx = np.asarray(starts)[:, None] + np.arange(frames)[None, :]
    if is_torch:
        out = logmel[:, torch.from_numpy(idx).to(logmel.device)]
        return out.permute(1, 0, 2).contiguous()
    return np.ascontiguousarray(logmel[:, idx].transpose(1, 0, 2))


class WindowStream:
    """``windows(logmel, frames)`` (no overlap) for frames that arrive in pieces: ``push(frames)``
    returns the windows completed so far, ``finish()`` the last one — aligned to the end when the
    hops do not land on it, or the padded single window of a short clip — exactly as ``windows`` cuts
    the whole spectrogram. Holds at most about ``2 × frames`` frames.
    """

    def __init__(self, n_mels: int, frames: int = 128, pad_value: float | None = None):
        self.n_mels, self.frames = int(n_mels), int(frames)
        self.pad_value = _default_pad() if pad_value is None else float(pad_value)
        self._buf = np.zeros((self.n_mels, 0), np.float32)
        self._buf_start = 0  # index of the buffer's first frame
        self.total = 0  # frames pushed
        self._next = 0  # start of the next non-overlapping window
        self._last_start: int | None = None
        self.held_max = 0  # most frames held at once (for tests of bounded memory)

    def push(self, logmel: np.ndarray) -> np.ndarray:
        f = self.frames
        if logmel.shape[1]:
            self._buf = np.concatenate([self._buf, logmel], axis=1) if self._buf.shape[1] else np.asarray(logmel)
            self.total += logmel.shape[1]
        self.held_max = max(self.held_max, self._buf.shape[1])
        out = []
        while self._next + f <= self.total:
            a = self._next - self._buf_start
            out.append(self._buf[:, a : a + f])
            self._last_start = self._next
            self._next += f
        keep = max(self._buf_start, min(self._next, self.total - f))
        self._buf = self._buf[:, keep - self._buf_start :]
        self._buf_start = keep
        return np.stack(out) if out else np.zeros((0, self.n_mels, f), np.float32)

    def finish(self) -> np.ndarray:
        f, n = self.frames, self.total
        if n == 0:
            raise AudioFileError("windows: the log-mel spectrogram has no frames")
        if n < f:
            return np.pad(self._buf, ((0, 0), (0, f - n)), constant_values=self.pad_value)[None]
        if self._last_start != n - f:
            a = n - f - self._buf_start
            return self._buf[:, a : a + f][None]
        return np.zeros((0, self.n_mels, f), np.float32)
