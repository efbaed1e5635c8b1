"""Audio I/O: read anything ffmpeg decodes, write WAV, FLAC, OGG, AIFF and MP3; streaming blocks; resampling.

Conventions: audio is ``numpy.float32`` shaped ``(channels, samples)`` with an explicit sample rate.
Writers are atomic: data goes to a temporary file next to the target, which replaces the target only
when everything succeeded, so a failure never leaves a half-written file.

Reading (inputs): ``INPUT_EXTS`` lists every extension we try to decode; ``is_readable_ext(path)``
says whether a file is a candidate. Two decoders:

- libsndfile (``SNDFILE_INPUT_EXTS``: wav, flac, ogg, aiff, mp3, caf, au, w64, rf64) reads in-process,
  exactly as it always did. If libsndfile cannot open such a file (an ALAC ``.caf``, a G.726 ``.wav``,
  an AAC stream misnamed ``.mp3``) and ffmpeg is installed, ffmpeg gets a try before we give up.
- ffmpeg (``FFMPEG_INPUT_EXTS``: m4a, mp4, aac, opus, wma, webm, mka, ac3, …) runs as a subprocess that
  writes 32-bit float samples to a pipe, read block by block (bounded memory). The first audio stream
  of the file is decoded at its own rate and channel layout. ``info`` counts the frames by decoding
  once (container headers are not exact for lossy codecs), so ``info(path).frames`` always equals
  what ``read_audio``/``iter_blocks`` return; reading such a file through ``info`` then
  ``iter_blocks`` decodes it twice (cheap: ~0.3 s for 3 min of AAC). Without ffmpeg these files give
  an AudioFileError naming ffmpeg.

libmpg123 (libsndfile's MP3 decoder) writes notes and errors straight to file descriptor 2; every
libsndfile call that can decode MP3 runs with fd 2 pointed at /dev/null (see ``_quiet_stderr``), so a
read prints nothing, and a file that cannot be decoded raises "<name>: not a decodable audio file (…)".

Writing (outputs): ``FORMATS``/``OUTPUT_EXTS``, ``container_for``, ``AtomicAudioWriter`` (libsndfile).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from timbrelab.errors import AudioFileError, BadParameterError

#: extension -> libsndfile container (what can be written; all of it can be read too)
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

#: extensions written by ``AtomicAudioWriter``/``write_audio`` (libsndfile)
OUTPUT_EXTS = frozenset(FORMATS)
#: extensions read by libsndfile (ffmpeg tries only if libsndfile cannot open the file)
SNDFILE_INPUT_EXTS = frozenset(FORMATS) | {".caf", ".au", ".snd", ".w64", ".rf64"}
#: extensions read by ffmpeg only (needs the ffmpeg and ffprobe programs)
FFMPEG_INPUT_EXTS = frozenset({
    ".m4a", ".m4b", ".mp4", ".mov", ".3gp", ".3g2",  # MPEG-4 / QuickTime: AAC, ALAC
    ".aac", ".adts", ".ac3", ".eac3", ".dts", ".mp2", ".mpa",  # raw codec streams
    ".opus", ".spx",  # Ogg Opus, Speex
    ".wma", ".asf",  # Windows Media
    ".webm", ".weba", ".mka", ".mkv",  # Matroska / WebM
    ".ape", ".wv", ".tta", ".tak", ".mpc", ".amr",  # other codecs
})
#: every extension timbrelab tries to decode as input
INPUT_EXTS = SNDFILE_INPUT_EXTS | FFMPEG_INPUT_EXTS


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    channels: int
    frames: int
    container: str
    subtype: str
    decoder: str = "libsndfile"  # or "ffmpeg"

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def container_for(path: str | os.PathLike) -> str:
    """The libsndfile container an OUTPUT path's extension is written as, or a clear error.

    For inputs use ``is_readable_ext``/``decoder_for``: timbrelab reads more formats than it writes.
    """
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise AudioFileError(f"{Path(path).name}: unsupported file type '{ext or '(none)'}' (use one of {known})")
    return FORMATS[ext]


def is_readable_ext(path: str | os.PathLike) -> bool:
    """Whether a file's extension is one timbrelab tries to decode (``INPUT_EXTS``, any case).

    Use it to pick a folder's audio candidates; whether a file really decodes is ``info``'s answer.
    """
    return Path(path).suffix.lower() in INPUT_EXTS


def is_writable_ext(path: str | os.PathLike) -> bool:
    """Whether an output path's extension is a format timbrelab writes (``OUTPUT_EXTS``)."""
    return Path(path).suffix.lower() in OUTPUT_EXTS


