"""Varied, expressive playing: seeded generators of :class:`~timbrelab.sounds.render.Performance`.

``make_performance(instrument, style, seed, duration_s)`` plays an instrument anywhere in its full
range (taxonomy ``low`` … ``high``; every note stays inside it) in one of these styles; the same
(instrument, style, seed, duration) always gives the same performance, and every note is released by
``duration_s``:

``note``
    One note: a pitch drawn uniformly over the whole range, velocity 30–127, either short
    (0.1–0.5 s) or long (1 s … most of the duration), starting within the first 0.1 s.
``swell``
    One long note (60–95 % of the duration) under a crescendo–diminuendo: expression (CC11, or
    volume CC7 one time in four) rises from 10–45 to 110–127, peaking 30–70 % into the note, then
    falls back to 10–45 (a raised-cosine curve, 50 control points a second).
``vibrato``
    One held note (60–95 % of the duration) with pitch-bend vibrato: 4–7 Hz, 10–50 cents deep,
    starting 0.15–0.6 s after the attack and fading in over 0.2–0.5 s (100 bend points a second).
``staccato``
    Short notes (25–50 % of their slot) on a sixteenth/eighth grid at 90–160 BPM, repeated or
    moving by step, accented on the beat.
``legato``
    A stepwise phrase whose notes overlap the next by 20–80 ms (how MIDI slurs), velocities 55–95.
``phrase``
    A melody like ``phrases.make_phrase`` (a key, eighths to halves) under a dynamics curve: a
    crescendo, a diminuendo or a hairpin on expression (CC11), velocities following the curve.
``chords``
    Block chords (triads and sevenths of a key, 3–4 notes inside the range) of 0.4–1.5 s; guitars
    strum them (10–30 ms between strings).
``arpeggio``
    Broken chords, up, down or up-and-down, in eighths or sixteenths.

Chords and arpeggios only for instruments that play several notes at once (keyboard, mallet and
guitar families, and the harp); wind, brass, voice and bowed strings are monophonic. ``swell`` needs
a sustained sound (bowed, blown, sung, organ, accordion); ``vibrato`` a sustained sound or a guitar.
``styles_for(instrument)`` lists an instrument's styles. ``make_drum_pattern(seed, duration_s)``
plays the GM drum kit (kick, snare, hi-hats, ride, toms, crash) for the "no instrument" class: render
it with program ``"drums"``.
"""

from __future__ import annotations

import math

import numpy as np

from timbrelab.errors import BadParameterError
from timbrelab.sounds.render import ControlEvent, NoteEvent, Performance
from timbrelab.sounds.taxonomy import Instrument, instrument as _instrument

STYLES = ("note", "swell", "vibrato", "staccato", "legato", "phrase", "chords", "arpeggio")
POLYPHONIC_FAMILIES = ("keyboard", "mallet", "guitar")
POLYPHONIC_INSTRUMENTS = ("harp",)
SUSTAINED_FAMILIES = ("strings", "voice", "brass", "woodwind")
SUSTAINED_INSTRUMENTS = ("organ", "accordion")
PLUCKED_INSTRUMENTS = ("harp",)  # in a sustained family, but plucked
VIBRATO_FAMILIES = ("guitar",)

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
CONTROL_RATE_HZ = 50  # points a second of a dynamics curve
BEND_RATE_HZ = 100  # points a second of a vibrato

# GM drum-kit notes
KICK, SNARE, CLOSED_HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE = 36, 38, 42, 44, 46, 49, 51
TOMS = (50, 48, 47, 45, 43, 41)  # high to low
DRUM_NOTES = (KICK, SNARE, CLOSED_HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE, *TOMS)


def _inst(instrument) -> Instrument:
    return instrument if isinstance(instrument, Instrument) else _instrument(str(instrument))


def polyphonic(instrument) -> bool:
    inst = _inst(instrument)
    return inst.family in POLYPHONIC_FAMILIES or inst.name in POLYPHONIC_INSTRUMENTS


def sustained(instrument) -> bool:
    inst = _inst(instrument)
    return (inst.family in SUSTAINED_FAMILIES and inst.name not in PLUCKED_INSTRUMENTS) or inst.name in SUSTAINED_INSTRUMENTS


def styles_for(instrument) -> tuple[str, ...]:
    """The styles ``instrument`` (an :class:`Instrument` or its name) can play, in ``STYLES`` order."""
    inst = _inst(instrument)
    ok = {"note", "staccato", "legato", "phrase"}
    if sustained(inst):
        ok.add("swell")
    if sustained(inst) or inst.family in VIBRATO_FAMILIES:
        ok.add("vibrato")
    if polyphonic(inst):
        ok |= {"chords", "arpeggio"}
    return tuple(s for s in STYLES if s in ok)


