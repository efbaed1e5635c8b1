"""Log-mel spectrograms in torch: the front end of the timbre CNNs (and of any model that wants one).

Defaults are the instrument setting of Pons et al. (2017, after Han et al. 2016): audio at 12 kHz,
STFT window 512 samples (Hann), hop 256, 96 mel bands, log-compressed *magnitude* mel spectrogram.
The compression is ``log(mel + log_offset)`` (natural log).

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

- ``LogMelConfig``: the settings, a frozen JSON-able dataclass (``to_dict`` / ``from_dict``).
- ``LogMel``: ``nn.Module`` mapping float32 ``(batch, samples)`` at ``config.sample_rate`` to
  ``(batch, n_mels, n_frames)`` with ``n_frames = 1 + samples // hop``.
- ``log_mel(audio, sample_rate, config)``: numpy convenience for ``(channels, samples)`` audio at any
  rate: down-mix to mono, resample with ``timbrelab.audio.resample``, run ``LogMel``.
- ``LogMelStream``: the same frames for audio fed block by block (a file of any length in bounded
  memory): down-mix, streaming resampler (soxr's stream gives the one-shot resampler's samples
  exactly), STFT frames as soon as their samples are in.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from timbrelab.configs import check_positive_int, config_from_dict
from timbrelab.audio import as_audio, check_sample_rate, resample
from timbrelab.errors import AudioFileError, BadParameterError

#: absolute agreement with librosa's log(melspectrogram(power=1) + log_offset), natural-log units
LIBROSA_TOLERANCE = 1e-3


@dataclass(frozen=True)
class LogMelConfig:
    """Log-mel settings. Defaults: the paper's instrument-recognition setting (12 kHz, 512/256, 96 bands).

    ``fmax_hz=None`` means the Nyquist frequency. ``log_offset`` is added to the magnitude mel
    spectrogram before the natural log; the log of silence is ``log(log_offset)`` (``silence_value``).
    """

    sample_rate: int = 12000
    n_fft: int = 512
    hop: int = 256
    n_mels: int = 96
    fmin_hz: float = 0.0
    fmax_hz: float | None = None
    log_offset: float = 1e-5

    def __post_init__(self):
        check_sample_rate(self.sample_rate)
        for name in ("n_fft", "hop", "n_mels"):
            check_positive_int("log-mel", name, getattr(self, name))
        if self.n_fft < 16:
            raise BadParameterError(f"log-mel: n_fft {self.n_fft} is too short for a spectrum (use 16 or more)")
        if self.hop > self.n_fft:
            raise BadParameterError(f"log-mel: hop {self.hop} is longer than the FFT window {self.n_fft}")
        nyquist = self.sample_rate / 2
        fmax = self.fmax_hz_resolved
        if not (0 <= self.fmin_hz < fmax <= nyquist):
            raise BadParameterError(
                f"log-mel: need 0 ≤ fmin_hz < fmax_hz ≤ {nyquist:g} Hz (Nyquist), got {self.fmin_hz} … {self.fmax_hz}"
            )
        if self.n_mels > self.n_fft // 2:
            raise BadParameterError(f"log-mel: {self.n_mels} mel bands need more than {self.n_fft // 2 + 1} FFT bins")
        if not (isinstance(self.log_offset, (int, float)) and math.isfinite(self.log_offset) and self.log_offset > 0):
            raise BadParameterError(f"log-mel: log_offset must be a positive number, got {self.log_offset!r}")

    @property
    def fmax_hz_resolved(self) -> float:
        return float(self.sample_rate / 2 if self.fmax_hz is None else self.fmax_hz)

    @property
    def silence_value(self) -> float:
        """The log-mel value of digital silence (what window cutting pads with)."""
        return math.log(self.log_offset)

    @property
    def hop_s(self) -> float:
        """Time between frames, seconds."""
        return self.hop / self.sample_rate

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LogMelConfig":
        return config_from_dict(cls, d, "log-mel")


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


def mel_filterbank(config: LogMelConfig) -> np.ndarray:
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
            f"log-mel: {config.n_mels} mel bands over {config.fmin_hz:g}–{config.fmax_hz_resolved:g} Hz leave some "
            f"bands without an FFT bin at n_fft={config.n_fft}; use fewer bands or a longer FFT"
        )
    return weights.astype(np.float32)


class LogMel(nn.Module):
    """float32 ``(batch, samples)`` at ``config.sample_rate`` → ``(batch, n_mels, 1 + samples // hop)``.

    Centred STFT with zero padding (librosa's default), periodic Hann window, magnitude (power 1),
    Slaney mel filterbank, ``log(mel + log_offset)``. Window and filterbank are non-persistent
    buffers: they follow ``.to(device)`` but are rebuilt from the config, not stored in checkpoints.
    """

    def __init__(self, config: LogMelConfig | None = None):
        super().__init__()
        self.config = config or LogMelConfig()
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
        return self._log_mel(audio, center=True)

    def _log_mel(self, audio: torch.Tensor, center: bool) -> torch.Tensor:
        c = self.config
        spec = torch.stft(
            audio.to(self.window.dtype), c.n_fft, c.hop, window=self.window, center=center,
            pad_mode="constant", return_complex=True,
        ).abs()
        mel = torch.matmul(self.filterbank, spec)
        return torch.log(mel + c.log_offset)

    def frames(self, padded: torch.Tensor) -> torch.Tensor:
        """Frames of an already padded signal ``(batch, samples)`` (no centring): frame t covers
        ``padded[t·hop : t·hop + n_fft]``. With ``n_fft // 2`` zeros on each side this is ``forward``."""
        return self._log_mel(padded, center=False)

    def extra_repr(self) -> str:
        c = self.config
        return f"sample_rate={c.sample_rate}, n_fft={c.n_fft}, hop={c.hop}, n_mels={c.n_mels}, log_offset={c.log_offset:g}"


@lru_cache(maxsize=8)
def _logmel_module(config: LogMelConfig) -> LogMel:
    return LogMel(config).eval()


def log_mel(audio, sample_rate: int, config: LogMelConfig | None = None) -> np.ndarray:
    """Log-mel spectrogram of ``(channels, samples)`` (or 1-D mono) audio: float32 ``(n_mels, n_frames)``.

    Down-mixes to mono, resamples to ``config.sample_rate`` with ``timbrelab.audio.resample`` and runs
    ``LogMel``. Silence is fine (it gives ``config.silence_value``); NaN/inf samples raise
    ``AudioFileError``, as does empty audio; a wrong shape or an unusable rate raises ``BadParameterError``.
    """
    config = config or LogMelConfig()
    sample_rate = check_sample_rate(sample_rate)
    x = as_audio(audio)
    x = x.mean(axis=0, keepdims=True) if x.shape[0] > 1 else x
    x = resample(x, sample_rate, config.sample_rate)
    if x.shape[1] == 0:
        raise AudioFileError(f"log-mel: the audio is too short to resample to {config.sample_rate} Hz")
    with torch.no_grad():
        out = _logmel_module(config)(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return out[0].numpy()


class LogMelStream:
    """``log_mel`` of audio that arrives in blocks: ``process(block)`` returns the frames complete so
    far, ``flush()`` the rest; together they equal ``log_mel`` of the whole signal (same down-mix,
    same resampled samples, same frames), holding only about one block at a time.

    ``block``: ``(channels, n)`` audio at ``sample_rate`` (float32, or anything ``as_audio`` takes).
    """

    def __init__(self, sample_rate: int, channels: int, config: LogMelConfig | None = None):
        from timbrelab.audio import StreamResampler

        self.config = config or LogMelConfig()
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = int(channels)
        self._resampler = StreamResampler(self.sample_rate, self.config.sample_rate, 1) if self.sample_rate != self.config.sample_rate else None
        self._pad = self.config.n_fft // 2
        self._buf = np.zeros(self._pad, np.float32)  # the centred STFT's left zero padding, then samples not yet framed
        self.samples = 0  # samples fed to the STFT (at the front end's rate)
        self.frames_out = 0

    def _mono(self, block) -> np.ndarray:
        x = as_audio(block)
        x = x.mean(axis=0, keepdims=True) if x.shape[0] > 1 else x
        return x

    def _frames(self, final: bool) -> np.ndarray:
        c = self.config
        n = len(self._buf)
        if final:
            k = 1 + self.samples // c.hop - self.frames_out  # as many as the centred STFT of the whole signal has
        else:
            k = (n - c.n_fft) // c.hop + 1 if n >= c.n_fft else 0
        if k <= 0:
            return np.zeros((c.n_mels, 0), np.float32)
        used = (k - 1) * c.hop + c.n_fft
        with torch.no_grad():
            out = _logmel_module(c).frames(torch.from_numpy(np.ascontiguousarray(self._buf[:used]))[None])[0].numpy()
        self._buf = self._buf[k * c.hop :]
        self.frames_out += k
        return out

    def process(self, block) -> np.ndarray:
        """Frames ``(n_mels, k)`` completed by this block (k may be 0)."""
        x = self._mono(block)
        if self._resampler is not None:
            x = self._resampler.process(x)
        return self._push(x[0])

    def _push(self, x: np.ndarray) -> np.ndarray:
        if len(x):
            self._buf = np.concatenate([self._buf, np.asarray(x, np.float32)])
            self.samples += len(x)
        return self._frames(final=False)

    def flush(self) -> np.ndarray:
        """The remaining frames (the right edge of the centred STFT). Raises AudioFileError if the
        stream held no sample at the front end's rate."""
        parts = [self._push(self._resampler.flush()[0])] if self._resampler is not None else []
        if self.samples == 0:
            raise AudioFileError(f"log-mel: the audio is too short to resample to {self.config.sample_rate} Hz")
        self._buf = np.concatenate([self._buf, np.zeros(self._pad, np.float32)])
        parts.append(self._frames(final=True))
        return np.concatenate(parts, axis=1)


def n_frames_for(n_samples: int, config: LogMelConfig | None = None) -> int:
    """Number of log-mel frames for ``n_samples`` samples at the front end's rate (centred STFT)."""
    config = config or LogMelConfig()
    return 1 + int(n_samples) // config.hop


def mel_to_magnitude(logmel: np.ndarray, config: LogMelConfig, n_iter: int = 60) -> np.ndarray:
    """Invert the mel filterbank: log-mel ``(..., n_mels, frames)`` → non-negative STFT magnitudes
    ``(..., n_fft // 2 + 1, frames)`` whose mel projection is as close as possible to ``exp(logmel) − log_offset``.

    Non-negative least squares by multiplicative updates (Lee & Seung) from ``Mᵀ m``; the same problem
    ``librosa.feature.inverse.mel_to_stft`` solves. Pitch detail finer than a mel band is lost: within a
    band the magnitude comes out as smooth as the filters allow.
    """
    M = mel_filterbank(config).astype(np.float64)
    m = np.maximum(np.exp(np.asarray(logmel, np.float64)) - config.log_offset, 0.0)
    MtM = M.T @ M
    Mtm = np.matmul(M.T, m)
    s = Mtm / max(float(MtM.sum(axis=1).max()), 1e-12)
    for _ in range(int(n_iter)):
        s *= Mtm / (np.matmul(MtM, s) + 1e-12)
    return s.astype(np.float32)
