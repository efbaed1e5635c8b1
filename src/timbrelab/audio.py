"""Audio I/O: read and write WAV, FLAC, OGG, AIFF and MP3; streaming blocks; resampling.

Conventions: audio is ``numpy.float32`` shaped ``(channels, samples)`` with an explicit sample rate.
Writers are atomic: data goes to a temporary file next to the target, which replaces the target only
when everything succeeded, so a failure never leaves a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from timbrelab.errors import AudioFileError, BadParameterError

#: extension -> libsndfile container
FORMATS = {
    ".wav": "WAV",
    ".flac": "FLAC",
    ".ogg": "OGG",
    ".oga": "OGG",
    ".aif": "AIFF",
    ".aiff": "AIFF",
    ".aifc": "AIFF",
    ".mp3": "MP3",
}
#: bit depth names accepted by the CLI -> libsndfile subtype (PCM containers)
BIT_DEPTHS = {"16": "PCM_16", "24": "PCM_24", "32": "PCM_32", "float": "FLOAT", "32f": "FLOAT"}
#: what each container can hold, first = default when the input's subtype does not fit
CONTAINER_SUBTYPES = {
    "WAV": ["PCM_24", "PCM_16", "PCM_32", "FLOAT", "DOUBLE", "PCM_U8"],
    "AIFF": ["PCM_24", "PCM_16", "PCM_32", "FLOAT", "DOUBLE", "PCM_S8"],
    "FLAC": ["PCM_24", "PCM_16", "PCM_S8"],
    "OGG": ["VORBIS", "OPUS"],
    "MP3": ["MPEG_LAYER_III"],
}
MAX_SAMPLE_RATE = 384_000
DEFAULT_BLOCK_FRAMES = 65_536


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    channels: int
    frames: int
    container: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def container_for(path: str | os.PathLike) -> str:
    """The libsndfile container for a path's extension, or a clear error."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise AudioFileError(f"{Path(path).name}: unsupported file type '{ext or '(none)'}' (use one of {known})")
    return FORMATS[ext]


def info(path: str | os.PathLike) -> AudioInfo:
    """Header information of an audio file; raises AudioFileError for missing, empty or corrupt files."""
    p = Path(path)
    container_for(p)
    if not p.exists():
        raise AudioFileError(f"{p}: no such file")
    if p.is_dir():
        raise AudioFileError(f"{p}: is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise AudioFileError(f"{p.name}: the file is empty (0 bytes)")
    try:
        i = sf.info(str(p))
    except Exception as exc:  # libsndfile's messages are terse; name the file and the cause
        raise AudioFileError(f"{p.name}: cannot be read as audio ({_short(exc)})") from None
    if i.frames <= 0 or i.samplerate <= 0:
        raise AudioFileError(f"{p.name}: contains no audio (zero length)")
    return AudioInfo(str(p), int(i.samplerate), int(i.channels), int(i.frames), i.format, i.subtype)


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:160]


def check_finite(audio: np.ndarray, where: str, offset_frames: int = 0, sample_rate: int | None = None) -> None:
    """Raise AudioFileError if the block holds NaN or infinite samples."""
    if not np.all(np.isfinite(audio)):
        bad = int(np.argwhere(~np.isfinite(audio))[0][-1]) + offset_frames
        at = f" at {bad / sample_rate:.3f} s" if sample_rate else f" at sample {bad}"
        raise AudioFileError(f"{where}: contains NaN or infinite samples{at}")


def as_audio(audio, name: str = "audio") -> np.ndarray:
    """Validate and convert an array to float32 ``(channels, samples)``; 1-D means mono."""
    if not isinstance(audio, np.ndarray):
        try:
            audio = np.asarray(audio)
        except Exception:
            raise BadParameterError(f"{name} must be a numpy array of samples, got {type(audio).__name__}") from None
    if audio.dtype.kind not in "fiu":
        raise BadParameterError(f"{name} must hold numbers, got dtype {audio.dtype}")
    if audio.ndim == 1:
        audio = audio[None, :]
    if audio.ndim != 2:
        raise BadParameterError(f"{name} must be shaped (channels, samples), got shape {audio.shape}")
    if audio.shape[0] > 64 and audio.shape[1] <= 64:
        raise BadParameterError(
            f"{name} looks like (samples, channels) {audio.shape}; timbrelab wants (channels, samples): pass audio.T"
        )
    if audio.shape[1] == 0:
        raise AudioFileError(f"{name}: contains no audio (zero length)")
    if audio.dtype.kind in "iu":
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max + 1)
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    check_finite(audio, name)
    return audio


def check_sample_rate(sample_rate) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer, float)):
        raise BadParameterError(f"sample rate must be a number of Hz, got {sample_rate!r}")
    if not (1000 <= sample_rate <= MAX_SAMPLE_RATE) or int(sample_rate) != sample_rate:
        raise BadParameterError(f"sample rate {sample_rate!r} Hz is not a usable rate (1000 … {MAX_SAMPLE_RATE} Hz)")
    return int(sample_rate)


