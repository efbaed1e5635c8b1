"""The Rafii–Pardo parametric reverberator, driven by Audealize's ``[d, g, m, f, E, wetdry]`` settings.

Structure (Rafii & Pardo 2009, as the Audealize node wires it):

- six feedback comb filters in parallel, ``y[n] = x[n-D_i] + g_i·y[n-D_i]``, delays
  ``D_i = d·(15-i)/15`` (i = 0..5) rounded down to a prime number of samples, gains
  ``g_i = 0.001^(D_i/rt)`` with ``rt = d·ln(0.001)/ln(g)``, so every comb decays 60 dB in ``rt`` seconds;
- two all-pass filters (gain 0.1) in parallel, one per output channel, with delays
  ``0.016 s ± m/2`` (prime samples): ``m`` spreads the stereo image;
- a low-pass filter at ``f`` Hz (2nd-order Butterworth) on the wet path;
- the wet level follows ``E`` as in the node: ``g1 = 1/(E+1)``, clean ``cos((1-g1)·π/8)``, wet
  ``cos(g1·3π/8)``.

Our choices, stated: the comb bank is scaled to unit impulse-response energy (its analytic energy
``Σ 1/(1-g_i²)``) so that ``E``, not the feedback, sets the wet level; the dry path is not delayed.
Output = ``dry + amount · (wet/clean) · wet_path``: ``amount`` 0 is a bit-exact bypass, 1 is the crowd
setting, 0 < amount ≤ 2; a negative amount is refused (reverb cannot be removed).

Channels (every channel's reverb comes from that channel's content only; nothing is mixed across
channels): each channel has its own comb bank. Channels are taken in stereo pairs (0, 1), (2, 3),
(4, 5) …: the even channel of a pair goes through its own copy of the left all-pass, the odd one
through its own copy of the right all-pass, so an impulse in one channel leaves every other channel,
its pair partner included, exactly dry. An odd last channel (the only channel of a mono file, the
fifth of a five-channel file) is processed as mono: its comb bank feeds both all-passes and their
outputs are averaged. The channel count is kept. Mono and stereo give what they always gave.

Computation (issue 16: faster than pedalboard's Freeverb): single precision throughout, as audio
plug-ins do. Each comb recursion is computed in chunks no longer than its delay, straight into
preallocated buffers, and added to the bank while in cache. Each all-pass is applied as its impulse
response, ``−a·x[n] + Σ_{m=1..8} (1−a²)·a^(m−1)·x[n−m·D]``: with a = 0.1 the terms left out are below
1e-8 of the signal, under single precision's resolution. The low-pass is a direct-form biquad. The
output is block-invariant bit for bit (streaming equals processing whole), and within 1e-5 of the
peak of the earlier double-precision, exact-recursion code (tested); its decay times are unchanged
(the T30 test).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.signal import butter, lfilter

from timbrelab.dsp.amount import check_amount
from timbrelab.dsp.stream import run_stream
from timbrelab.errors import BadParameterError

ALLPASS_GAIN = 0.1
ALLPASS_TERMS = 8  # terms of the all-pass impulse response kept (see ReverbStream)
ALLPASS_BASE_S = 0.016  # the node's 10 ms minimum delay + 6 ms
MAX_REVERB_AMOUNT = 2.0
MAX_RT_S = 30.0
#: the reverb computes in single precision, as audio plug-ins do: twice the samples per vector operation
DTYPE = np.float32


def decay_time_s(d_s, g):
    """Reverberation time of the comb bank, ``d·ln(0.001)/ln(g)`` (seconds to decay 60 dB); the one home
    of this formula. Scalars (math) or arrays (numpy)."""
    if np.ndim(d_s) == 0 and np.ndim(g) == 0:
        return float(d_s) * math.log(0.001) / math.log(float(g))
    return np.asarray(d_s) * np.log(0.001) / np.log(g)


def comb_gain(d_s, rt_s):
    """The comb gain that decays 60 dB in ``rt_s`` seconds at delay ``d_s``: ``0.001^(d/rt)`` (inverse of
    :func:`decay_time_s`)."""
    if np.ndim(d_s) == 0 and np.ndim(rt_s) == 0:
        return 0.001 ** (float(d_s) / float(rt_s))
    return 0.001 ** (np.asarray(d_s) / np.asarray(rt_s))


def prev_prime(n: int) -> int:
    """Largest prime ≤ n (n ≥ 2)."""
    n = max(2, int(n))
    while n > 2:
        if n % 2 and all(n % k for k in range(3, int(math.isqrt(n)) + 1, 2)):
            return n
        n -= 1
    return 2


@dataclass(frozen=True)
class ReverbSettings:
    """Audealize reverb parameters. ``d_s`` comb delay (s), ``g`` comb gain, ``m_s`` stereo spread (s),
    ``f_hz`` low-pass cutoff, ``E`` wet gain (0–1 on the map's scale), ``wetdry`` (1 in the maps)."""

    d_s: float = 0.05
    g: float = 0.5
    m_s: float = 0.006
    f_hz: float = 20000.0
    E: float = 1.0
    wetdry: float = 1.0

    def __post_init__(self):
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value):
                raise BadParameterError(f"reverb {name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        checks = [
            ("d_s", 0.001, 0.5, "comb delay in seconds"),
            ("g", 1e-4, 0.999, "comb gain"),
            ("m_s", -0.015, 0.015, "stereo spread in seconds"),
            ("f_hz", 20.0, 100_000.0, "low-pass cutoff in Hz"),
            ("E", 0.0, 20.0, "wet gain"),
            ("wetdry", 0.0, 1.0, "wet/dry"),
        ]
        for name, lo, hi, what in checks:
            v = getattr(self, name)
            if not (lo <= v <= hi):
                raise BadParameterError(f"reverb {name} = {v:g} is outside {lo:g} … {hi:g} ({what})")

    @classmethod
    def from_list(cls, values) -> "ReverbSettings":
        """From Audealize's ``[d, g, m, f, E, wetdry]`` (wetdry optional)."""
        values = list(values)
        if len(values) not in (5, 6):
            raise BadParameterError(f"reverb settings need [d, g, m, f, E(, wetdry)], got {len(values)} values")
        return cls(*values)

    def to_list(self) -> list[float]:
        return [self.d_s, self.g, self.m_s, self.f_hz, self.E, self.wetdry]

    @property
    def rt60_s(self) -> float:
        """Reverberation time ``d·ln(0.001)/ln(g)`` (seconds to decay 60 dB)."""
        return min(MAX_RT_S, decay_time_s(self.d_s, self.g))


