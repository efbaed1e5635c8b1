"""Short melodic phrases, random but musical: in a key, in the instrument's register, on a beat grid.

``make_phrase(instrument, seed, duration_s)`` draws a key (any of 12 roots, major or natural minor),
a tempo (80–140 BPM), a register centre inside the instrument's range, and then a melody: mostly
steps of one or two scale degrees with an occasional leap, rhythms of eighth, quarter and half
notes, slightly detached (90 % of each slot), velocities 70–110 around a phrase dynamic. The same
(instrument, seed, duration) always gives the same notes.
"""

from __future__ import annotations

import numpy as np

from timbrelab.sounds.render import NoteEvent
from timbrelab.sounds.taxonomy import Instrument

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


def make_phrase(inst: Instrument, seed: int, duration_s: float = 4.0) -> list[NoteEvent]:
    rng = np.random.default_rng(seed)
    root = int(rng.integers(12))
    mode = MAJOR if rng.random() < 0.5 else MINOR
    bpm = float(rng.uniform(80, 140))
    beat = 60.0 / bpm
    lo, hi = inst.low, inst.high
    span = hi - lo
    centre = int(rng.integers(lo + min(7, span // 3), hi - min(7, span // 3) + 1))
    scale = [p for p in range(lo, hi + 1) if (p - root) % 12 in mode]
    idx = int(np.argmin([abs(p - centre) for p in scale]))
    dynamic = int(rng.integers(80, 101))
    notes, t = [], 0.0
    while t < duration_s - 0.25:
        slot = beat * float(rng.choice([0.5, 1.0, 1.0, 2.0], p=[0.35, 0.3, 0.2, 0.15]))
        slot = min(slot, duration_s - t)
        vel = int(np.clip(dynamic + rng.integers(-10, 11), 70, 110))
        notes.append(NoteEvent(scale[idx], vel, round(t, 6), round(0.9 * slot, 6)))
        t += slot
        step = int(rng.choice([-2, -1, 1, 2, -4, 4], p=[0.2, 0.3, 0.3, 0.12, 0.04, 0.04]))
        nxt = idx + step
        if not (0 <= nxt < len(scale)) or abs(scale[nxt] - centre) > 12:
            nxt = idx - step
        idx = int(np.clip(nxt, 0, len(scale) - 1))
    return notes
