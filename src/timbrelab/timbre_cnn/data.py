"""From rendered data sets and recordings to labelled log-mel windows.

The timbre CNN's front end (``FrontEndConfig``) is a log-mel (``features.logmel``) cut into windows
(``features.windows``). A :class:`Windows` holds every window of a set of clips (``X``: ``(windows,
n_mels, frames)`` float32 log-mel, not yet standardised — the model standardises), which clip each
window came from (``clip``), the clips' multi-hot labels (``Y``: ``(clips, classes)`` bool) and the
front end that computed them (so a model trained on them is saved with *that* front end). Classes
are the taxonomy's instrument classes in its fixed order (``CLASSES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from timbrelab.errors import BadParameterError
from timbrelab.features.logmel import LogMelConfig, log_mel
from timbrelab.features.windows import WindowConfig, windows
from timbrelab.sounds.taxonomy import class_names

CLASSES: tuple[str, ...] = tuple(class_names())
#: the answer for silence, noise, drums and effects: a model trained with it has one more output
NO_INSTRUMENT = "no instrument"
CLASSES_WITH_NONE: tuple[str, ...] = CLASSES + (NO_INSTRUMENT,)


@dataclass(frozen=True)
class FrontEndConfig:
    """Log-mel settings, then windows of ``windows.frames`` frames (defaults: Pons et al.'s 12 kHz,
    512/256, 96 bands, 128-frame windows of 2.7 s). JSON-able: ``{"logmel": {...}, "windows": {...}}``."""

    logmel: LogMelConfig = field(default_factory=LogMelConfig)
    windows: WindowConfig = field(default_factory=WindowConfig)

    def __post_init__(self):
        if not isinstance(self.logmel, LogMelConfig) or not isinstance(self.windows, WindowConfig):
            raise BadParameterError("front end: give a LogMelConfig and a WindowConfig (or use FrontEndConfig.from_dict)")

    @property
    def n_mels(self) -> int:
        return self.logmel.n_mels

    @property
    def frames(self) -> int:
        return self.windows.frames

    @property
    def silence_value(self) -> float:
        return self.logmel.silence_value

    @property
    def window_step_s(self) -> float:
        """Time from one window's start to the next (non-overlapping windows), seconds."""
        return self.windows.hop * self.logmel.hop / self.logmel.sample_rate

    def to_dict(self) -> dict:
        return {"logmel": self.logmel.to_dict(), "windows": self.windows.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "FrontEndConfig":
        unknown = set(d) - {"logmel", "windows"}
        if unknown:
            raise BadParameterError(f"front end: unknown parts {sorted(unknown)} (known: logmel, windows)")
        return cls(LogMelConfig.from_dict(d.get("logmel", {})), WindowConfig.from_dict(d.get("windows", {})))


@dataclass
class Windows:
    X: np.ndarray  # (n_windows, n_mels, frames) float32
    clip: np.ndarray  # (n_windows,) clip index
    Y: np.ndarray  # (n_clips, n_classes) bool
    names: list[str]  # one per clip (file or item description)
    classes: tuple[str, ...] = CLASSES
    front_end: FrontEndConfig = field(default_factory=FrontEndConfig)

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
        return Windows(self.X[keep], remap[self.clip[keep]], self.Y[clips], [self.names[i] for i in clips], self.classes, self.front_end)


def multi_hot(label_lists, classes=CLASSES) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({lab for labels in label_lists for lab in labels} - set(index))
    if unknown:
        raise BadParameterError(f"labels {unknown} are not among the classes")
    Y = np.zeros((len(label_lists), len(classes)), bool)
    for r, labels in enumerate(label_lists):
        for lab in labels:
            Y[r, index[lab]] = True
    return Y


def clip_windows(audio: np.ndarray, sample_rate: int, config: FrontEndConfig | None = None) -> np.ndarray:
    """All windows of one clip: ``(n_windows, n_mels, frames)``."""
    config = config or FrontEndConfig()
    return windows(log_mel(audio, sample_rate, config.logmel), config.frames, config.windows.hop_frames, pad_value=config.silence_value)


def from_clips(clips, label_lists, names, config: FrontEndConfig | None = None, progress: bool | None = None, desc: str = "features",
               classes: tuple = CLASSES) -> Windows:
    """``clips``: iterable of ``(audio, sample_rate)``."""
    from tqdm import tqdm

    config = config or FrontEndConfig()
    xs, owner = [], []
    for i, (audio, sr) in enumerate(tqdm(clips, total=len(names), desc=desc, unit="clip", disable=(progress is False) or None, leave=False)):
        w = clip_windows(audio, sr, config)
        xs.append(w)
        owner.append(np.full(len(w), i))
    return Windows(np.concatenate(xs).astype(np.float32), np.concatenate(owner), multi_hot(label_lists, classes), list(names), tuple(classes), config)


def _row_name(r: dict) -> str:
    return " ".join(str(v) for k, v in r.items() if k not in ("sources", "augment"))


def from_dataset(ds, config: FrontEndConfig | None = None, progress: bool | None = None, classes: tuple = CLASSES) -> Windows:
    """Windows of a built data set (``timbrelab.sounds.datasets`` / ``sounds.corpus``); rows flagged silent are left out."""
    keep = [i for i, r in enumerate(ds.rows) if not r.get("silent")]
    labels = ds.labels()
    return from_clips(((ds.clip(i), ds.sample_rate) for i in keep), [labels[i] for i in keep], [_row_name(ds.rows[i]) for i in keep],
                      config, progress, desc=ds.folder.name, classes=classes)


def from_recordings(recs, config: FrontEndConfig | None = None, progress: bool | None = None, classes: tuple = CLASSES) -> Windows:
    """Windows of real recordings (``timbrelab.sounds.recordings``); read with timbrelab's audio reader."""
    from timbrelab.audio import read_audio

    return from_clips((read_audio(r.path) for r in recs), [[r.instrument] for r in recs], [r.path.name for r in recs], config, progress,
                      desc="recordings", classes=classes)


class RowView:
    """Rows ``index`` of an array (e.g. a memory map) without copying: ``view[i]``, ``view[i, ...]``, ``shape``, ``len``."""

    def __init__(self, base, index):
        if isinstance(base, RowView):
            base, index = base.base, base.index[np.asarray(index, int)]
        self.base, self.index = base, np.asarray(index, int)

    @property
    def shape(self) -> tuple:
        return (len(self.index), *self.base.shape[1:])

    @property
    def dtype(self):
        return self.base.dtype

    @property
    def ndim(self) -> int:
        return self.base.ndim

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            return self.base[(int(self.index[key[0]]),) + key[1:]]
        return self.base[int(self.index[key])]


class StackedRows:
    """The rows of several arrays of one row shape, one after another, without copying (memory maps stay
    on disk): ``view[i]``, ``view[i, ...]``, ``shape``, ``len``."""

    def __init__(self, parts):
        self.parts = list(parts)
        if not self.parts or len({tuple(p.shape[1:]) for p in self.parts}) != 1 or len({p.dtype for p in self.parts}) != 1:
            raise BadParameterError("StackedRows: need one or more arrays of one row shape and dtype")
        self.starts = np.cumsum([0] + [len(p) for p in self.parts])

    @property
    def shape(self) -> tuple:
        return (int(self.starts[-1]), *self.parts[0].shape[1:])

    @property
    def dtype(self):
        return self.parts[0].dtype

    @property
    def ndim(self) -> int:
        return self.parts[0].ndim

    def __len__(self) -> int:
        return int(self.starts[-1])

    def _part(self, i) -> tuple:
        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(f"row {i} of {len(self)}")
        k = int(np.searchsorted(self.starts, i, side="right")) - 1
        return self.parts[k], i - int(self.starts[k])

    def __getitem__(self, key):
        if isinstance(key, tuple):
            part, j = self._part(key[0])
            return part[(j,) + key[1:]]
        part, j = self._part(key)
        return part[j]


@dataclass
class ClipMaps:
    """Whole-clip log-mel maps of a fixed-length data set, for random-crop training (``data.adapters.CropDataset``).

    ``X``: float16 ``(clips, n_mels, clip_frames)``; ``y``: class index per clip; ``rows``: the data
    set's rows (silent ones left out); ``classes``, ``front_end`` as for :class:`Windows`."""

    X: np.ndarray
    y: np.ndarray
    rows: list
    classes: tuple
    front_end: FrontEndConfig

    @property
    def n_clips(self) -> int:
        return len(self.y)

    def subset(self, clips) -> "ClipMaps":
        """These clips (indices); the maps are not copied (a memory-mapped corpus stays on disk)."""
        clips = np.asarray(clips, int)
        return ClipMaps(RowView(self.X, clips), self.y[clips], [self.rows[i] for i in clips], self.classes, self.front_end)

    @staticmethod
    def stack(*maps: "ClipMaps") -> "ClipMaps":
        """The clips of several maps of one front end and class list, one after another (not copied)."""
        if any(m.classes != maps[0].classes or m.front_end != maps[0].front_end for m in maps):
            raise BadParameterError("ClipMaps.stack: the maps differ in classes or front end")
        return ClipMaps(StackedRows([m.X for m in maps]), np.concatenate([m.y for m in maps]), [r for m in maps for r in m.rows],
                        maps[0].classes, maps[0].front_end)

    def windows(self) -> Windows:
        """Every window of every clip (the evaluation view: clip probability = mean over its windows)."""
        fe = self.front_end
        xs, owner = [], []
        for i in range(self.n_clips):
            w = windows(self.X[i].astype(np.float32), fe.frames, fe.windows.hop_frames, pad_value=fe.silence_value)
            xs.append(w)
            owner.append(np.full(len(w), i))
        Y = np.zeros((self.n_clips, len(self.classes)), bool)
        Y[np.arange(self.n_clips), self.y] = True
        return Windows(np.concatenate(xs).astype(np.float32), np.concatenate(owner), Y, [_row_name(r) for r in self.rows], self.classes, fe)


FEATURES_NAMESPACE = "features"


def clip_maps(ds, config: FrontEndConfig | None = None, classes: tuple = CLASSES_WITH_NONE, progress: bool | None = None) -> ClipMaps:
    """Log-mel maps of every (non-silent) clip of a fixed-length data set, as float16.

    A data set from the cache (it has a manifest key) has its maps cached too, in the ``features``
    namespace keyed by (data set, front end, classes): computed once, then memory-mapped, so a corpus
    larger than memory streams from disk during training."""
    config = config or FrontEndConfig()
    key = (getattr(ds, "manifest", None) or {}).get("key")
    if key is None:
        return _compute_clip_maps(ds, config, classes, progress)
    import json

    from timbrelab.data.cache import Cache

    spec = {"dataset": key, "front_end": config.to_dict(), "classes": list(classes), "format": 1}
    entry = Cache(FEATURES_NAMESPACE).get(spec, ds.folder.name, lambda folder: _write_clip_maps(ds, config, classes, progress, folder))
    X = np.load(entry.path("X.npy"), mmap_mode="r")
    y = np.load(entry.path("y.npy"))
    keep = json.loads(entry.path("keep.json").read_text(encoding="utf-8"))
    return ClipMaps(X, y, [ds.rows[i] for i in keep], tuple(classes), config)


def _kept_and_labels(ds, classes):
    keep = [i for i, r in enumerate(ds.rows) if not r.get("silent")]
    index = {c: k for k, c in enumerate(classes)}
    labels = ds.labels()
    unknown = sorted({labels[i][0] for i in keep} - set(index))
    if unknown:
        raise BadParameterError(f"labels {unknown} are not among the classes")
    return keep, np.array([index[labels[i][0]] for i in keep], np.int64)


def _fill(ds, config, keep, progress, X_or_factory):
    from tqdm import tqdm

    first = log_mel(ds.clip(keep[0]), ds.sample_rate, config.logmel)
    X = X_or_factory(first.shape) if callable(X_or_factory) else X_or_factory
    for j, i in enumerate(tqdm(keep, desc=f"log-mel {ds.folder.name}", unit="clip", disable=(progress is False) or None, leave=False)):
        m = first if j == 0 else log_mel(ds.clip(i), ds.sample_rate, config.logmel)
        X[j] = m[:, : X.shape[2]]
    return X


def _compute_clip_maps(ds, config, classes, progress) -> ClipMaps:
    keep, y = _kept_and_labels(ds, classes)
    X = _fill(ds, config, keep, progress, lambda shape: np.zeros((len(keep), *shape), np.float16))
    return ClipMaps(X, y, [ds.rows[i] for i in keep], tuple(classes), config)


def _write_clip_maps(ds, config, classes, progress, folder) -> dict:
    import json

    keep, y = _kept_and_labels(ds, classes)
    X = _fill(ds, config, keep, progress, lambda shape: np.lib.format.open_memmap(folder / "X.npy", "w+", np.float16, (len(keep), *shape)))
    X.flush()
    del X
    np.save(folder / "y.npy", y)
    (folder / "keep.json").write_text(json.dumps(keep), encoding="utf-8")
    return {"clips": len(keep)}


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
    """Several window sets as one (clip indices renumbered); they must share classes and front end."""
    if any(p.front_end != parts[0].front_end or p.classes != parts[0].classes for p in parts):
        raise BadParameterError("cannot join window sets computed with different front ends or classes")
    offsets = np.cumsum([0] + [p.n_clips for p in parts[:-1]])
    return Windows(
        np.concatenate([p.X for p in parts]), np.concatenate([p.clip + o for p, o in zip(parts, offsets)]),
        np.concatenate([p.Y for p in parts]), sum((p.names for p in parts), []), parts[0].classes, parts[0].front_end,
    )
