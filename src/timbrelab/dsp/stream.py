"""Streaming building blocks shared by the effects.

A *stream* turns a sequence of ``(channels, n)`` float blocks into output blocks. Its result never
depends on how the input was cut into blocks: feeding a whole file at once or in 4,096-sample pieces
gives bit-identical output. Streams may hold samples back internally (``process`` can return fewer
samples than it got); ``flush`` returns the rest, so the concatenated output always has exactly as
many samples as went in.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft


class FIRStream:
    """Block-invariant FIR convolution by overlap-save with a fixed internal frame grid.

    ``taps``: float array ``(n_taps,)``, applied to every channel. ``fft_size`` is chosen as a power of
    two of at least 4× the filter length. Output sample n is ``sum_k taps[k]·x[n-k]`` (causal, the
    filter's own delay is not compensated: use minimum-phase filters).
    """

    def __init__(self, taps: np.ndarray, channels: int, fft_size: int | None = None, dtype=np.float32):
        self.dtype = np.dtype(dtype)  # single precision by default: half the FFT work, far below audible error
        taps = np.asarray(taps, dtype=np.float64)
        self.n_taps = len(taps)
        self.channels = channels
        n = fft_size or int(2 ** np.ceil(np.log2(4 * self.n_taps)))
        self.fft_size = n
        self.hop = n - self.n_taps + 1
        self._spectrum = sfft.rfft(taps, n).astype(np.result_type(self.dtype, np.complex64))
        self._history = np.zeros((channels, self.n_taps - 1), self.dtype)
        self._pending = np.zeros((channels, 0), self.dtype)

    def process(self, block: np.ndarray) -> np.ndarray:
        self._pending = np.concatenate([self._pending, np.asarray(block, self.dtype)], axis=1)
        n_frames = self._pending.shape[1] // self.hop
        if n_frames == 0:
            return np.zeros((self.channels, 0), self.dtype)
        take = n_frames * self.hop
        out = self._convolve(self._pending[:, :take])
        self._pending = self._pending[:, take:]
        return out

    def _convolve(self, x: np.ndarray) -> np.ndarray:
        """Convolve a whole number of hops, updating the history."""
        n_frames = x.shape[1] // self.hop
        ext = np.concatenate([self._history, x], axis=1)
        out = np.empty((self.channels, n_frames * self.hop), self.dtype)
        group = max(1, (1 << 21) // self.fft_size)  # frames per FFT batch: bounded memory
        # every frame as a strided view (frames overlap by n_taps − 1): no gathered copy before the FFT
        frames = np.lib.stride_tricks.sliding_window_view(ext, self.fft_size, axis=-1)[:, :: self.hop]
        for f0 in range(0, n_frames, group):
            f1 = min(n_frames, f0 + group)
            spec = sfft.rfft(frames[:, f0:f1], axis=-1)
            spec *= self._spectrum
            y = sfft.irfft(spec, self.fft_size, axis=-1)[:, :, self.n_taps - 1 :]
            out[:, f0 * self.hop : f1 * self.hop] = y.reshape(self.channels, -1)
        keep = self.n_taps - 1
        self._history = ext[:, ext.shape[1] - keep :] if keep else ext[:, :0]
        return out

    def flush(self) -> np.ndarray:
        """Output for the samples still held back (the grid is padded with zeros, then cut)."""
        rest = self._pending.shape[1]
        if rest == 0:
            return np.zeros((self.channels, 0), self.dtype)
        padded = np.concatenate([self._pending, np.zeros((self.channels, self.hop - rest), self.dtype)], axis=1)
        self._pending = np.zeros((self.channels, 0), self.dtype)
        return self._convolve(padded)[:, :rest]


def run_stream(stream, audio: np.ndarray, block_frames: int = 1 << 16) -> np.ndarray:
    """Push audio through a stream in blocks (cache-friendly; the result does not depend on
    ``block_frames``) and return the full output."""
    parts = [stream.process(audio[:, i : i + block_frames]) for i in range(0, audio.shape[1], block_frames)]
    parts.append(stream.flush())
    return np.concatenate(parts, axis=1)