def decoder_for(path: str | os.PathLike) -> str:
    """The first decoder for an input's extension, ``"libsndfile"`` or ``"ffmpeg"``; unknown → AudioFileError."""
    ext = Path(path).suffix.lower()
    if ext in SNDFILE_INPUT_EXTS:
        return "libsndfile"
    if ext in FFMPEG_INPUT_EXTS:
        return "ffmpeg"
    common = [".wav", ".flac", ".mp3", ".ogg", ".aiff", ".m4a", ".aac", ".opus", ".wma", ".webm"]
    more = len(INPUT_EXTS) - len(common)
    raise AudioFileError(
        f"{Path(path).name}: unsupported file type '{ext or '(none)'}' (reads {', '.join(common)} and {more} more)"
    )


def have_ffmpeg() -> bool:
    """Whether the ffmpeg and ffprobe programs are on the PATH."""
    return bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))


def info(path: str | os.PathLike) -> AudioInfo:
    """Header information of an audio file; raises AudioFileError for missing, empty or corrupt files.

    ``frames`` is exact for PCM, FLAC and Ogg files, and for files decoded by ffmpeg (counted by
    decoding the file once). For MP3 it is what the stream's header says (libsndfile): a truncated
    or header-less MP3 may decode to fewer frames, so use the blocks' lengths where it matters.
    """
    return _info(path, count=True)


def _info(path, count: bool) -> AudioInfo:
    p = Path(path)
    decoder = decoder_for(p)
    if not p.exists():
        raise AudioFileError(f"{p}: no such file")
    if p.is_dir():
        raise AudioFileError(f"{p}: is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise AudioFileError(f"{p.name}: the file is empty (0 bytes)")
    if decoder == "ffmpeg":
        return _ffmpeg_info(p, count)
    try:
        with _quiet_stderr():  # the format is not known yet: an MP3 decoder may talk while opening
            i = sf.info(str(p))
    except Exception as exc:
        reason = _sndfile_reason(exc)
        if have_ffmpeg():  # a codec or container variant libsndfile lacks (ALAC in CAF, AAC misnamed .mp3 …)
            try:
                return _ffmpeg_info(p, count)
            except AudioFileError:
                pass
        raise AudioFileError(f"{p.name}: not a decodable audio file ({reason})") from None
    if i.frames <= 0 or i.samplerate <= 0:
        raise AudioFileError(f"{p.name}: contains no audio (zero length)")
    return AudioInfo(str(p), int(i.samplerate), int(i.channels), int(i.frames), i.format, i.subtype)


# ---- libsndfile ---------------------------------------------------------------------------------

_FD2_LOCK = threading.RLock()


@contextmanager
def _quiet_stderr(active: bool = True):
    """Point file descriptor 2 at /dev/null for the duration (C libraries that print, e.g. libmpg123).

    Process-wide by nature: a lock serialises our own uses, and the scope is one libsndfile call, so
    other threads lose at most what they write to stderr during that call. fd 2 is restored even on
    exceptions (and pytest's ``capfd``, which swaps fd 2 itself, keeps working).
    """
    if not active:
        yield
        return
    with _FD2_LOCK:
        try:
            sys.stderr.flush()
        except Exception:
            pass
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 at all: nothing to protect
            yield
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 2)
            finally:
                os.close(null)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _sndfile_reason(exc: Exception) -> str:
    """libsndfile's open error without the path, in words; never "does not exist" for an existing file."""
    msg = " ".join(str(exc).split())
    if msg.startswith("Error opening") and "': " in msg:
        msg = msg.split("': ", 1)[1]
    if "does not exist" in msg or "not a regular file" in msg:  # libsndfile's words for "mpg123 found no frames"
        return "no valid audio frames found: damaged, or not the format its name says"
    msg = msg.rstrip(".")
    return (msg[:1].lower() + msg[1:])[:120] or "unknown reason"


