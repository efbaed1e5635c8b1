"""Rendering GM programs from any catalogued source: notes, control curves, drums; deterministic.

One interface for every source (``catalogue.SOURCES``)::

    with open_renderer("FluidR3_GM", 22050) as r:          # or "freepats" (TiMidity++), "sf_GMbank" …
        audio = r.render(40, performance, tail_s=0.5)      # float32 (2, samples) at 22050 Hz
        kit = r.render("drums", drum_performance)          # the GM drum kit (channel 10, bank 128)

A :class:`Performance` is notes (:class:`NoteEvent`) plus control curves (:class:`ControlEvent`:
``volume`` = CC7, ``expression`` = CC11, ``modulation`` = CC1, 0 … 127; ``pitch_bend`` in semitones,
−2 … +2, the GM default bend range). Every render starts from reset controllers (volume 100,
expression 127, modulation 0, no bend), so one render never leaks into the next. The output lasts
until the last note-off (or control event) plus ``tail_s``, rounded to 64 samples; a source that lacks
the program gives silence (check ``catalogue.has_program`` first). ``Renderer(source, …)`` is the
same object; ``render_note`` and ``render_events`` are shorthands for notes only.

FluidSynth sources (sf2/sf3): reverb and chorus off, synth gain 0.6 (FluidSynth's default 0.2 leaves
single notes near −20 dBFS). TiMidity++ sources: see :mod:`timbrelab.sounds.timidity`.

Determinism (FluidSynth): it applies events at 64-sample block boundaries and its very first note
after start-up differs slightly (~3e-4) from every later one. So a renderer plays one throwaway note
when it starts, every event time (notes and controls) is rounded to a block boundary, and each render
ends with all sounds off and a stretch of silence. With the sf2 files (FluidR3_GM, TimGM6mb,
sf_GMbank) the same request then gives the same samples, bit for bit, after any single-voice renders
(tested). After a render with overlapping notes (chords, legato) FluidSynth's voice slots are in
another state and a later render can differ slightly (measured: up to 6.5e-4 on a phrase peaking at
0.13 with TimGM6mb, −46 dB; 0 with FluidR3_GM and sf_GMbank; a throwaway 128-note chord at start-up
did not remove it). MuseScore_General (an sf3 with Ogg-compressed samples) keeps some state across renders: a
repeat can differ by < 1e-4 (about −60 dB below the note's peak), but the same *sequence* of requests
on a fresh renderer is bit-identical — which is how data sets are built (``datasets.build``), so a
rebuilt data set is identical. TiMidity++ runs one fresh process per render: bit-identical always.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import numpy as np

from timbrelab.errors import BadParameterError, MissingComponentError
from timbrelab.sounds.catalogue import DRUMS, TIMIDITY, source, source_path

BLOCK = 64  # FluidSynth's internal block: events take effect at block boundaries
DEFAULT_GAIN = 0.6
SETTLE_BLOCKS = 200
DRUM_CHANNEL = 9  # GM channel 10
BEND_RANGE_SEMITONES = 2.0  # the GM default pitch-bend sensitivity

#: control kinds → MIDI controller number (``pitch_bend`` is its own message)
CONTROLLERS = {"volume": 7, "expression": 11, "modulation": 1}
CONTROL_KINDS = (*CONTROLLERS, "pitch_bend")
#: the state every render starts from
CONTROL_DEFAULTS = {"volume": 100, "expression": 127, "modulation": 0, "pitch_bend": 0.0}


@dataclass(frozen=True)
class NoteEvent:
    """One note: MIDI pitch and velocity, start and held duration in seconds."""

    pitch: int
    velocity: int
    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def to_dict(self) -> dict:
        return {"pitch": self.pitch, "velocity": self.velocity, "start_s": round(self.start_s, 6), "duration_s": round(self.duration_s, 6)}

    @classmethod
    def from_dict(cls, d: dict) -> "NoteEvent":
        return cls(int(d["pitch"]), int(d["velocity"]), float(d["start_s"]), float(d["duration_s"]))


@dataclass(frozen=True)
class ControlEvent:
    """A controller change at ``time_s``: ``kind`` is volume (CC7), expression (CC11), modulation (CC1),
    0 … 127, or pitch_bend in semitones (−2 … +2)."""

    time_s: float
    kind: str
    value: float

    def to_dict(self) -> dict:
        return {"time_s": round(self.time_s, 6), "kind": self.kind, "value": round(float(self.value), 6) if self.kind == "pitch_bend" else int(self.value)}

    @classmethod
    def from_dict(cls, d: dict) -> "ControlEvent":
        return cls(float(d["time_s"]), str(d["kind"]), float(d["value"]) if d["kind"] == "pitch_bend" else int(d["value"]))

    def midi_value(self) -> int:
        """The value sent: 0 … 127 for a controller, −8192 … 8191 for a bend."""
        if self.kind == "pitch_bend":
            return int(max(-8192, min(8191, round(self.value / BEND_RANGE_SEMITONES * 8192))))
        return int(self.value)


@dataclass(frozen=True)
class Performance:
    """What to play: notes plus control curves; JSON-able (``to_dict`` / ``from_dict``)."""

    notes: tuple[NoteEvent, ...]
    controls: tuple[ControlEvent, ...] = ()
    meta: dict = field(default_factory=dict, compare=False, hash=False)  # e.g. style, seed (not played)

    def __post_init__(self):
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "controls", tuple(self.controls))

    @property
    def end_s(self) -> float:
        """When the last note is released (or the last control event happens)."""
        return max([n.end_s for n in self.notes] + [c.time_s for c in self.controls] + [0.0])

    def check(self) -> "Performance":
        """Raise :class:`BadParameterError` for anything a synthesizer cannot play."""
        if not self.notes:
            raise BadParameterError("nothing to render: no notes")
        for e in self.notes:
            if not (0 <= e.pitch <= 127 and 1 <= e.velocity <= 127 and e.start_s >= 0 and e.duration_s > 0):
                raise BadParameterError(f"bad note {e} (pitch 0 … 127, velocity 1 … 127, start ≥ 0 s, duration > 0 s)")
        for c in self.controls:
            if c.kind not in CONTROL_KINDS:
                raise BadParameterError(f"unknown control '{c.kind}' (known: {', '.join(CONTROL_KINDS)})")
            if c.time_s < 0:
                raise BadParameterError(f"control event {c} happens before time 0")
            if c.kind == "pitch_bend" and not (-BEND_RANGE_SEMITONES <= c.value <= BEND_RANGE_SEMITONES):
                raise BadParameterError(f"a pitch bend of {c.value} semitones is beyond the ±{BEND_RANGE_SEMITONES:g} semitone range")
            if c.kind != "pitch_bend" and not (0 <= c.value <= 127 and float(c.value).is_integer()):
                raise BadParameterError(f"{c.kind} {c.value} is out of range (a whole number 0 … 127)")
        return self

    def to_dict(self) -> dict:
        return {"notes": [n.to_dict() for n in self.notes], "controls": [c.to_dict() for c in self.controls], "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, d: dict) -> "Performance":
        return cls(tuple(NoteEvent.from_dict(n) for n in d["notes"]), tuple(ControlEvent.from_dict(c) for c in d.get("controls", ())), dict(d.get("meta", {})))


def _program_arg(program) -> int | None:
    """A GM program 0 … 127, or None for the drum kit (``None`` or ``"drums"``)."""
    if program is None or program == DRUMS:
        return None
    if isinstance(program, (bool, np.bool_)) or not isinstance(program, (int, np.integer)) or not (0 <= int(program) <= 127):
        raise BadParameterError(f"GM program {program!r} is out of range (0 … 127, or 'drums' for the drum kit)")
    return int(program)


def _check_rate(sample_rate, low: int = 8000, high: int = 96000, who: str = "FluidSynth") -> int:
    if not (low <= int(sample_rate) <= high):
        raise BadParameterError(f"sample rate {sample_rate} Hz is out of {who}'s range ({low} … {high})")
    return int(sample_rate)


def _fluidsynth():
    try:
        import fluidsynth
    except (ImportError, OSError) as exc:
        raise MissingComponentError(f"FluidSynth is not usable ({exc}); install Debian fluidsynth and pip pyfluidsynth (scripts/setup.sh does both)") from None
    return fluidsynth


class FluidSynthRenderer:
    """One soundfont (sf2/sf3) loaded into one FluidSynth instance. Use through :class:`Renderer`."""

    def __init__(self, soundfont: str, sample_rate: int = 22050, gain: float = DEFAULT_GAIN, preload: bool = False):
        self.sample_rate = _check_rate(sample_rate)
        fl = _fluidsynth()
        self.soundfont = soundfont
        self.gain = float(gain)
        path = str(source_path(soundfont))
        # dynamic sample loading: only the selected presets' samples are read (and, in an sf3, decoded);
        # the same audio, bit for bit, but a note from MuseScore_General starts in 0.05 s and 62 MB instead
        # of 5.7 s and 530 MB. A bulk build that switches programs thousands of times preloads instead.
        self._synth = fl.Synth(gain=self.gain, samplerate=self.sample_rate,
                               **{"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.dynamic-sample-loading": int(not preload)})
        self._sfid = self._synth.sfload(path)
        if self._sfid == -1:
            self.close()
            raise MissingComponentError(f"FluidSynth could not load the soundfont {soundfont} ({path})")
        self._write = fl._fl.fluid_synth_write_float
        self._write.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self._write.restype = ctypes.c_int
        self.render(0, Performance((NoteEvent(60, 100, 0.0, 0.1),)), 0.05)  # warm-up: the first note after start-up differs

    def close(self) -> None:
        if getattr(self, "_synth", None) is not None:
            self._synth.delete()
            self._synth = None

    def _blocks(self, seconds: float) -> int:
        return int(round(seconds * self.sample_rate / BLOCK))

    def _render(self, n_samples: int) -> np.ndarray:
        buf = np.zeros((2, n_samples), np.float32)
        if n_samples:
            self._write(self._synth.synth, n_samples, buf[0].ctypes.data, 0, 1, buf[1].ctypes.data, 0, 1)
        return buf

    def _reset_controls(self, channel: int) -> None:
        self._synth.cc(channel, 121, 0)  # reset all controllers (bend, modulation, expression, sustain …)
        for kind, number in CONTROLLERS.items():
            self._synth.cc(channel, number, CONTROL_DEFAULTS[kind])
        self._synth.pitch_bend(channel, 0)

    def render(self, program: int | None, performance: Performance, tail_s: float = 0.5, channel: int | None = None) -> np.ndarray:
        channel = DRUM_CHANNEL if program is None else (0 if channel is None else channel)
        bank, preset = (128, 0) if program is None else (0, program)
        if self._synth.program_select(channel, self._sfid, bank, preset) != 0:
            what = "a GM drum kit" if program is None else f"GM program {program}"
            raise MissingComponentError(f"soundfont {self.soundfont} has no {what}")
        self._reset_controls(channel)
        # (block, order, kind, a, b): note-offs, then controls (in time order), then note-ons at the same block
        marks = []
        for e in performance.notes:
            on = self._blocks(e.start_s)
            off = max(on + 1, self._blocks(e.start_s + e.duration_s))
            marks += [(on, 2, "on", e.pitch, e.velocity), (off, 0, "off", e.pitch, 0)]
        for k, c in enumerate(sorted(performance.controls, key=lambda c: c.time_s)):
            marks.append((self._blocks(c.time_s), 1, c.kind, k, c.midi_value()))
        marks.sort()
        end = max(m[0] for m in marks) + max(1, self._blocks(tail_s))
        out, pos = [], 0
        for block, _, kind, a, b in marks:
            out.append(self._render((block - pos) * BLOCK))
            pos = block
            if kind == "on":
                self._synth.noteon(channel, int(a), int(b))
            elif kind == "off":
                self._synth.noteoff(channel, int(a))
            elif kind == "pitch_bend":
                self._synth.pitch_bend(channel, int(b))
            else:
                self._synth.cc(channel, CONTROLLERS[kind], int(b))
        out.append(self._render((end - pos) * BLOCK))
        self._synth.all_sounds_off(channel)
        self._render(SETTLE_BLOCKS * BLOCK)
        return np.concatenate(out, axis=1)


class Renderer:
    """A renderer of one catalogued source, whatever plays it (FluidSynth or TiMidity++).

    ``Renderer("FluidR3_GM", sample_rate=22050)`` ≡ ``open_renderer(...)``; a context manager.
    ``preload=True`` reads a soundfont's every sample at start (FluidSynth's default): slower to open
    (seconds for an sf3), faster when a bulk build switches programs all the time. The audio is the
    same either way."""

    def __init__(self, soundfont: str, sample_rate: int = 22050, gain: float = DEFAULT_GAIN, preload: bool = False):
        src = source(soundfont)  # unknown name: MissingComponentError
        self.source = self.soundfont = src.name
        self.kind = src.kind
        if src.kind == TIMIDITY:
            from timbrelab.sounds.timidity import TimidityRenderer

            self._backend = TimidityRenderer(src.name, sample_rate)
        else:
            self._backend = FluidSynthRenderer(src.name, sample_rate, gain, preload=preload)
        self.sample_rate = self._backend.sample_rate

    def close(self) -> None:
        if getattr(self, "_backend", None) is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def render(self, program, performance: Performance, tail_s: float = 0.5) -> np.ndarray:
        """Play ``performance`` with GM ``program`` (0-based; ``None`` or ``"drums"``: the drum kit).

        Returns float32 ``(2, samples)``: until the last note-off or control event plus ``tail_s``
        (the release), rounded to 64 samples."""
        prog = _program_arg(program)
        if not isinstance(performance, Performance):
            raise BadParameterError(f"render needs a Performance, got {type(performance).__name__}")
        if not (0 <= float(tail_s) <= 60):
            raise BadParameterError(f"a tail of {tail_s} s is out of range (0 … 60 s)")
        if self._backend is None:
            raise BadParameterError("this renderer is closed")
        return self._backend.render(prog, performance.check(), float(tail_s))

    def render_events(self, program: int, events, tail_s: float = 0.5, channel: int = 0) -> np.ndarray:
        """Render notes of one GM program (0-based); returns float32 ``(2, samples)``.

        The output lasts until the last note-off plus ``tail_s`` (the release), rounded to 64 samples.
        """
        events = list(events)
        if not events:
            raise BadParameterError("nothing to render: no notes")
        if channel == DRUM_CHANNEL or not (0 <= int(channel) <= 15):
            raise BadParameterError(f"channel {channel} cannot play GM program {program} (0 … 15; channel 10 is drums: pass program 'drums' to render)")
        prog = _program_arg(program)
        if prog is None:
            raise BadParameterError("render_events plays a GM program: for the drum kit use render('drums', …)")
        perf = Performance(tuple(events)).check()
        if isinstance(self._backend, FluidSynthRenderer):
            return self._backend.render(prog, perf, float(tail_s), channel=int(channel))
        return self._backend.render(prog, perf, float(tail_s))

    def render_note(self, program: int, pitch: int, velocity: int = 100, duration_s: float = 1.0, release_s: float = 0.5) -> np.ndarray:
        """One note held ``duration_s`` then released for ``release_s``: float32 ``(2, samples)``."""
        return self.render_events(program, [NoteEvent(int(pitch), int(velocity), 0.0, float(duration_s))], tail_s=release_s)


def open_renderer(source_name: str, sample_rate: int = 22050, gain: float = DEFAULT_GAIN, preload: bool = False) -> Renderer:
    """A :class:`Renderer` for any catalogued source (a context manager: ``with open_renderer(...) as r``)."""
    return Renderer(source_name, sample_rate, gain, preload=preload)
