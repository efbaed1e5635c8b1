"""The explorer's notes: single notes of every instrument over its whole range, from the training sources.

``note_spec(purpose)`` is a :class:`timbrelab.sounds.datasets.NoteSetSpec` (cached, hash-verified,
rebuilt identically): every semitone of each instrument's range at two velocities (training sources)
or one (the held-out soundfont, MuseScore_General), each held 0.45 s and released for 0.15 s.
``NoteFeatures`` turns a built set into the model's input: the log-mel spectrogram of the note's
first ``NOTE_S`` seconds (``FEATURES``: 22,050 Hz, FFT 1024, hop 256, 128 mel bands: 44 frames) and
its instrument and pitch labels. ``augmented_copies`` adds seeded copies through the project's own
augmentation (``sounds.augment``: crowd EQ curves and gain only — a room's reverb or a recorder's
noise would become part of the timbre the explorer generates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from timbrelab.errors import BadParameterError
from timbrelab.features.logmel import LogMelConfig

#: the explorer's front end: a note's first half second as a 128-band log-mel spectrogram
FEATURES = LogMelConfig(sample_rate=22050, n_fft=1024, hop=256, n_mels=128)
NOTE_S = 0.5
NOTE_SAMPLES = int(round(NOTE_S * FEATURES.sample_rate))  # 11,025
N_FRAMES = 1 + NOTE_SAMPLES // FEATURES.hop  # 44
#: the pitch classes: MIDI notes 28 (E1) … 96 (C7), the union of the taxonomy's ranges
PITCH_LOW, PITCH_HIGH = 28, 96
PITCHES = tuple(range(PITCH_LOW, PITCH_HIGH + 1))
AUGMENT_FAMILIES = ("eq", "gain")


def note_spec(purpose: str = "train", sources=None, instruments=None):
    """The note set of ``purpose``: "train" (the training sources) or "test" (the held-out soundfont)."""
    from timbrelab.sounds.catalogue import SPLITS
    from timbrelab.sounds.datasets import NoteSetSpec

    if purpose not in ("train", "test"):
        raise BadParameterError(f"the explorer's notes are 'train' or 'test', got {purpose!r}")
    srcs = tuple(sources) if sources is not None else SPLITS[purpose]
    for s in srcs:
        if s not in SPLITS[purpose]:
            raise BadParameterError(f"{s} is not a {purpose} source ({', '.join(SPLITS[purpose])})")
    vel = (75, 110) if purpose == "train" else (90,)
    return NoteSetSpec(name=f"explore-{purpose}-notes", soundfonts=srcs, instruments=tuple(instruments) if instruments else None,
                       pitch_step=1, velocities=vel, duration_s=0.45, release_s=0.15, sample_rate=FEATURES.sample_rate)


def note_audio(clip: np.ndarray) -> np.ndarray:
    """A rendered clip → the model's float32 ``(NOTE_SAMPLES,)`` (trimmed or zero-padded)."""
    from timbrelab.sounds.datasets import _fit

    return _fit(np.asarray(clip, np.float32).reshape(-1), NOTE_SAMPLES)


def log_mels(audio: np.ndarray, batch: int = 256) -> np.ndarray:
    """float32 ``(n, NOTE_SAMPLES)`` → float32 ``(n, 128, 44)`` log-mel spectrograms."""
    import torch

    from timbrelab.features.logmel import LogMel

    front = LogMel(FEATURES).eval()
    out = np.zeros((len(audio), FEATURES.n_mels, N_FRAMES), np.float32)
    with torch.no_grad():
        for i in range(0, len(audio), batch):
            out[i : i + batch] = front(torch.from_numpy(np.ascontiguousarray(audio[i : i + batch], np.float32))).numpy()
    return out


@dataclass
class NoteFeatures:
    """Log-mels ``X`` (n, 128, 44), instrument indices ``y_inst`` (into ``classes``), pitch indices ``y_pitch`` (into ``PITCHES``), rows."""

    X: np.ndarray
    y_inst: np.ndarray
    y_pitch: np.ndarray
    rows: list
    classes: tuple

    def subset(self, mask) -> "NoteFeatures":
        idx = np.flatnonzero(mask)
        return NoteFeatures(self.X[idx], self.y_inst[idx], self.y_pitch[idx], [self.rows[i] for i in idx], self.classes)

    def __len__(self) -> int:
        return len(self.rows)


def augmented_copies(audio: np.ndarray, rows: list, seed: int, copies: int = 1) -> tuple[np.ndarray, list]:
    """``copies`` augmented copies of every note (crowd EQ + gain; seeded per note and copy)."""
    from timbrelab.sounds.augment import AugmentConfig, augment
    from timbrelab.sounds.datasets import _seed

    cfg = AugmentConfig().only(*AUGMENT_FAMILIES)
    out, out_rows = [], []
    for c in range(copies):
        for i, row in enumerate(rows):
            y, record = augment(audio[i][None, :], FEATURES.sample_rate, cfg, _seed(seed, "explore-augment", c, i))
            out.append(note_audio(y[0]))
            out_rows.append({**row, "augmented": c + 1})
    return np.stack(out) if out else np.zeros((0, NOTE_SAMPLES), np.float32), out_rows


def load_notes(purpose: str = "train", sources=None, augment_copies: int = 0, seed: int = 0, progress: bool | None = None,
               instruments=None) -> NoteFeatures:
    """Build (or open) the note set, add augmented copies, and compute the log-mels."""
    from timbrelab.sounds.datasets import build
    from timbrelab.sounds.taxonomy import class_names

    ds = build(note_spec(purpose, sources, instruments), progress=progress)
    rows = [dict(r) for r in ds.rows]
    audio = np.stack([note_audio(ds.audio[i]) for i in range(len(rows))]) if rows else np.zeros((0, NOTE_SAMPLES), np.float32)
    if augment_copies:
        aug, aug_rows = augmented_copies(audio, rows, seed, augment_copies)
        audio, rows = np.concatenate([audio, aug]), rows + aug_rows
    classes = tuple(class_names())
    y_inst = np.array([classes.index(r["instrument"]) for r in rows], np.int64)
    y_pitch = np.array([PITCHES.index(int(r["pitch"])) for r in rows], np.int64)
    return NoteFeatures(log_mels(audio), y_inst, y_pitch, rows, classes)
