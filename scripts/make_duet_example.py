"""Render the bundled separation example: a violin + trumpet duet (`src/timbrelab/examples/duet_violin_trumpet.flac`).

Rerunnable and deterministic: timbrelab's own renderer (FluidSynth) plays two seeded legato phrases
from MuseScore_General (MIT; the soundfont timbrelab holds out for testing, never trained on), at equal
RMS, violin a little left and trumpet a little right, 44.1 kHz stereo, 8 s. Writes the file and prints
its sha256 for examples/PROVENANCE.md.

    .venv/bin/python scripts/make_duet_example.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from timbrelab.audio import write_audio
from timbrelab.sounds import playing
from timbrelab.sounds.render import open_renderer
from timbrelab.sounds.taxonomy import instrument

SR, SECONDS = 44100, 8.0
OUT = Path(__file__).resolve().parent.parent / "src" / "timbrelab" / "examples" / "duet_violin_trumpet.flac"


def main() -> None:
    parts = []
    with open_renderer("MuseScore_General", SR) as r:
        for name, seed in (("violin", 11), ("trumpet", 12)):
            inst = instrument(name)
            y = r.render(inst.programs[0], playing.make_performance(inst, "legato", seed, SECONDS), tail_s=0.0)
            y = np.asarray(y, np.float64).mean(axis=0)[: int(SR * SECONDS)]  # the renderer gives (2, samples)
            y = np.pad(y, (0, int(SR * SECONDS) - len(y)))
            parts.append(y / np.sqrt(np.mean(y * y)) * 0.05)
    left = 0.6 * parts[0] + 0.4 * parts[1]
    right = 0.4 * parts[0] + 0.6 * parts[1]
    mix = np.stack([left, right]).astype(np.float32)
    mix *= 0.5 / float(np.abs(mix).max())
    write_audio(OUT, mix, SR, bit_depth="16")
    print(OUT.name, hashlib.sha256(OUT.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
