"""From rendered data sets and recordings to labelled log-mel windows.

A :class:`Windows` holds every 128-frame window of a set of clips (``X``: ``(windows, n_mels,
frames)`` float32 log-mel, not yet standardised — the model standardises), which clip each window
came from (``clip``), and the clips' multi-hot labels (``Y``: ``(clips, classes)`` bool). Classes are
the taxonomy's instrument classes in its fixed order (``CLASSES``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from timbrelab.sounds.taxonomy import class_names
from timbrelab.timbre_cnn.frontend import FrontEndConfig, log_mel, windows

CLASSES: tuple[str, ...] = tuple(class_names())


@dataclass
class Windows:
    X: np.ndarray  # (n_windows, n_mels, frames) float32
    clip: np.ndarray  # (n_windows,) clip index
    Y: np.ndarray  # (n_clips, n_classes) bool
    names: list[str]  # one per clip (file or item description)
    classes: tuple[str, ...] = CLASSES

    @property
    def n_clips(self) -> int:
        return len(self.Y)

    @property
    def labels(self) -> np.ndarray:
        """Single-label class index per clip (the first true class)."""
        return self.Y.argmax(axis=1)

    def window_labels(self) -> np.ndarray:
        return self.labels[self.clip]

    def subset(self, clips) -> "Windows":
        """Only these clips (indices), renumbered."""
        clips = np.asarray(clips)
        remap = -np.ones(self.n_clips, int)
        remap[clips] = np.arange(len(clips))
        keep = remap[self.clip] >= 0
        return Windows(self.X[keep], remap[self.clip[keep]], self.Y[clips], [self.names[i] for i in clips], self.classes)


def multi_hot(label_lists, classes=CLASSES) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    Y = np.zeros((len(label_lists), len(classes)), bool)
    for r, labels in enumerate(label_lists):
        for lab in labels:
            Y[r, index[lab]] = True
    return Y


def clip_windows(audio: np.ndarray, sample_rate: int, config: FrontEndConfig | None = None) -> np.ndarray:
    """All windows of one clip: ``(n_windows, n_mels, frames)``."""
    config = config or FrontEndConfig()
    return windows(log_mel(audio, sample_rate, config), config.frames, pad_value=config.silence_value)


def from_clips(clips, label_lists, names, config: FrontEndConfig | None = None, progress: bool | None = None, desc: str = "features") -> Windows:
    """``clips``: iterable of ``(audio, sample_rate)``."""
    from tqdm import tqdm

    xs, owner = [], []
    for i, (audio, sr) in enumerate(tqdm(clips, total=len(names), desc=desc, unit="clip", disable=(progress is False) or None, leave=False)):
        w = clip_windows(audio, sr, config)
        xs.append(w)
        owner.append(np.full(len(w), i))
    return Windows(np.concatenate(xs).astype(np.float32), np.concatenate(owner), multi_hot(label_lists), list(names))


def from_dataset(ds, config: FrontEndConfig | None = None, progress: bool | None = None) -> Windows:
    """Windows of a built ``timbrelab.sounds.datasets.Dataset``."""
    names = [" ".join(str(v) for k, v in r.items() if k not in ("sources",)) for r in ds.rows]
    return from_clips(((ds.clip(i), ds.sample_rate) for i in range(len(ds))), ds.labels(), names, config, progress, desc=ds.folder.name)


def from_recordings(recs, config: FrontEndConfig | None = None, progress: bool | None = None) -> Windows:
    """Windows of real recordings (``timbrelab.sounds.recordings``); read with timbrelab's audio reader."""
    from timbrelab.audio import read_audio

    return from_clips((read_audio(r.path) for r in recs), [[r.instrument] for r in recs], [r.path.name for r in recs], config, progress, desc="recordings")


def split_validation(w: Windows, fraction: float = 0.15, seed: int = 0) -> tuple[Windows, Windows]:
    """A validation split by clip, stratified by class (every class keeps at least one training clip)."""
    rng = np.random.default_rng(seed)
    labels = w.labels
    val = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        k = int(round(fraction * len(idx)))
        val += idx[: min(k, len(idx) - 1)].tolist()
    val = np.array(sorted(val), int)
    train = np.setdiff1d(np.arange(w.n_clips), val)
    return w.subset(train), w.subset(val)


def concat(parts: list[Windows]) -> Windows:
    """Several window sets as one (clip indices renumbered)."""
    offsets = np.cumsum([0] + [p.n_clips for p in parts[:-1]])
    return Windows(
        np.concatenate([p.X for p in parts]), np.concatenate([p.clip + o for p, o in zip(parts, offsets)]),
        np.concatenate([p.Y for p in parts]), sum((p.names for p in parts), []), parts[0].classes,
    )
