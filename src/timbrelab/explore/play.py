"""What the explorer plays: interpolation and traversal sets as notes (log-mel + audio), and writing them out.

``interpolate(explorer, source, target, alphas, pitch=…)`` — the paper's timbre interpolation from
``source`` (an instrument name, or a user's note given as ``source_audio``: encoded, its pitch
latent kept) towards ``target``. ``traverse(explorer, instrument, pitch, dim, values)`` — one timbre
dimension moved by ``values`` prior standard deviations. Both return a :class:`NoteSet`;
``write_set`` writes one audio file per note (its α or value in the name) and a PNG of the
spectrograms, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from timbrelab.errors import BadParameterError
from timbrelab.explore.data import FEATURES
from timbrelab.explore.synth import METHODS, render

DEFAULT_METHOD = "griffin-lim"
MAX_NOTES = 64


@dataclass
class Note:
    label: str  # "alpha=0.25" or "dim1=+2"
    value: float
    logmel: np.ndarray  # (128, 44)
    audio: np.ndarray  # float32 (1, samples) at sample_rate
    sample_rate: int = FEATURES.sample_rate


@dataclass
class NoteSet:
    kind: str  # "interpolation" | "traversal"
    title: str
    pitch_midi: int
    method: str
    notes: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "title": self.title, "pitch_midi": self.pitch_midi, "method": self.method, **self.info,
                "notes": [{"label": n.label, "value": n.value} for n in self.notes]}


def _check_values(values, what: str) -> list[float]:
    v = [float(x) for x in values]
    if not v:
        raise BadParameterError(f"give at least one {what}")
    if len(v) > MAX_NOTES:
        raise BadParameterError(f"at most {MAX_NOTES} {what}s at a time, got {len(v)}")
    if not all(np.isfinite(v)):
        raise BadParameterError(f"every {what} must be a finite number")
    return v


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise BadParameterError(f"unknown resynthesis method {method!r} (known: {', '.join(METHODS)})")
    return method


def _notes(explorer, zt, zp, labels, values, method: str, pitch_for_synth: int) -> list[Note]:
    logmels = explorer.decode(zt, zp)
    return [Note(lab, val, lm, render(lm, method, pitch_for_synth)) for lab, val, lm in zip(labels, values, logmels)]


def interpolate(explorer, source: str, target: str, alphas, pitch: int | None = None, source_audio=None, sample_rate: int | None = None,
                method: str = DEFAULT_METHOD) -> NoteSet:
    """Timbre interpolation (see the module docstring). With ``source_audio``, ``source`` may be None:
    the note's nearest instrument is the source's mixture component."""
    a = _check_values(alphas, "alpha")
    _check_method(method)
    info: dict = {"target": explorer.classes[explorer.instrument_index(target)]}
    zt = zp = None
    if source_audio is not None:
        enc = explorer.encode_audio(source_audio, int(sample_rate))
        read = explorer.nearest(enc)
        src = source or read["instruments"][0]["instrument"]
        zt, zp = enc["z_timbre"][0], enc["z_pitch"][0]
        pitch_midi = read["pitch_midi"]
        info.update({"source_note": read})
    else:
        if source is None or pitch is None:
            raise BadParameterError("interpolation needs a source instrument and a pitch (or a note to start from)")
        src, pitch_midi = source, int(pitch)
        explorer.pitch_index(pitch_midi)
    info["source"] = explorer.classes[explorer.instrument_index(src)]
    zts, zps = explorer.interpolation_latents(src, target, a, z_timbre=zt, z_pitch=zp, pitch=pitch_midi)
    labels = [f"alpha={x:g}" for x in a]
    title = f"{info['source']} → {info['target']} at MIDI {pitch_midi}"
    return NoteSet("interpolation", title, pitch_midi, method, _notes(explorer, zts, zps, labels, a, method, pitch_midi), info)


def traverse(explorer, instrument: str, pitch: int, dim: int, values, method: str = DEFAULT_METHOD) -> NoteSet:
    v = _check_values(values, "value")
    _check_method(method)
    zts, zps = explorer.traversal_latents(instrument, pitch, dim, v)
    name = explorer.classes[explorer.instrument_index(instrument)]
    labels = [f"dim{int(dim)}={x:+g}" for x in v]
    return NoteSet("traversal", f"{name}, timbre dimension {int(dim)}, MIDI {int(pitch)}", int(pitch), method,
                   _notes(explorer, zts, zps, labels, v, method, int(pitch)), {"instrument": name, "dim": int(dim)})


def spectrogram_figure(note_set: NoteSet, path) -> Path:
    """A row of the notes' log-mel spectrograms on one colour scale, atomically written as PNG."""
    from timbrelab.plots import spectrogram_row

    spectrogram_row([n.logmel for n in note_set.notes], [n.label for n in note_set.notes], note_set.title, path,
                    seconds_per_frame=FEATURES.hop / FEATURES.sample_rate)
    return Path(path)


def write_set(note_set: NoteSet, out_dir, stem: str, fmt: str = "wav") -> dict:
    """One audio file per note (``STEM_alpha=0.25.wav`` …) and ``STEM.png`` in ``out_dir``; returns what was written."""
    from timbrelab.audio import write_audio

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for note in note_set.notes:
        p = out / f"{stem}_{note.label}.{fmt}"
        write_audio(p, note.audio, note.sample_rate)
        files.append(str(p))
    png = spectrogram_figure(note_set, out / f"{stem}.png")
    return {**note_set.to_dict(), "files": files, "figure": str(png)}
