"""Log-mel front end of the timbre CNNs, computed in torch.

The paper's instrument setting (Pons et al. 2017, after Han et al. 2016): audio at 12 kHz, STFT
window 512 samples (Hann), hop 256, 96 mel bands, windows of 128 frames (about 2.7 s), log-compressed
*magnitude* mel spectrogram. Here the compression is ``log(mel + log_offset)`` (natural log).

The mel filterbank is Slaney's (linear below 1 kHz, logarithmic above, each triangle normalised to
unit area: ``librosa.filters.mel``'s default, ``htk=False, norm="slaney"``) and the STFT is centred
with zero padding like ``librosa.stft``'s default, so::

    np.log(librosa.feature.melspectrogram(y=x, sr=12000, n_fft=512, hop_length=256, n_mels=96,
                                          power=1.0) + log_offset)

agrees with ``log_mel(x, 12000)`` to within ``LIBROSA_TOLERANCE`` = 1e-3 (absolute, natural-log units,
every bin) for signals with a noise floor: measured 1.6e-5 on a decaying harmonic tone plus noise at
−40 dB. Both sides compute in float32, so on a digitally pure full-scale sine the bins at the
silence floor (FFT rounding, ~1e-7 of the peak, is then comparable to ``log_offset``) differ by up
to ~1e-2 while the bins that carry energy still agree to ~1e-5.

Pieces:

- ``FrontEndConfig``: the settings, a JSON-able dataclass.
- ``LogMel``: ``nn.Module`` mapping float32 ``(batch, samples)`` at ``config.sample_rate`` to
  ``(batch, n_mels, n_frames)`` with ``n_frames = 1 + samples // hop``.
- ``log_mel(audio, sample_rate, config)``: numpy convenience for ``(channels, samples)`` audio at any
  rate: down-mix to mono, resample with ``timbrelab.audio.resample``, run ``LogMel``.
- ``windows(logmel, frames, hop_frames)``: cut ``(n_mels, n_frames)`` into ``(n_windows, n_mels,
  frames)``; clip-level predictions average the model's outputs over these windows.
- ``Standardizer``: per-mel-band zero mean / unit variance with statistics held as buffers, so they
  are saved and loaded with the model's weights.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from timbrelab.audio import as_audio, check_sample_rate, resample
from timbrelab.errors import AudioFileError, BadParameterError

#: absolute agreement with librosa's log(melspectrogram(power=1) + log_offset), natural-log units
LIBROSA_TOLERANCE = 1e-3
#: smallest standard deviation a Standardizer divides by (a constant band is not blown up)
MIN_STD = 1e-5


@dataclass(frozen=True)
class FrontEndConfig:
    """Log-mel settings. Defaults: the paper's instrument-recognition setting.

    ``fmax_hz=None`` means the Nyquist frequency. ``log_offset`` is added to the magnitude mel
    spectrogram before the natural log; the log of silence is ``log(log_offset)`` (``silence_value``).
    ``frames`` is the model's window length in frames (128 frames at 12 kHz / hop 256 = 2.73 s).
    """

    sample_rate: int = 12000
    n_fft: int = 512
    hop: int = 256
    n_mels: int = 96
    frames: int = 128
    fmin_hz: float = 0.0
    fmax_hz: float | None = None
    log_offset: float = 1e-5

    def __post_init__(self):
        check_sample_rate(self.sample_rate)
        for name in ("n_fft", "hop", "n_mels", "frames"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise BadParameterError(f"front end: {name} must be a positive whole number, got {v!r}")
        if self.n_fft < 16:
            raise BadParameterError(f"front end: n_fft {self.n_fft} is too short for a spectrum (use 16 or more)")
        if self.hop > self.n_fft:
            raise BadParameterError(f"front end: hop {self.hop} is longer than the FFT window {self.n_fft}")
        nyquist = self.sample_rate / 2
        fmax = self.fmax_hz_resolved
        if not (0 <= self.fmin_hz < fmax <= nyquist):
            raise BadParameterError(
                f"front end: need 0 ≤ fmin_hz < fmax_hz ≤ {nyquist:g} Hz (Nyquist), got {self.fmin_hz} … {self.fmax_hz}"
            )
        if self.n_mels > self.n_fft // 2:
            raise BadParameterError(f"front end: {self.n_mels} mel bands need more than {self.n_fft // 2 + 1} FFT bins")
        if not (isinstance(self.log_offset, (int, float)) and math.isfinite(self.log_offset) and self.log_offset > 0):
            raise BadParameterError(f"front end: log_offset must be a positive number, got {self.log_offset!r}")

    @property
    def fmax_hz_resolved(self) -> float:
        return float(self.sample_rate / 2 if self.fmax_hz is None else self.fmax_hz)

    @property
    def silence_value(self) -> float:
        """The log-mel value of digital silence (what ``windows`` pads with)."""
        return math.log(self.log_offset)

    @property
    def window_s(self) -> float:
        """Duration of one model window (``frames`` frames), seconds."""
        return (self.frames - 1) * self.hop / self.sample_rate

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FrontEndConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise BadParameterError(f"front end: unknown settings {sorted(unknown)} (known: {sorted(known)})")
        return cls(**d)


# --------------------------------------------------------------------------------------------- mel


def hz_to_mel_slaney(freq_hz):
    """Slaney's mel scale (librosa's ``htk=False``): linear to 1 kHz (15 mel), then logarithmic."""
    f = np.asarray(freq_hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    logstep = math.log(6.4) / 27.0
    mel = f / f_sp
    log_part = min_log_hz / f_sp + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep
    return np.where(f >= min_log_hz, log_part, mel)


def mel_to_hz_slaney(mel):
    m = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(config: FrontEndConfig) -> np.ndarray:
    """Slaney-normalised triangular mel filters, float32 ``(n_mels, n_fft // 2 + 1)``.

    Same construction as ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)`` with its defaults.
    """
    n_bins = config.n_fft // 2 + 1
    fft_hz = np.linspace(0.0, config.sample_rate / 2, n_bins)
    edges_mel = np.linspace(hz_to_mel_slaney(config.fmin_hz), hz_to_mel_slaney(config.fmax_hz_resolved), config.n_mels + 2)
    edges_hz = mel_to_hz_slaney(edges_mel)
    width_hz = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / width_hz[:-1, None]
    upper = ramps[2:] / width_hz[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    if not np.all(weights.max(axis=1) > 0):
        raise BadParameterError(
            f"front end: {config.n_mels} mel bands over {config.fmin_hz:g}–{config.fmax_hz_resolved:g} Hz leave some "
            f"bands without an FFT bin at n_fft={config.n_fft}; use fewer bands or a longer FFT"
        )
    return weights.astype(np.float32)


class LogMel(nn.Module):
    """float32 ``(batch, samples)`` at ``config.sample_rate`` → ``(batch, n_mels, 1 + samples // hop)``.

    Centred STFT with zero padding (librosa's default), periodic Hann window, magnitude (power 1),
    Slaney mel filterbank, ``log(mel + log_offset)``. Window and filterbank are non-persistent
    buffers: they follow ``.to(device)`` but are rebuilt from the config, not stored in checkpoints.
    """

    def __init__(self, config: FrontEndConfig | None = None):
        super().__init__()
        self.config = config or FrontEndConfig()
        self.register_buffer("window", torch.hann_window(self.config.n_fft, periodic=True), persistent=False)
        self.register_buffer("filterbank", torch.from_numpy(mel_filterbank(self.config)), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if not isinstance(audio, torch.Tensor):
            raise BadParameterError(f"LogMel takes a torch tensor (batch, samples), got {type(audio).__name__}")
        if audio.dim() != 2:
            raise BadParameterError(f"LogMel takes audio shaped (batch, samples), got shape {tuple(audio.shape)}")
        if audio.shape[-1] == 0:
            raise AudioFileError("log-mel: the audio contains no samples (zero length)")
        if not audio.is_floating_point():
            raise BadParameterError(f"LogMel takes float audio, got {audio.dtype}")
        if not bool(torch.isfinite(audio).all()):
            raise AudioFileError("log-mel: the audio contains NaN or infinite samples")
        c = self.config
        spec = torch.stft(
            audio.to(self.window.dtype), c.n_fft, c.hop, window=self.window, center=True,
            pad_mode="constant", return_complex=True,
        ).abs()
        mel = torch.matmul(self.filterbank, spec)
        return torch.log(mel + c.log_offset)

    def extra_repr(self) -> str:
        c = self.config
        return f"sample_rate={c.sample_rate}, n_fft={c.n_fft}, hop={c.hop}, n_mels={c.n_mels}, log_offset={c.log_offset:g}"


@lru_cache(maxsize=8)
def _logmel_module(config: FrontEndConfig) -> LogMel:
    return LogMel(config).eval()


def log_mel(audio, sample_rate: int, config: FrontEndConfig | None = None) -> np.ndarray:
    """Log-mel spectrogram of ``(channels, samples)`` (or 1-D mono) audio: float32 ``(n_mels, n_frames)``.

    Down-mixes to mono, resamples to ``config.sample_rate`` with ``timbrelab.audio.resample`` and runs
    ``LogMel``. Silence is fine (it gives ``config.silence_value``); NaN/inf samples raise
    ``AudioFileError``, as does empty audio; a wrong shape or an unusable rate raises ``BadParameterError``.
    """
    config = config or FrontEndConfig()
    sample_rate = check_sample_rate(sample_rate)
    x = as_audio(audio)
    x = x.mean(axis=0, keepdims=True) if x.shape[0] > 1 else x
    x = resample(x, sample_rate, config.sample_rate)
    if x.shape[1] == 0:
        raise AudioFileError(f"log-mel: the audio is too short to resample to {config.sample_rate} Hz")
    with torch.no_grad():
        out = _logmel_module(config)(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return out[0].numpy()


def n_frames_for(n_samples: int, config: FrontEndConfig | None = None) -> int:
    """Number of log-mel frames for ``n_samples`` samples at the front end's rate (centred STFT)."""
    config = config or FrontEndConfig()
    return 1 + int(n_samples) // config.hop


# ----------------------------------------------------------------------------------------- windows


def windows(logmel, frames: int = 128, hop_frames: int | None = None, pad_value: float | None = None):
    """Cut a ``(n_mels, n_frames)`` log-mel spectrogram into ``(n_windows, n_mels, frames)``.

    Windows start every ``hop_frames`` frames (default ``frames``: no overlap, as the authors' code).
    A spectrogram shorter than ``frames`` is padded at the end with ``pad_value`` (default: the log
    of silence of the default front end, ``FrontEndConfig().silence_value``; pass your config's
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
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise BadParameterError(f"windows: {name} must be a positive whole number, got {v!r}")
    hop_frames = frames if hop_frames is None else int(hop_frames)
    n = logmel.shape[1]
    if n == 0:
        raise AudioFileError("windows: the log-mel spectrogram has no frames")
    if n < frames:
        pad = FrontEndConfig().silence_value if pad_value is None else float(pad_value)
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


# ------------------------------------------------------------------------------------ standardizer


class Standardizer(nn.Module):
    """Per-mel-band zero mean, unit variance: ``(x - mean[band]) / std[band]``.

    Works on any tensor whose last two axes are ``(n_mels, frames)``. ``mean`` and ``std`` are
    buffers (saved in ``state_dict``, not trained); until ``fit`` is called the standardizer is the
    identity (mean 0, std 1) and ``fitted`` is False. Fit it on *training* features only.
    """

    def __init__(self, n_mels: int = 96):
        super().__init__()
        if isinstance(n_mels, bool) or not isinstance(n_mels, (int, np.integer)) or n_mels < 1:
            raise BadParameterError(f"Standardizer: n_mels must be a positive whole number, got {n_mels!r}")
        self.n_mels = int(n_mels)
        self.register_buffer("mean", torch.zeros(self.n_mels))
        self.register_buffer("std", torch.ones(self.n_mels))
        self.register_buffer("n_values", torch.zeros((), dtype=torch.int64))

    @property
    def fitted(self) -> bool:
        return int(self.n_values) > 0

    @torch.no_grad()
    def fit(self, features) -> "Standardizer":
        """Fit on one array/tensor ``(..., n_mels, frames)`` or an iterable of them (streamed, float64 sums)."""
        if isinstance(features, (np.ndarray, torch.Tensor)):
            features = [features]
        count, total, total_sq = 0, np.zeros(self.n_mels), np.zeros(self.n_mels)
        for f in features:
            a = f.detach().cpu().numpy() if isinstance(f, torch.Tensor) else np.asarray(f)
            if a.ndim < 2 or a.shape[-2] != self.n_mels:
                raise BadParameterError(
                    f"Standardizer: features must be shaped (..., {self.n_mels} bands, frames), got {a.shape}"
                )
            if a.size == 0:
                continue
            if not np.all(np.isfinite(a)):
                raise BadParameterError("Standardizer: the training features contain NaN or infinite values")
            a = np.moveaxis(a.astype(np.float64), -2, 0).reshape(self.n_mels, -1)
            count += a.shape[1]
            total += a.sum(axis=1)
            total_sq += (a * a).sum(axis=1)
        if count == 0:
            raise BadParameterError("Standardizer: no features to fit on")
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0.0))
        self.mean.copy_(torch.from_numpy(mean))
        self.std.copy_(torch.from_numpy(np.maximum(std, MIN_STD)))
        self.n_values.fill_(count)
        return self

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() < 2 or x.shape[-2] != self.n_mels:
            raise BadParameterError(
                f"Standardizer: expected (..., {self.n_mels} bands, frames), got shape {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return (x - self.mean[:, None]) / self.std[:, None]

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        self._check(y)
        return y * self.std[:, None] + self.mean[:, None]

    def extra_repr(self) -> str:
        return f"n_mels={self.n_mels}, fitted={self.fitted}"