def make_performance(instrument, style: str, seed: int, duration_s: float = 3.0) -> Performance:
    """A seeded performance of ``instrument`` in ``style`` lasting ``duration_s`` (see the module docstring)."""
    inst = _inst(instrument)
    if style not in STYLES:
        raise BadParameterError(f"unknown playing style '{style}' (known: {', '.join(STYLES)})")
    if style not in styles_for(inst):
        raise BadParameterError(f"a {inst.name} does not play '{style}' (its styles: {', '.join(styles_for(inst))})")
    if not (0.5 <= float(duration_s) <= 600):
        raise BadParameterError(f"a performance of {duration_s} s is out of range (0.5 … 600 s)")
    rng = np.random.default_rng([int(seed), STYLES.index(style)])
    perf = _GENERATORS[style](inst, rng, float(duration_s))
    notes = tuple(sorted((_clip(n, inst, duration_s) for n in perf.notes), key=lambda n: (n.start_s, n.pitch)))
    controls = tuple(sorted(perf.controls, key=lambda c: c.time_s))
    return Performance(notes, controls, {"instrument": inst.name, "style": style, "seed": int(seed), "duration_s": float(duration_s)}).check()


def _clip(n: NoteEvent, inst: Instrument, duration_s: float) -> NoteEvent:
    pitch = int(min(inst.high, max(inst.low, n.pitch)))
    start = round(float(n.start_s), 6)
    dur = round(max(0.02, min(float(n.duration_s), duration_s - start)), 6)
    return NoteEvent(pitch, int(min(127, max(1, n.velocity))), start, dur)


def _scale(inst: Instrument, rng) -> list[int]:
    root = int(rng.integers(12))
    mode = MAJOR if rng.random() < 0.5 else MINOR
    return [p for p in range(inst.low, inst.high + 1) if (p - root) % 12 in mode]


def _curve(points_s, values, t0: float, t1: float, kind: str, rate_hz: float = CONTROL_RATE_HZ) -> list[ControlEvent]:
    """Piecewise raised-cosine interpolation of (time, value) points, sampled at ``rate_hz`` from t0 to t1."""
    n = max(2, int(math.ceil((t1 - t0) * rate_hz)) + 1)
    out, last = [], None
    for t in np.linspace(t0, t1, n):
        k = int(np.clip(np.searchsorted(points_s, t, side="right") - 1, 0, len(points_s) - 2))
        a, b = points_s[k], points_s[k + 1]
        u = 0.0 if b <= a else float(np.clip((t - a) / (b - a), 0, 1))
        v = values[k] + (values[k + 1] - values[k]) * (1 - math.cos(math.pi * u)) / 2
        v = int(round(np.clip(v, 0, 127)))
        if v != last:
            out.append(ControlEvent(round(float(t), 6), kind, v))
            last = v
    return out


# --- the styles ------------------------------------------------------------------------------------


def _note(inst, rng, dur):
    pitch = int(rng.integers(inst.low, inst.high + 1))
    vel = int(rng.integers(30, 128))
    start = float(rng.uniform(0, 0.1))
    long_max = max(1.0, 0.9 * dur - start)
    length = float(rng.uniform(0.1, 0.5)) if rng.random() < 0.5 else float(rng.uniform(min(1.0, long_max), long_max))
    return Performance((NoteEvent(pitch, vel, start, length),))


def _held(inst, rng, dur):
    pitch = int(rng.integers(inst.low, inst.high + 1))
    start = float(rng.uniform(0, 0.1))
    length = float(rng.uniform(0.6, 0.95)) * dur - start
    return pitch, start, max(0.3, length)


def _swell(inst, rng, dur):
    pitch, start, length = _held(inst, rng, dur)
    kind = "volume" if rng.random() < 0.25 else "expression"
    low_a, peak, low_b = int(rng.integers(10, 46)), int(rng.integers(110, 128)), int(rng.integers(10, 46))
    t_peak = start + float(rng.uniform(0.3, 0.7)) * length
    curve = _curve([0.0, start, t_peak, start + length], [low_a, low_a, peak, low_b], 0.0, start + length, kind)
    return Performance((NoteEvent(pitch, int(rng.integers(60, 101)), start, length),), tuple(curve))


