"""Rendered data sets: notes, phrases and multi-instrument mixtures, built once and cached on disk.

A spec is a frozen dataclass; its JSON (with the renderer's settings, ``spec_dict``) is the key of
a ``timbrelab.data.cache`` entry in the ``sounds`` namespace, e.g. ``~/.cache/timbrelab/sounds/
notes-3f2a…`` (root: ``$TIMBRELAB_CACHE`` or ``~/.cache/timbrelab``). The folder holds ``audio.npy``
(float16, mono, ``(items, samples)``, fixed length), for mixtures also ``sources.npy`` (``(items,
max_sources, samples)``), and ``manifest.json``: the spec, the SHA-256 of every file (checked each
time the set is opened: a damaged file is rebuilt, never used), one row per item (soundfont,
instrument, program, pitch, velocity, seed …) and the items dropped as silent. Building renders each
soundfont with a fresh renderer in a fixed order, so rebuilding the same spec gives identical files
(tested); it shows a progress bar and writes the folder atomically (a half-built data set never appears).

Split by soundfont (``catalogue.SPLITS``): train specs use FluidR3_GM + TimGM6mb, test specs
MuseScore_General.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from timbrelab.data.cache import Cache, Entry
from timbrelab.data.cache import spec_key as _key
from timbrelab.errors import BadParameterError
from timbrelab.sounds.catalogue import SOUNDFONTS, SPLITS
from timbrelab.sounds.render import DEFAULT_GAIN, Renderer
from timbrelab.sounds.taxonomy import INSTRUMENTS, instrument

FORMAT_VERSION = 1
SILENT_PEAK = 1e-4  # an item quieter than this (a program with no sample there) is dropped
NAMESPACE = "sounds"  # the cache folder of rendered sets


def _check_common(soundfonts, instruments, sample_rate):
    for s in soundfonts:
        if s not in SOUNDFONTS:
            raise BadParameterError(f"unknown soundfont '{s}' (known: {', '.join(SOUNDFONTS)})")
    for i in instruments or ():
        instrument(i)
    if not (8000 <= sample_rate <= 96000):
        raise BadParameterError(f"sample rate {sample_rate} Hz is out of range (8000 … 96000)")


@dataclass(frozen=True)
class NoteSetSpec:
    """Single notes: every instrument × pitches (every ``pitch_step`` semitones of its range) × velocities × soundfonts.

    A class with several GM programs cycles through them across its pitches. ``pitch_offset`` shifts
    the grid (a test set off the training grid); ``pitch_jitter`` adds a seeded random 0…jitter
    semitones to each note, so that no class owns an exact pitch grid a model could learn as a
    shortcut (the grids of different classes start at different notes).
    """

    name: str = "notes"
    soundfonts: tuple = SPLITS["train"]
    instruments: tuple | None = None  # None: the whole taxonomy
    pitch_step: int = 3
    velocities: tuple = (70, 110)
    duration_s: float = 1.5
    release_s: float = 0.5
    sample_rate: int = 22050
    pitch_offset: int = 0
    pitch_jitter: int = 0
    seed: int = 0
    kind: str = field(default="notes", init=False)

    def items(self) -> list[dict]:
        from timbrelab.sounds.catalogue import has_program

        _check_common(self.soundfonts, self.instruments, self.sample_rate)
        rows = []
        for sf in self.soundfonts:
            for inst in INSTRUMENTS:
                if self.instruments is not None and inst.name not in self.instruments:
                    continue
                programs = [p for p in inst.programs if has_program(sf, p)]  # a source never stands in another instrument
                if not programs:
                    continue
                rng = np.random.default_rng(_seed(self.seed, sf, inst.name))
                for k, grid in enumerate(range(inst.low + self.pitch_offset, inst.high + 1, self.pitch_step)):
                    for j, vel in enumerate(self.velocities):
                        pitch = min(inst.high, grid + (int(rng.integers(0, self.pitch_jitter + 1)) if self.pitch_jitter else 0))
                        rows.append({"soundfont": sf, "instrument": inst.name, "program": programs[(k + j) % len(programs)], "pitch": pitch, "velocity": vel})
        return rows

    @property
    def samples(self) -> int:
        return _n_samples(self.duration_s + self.release_s, self.sample_rate)


@dataclass(frozen=True)
class PhraseSetSpec:
    """Melodic phrases (``phrases.make_phrase``): ``per_instrument`` per instrument and soundfont."""

    name: str = "phrases"
    soundfonts: tuple = SPLITS["train"]
    instruments: tuple | None = None
    per_instrument: int = 4
    duration_s: float = 4.0
    sample_rate: int = 22050
    seed: int = 0
    kind: str = field(default="phrases", init=False)

    def items(self) -> list[dict]:
        _check_common(self.soundfonts, self.instruments, self.sample_rate)
        rows = []
        for sf in self.soundfonts:
            for n, inst in enumerate(INSTRUMENTS):
                if self.instruments is not None and inst.name not in self.instruments:
                    continue
                for k in range(self.per_instrument):
                    seed = _seed(self.seed, sf, inst.name, k)
                    rows.append({"soundfont": sf, "instrument": inst.name, "program": inst.programs[k % len(inst.programs)], "seed": seed})
        return rows

    @property
    def samples(self) -> int:
        return _n_samples(self.duration_s, self.sample_rate)


@dataclass(frozen=True)
class MixSetSpec:
    """Mixtures of 2–3 phrases by different instruments (multi-label), with their sources kept."""

    name: str = "mixes"
    soundfonts: tuple = SPLITS["test"]
    instruments: tuple | None = None
    n_mixes: int = 60
    min_sources: int = 2
    max_sources: int = 3
    duration_s: float = 4.0
    sample_rate: int = 22050
    seed: int = 0
    kind: str = field(default="mixes", init=False)

    def items(self) -> list[dict]:
        _check_common(self.soundfonts, self.instruments, self.sample_rate)
        if not (1 <= self.min_sources <= self.max_sources <= 4) or not (1 <= self.n_mixes <= 100_000):
            raise BadParameterError("mixtures need 1 ≤ min_sources ≤ max_sources ≤ 4 and 1 … 100,000 mixes")
        names = [i.name for i in INSTRUMENTS if self.instruments is None or i.name in self.instruments]
        if len(names) < self.max_sources:
            raise BadParameterError(f"{self.max_sources} sources need at least as many instruments")
        rng = np.random.default_rng(self.seed)
        rows = []
        for m in range(self.n_mixes):
            sf = self.soundfonts[m % len(self.soundfonts)]
            k = int(rng.integers(self.min_sources, self.max_sources + 1))
            chosen = sorted(rng.choice(names, size=k, replace=False).tolist(), key=names.index)
            srcs = []
            for name in chosen:
                inst = instrument(name)
                srcs.append({"instrument": name, "program": int(inst.programs[int(rng.integers(len(inst.programs)))]), "seed": int(rng.integers(2**31)), "gain_db": round(float(rng.uniform(-6, 0)), 2)})
            rows.append({"soundfont": sf, "sources": srcs, "instruments": chosen})
        return rows

    @property
    def samples(self) -> int:
        return _n_samples(self.duration_s, self.sample_rate)


def _seed(base: int, *parts) -> int:
    h = hashlib.sha256(json.dumps([base, *parts]).encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


def _n_samples(seconds: float, sr: int) -> int:
    return int(round(seconds * sr))


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Mono down-mix, trimmed or zero-padded to n samples."""
    y = x.mean(axis=0) if x.ndim == 2 else x
    out = np.zeros(n, np.float32)
    out[: min(n, len(y))] = y[:n]
    return out