def _sf_read_sequential(f: "sf.SoundFile", frames: int) -> np.ndarray:
    """Up to ``frames`` float32 frames ``(n, channels)`` from the current position, by one plain
    ``sf_readf_float`` call.

    ``SoundFile.read`` seeks after every read to "update" its position; for MP3 that seek goes through
    mpg123's inexact seeking and the following blocks come out as silence or garbage (and libmpg123
    prints "error: part2_3_length …"). Reading sequentially without seeking gives the same samples
    whatever the block size, and what one whole-file ``sf.read`` gives (for MPEG-2 MP3s below
    32 kHz up to ~1e-7 apart: ``sf.read`` itself seeks once before reading). Other formats are
    unaffected either way. Falls back to ``SoundFile.read`` if soundfile's internals change.
    """
    snd, ffi, handle = getattr(sf, "_snd", None), getattr(sf, "_ffi", None), getattr(f, "_file", None)
    if snd is None or ffi is None or handle is None:
        return f.read(frames, dtype="float32", always_2d=True)
    out = np.empty((frames, f.channels), np.float32)
    got = int(snd.sf_readf_float(handle, ffi.cast("float *", ffi.from_buffer(out)), frames))
    err = int(snd.sf_error(handle))
    if err:
        raise RuntimeError(ffi.string(snd.sf_error_number(err)).decode("utf-8", "replace"))
    return out[: max(got, 0)]


def _mpeg(i: AudioInfo) -> bool:
    """Whether libsndfile decodes this file with libmpg123 (which prints to fd 2): MP3, or MPEG in WAV."""
    return i.container == "MP3" or i.subtype.startswith("MPEG")


def _decode_error(name: str, exc: Exception, done_s: float | None = None) -> AudioFileError:
    msg = " ".join(str(exc).split()).rstrip(".")
    detail = "" if not msg or "unspecified internal error" in msg.lower() else f": {msg[:100]}"
    where = f" after {done_s:.2f} s" if done_s else ""
    return AudioFileError(f"{name}: not a decodable audio file (damaged audio data{where}{detail})")


# ---- ffmpeg -------------------------------------------------------------------------------------

_PCM_SUBTYPES = {"u8": "PCM_U8", "s8": "PCM_S8", "s16": "PCM_16", "s24": "PCM_24", "s32": "PCM_32", "f32": "FLOAT", "f64": "DOUBLE"}
_LOSSLESS = {"flac", "alac", "wavpack", "tta", "ape", "tak", "mlp", "truehd"}
_LOSSY_SUBTYPES = {"mp3": "MPEG_LAYER_III", "mp2": "MPEG_LAYER_II", "vorbis": "VORBIS", "opus": "OPUS"}


def _ffmpeg_tools(p: Path) -> tuple[str, str]:
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    if not (ffmpeg and ffprobe):
        raise AudioFileError(f"{p.name}: reading {p.suffix.lower() or 'such'} files needs ffmpeg (apt install ffmpeg)")
    return ffmpeg, ffprobe


def _ff_url(p: Path) -> str:
    return "file:" + os.path.abspath(p)  # "file:": a name never reads as an ffmpeg protocol or option


