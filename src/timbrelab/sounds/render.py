"""FluidSynth rendering of GM programs: single notes and note sequences, deterministic.

``Renderer("FluidR3_GM", sample_rate=22050)`` loads one soundfont; ``render_note`` and
``render_events`` return float32 ``(2, samples)`` stereo at that rate. Reverb and chorus are off;
the synth gain is 0.6 (FluidSynth's default 0.2 leaves single notes near −20 dBFS).

Determinism: FluidSynth applies events at 64-sample block boundaries and its very first note after
start-up differs slightly (~3e-4) from every later one. So a renderer plays one throwaway note
when it starts, every event time is rounded to a block boundary, and each render ends with all
sounds off and a stretch of silence. With FluidR3_GM and TimGM6mb the same request then gives the
same samples, bit for bit, whatever was rendered before (tested). MuseScore_General (an sf3 with
Ogg-compressed samples) keeps some state across renders: a repeat can differ by < 1e-4 (about −60 dB
below the note's peak), but the same *sequence* of requests on a fresh renderer is bit-identical —
which is how data sets are built (``datasets.build``), so a rebuilt data set is identical.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from timbrelab.errors import BadParameterError, MissingComponentError
from timbrelab.sounds.catalogue import soundfont_path

BLOCK = 64  # FluidSynth's internal block: events take effect at block boundaries
DEFAULT_GAIN = 0.6
SETTLE_BLOCKS = 200


@dataclass(frozen=True)
class NoteEvent:
    """One note: MIDI pitch and velocity, start and held duration in seconds."""

    pitch: int
    velocity: int
    start_s: float
    duration_s: float

    def to_dict(self) -> dict:
        return {"pitch": self.pitch, "velocity": self.velocity, "start_s": round(self.start_s, 6), "duration_s": round(self.duration_s, 6)}


def _fluidsynth():
    try:
        import fluidsynth
    except (ImportError, OSError) as exc:
        raise MissingComponentError(f"FluidSynth is not usable ({exc}); install Debian fluidsynth and pip pyfluidsynth (scripts/setup.sh does both)") from None
    return fluidsynth


class Renderer:
    """One soundfont loaded into one FluidSynth instance."""

    def __init__(self, soundfont: str, sample_rate: int = 22050, gain: float = DEFAULT_GAIN):
        if not (8000 <= int(sample_rate) <= 96000):
            raise BadParameterError(f"sample rate {sample_rate} Hz is out of FluidSynth's range (8000 … 96000)")
        fl = _fluidsynth()
        self.soundfont = soundfont
        self.sample_rate = int(sample_rate)
        self.gain = float(gain)
        self._synth = fl.Synth(gain=self.gain, samplerate=self.sample_rate, **{"synth.reverb.active": 0, "synth.chorus.active": 0})
        self._sfid = self._synth.sfload(str(soundfont_path(soundfont)))
        if self._sfid == -1:
            raise MissingComponentError(f"FluidSynth could not load the soundfont {soundfont}")
        self._write = fl._fl.fluid_synth_write_float
        self._write.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self._write.restype = ctypes.c_int
        self.render_note(0, 60, 100, 0.1, 0.05)  # warm-up: the first note after start-up differs

    def close(self) -> None:
        if getattr(self, "_synth", None) is not None:
            self._synth.delete()
            self._synth = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _blocks(self, seconds: float) -> int:
        return int(round(seconds * self.sample_rate / BLOCK))

    def _render(self, n_samples: int) -> np.ndarray:
        buf = np.zeros((2, n_samples), np.float32)
        if n_samples:
            self._write(self._synth.synth, n_samples, buf[0].ctypes.data, 0, 1, buf[1].ctypes.data, 0, 1)
        return buf

    def render_events(self, program: int, events, tail_s: float = 0.5, channel: int = 0) -> np.ndarray:
        """Render notes of one GM program (0-based); returns float32 ``(2, samples)``.

        The output lasts until the last note-off plus ``tail_s`` (the release), rounded to 64 samples.
        """
        events = list(events)
        if not events:
            raise BadParameterError("nothing to render: no notes")
        if not (0 <= int(program) <= 127) or channel == 9:
            raise BadParameterError(f"GM program {program} is out of range (0 … 127; channel 10 is drums)")
        for e in events:
            if not (0 <= e.pitch <= 127 and 1 <= e.velocity <= 127 and e.start_s >= 0 and e.duration_s > 0):
                raise BadParameterError(f"bad note {e}")
        if self._synth.program_select(channel, self._sfid, 0, int(program)) != 0:
            raise MissingComponentError(f"soundfont {self.soundfont} has no GM program {program}")
        marks = []  # (block, order, kind, pitch, velocity): note-offs before note-ons at the same block
        for e in events:
            on = self._blocks(e.start_s)
            off = max(on + 1, self._blocks(e.start_s + e.duration_s))
            marks += [(on, 1, "on", e.pitch, e.velocity), (off, 0, "off", e.pitch, 0)]
        marks.sort()
        end = marks[-1][0] + max(1, self._blocks(tail_s))
        out, pos = [], 0
        for block, _, kind, pitch, vel in marks:
            out.append(self._render((block - pos) * BLOCK))
            pos = block
            if kind == "on":
                self._synth.noteon(channel, int(pitch), int(vel))
            else:
                self._synth.noteoff(channel, int(pitch))
        out.append(self._render((end - pos) * BLOCK))
        self._synth.all_sounds_off(channel)
        self._render(SETTLE_BLOCKS * BLOCK)
        return np.concatenate(out, axis=1)

    def render_note(self, program: int, pitch: int, velocity: int = 100, duration_s: float = 1.0, release_s: float = 0.5) -> np.ndarray:
        """One note held ``duration_s`` then released for ``release_s``: float32 ``(2, samples)``."""
        return self.render_events(program, [NoteEvent(int(pitch), int(velocity), 0.0, float(duration_s))], tail_s=release_s)