def spec_dict(spec) -> dict:
    d = asdict(spec)
    d["kind"] = spec.kind
    d["renderer"] = {"gain": DEFAULT_GAIN, "reverb": False, "chorus": False, "format_version": FORMAT_VERSION}
    return json.loads(json.dumps(d))


SPEC_KINDS = {"notes": NoteSetSpec, "phrases": PhraseSetSpec, "mixes": MixSetSpec}


def spec_from_dict(d: dict):
    """The spec a plain dict describes (a recipe's table, or ``spec_dict``'s output): ``kind`` picks
    the class, lists become tuples. A ``renderer`` entry must match this renderer's settings."""
    d = dict(d)
    kind = d.pop("kind", None)
    if kind in ("corpus", "augmented"):
        from timbrelab.sounds import corpus

        cls = corpus.CorpusSpec if kind == "corpus" else corpus.AugmentedSpec
        d.pop("corpus_version", None)
        d.pop("renderer", None)
        known = {f for f, v in cls.__dataclass_fields__.items() if v.init}
        unknown = set(d) - known
        if unknown:
            raise BadParameterError(f"{kind} spec: unknown settings {sorted(unknown)} (known: {sorted(known)})")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
    if kind not in SPEC_KINDS:
        raise BadParameterError(f"a data set spec needs kind = one of {', '.join(SPEC_KINDS)}, got {kind!r}")
    renderer = d.pop("renderer", None)
    if renderer is not None and renderer != spec_dict(SPEC_KINDS[kind]())["renderer"]:
        raise BadParameterError(f"this data set spec was rendered with other renderer settings ({renderer}); this timbrelab renders with {spec_dict(SPEC_KINDS[kind]())['renderer']}")
    cls = SPEC_KINDS[kind]
    known = {f for f, v in cls.__dataclass_fields__.items() if v.init}
    unknown = set(d) - known
    if unknown:
        raise BadParameterError(f"{kind} spec: unknown settings {sorted(unknown)} (known: {sorted(known)})")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def spec_key(spec) -> str:
    """The cache key of ``spec``: SHA-256 of ``spec_dict(spec)``'s JSON."""
    return _key(spec_dict(spec))