def _ff_reason(stderr: bytes | str, p: Path) -> str:
    """The last line ffmpeg wrote, without its "[demuxer @ 0x…]" tag and the file's path."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return "ffmpeg could not decode it"
    line = re.sub(r"^\[[^\]]*\]\s*", "", lines[-1])
    for prefix in (_ff_url(p) + ": ", str(p) + ": "):
        line = line.replace(prefix, "")
    line = line.rstrip(".")
    return (line[:1].lower() + line[1:])[:120]


def _ff_decode_cmd(ffmpeg: str, p: Path, *out: str) -> list[str]:
    return [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-i", _ff_url(p), "-map", "0:a:0", *out, "pipe:1"]


def _ffmpeg_info(p: Path, count: bool) -> AudioInfo:
    ffmpeg, ffprobe = _ffmpeg_tools(p)
    cmd = [
        ffprobe, "-v", "error", "-select_streams", "a:0",
        "-show_entries", "stream=codec_name,sample_rate,channels,sample_fmt,bits_per_raw_sample,bits_per_sample,duration"
        ":format=format_name,duration",
        "-of", "json", _ff_url(p),
    ]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise AudioFileError(f"{p.name}: not a decodable audio file (ffprobe gave no answer in 60 s)") from None
    if r.returncode != 0:
        raise AudioFileError(f"{p.name}: not a decodable audio file ({_ff_reason(r.stderr, p)})")
    try:
        data = json.loads(r.stdout or b"{}")
    except ValueError:
        data = {}
    streams = data.get("streams") or []
    if not streams:
        raise AudioFileError(f"{p.name}: not a decodable audio file (it holds no audio stream)")
    st = streams[0]
    try:
        sr, ch = int(st.get("sample_rate") or 0), int(st.get("channels") or 0)
    except (TypeError, ValueError):
        sr = ch = 0
    if sr <= 0 or ch <= 0:
        raise AudioFileError(f"{p.name}: not a decodable audio file (no sample rate or channel count in the audio stream)")
    container = str((data.get("format") or {}).get("format_name") or "ffmpeg").split(",")[0].upper()
    if count:
        frames = _ffmpeg_count_frames(ffmpeg, p)
    else:  # an estimate, used internally only (read_audio, iter_blocks do not need it)
        try:
            frames = int(float(st.get("duration") or (data.get("format") or {}).get("duration") or 0) * sr)
        except (TypeError, ValueError):
            frames = 0
    if count and frames <= 0:
        raise AudioFileError(f"{p.name}: contains no audio (zero length)")
    return AudioInfo(str(p), sr, ch, frames, container, _ffmpeg_subtype(st), "ffmpeg")


def _ffmpeg_subtype(st: dict) -> str:
    """libsndfile-style subtype: PCM_16/PCM_24 … for PCM and lossless codecs, the codec for lossy ones."""
    codec = str(st.get("codec_name") or "")
    if codec.startswith("pcm_"):
        m = re.match(r"pcm_([usf]\d+)", codec)
        if m and m.group(1) in _PCM_SUBTYPES:
            return _PCM_SUBTYPES[m.group(1)]
    if codec in _LOSSLESS:
        bits = str(st.get("bits_per_raw_sample") or "")
        if bits in ("8", "16", "24", "32"):
            return "PCM_S8" if bits == "8" else f"PCM_{bits}"
    return _LOSSY_SUBTYPES.get(codec, codec.upper() or "UNKNOWN")


def _ffmpeg_count_frames(ffmpeg: str, p: Path) -> int:
    """Decode once to 8-bit mono (one byte per frame) and count the bytes: exact, bounded memory."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            _ff_decode_cmd(ffmpeg, p, "-ac", "1", "-c:a", "pcm_u8", "-f", "u8"),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
        )
        frames = 0
        try:
            while True:
                chunk = proc.stdout.read(1 << 20)
                if not chunk:
                    break
                frames += len(chunk)
            rc = proc.wait()
        finally:
            _end(proc)
        if rc != 0:
            err.seek(0)
            raise AudioFileError(f"{p.name}: not a decodable audio file ({_ff_reason(err.read(), p)})")
    return frames


def _end(proc: subprocess.Popen) -> None:
    """Stop an ffmpeg subprocess if it still runs, close its pipes and reap it (no zombie)."""
    if proc.poll() is None:
        proc.kill()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:  # a pipe to a killed process may fail to flush
                pass
    proc.wait()