def read_audio(path: str | os.PathLike, sample_rate: int | None = None, mono: bool = False) -> tuple[np.ndarray, int]:
    """Read a whole file as float32 ``(channels, samples)``; optionally resample and down-mix.

    Returns ``(audio, sample_rate)``. Raises AudioFileError for anything that is not usable audio.
    """
    info(path)  # clear errors for missing, empty, corrupt or unsupported files
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioFileError(f"{Path(path).name}: cannot be decoded ({_short(exc)})") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{Path(path).name}: contains no audio (zero length)")
    audio = np.ascontiguousarray(data.T)
    check_finite(audio, Path(path).name, sample_rate=sr)
    if mono and audio.shape[0] > 1:
        audio = audio.mean(axis=0, keepdims=True)
    if sample_rate is not None and check_sample_rate(sample_rate) != sr:
        audio = resample(audio, sr, sample_rate)
        sr = sample_rate
    return audio, int(sr)


def iter_blocks(path: str | os.PathLike, block_frames: int = DEFAULT_BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Yield float32 ``(channels, n)`` blocks of a file, checking each for NaN/inf (bounded memory)."""
    i = info(path)
    name = Path(path).name
    done = 0
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                data = f.read(block_frames, dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    break
                block = np.ascontiguousarray(data.T)
                check_finite(block, name, done, i.sample_rate)
                done += block.shape[1]
                yield block
    except AudioFileError:
        raise
    except Exception as exc:
        raise AudioFileError(f"{name}: cannot be decoded ({_short(exc)})") from None
    if done == 0:
        raise AudioFileError(f"{name}: contains no audio (zero length)")


def choose_subtype(out_path: str | os.PathLike, bit_depth: str | None = None, like_subtype: str | None = None) -> str:
    """The libsndfile subtype for an output: asked bit depth, else the input's if it fits, else a default."""
    container = container_for(out_path)
    allowed = CONTAINER_SUBTYPES[container]
    if bit_depth is not None:
        key = str(bit_depth).lower()
        if key not in BIT_DEPTHS:
            raise BadParameterError(f"bit depth '{bit_depth}' is not one of {', '.join(BIT_DEPTHS)}")
        subtype = BIT_DEPTHS[key]
        if subtype not in allowed:
            raise BadParameterError(f"{container} files cannot hold bit depth {bit_depth} (they hold {', '.join(allowed)})")
        return subtype
    if like_subtype in allowed:
        return like_subtype
    return allowed[0]


class AtomicAudioWriter:
    """Write audio blockwise to a temporary file that replaces ``path`` only on success.

    Use as a context manager; on an exception the temporary file is removed and ``path`` is untouched.
    """

    def __init__(self, path, sample_rate: int, channels: int, subtype: str | None = None):
        self.path = Path(path)
        self.container = container_for(self.path)
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = int(channels)
        self.subtype = subtype or CONTAINER_SUBTYPES[self.container][0]
        self.frames = 0
        self._tmp: Path | None = None
        self._file = None

    def __enter__(self):
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.exists():
            raise AudioFileError(f"{self.path}: the folder {parent} does not exist")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".part", dir=parent)
        os.close(fd)
        self._tmp = Path(tmp)
        try:
            self._file = sf.SoundFile(
                tmp, "w", samplerate=self.sample_rate, channels=self.channels,
                format=self.container, subtype=self.subtype,
            )
        except Exception as exc:
            self._tmp.unlink(missing_ok=True)
            raise AudioFileError(f"{self.path.name}: cannot write {self.container}/{self.subtype} ({_short(exc)})") from None
        return self

    def write(self, block: np.ndarray) -> None:
        if block.shape[0] != self.channels:
            raise BadParameterError(f"writer expects {self.channels} channels, got {block.shape[0]}")
        if block.shape[1]:
            self._file.write(np.ascontiguousarray(block.T))
            self.frames += block.shape[1]

    def __exit__(self, exc_type, exc, tb):
        try:
            self._file.close()
        except Exception as close_exc:
            if exc_type is None:
                self._tmp.unlink(missing_ok=True)
                raise AudioFileError(f"{self.path.name}: cannot finish writing ({_short(close_exc)})") from None
        if exc_type is not None:
            self._tmp.unlink(missing_ok=True)
            return False
        from timbrelab.io_utils import publish

        publish(self._tmp, self.path)
        return False


def write_audio(path, audio: np.ndarray, sample_rate: int, bit_depth: str | None = None, subtype: str | None = None) -> Path:
    """Write ``(channels, samples)`` audio atomically; format from the extension, bit depth selectable."""
    audio = as_audio(audio)
    subtype = subtype or choose_subtype(path, bit_depth)
    with AtomicAudioWriter(path, sample_rate, audio.shape[0], subtype) as w:
        w.write(audio)
    return Path(path)


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality resampling (soxr) of ``(channels, samples)`` audio."""
    import soxr

    sr_in, sr_out = check_sample_rate(sr_in), check_sample_rate(sr_out)
    if sr_in == sr_out:
        return audio
    out = soxr.resample(np.ascontiguousarray(audio.T), sr_in, sr_out, quality="HQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(-1, audio.shape[0]).T)


class StreamResampler:
    """Block-by-block resampler with state carried across blocks (soxr stream); call ``flush`` at the end."""

    def __init__(self, sr_in: int, sr_out: int, channels: int):
        import soxr

        self.channels = channels
        self._rs = soxr.ResampleStream(check_sample_rate(sr_in), check_sample_rate(sr_out), channels, dtype="float32", quality="HQ")

    def process(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        out = self._rs.resample_chunk(np.ascontiguousarray(block.T, dtype=np.float32), last=last)
        return np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(-1, self.channels).T)

    def flush(self) -> np.ndarray:
        return self.process(np.zeros((self.channels, 0), np.float32), last=True)
