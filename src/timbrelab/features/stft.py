"""Complex STFT and its inverse in torch, with perfect reconstruction (the separation model's front end).

Conventions (stated so results compare with other tools):

- ``stft(x, config)``: ``x`` float ``(..., samples)`` → complex ``(..., n_fft // 2 + 1, n_frames)``;
  frame ``t`` is ``sum_n w[n] · x[t·hop + n − pad] · exp(−2πi·k·n / n_fft)``, unscaled (no
  ``1/n_fft``, no division by the window sum); with ``center=True`` the signal is zero-padded by
  ``n_fft // 2`` on each side and ``n_frames = 1 + samples // hop``. This is exactly
  ``librosa.stft(x, n_fft=n_fft, hop_length=hop, window=window, center=center, pad_mode="constant")``
  (librosa ≥ 0.10's default padding) and ``scipy.signal.stft(x, nperseg=n_fft, noverlap=n_fft - hop,
  window=window, boundary="zeros", padded=False)`` multiplied by ``window.sum()`` (scipy scales by
  ``1 / sum(w)``); the tests compare with both.
- ``istft(X, config, length)``: the least-squares inverse (weighted overlap-add divided by the summed
  squared window), ``torch.istft``; with ``center=True``, ``istft(stft(x), length=len(x)) == x`` to
  float rounding for every length and any window and hop that satisfy NOLA (the summed squared window
  never vanishes — ``STFTConfig`` refuses settings that do not, and a centred hop above ``n_fft / 2``,
  which can leave a signal's last samples in no frame). COLA is not needed for this inverse. Without
  centring only the samples the frames cover (and weigh) come back.
- Windows (periodic, as ``scipy.signal.get_window`` with ``fftbins=True`` and librosa): ``"hann"``,
  ``"hamming"``, ``"blackman"``, ``"sqrt-hann"`` (square root of Hann: with hop ≤ n_fft/2 a
  constant-overlap-add analysis/synthesis pair) and ``"rect"`` (boxcar).

``STFT`` / ``ISTFT`` are ``nn.Module`` wrappers (the window is a non-persistent buffer: it follows
``.to(device)`` and is rebuilt from the config, never stored in a checkpoint).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from timbrelab.configs import check_positive_int, config_from_dict
from timbrelab.errors import BadParameterError

WINDOWS = ("hann", "hamming", "blackman", "sqrt-hann", "rect")


def make_window(name: str, n: int, dtype=torch.float32) -> torch.Tensor:
    """A periodic analysis window of length ``n`` (see ``WINDOWS``)."""
    if name == "hann":
        return torch.hann_window(n, periodic=True, dtype=dtype)
    if name == "hamming":
        return torch.hamming_window(n, periodic=True, dtype=dtype)
    if name == "blackman":
        return torch.blackman_window(n, periodic=True, dtype=dtype)
    if name == "sqrt-hann":
        return torch.hann_window(n, periodic=True, dtype=torch.float64).sqrt().to(dtype)
    if name == "rect":
        return torch.ones(n, dtype=dtype)
    raise BadParameterError(f"STFT: unknown window '{name}' (use one of {', '.join(WINDOWS)})")


@dataclass(frozen=True)
class STFTConfig:
    """``n_fft`` samples per frame (also the window length), a frame every ``hop`` samples,
    ``window`` one of ``WINDOWS``, ``center``: pad ``n_fft // 2`` zeros on each side (frame t is
    centred on sample t·hop)."""

    n_fft: int = 1024
    hop: int = 256
    window: str = "hann"
    center: bool = True

    def __post_init__(self):
        for name in ("n_fft", "hop"):
            check_positive_int("STFT", name, getattr(self, name))
        if self.n_fft < 2:
            raise BadParameterError(f"STFT: n_fft must be at least 2, got {self.n_fft}")
        if self.hop > self.n_fft:
            raise BadParameterError(f"STFT: hop {self.hop} is longer than the frame {self.n_fft}: samples would be skipped")
        if not isinstance(self.center, bool):
            raise BadParameterError(f"STFT: center must be true or false, got {self.center!r}")
        if self.center and self.hop > self.n_fft // 2:
            raise BadParameterError(
                f"STFT: with centred frames the hop ({self.hop}) must be at most half the frame ({self.n_fft // 2}), "
                "or the last samples of a signal may fall in no frame"
            )
        w = make_window(self.window, self.n_fft, torch.float64).numpy()
        envelope = np.zeros(self.hop)
        for start in range(0, self.n_fft, self.hop):  # summed squared window over one hop period
            seg = (w * w)[start : start + self.hop]
            envelope[: len(seg)] += seg
        if envelope.min() < 1e-10 * max(envelope.max(), 1e-300):
            raise BadParameterError(
                f"STFT: the {self.window} window of {self.n_fft} with hop {self.hop} leaves samples no frame weighs "
                "(NOLA fails), so the STFT cannot be inverted; use a shorter hop"
            )

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        """Frames of ``n_samples`` samples."""
        n = int(n_samples)
        if self.center:
            return 1 + n // self.hop
        return 0 if n < self.n_fft else 1 + (n - self.n_fft) // self.hop

    def window_tensor(self, dtype=torch.float32) -> torch.Tensor:
        return make_window(self.window, self.n_fft, dtype)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "STFTConfig":
        return config_from_dict(cls, d, "STFT")


def _check_signal(x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise BadParameterError(f"stft takes a torch tensor (..., samples), got {type(x).__name__}")
    if x.dim() < 1 or not x.is_floating_point() or x.is_complex():
        raise BadParameterError(f"stft takes real float audio shaped (..., samples), got {x.dtype} {tuple(x.shape)}")
    return x


def stft(x: torch.Tensor, config: STFTConfig | None = None, window: torch.Tensor | None = None) -> torch.Tensor:
    """Complex STFT: float ``(..., samples)`` → complex ``(..., n_fft // 2 + 1, n_frames)`` (see the module
    docstring for the convention). ``window``: a precomputed ``config.window_tensor()`` (optional)."""
    c = config or STFTConfig()
    x = _check_signal(x)
    if not c.center and x.shape[-1] < c.n_fft:
        raise BadParameterError(f"stft: {x.shape[-1]} samples are shorter than one frame ({c.n_fft}) without centring")
    w = c.window_tensor(x.dtype) if window is None else window.to(x.dtype)
    lead = x.shape[:-1]
    spec = torch.stft(x.reshape(-1, x.shape[-1]), c.n_fft, c.hop, window=w, center=c.center, pad_mode="constant",
                      normalized=False, onesided=True, return_complex=True)
    return spec.reshape(*lead, *spec.shape[-2:])


def istft(spec: torch.Tensor, config: STFTConfig | None = None, length: int | None = None, window: torch.Tensor | None = None) -> torch.Tensor:
    """Inverse of :func:`stft`: complex ``(..., n_fft // 2 + 1, n_frames)`` → float ``(..., length)``
    (``length`` None: ``(n_frames − 1) · hop`` samples with centring)."""
    c = config or STFTConfig()
    if not isinstance(spec, torch.Tensor) or not spec.is_complex() or spec.dim() < 2 or spec.shape[-2] != c.n_bins:
        shape = tuple(spec.shape) if isinstance(spec, torch.Tensor) else type(spec).__name__
        raise BadParameterError(f"istft takes a complex tensor (..., {c.n_bins} bins, frames), got {shape}")
    real_dtype = spec.real.dtype
    w = c.window_tensor(real_dtype) if window is None else window.to(real_dtype)
    lead = spec.shape[:-2]
    out = torch.istft(spec.reshape(-1, *spec.shape[-2:]), c.n_fft, c.hop, window=w, center=c.center, normalized=False,
                      onesided=True, length=length, return_complex=False)
    return out.reshape(*lead, out.shape[-1])


class STFT(nn.Module):
    """``stft`` as a module: float ``(..., samples)`` → complex ``(..., bins, frames)``."""

    def __init__(self, config: STFTConfig | None = None):
        super().__init__()
        self.config = config or STFTConfig()
        self.register_buffer("window", self.config.window_tensor(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stft(x, self.config, self.window)

    def extra_repr(self) -> str:
        c = self.config
        return f"n_fft={c.n_fft}, hop={c.hop}, window={c.window}, center={c.center}"


class ISTFT(nn.Module):
    """``istft`` as a module: complex ``(..., bins, frames)`` → float ``(..., length)``."""

    def __init__(self, config: STFTConfig | None = None):
        super().__init__()
        self.config = config or STFTConfig()
        self.register_buffer("window", self.config.window_tensor(), persistent=False)

    def forward(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        return istft(spec, self.config, length, self.window)

    def extra_repr(self) -> str:
        c = self.config
        return f"n_fft={c.n_fft}, hop={c.hop}, window={c.window}, center={c.center}"


def griffin_lim(magnitude, config: STFTConfig | None = None, n_iter: int = 64, length: int | None = None, seed: int = 0,
                momentum: float = 0.99) -> torch.Tensor:
    """Audio whose STFT magnitude is close to ``magnitude`` (float ``(..., n_bins, frames)``): Griffin & Lim (1984)
    with the "fast" momentum of Perraudin et al. (2013), from seeded random phases. Returns float ``(..., length)``."""
    c = config or STFTConfig()
    mag = torch.as_tensor(magnitude, dtype=torch.float32)
    if mag.dim() < 2 or mag.shape[-2] != c.n_bins:
        raise BadParameterError(f"griffin_lim takes magnitudes (..., {c.n_bins} bins, frames), got {tuple(mag.shape)}")
    n = length if length is not None else (mag.shape[-1] - 1) * c.hop
    w = c.window_tensor()
    g = torch.Generator().manual_seed(int(seed))
    angles = torch.exp(2j * math.pi * torch.rand(mag.shape, generator=g)).to(torch.complex64)
    previous = torch.zeros_like(angles)
    for _ in range(int(n_iter)):
        y = istft(mag * angles, c, length=n, window=w)
        rebuilt = stft(y, c, window=w)
        accelerated = rebuilt - (momentum / (1 + momentum)) * previous
        previous = rebuilt
        angles = accelerated / accelerated.abs().clamp_min(1e-16)
    return istft(mag * angles, c, length=n, window=w)