class Dataset:
    """A built data set: ``rows`` (the manifest's items), ``audio`` (float16 ``(items, samples)``), ``sample_rate``."""

    def __init__(self, entry: Entry):
        self.folder = entry.folder
        self.manifest = entry.manifest
        self.rows: list[dict] = self.manifest["items"]
        self.sample_rate: int = self.manifest["spec"]["sample_rate"]
        self.audio = np.load(self.folder / "audio.npy", mmap_mode="r")
        src = self.folder / "sources.npy"
        self.sources = np.load(src, mmap_mode="r") if src.exists() else None

    def __len__(self) -> int:
        return len(self.rows)

    def clip(self, i: int) -> np.ndarray:
        """Item ``i`` as float32 ``(1, samples)``."""
        return np.asarray(self.audio[i], np.float32)[None, :]

    def labels(self) -> list[list[str]]:
        return [r["instruments"] if "instruments" in r else [r["instrument"]] for r in self.rows]


def _render_item(spec, row, renderers) -> tuple[np.ndarray, np.ndarray | None]:
    from timbrelab.sounds.phrases import make_phrase

    r = renderers[row["soundfont"]]
    n = spec.samples
    if spec.kind == "notes":
        return _fit(r.render_note(row["program"], row["pitch"], row["velocity"], spec.duration_s, spec.release_s), n), None
    if spec.kind == "phrases":
        notes = make_phrase(instrument(row["instrument"]), row["seed"], spec.duration_s)
        return _fit(r.render_events(row["program"], notes, tail_s=0.0), n), None
    srcs = np.zeros((spec.max_sources, n), np.float32)
    for k, s in enumerate(row["sources"]):
        notes = make_phrase(instrument(s["instrument"]), s["seed"], spec.duration_s)
        srcs[k] = _fit(r.render_events(s["program"], notes, tail_s=0.0), n) * np.float32(10 ** (s["gain_db"] / 20))
    return srcs.sum(axis=0), srcs


def build(spec, progress: bool | None = None, force: bool = False, root: Path | None = None) -> Dataset:
    """Render ``spec`` (or open the cached, hash-verified build). Deterministic: the same spec gives identical files.
    A corpus or augmented set (``sounds.corpus``) is built in resumable shards and read lazily."""
    if spec.kind in ("corpus", "augmented"):
        from timbrelab.sounds import corpus

        return corpus.build(spec, progress, root)
    entry = Cache(NAMESPACE, root).get(spec_dict(spec), spec.name, lambda folder: _render(spec, folder, progress), force=force)
    return Dataset(entry)


def _render(spec, folder: Path, progress: bool | None) -> dict:
    """Render every item into ``folder`` (audio.npy, sources.npy); the manifest's rows and dropped items."""
    from tqdm import tqdm

    rows = spec.items()
    audio = np.zeros((len(rows), spec.samples), np.float16)
    sources = np.zeros((len(rows), spec.max_sources, spec.samples), np.float16) if spec.kind == "mixes" else None
    keep = np.ones(len(rows), bool)
    bar = tqdm(total=len(rows), desc=f"render {spec.name}", unit="item", disable=(progress is False) or None)
    for sf in dict.fromkeys(r["soundfont"] for r in rows):  # one fresh renderer per soundfont, fixed order
        with Renderer(sf, spec.sample_rate, preload=True) as renderer:
            for i, row in enumerate(rows):
                if row["soundfont"] != sf:
                    continue
                y, srcs = _render_item(spec, row, {sf: renderer})
                peak = float(np.abs(y).max())
                keep[i] = peak >= SILENT_PEAK
                if peak > 1.0:
                    y = y / peak
                    srcs = None if srcs is None else srcs / peak
                audio[i] = y
                if srcs is not None:
                    sources[i] = srcs
                bar.update()
    bar.close()
    dropped = [rows[i] for i in np.flatnonzero(~keep)]
    np.save(folder / "audio.npy", np.ascontiguousarray(audio[keep]))
    if sources is not None:
        np.save(folder / "sources.npy", np.ascontiguousarray(sources[keep]))
    return {"items": [r for r, k in zip(rows, keep) if k], "dropped_silent": dropped}