def _vibrato(inst, rng, dur):
    pitch, start, length = _held(inst, rng, dur)
    rate = float(rng.uniform(4, 7))
    depth_semitones = float(rng.uniform(10, 50)) / 100
    onset = start + float(rng.uniform(0.15, 0.6))
    fade = float(rng.uniform(0.2, 0.5))
    phase = float(rng.uniform(0, 2 * math.pi))
    bends = [ControlEvent(0.0, "pitch_bend", 0.0)]
    t = onset
    while t < start + length:
        ramp = min(1.0, (t - onset) / fade)
        bends.append(ControlEvent(round(t, 6), "pitch_bend", round(depth_semitones * ramp * math.sin(2 * math.pi * rate * (t - onset) + phase), 5)))
        t += 1.0 / BEND_RATE_HZ
    return Performance((NoteEvent(pitch, int(rng.integers(60, 111)), start, length),), tuple(bends))


def _walk(scale, rng, idx, steps=(-2, -1, 0, 1, 2), p=None):
    step = int(rng.choice(steps, p=p))
    nxt = idx + step
    if not 0 <= nxt < len(scale):
        nxt = idx - step
    return int(np.clip(nxt, 0, len(scale) - 1))


def _staccato(inst, rng, dur):
    scale = _scale(inst, rng)
    beat = 60.0 / float(rng.uniform(90, 160))
    slot = beat * (0.25 if rng.random() < 0.5 else 0.5)
    frac = float(rng.uniform(0.25, 0.5))
    idx = int(rng.integers(len(scale)))
    base = int(rng.integers(50, 100))
    notes, t, k = [], float(rng.uniform(0, 0.05)), 0
    while t + slot * frac < dur:
        accent = 20 if (k * slot) % beat < 1e-6 or abs((k * slot) % beat - beat) < 1e-6 else 0
        notes.append(NoteEvent(scale[idx], int(np.clip(base + accent + rng.integers(-8, 9), 20, 127)), t, slot * frac))
        idx = _walk(scale, rng, idx, (-1, 0, 1), [0.3, 0.4, 0.3])
        t += slot
        k += 1
    return Performance(tuple(notes))


def _legato(inst, rng, dur):
    scale = _scale(inst, rng)
    beat = 60.0 / float(rng.uniform(60, 120))
    idx = int(rng.integers(len(scale)))
    notes, t = [], float(rng.uniform(0, 0.05))
    while t < dur - 0.2:
        slot = beat * float(rng.choice([0.5, 1.0, 1.5, 2.0]))
        overlap = float(rng.uniform(0.02, 0.08))
        notes.append(NoteEvent(scale[idx], int(rng.integers(55, 96)), t, min(slot + overlap, dur - t)))
        idx = _walk(scale, rng, idx, (-2, -1, 1, 2), [0.2, 0.3, 0.3, 0.2])
        t += slot
    return Performance(tuple(notes))


def _phrase(inst, rng, dur):
    scale = _scale(inst, rng)
    beat = 60.0 / float(rng.uniform(80, 140))
    idx = int(rng.integers(len(scale)))
    shape = str(rng.choice(["crescendo", "diminuendo", "hairpin"]))
    lo, hi = int(rng.integers(30, 70)), int(rng.integers(105, 128))
    pts, vals = {"crescendo": ([0, dur], [lo, hi]), "diminuendo": ([0, dur], [hi, lo]), "hairpin": ([0, dur * float(rng.uniform(0.35, 0.65)), dur], [lo, hi, lo])}[shape]
    curve = _curve(pts, vals, 0.0, dur, "expression")
    notes, t = [], 0.0
    while t < dur - 0.2:
        slot = min(beat * float(rng.choice([0.5, 1.0, 1.0, 2.0], p=[0.35, 0.3, 0.2, 0.15])), dur - t)
        level = float(np.interp(t, pts, vals)) / 127
        vel = int(np.clip(45 + 70 * level + rng.integers(-6, 7), 20, 127))
        notes.append(NoteEvent(scale[idx], vel, t, 0.9 * slot))
        idx = _walk(scale, rng, idx, (-2, -1, 1, 2, -4, 4), [0.2, 0.3, 0.3, 0.12, 0.04, 0.04])
        t += slot
    return Performance(tuple(notes), tuple(curve))


def _chord_pitches(inst, rng, scale_root: int, mode, degree: int) -> list[int]:
    """A triad or seventh on ``degree`` of the key, voiced close inside the range (3–4 notes)."""
    size = 4 if rng.random() < 0.35 else 3
    pcs = [(scale_root + mode[(degree + 2 * k) % 7]) % 12 for k in range(size)]
    lowest = int(rng.integers(inst.low, max(inst.low + 1, inst.high - 21)))
    out, p = [], lowest
    for pc in pcs:
        while p % 12 != pc:
            p += 1
        out.append(p)
    return [q for q in out if inst.low <= q <= inst.high] or [lowest]