def _ffmpeg_blocks(p: Path, i: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    ffmpeg, _ = _ffmpeg_tools(p)
    frame_bytes = 4 * i.channels
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            _ff_decode_cmd(ffmpeg, p, "-c:a", "pcm_f32le", "-f", "f32le"),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
        )
        done = 0
        try:
            while True:
                buf = proc.stdout.read(block_frames * frame_bytes)  # blocks until full or end of stream
                n = len(buf) // frame_bytes
                if n == 0:
                    break
                block = np.frombuffer(buf, "<f4", n * i.channels).reshape(n, i.channels).T
                block = np.ascontiguousarray(block, dtype=np.float32)
                check_finite(block, p.name, done, i.sample_rate)
                done += n
                yield block
            rc = proc.wait()
            if rc != 0:
                err.seek(0)
                where = f" after {done / i.sample_rate:.2f} s" if done else ""
                raise AudioFileError(f"{p.name}: not a decodable audio file ({_ff_reason(err.read(), p)}{where})")
        finally:  # also when the consumer stops early (generator closed): kill, close, reap
            _end(proc)


def _ffmpeg_read(p: Path, i: AudioInfo) -> np.ndarray:
    ffmpeg, _ = _ffmpeg_tools(p)
    r = subprocess.run(
        _ff_decode_cmd(ffmpeg, p, "-c:a", "pcm_f32le", "-f", "f32le"),
        stdin=subprocess.DEVNULL, capture_output=True,
    )
    if r.returncode != 0:
        raise AudioFileError(f"{p.name}: not a decodable audio file ({_ff_reason(r.stderr, p)})")
    n = len(r.stdout) // (4 * i.channels)
    data = np.frombuffer(r.stdout, "<f4", n * i.channels).reshape(n, i.channels)
    return np.ascontiguousarray(data.T, dtype=np.float32)


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
    i = _info(path, count=False)  # clear errors for missing, empty, corrupt or unsupported files
    name = Path(path).name
    if i.decoder == "ffmpeg":
        audio, sr = _ffmpeg_read(Path(path), i), i.sample_rate
    else:
        try:
            with _quiet_stderr(_mpeg(i)):
                data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:
            raise _decode_error(name, exc) from None
        audio = np.ascontiguousarray(data.T)
    if audio.shape[1] == 0:
        raise AudioFileError(f"{name}: contains no audio (zero length)")
    check_finite(audio, name, sample_rate=sr)
    if mono and audio.shape[0] > 1:
        audio = audio.mean(axis=0, keepdims=True)
    if sample_rate is not None and check_sample_rate(sample_rate) != sr:
        audio = resample(audio, sr, sample_rate)
        sr = sample_rate
    return audio, int(sr)


def iter_blocks(path: str | os.PathLike, block_frames: int = DEFAULT_BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Yield float32 ``(channels, n)`` blocks of a file, checking each for NaN/inf (bounded memory).

    Every block has ``block_frames`` frames but the last. Closing the generator early stops the
    decoder (an ffmpeg subprocess is killed and reaped).
    """
    i = _info(path, count=False)
    name = Path(path).name
    done = 0
    if i.decoder == "ffmpeg":
        for block in _ffmpeg_blocks(Path(path), i, block_frames):
            done += block.shape[1]
            yield block
    else:
        quiet = _mpeg(i)
        try:
            with _quiet_stderr(quiet):
                f = sf.SoundFile(str(path))
        except Exception as exc:
            raise AudioFileError(f"{name}: not a decodable audio file ({_sndfile_reason(exc)})") from None
        with f:
            while True:
                try:
                    with _quiet_stderr(quiet):  # per read: stderr is never silenced while the caller runs
                        data = _sf_read_sequential(f, block_frames)
                except Exception as exc:
                    raise _decode_error(name, exc, done / i.sample_rate) from None
                if data.shape[0] == 0:
                    break
                block = np.ascontiguousarray(data.T)
                check_finite(block, name, done, i.sample_rate)
                done += block.shape[1]
                yield block
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


#: LAME's VBR quality for MP3 written through ffmpeg (``-q:a``; 0 best … 9 smallest): V2, ~190 kbit/s on music
MP3_VBR_QUALITY = 2


def _mp3_by_ffmpeg() -> bool:
    """MP3 goes through ffmpeg's libmp3lame when ffmpeg is installed (2–3× faster than libsndfile's LAME
    at a like bit rate, measured by ``timbrelab bench speed --only encode``); ``TIMBRELAB_MP3_ENCODER=libsndfile``
    keeps libsndfile's."""
    return os.environ.get("TIMBRELAB_MP3_ENCODER", "ffmpeg") != "libsndfile" and have_ffmpeg()