def _chunked_recursion(x_ext: np.ndarray, y_ext: np.ndarray, delay: int, gain: float, n: int,
                       x_off: int = 0, accumulate: np.ndarray | None = None) -> None:
    """In place, the comb ``y[D+j] = x[x_off+j] + gain·y[j]`` for j in 0..n-1 (``y_ext`` holds D samples
    of history before its first output). Each chunk of at most D samples is computed straight into its
    place, with no temporaries. ``accumulate``: an ``(…, n)`` array the outputs are added to, chunk by
    chunk while they are in cache."""
    for j in range(0, n, delay):
        k = min(delay, n - j)
        dst = y_ext[..., delay + j : delay + j + k]
        np.multiply(y_ext[..., j : j + k], gain, out=dst)
        np.add(x_ext[..., x_off + j : x_off + j + k], dst, out=dst)
        if accumulate is not None:
            acc = accumulate[..., j : j + k]
            np.add(acc, dst, out=acc)


class ReverbStream:
    """Streaming reverberator; output has the input's channel count and length (flush adds nothing)."""

    def __init__(self, reverb: "Reverb", sample_rate: int, channels: int):
        s = reverb.settings
        self.channels = channels
        rt = s.rt60_s
        self.comb_delays = [prev_prime(s.d_s * (15 - i) / 15 * sample_rate) for i in range(6)]
        self.comb_gains = [comb_gain(dl / sample_rate, rt) for dl in self.comb_delays]
        energy = sum(1.0 / (1.0 - g * g) for g in self.comb_gains)
        self.comb_norm = 1.0 / math.sqrt(energy)
        self.ap_delays = [
            prev_prime((ALLPASS_BASE_S + s.m_s / 2) * sample_rate),
            prev_prime((ALLPASS_BASE_S - s.m_s / 2) * sample_rate),
        ]
        g1 = 1.0 / (s.E + 1.0)
        clean = math.cos((1 - g1) * 0.125 * math.pi)
        wet = math.cos(g1 * 0.375 * math.pi)
        self.wet_gain = reverb.amount * (wet / clean) * s.wetdry
        nyq = sample_rate / 2
        self.lowpass = tuple(c.astype(DTYPE) for c in butter(2, s.f_hz / nyq)) if s.f_hz < 0.95 * nyq else None
        # one input history for every comb (the longest delay's worth), and per comb a buffer of D
        # samples of its output history followed by room for a block's outputs (grown on demand)
        self._x_hist = np.zeros((channels, max(self.comb_delays)), DTYPE)
        self._comb_y = [np.zeros((channels, d), DTYPE) for d in self.comb_delays]
        # all-pass 0 (left) runs on every even channel, all-pass 1 (right) on every odd one; an odd
        # last channel (mono) goes through both and their outputs are averaged
        left = list(range(0, channels, 2))
        right = list(range(1, channels, 2)) + ([channels - 1] if channels % 2 else [])
        self._ap_src = [left, right]
        self._n_left = len(left)
        # the all-passes (gain a = 0.1) as their impulse responses −a, then (1 − a²)·a^(m−1) at m·D: the
        # terms left out are below a^ALLPASS_TERMS = 1e-8 of the signal, under single precision's resolution
        a = ALLPASS_GAIN
        self._ap_coefs = np.array([-a] + [(1 - a * a) * a ** (m - 1) for m in range(1, ALLPASS_TERMS + 1)], DTYPE)
        self._ap_x = [np.zeros((len(src), ALLPASS_TERMS * d), DTYPE) for src, d in zip(self._ap_src, self.ap_delays)]
        n_ap = len(left) + len(right)
        self._lp_state = None if self.lowpass is None else np.zeros((n_ap, 2), DTYPE)

    def process(self, block: np.ndarray) -> np.ndarray:
        x = np.asarray(block, DTYPE)
        n = x.shape[1]
        if n == 0:
            return np.zeros((self.channels, 0), DTYPE)
        h = self._x_hist.shape[1]
        x_ext = np.concatenate([self._x_hist, x], axis=1)  # once for all six combs
        bank = np.zeros((self.channels, n), DTYPE)
        for i, (d, g) in enumerate(zip(self.comb_delays, self.comb_gains)):
            y_ext = self._comb_y[i]
            if y_ext.shape[1] < d + n:
                y_ext = np.concatenate([y_ext[:, :d], np.empty((self.channels, n), DTYPE)], axis=1)
            _chunked_recursion(x_ext, y_ext, d, g, n, x_off=h - d, accumulate=bank)
            y_ext[:, :d] = y_ext[:, n : n + d].copy()  # the last D outputs become the history
            self._comb_y[i] = y_ext
        self._x_hist = x_ext[:, x_ext.shape[1] - h :].copy()
        bank *= self.comb_norm
        # rows: the left all-pass outputs (even channels), then the right ones (odd channels, mono last)
        ap = np.empty((self._n_left + len(self._ap_src[1]), n), DTYPE)
        row = 0
        for j, d in enumerate(self.ap_delays):
            k = len(self._ap_src[j])
            src = bank[self._ap_src[j]]
            x_ext = np.concatenate([self._ap_x[j], src], axis=1)
            h = x_ext.shape[1] - n
            # y[n] = -a·x[n] + x[n-D] + a·y[n-D], as its impulse response: −a·x[n] + Σ_m c_m·x[n−mD]
            out = ap[row : row + k]
            np.multiply(src, self._ap_coefs[0], out=out)
            t = np.empty((k, n), DTYPE)
            for m, c_m in enumerate(self._ap_coefs[1:], start=1):
                np.multiply(x_ext[:, h - m * d : h - m * d + n], c_m, out=t)
                np.add(out, t, out=out)
            row += k
            self._ap_x[j] = x_ext[:, x_ext.shape[1] - h :].copy()
        if self.lowpass is not None:
            ap, self._lp_state = lfilter(self.lowpass[0], self.lowpass[1], ap, axis=-1, zi=self._lp_state)
        c, nl = self.channels, self._n_left
        if c == 2:  # the rows are already [left, right]
            wet = ap
        else:
            wet = np.empty((c, n), DTYPE)
            wet[0::2] = ap[:nl]
            wet[1::2] = ap[nl : nl + c // 2]
            if c % 2:  # the odd last channel: mean of its left and right all-pass outputs
                wet[c - 1] = (ap[nl - 1] + ap[-1]) / 2.0
        np.multiply(wet, np.float32(self.wet_gain), out=wet)
        np.add(x, wet, out=wet)
        return wet

    def flush(self) -> np.ndarray:
        return np.zeros((self.channels, 0), DTYPE)


@dataclass(frozen=True)
class Reverb:
    """``Reverb(settings, amount=1.0)(audio, sample_rate, tail_s=None) -> audio``.

    ``tail_s``: seconds of silence appended so the reverb can ring out (default: the settings'
    rt60, at most 30 s; 0 keeps the input length). ``amount`` 0 = bit-exact bypass (no tail added).
    """

    settings: ReverbSettings = ReverbSettings()
    amount: float = 1.0

    def __post_init__(self):
        if not isinstance(self.settings, ReverbSettings):
            object.__setattr__(self, "settings", ReverbSettings.from_list(self.settings))
        if isinstance(self.amount, (int, float)) and not isinstance(self.amount, bool) and self.amount < 0:
            raise BadParameterError("reverb amount cannot be negative: timbrelab adds reverb, it cannot remove it")
        object.__setattr__(self, "amount", check_amount(self.amount, "reverb amount", 0.0, MAX_REVERB_AMOUNT))

    @property
    def is_bypass(self) -> bool:
        return self.amount == 0.0 or self.settings.wetdry == 0.0

    def default_tail_s(self) -> float:
        return 0.0 if self.is_bypass else self.settings.rt60_s

    def stream(self, sample_rate: int, channels: int) -> ReverbStream:
        return ReverbStream(self, int(sample_rate), channels)

    def __call__(self, audio: np.ndarray, sample_rate: int, tail_s: float | None = None) -> np.ndarray:
        from timbrelab.audio import as_audio, check_sample_rate

        audio = as_audio(audio)
        sample_rate = check_sample_rate(sample_rate)
        if self.is_bypass:
            return audio.copy()
        tail_s = self.default_tail_s() if tail_s is None else float(tail_s)
        pad = int(round(max(0.0, tail_s) * sample_rate))
        stream = self.stream(sample_rate, audio.shape[0])
        n, step = audio.shape[1], 1 << 16
        out = np.empty((audio.shape[0], n + pad), np.float32)
        for i in range(0, n + pad, step):  # the tail is fed as silence, block by block (never concatenated)
            block = audio[:, i : i + step] if i + step <= n else np.concatenate(
                [audio[:, i:n], np.zeros((audio.shape[0], min(i + step, n + pad) - max(i, n)), np.float32)], axis=1)
            out[:, i : i + block.shape[1]] = stream.process(block)
        return out

    def impulse_response(self, sample_rate: int, duration_s: float, wet_only: bool = True, channels: int = 2) -> np.ndarray:
        """The reverb's response to a unit impulse, ``(channels, samples)``; dry path removed if wet_only."""
        x = np.zeros((channels, int(duration_s * sample_rate)))
        x[:, 0] = 1.0
        y = run_stream(self.stream(sample_rate, channels), x)
        if wet_only:
            y = y - x
        return y

    def to_dict(self) -> dict:
        s = self.settings
        return {
            "type": "Reverb",
            "d_s": s.d_s, "g": s.g, "m_s": s.m_s, "f_hz": s.f_hz, "E": s.E, "wetdry": s.wetdry,
            "amount": self.amount,
            "rt60_s": round(s.rt60_s, 4),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Reverb":
        return cls(ReverbSettings(d["d_s"], d["g"], d["m_s"], d["f_hz"], d["E"], d.get("wetdry", 1.0)), d.get("amount", 1.0))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def __repr__(self) -> str:
        s = self.settings
        return f"Reverb(amount={self.amount:g}, rt60={s.rt60_s:.2f} s, d={s.d_s * 1000:.1f} ms, g={s.g:.3f}, lowpass={s.f_hz:.0f} Hz, E={s.E:.2f})"