def _progression(inst, rng, dur, slot_range):
    root = int(rng.integers(12))
    mode = MAJOR if rng.random() < 0.5 else MINOR
    degrees = [0] + [int(d) for d in rng.choice([0, 1, 3, 4, 5], size=64)]
    t, k, out = float(rng.uniform(0, 0.05)), 0, []
    while t < dur - 0.25:
        slot = min(float(rng.uniform(*slot_range)), dur - t)
        out.append((t, slot, _chord_pitches(inst, rng, root, mode, degrees[k % len(degrees)])))
        t += slot
        k += 1
    return out


def _chords(inst, rng, dur):
    strum = inst.family == "guitar" or inst.name == "harp"
    notes = []
    for t, slot, chord in _progression(inst, rng, dur, (0.4, 1.5)):
        vel = int(rng.integers(50, 111))
        gap = float(rng.uniform(0.01, 0.03)) if strum else 0.0
        for j, p in enumerate(chord):
            notes.append(NoteEvent(p, int(np.clip(vel + rng.integers(-5, 6), 1, 127)), t + j * gap, max(0.1, 0.95 * slot - j * gap)))
    return Performance(tuple(notes))


def _arpeggio(inst, rng, dur):
    beat = 60.0 / float(rng.uniform(80, 140))
    step = beat * (0.25 if rng.random() < 0.5 else 0.5)
    direction = str(rng.choice(["up", "down", "updown"]))
    notes = []
    for t0, slot, chord in _progression(inst, rng, dur, (4 * step, 8 * step)):
        order = chord if direction == "up" else chord[::-1] if direction == "down" else chord + chord[-2:0:-1]
        t, j = t0, 0
        while t < t0 + slot - step / 2 and t < dur - 0.05:
            notes.append(NoteEvent(order[j % len(order)], int(rng.integers(55, 106)), t, min(step * float(rng.uniform(0.8, 1.5)), dur - t)))
            t += step
            j += 1
    return Performance(tuple(notes))


_GENERATORS = {"note": _note, "swell": _swell, "vibrato": _vibrato, "staccato": _staccato, "legato": _legato, "phrase": _phrase, "chords": _chords, "arpeggio": _arpeggio}


def make_drum_pattern(seed: int, duration_s: float = 3.0) -> Performance:
    """A seeded GM drum-kit groove: kick, snare on the back beat, closed/open hi-hats or ride in
    eighths or sixteenths, now and then a crash on the one and a tom fill at the end of a bar.
    Render with program ``"drums"``."""
    if not (0.5 <= float(duration_s) <= 600):
        raise BadParameterError(f"a drum pattern of {duration_s} s is out of range (0.5 … 600 s)")
    dur = float(duration_s)
    rng = np.random.default_rng([int(seed), 99])
    beat = 60.0 / float(rng.uniform(80, 160))
    sixteenth = beat / 4
    cymbal = RIDE if rng.random() < 0.25 else CLOSED_HAT
    hat_every = 1 if rng.random() < 0.4 else 2  # in sixteenths
    kick_extra = rng.random(16) < 0.15
    notes = []

    def hit(pitch, t, vel):
        if t < dur - 0.02:
            notes.append(NoteEvent(pitch, int(np.clip(vel, 1, 127)), round(t, 6), round(min(0.15, dur - t), 6)))

    n16 = int(dur / sixteenth)
    fill_bars = {b for b in range(n16 // 16 + 1) if rng.random() < 0.3}
    for k in range(n16):
        t, pos, bar = k * sixteenth, k % 16, k // 16
        if pos == 0 and (k == 0 or rng.random() < 0.2) and rng.random() < 0.6:
            hit(CRASH, t, rng.integers(90, 121))
        if bar in fill_bars and pos >= 12:
            hit(TOMS[min(len(TOMS) - 1, (pos - 12) + int(rng.integers(0, 3)))], t, rng.integers(80, 121))
            continue
        if pos in (0, 8) or (kick_extra[pos] and pos % 2 == 0):
            hit(KICK, t, rng.integers(90, 121))
        if pos in (4, 12):
            hit(SNARE, t, rng.integers(90, 121))
        elif rng.random() < 0.05:
            hit(SNARE, t, rng.integers(30, 60))  # a ghost note
        if pos % hat_every == 0:
            open_hat = cymbal == CLOSED_HAT and pos == 14 and rng.random() < 0.3
            hit(OPEN_HAT if open_hat else cymbal, t, (85 if pos % 4 == 0 else 65) + rng.integers(-8, 9))
    if not notes:
        hit(KICK, 0.0, 100)
    return Performance(tuple(sorted(notes, key=lambda n: (n.start_s, n.pitch))), (), {"style": "drums", "seed": int(seed), "duration_s": dur})