class _FFmpegEncoder:
    """A file-like ``write(frames × channels float32)`` sink that pipes PCM into ffmpeg, which encodes to ``path``."""

    def __init__(self, path: Path, sample_rate: int, channels: int, codec_args: list[str], fmt: str, name: str = ""):
        self.name = name or path.name
        self._path = path
        self._err = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [shutil.which("ffmpeg"), "-v", "error", "-y", "-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels),
             "-i", "pipe:0", *codec_args, "-f", fmt, str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._err,
        )

    def _reason(self) -> str:
        self._err.seek(0)
        return _ff_reason(self._err.read(), self._path)

    def write(self, frames: np.ndarray) -> None:
        try:
            self._proc.stdin.write(np.ascontiguousarray(frames, "<f4").tobytes())
        except (BrokenPipeError, OSError):
            self._proc.wait()
            raise AudioFileError(f"{self.name}: the encoder stopped ({self._reason()})") from None

    def close(self) -> None:
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        rc = self._proc.wait()
        try:
            if rc != 0:
                raise AudioFileError(f"{self.name}: the encoder failed ({self._reason()})")
        finally:
            self._err.close()

    def kill(self) -> None:
        _end(self._proc)
        self._err.close()


class AtomicAudioWriter:
    """Write audio blockwise to a temporary file that replaces ``path`` only on success.

    Use as a context manager; on an exception the temporary file is removed and ``path`` is untouched.
    MP3 is encoded by ffmpeg's libmp3lame at VBR quality ``MP3_VBR_QUALITY`` where ffmpeg is
    installed (see :func:`_mp3_by_ffmpeg`), otherwise by libsndfile.
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
        self._tmp = Path(tmp)
        try:
            os.close(fd)
            if self.container == "MP3" and _mp3_by_ffmpeg():
                self._file = _FFmpegEncoder(self._tmp, self.sample_rate, self.channels,
                                            ["-c:a", "libmp3lame", "-q:a", str(MP3_VBR_QUALITY)], "mp3", self.path.name)
            else:
                self._file = sf.SoundFile(
                    tmp, "w", samplerate=self.sample_rate, channels=self.channels,
                    format=self.container, subtype=self.subtype,
                )
        except Exception as exc:
            self._tmp.unlink(missing_ok=True)
            raise AudioFileError(f"{self.path.name}: cannot write {self.container}/{self.subtype} ({_short(exc)})") from None
        except BaseException:  # Ctrl-C / SIGTERM while opening: __exit__ will not run, so clean up here
            if isinstance(self._file, _FFmpegEncoder):
                self._file.kill()
            self._tmp.unlink(missing_ok=True)
            raise
        return self

    def write(self, block: np.ndarray) -> None:
        if block.shape[0] != self.channels:
            raise BadParameterError(f"writer expects {self.channels} channels, got {block.shape[0]}")
        if block.shape[1]:
            self._file.write(np.ascontiguousarray(block.T))
            self.frames += block.shape[1]

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is not None and isinstance(self._file, _FFmpegEncoder):
                self._file.kill()  # a failed or interrupted write: no half-encoded file, no orphan process
                self._tmp.unlink(missing_ok=True)
                return False
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
        except BaseException:  # interrupted (Ctrl-C / SIGTERM) or failed while finishing: leave no temporary file
            self._tmp.unlink(missing_ok=True)
            raise


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
