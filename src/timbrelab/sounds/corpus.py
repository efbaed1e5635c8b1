"""The training corpus: many sources, varied playing, a "no instrument" class, and augmented copies.

Two data-set kinds, both built once into the ``timbrelab.data.cache`` (namespace ``sounds``), in
shards, resumable, with a progress bar:

``CorpusSpec`` (kind ``"corpus"``)
    Dry renders. For every source (``catalogue.SPLITS["train"]`` by default: FluidR3_GM, TimGM6mb,
    sf_GMbank, freepats) and every instrument class whose GM programs that source has
    (``catalogue.has_program``: a source never stands in another instrument for a missing one),
    ``clips_per_class`` clips of ``duration_s``, each a seeded performance
    (``playing.make_performance``) in one of the styles the instrument plays (``playing.styles_for``:
    single notes over the full range at any velocity, swells, vibrato, staccato, legato phrases,
    phrases, and chords / arpeggios for keyboards, guitars, mallets and harp), cycling through the
    styles and the class's programs so every style is equally represented. Plus
    ``no_instrument_clips`` clips per source of the class ``"no instrument"`` (``NO_INSTRUMENT``):
    GM drum-kit patterns, GM sound effects (programs 120–127 that the source has), coloured noise and
    near-silence — what ``classify`` must not call an instrument.
``AugmentedSpec`` (kind ``"augmented"``)
    ``copies`` augmented copies of every clip of a corpus (``sounds.augment``: crowd EQ curves and
    reverbs, gain, noise, band limits, a lossy codec, quieter accompaniment from another instrument
    class of the same corpus and source). The row says what was applied. ``augment`` = the
    ``AugmentConfig``'s dict; ``AugmentConfig.none()`` gives plain copies.

Storage: ``audio-NNNNN.npy`` shards of ``SHARD_ITEMS`` clips (float16, mono, fixed length) and
``rows-NNNNN.json`` beside each; :class:`ShardedDataset` reads them lazily (memory-mapped), so a
corpus larger than memory streams. Building writes each shard atomically into a persistent
``.NAME-KEY.partial`` folder: an interrupted build (Ctrl-C, a killed job) resumes at the first
missing shard, and the finished folder is hash-verified like every cache entry. Every clip is
seeded from the spec (``datasets._seed``) and every shard starts fresh synthesizers (FluidSynth keeps
a little state from one render to the next), so a rebuild — or a resumed build — gives identical files.
Shards are therefore independent: ``build(..., workers=N)`` (default one per core) builds them side by
side on worker processes (``timbrelab.parallel``), with the same files as a build in one process.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from timbrelab.errors import BadParameterError
from timbrelab.parallel import Task

NO_INSTRUMENT = "no instrument"
NO_INSTRUMENT_KINDS = ("drums", "effect", "noise", "silence")
EFFECT_PROGRAMS = tuple(range(120, 128))  # GM sound effects: fret noise, breath, seashore, bird, telephone, helicopter, applause, gunshot
SHARD_ITEMS = 256
CORPUS_VERSION = 1


@dataclass(frozen=True)
class CorpusSpec:
    name: str = "corpus"
    sources: tuple | None = None  # None: catalogue.SPLITS["train"]
    instruments: tuple | None = None  # None: the whole taxonomy
    clips_per_class: int = 120  # per source
    styles: tuple | None = None  # None: every style the instrument plays
    no_instrument_clips: int = 120  # per source
    duration_s: float = 3.0
    sample_rate: int = 22050
    seed: int = 0
    purpose: str = "train"  # "train": training sources only (never the test soundfont); "test": the test soundfont only
    kind: str = field(default="corpus", init=False)

    def __post_init__(self):
        if self.purpose not in ("train", "test"):
            raise BadParameterError(f"a corpus's purpose is 'train' or 'test', got {self.purpose!r}")
        if not (1 <= int(self.clips_per_class) <= 100_000) or not (0 <= int(self.no_instrument_clips) <= 100_000):
            raise BadParameterError("a corpus needs 1 … 100,000 clips per class and 0 … 100,000 'no instrument' clips per source")
        if not (0.5 <= float(self.duration_s) <= 60):
            raise BadParameterError("corpus clips last 0.5 … 60 s")

    @property
    def source_names(self) -> tuple:
        from timbrelab.sounds.catalogue import SPLITS

        return tuple(self.sources) if self.sources is not None else tuple(SPLITS[self.purpose])

    @property
    def samples(self) -> int:
        return int(round(self.duration_s * self.sample_rate))

    def items(self) -> list[dict]:
        from timbrelab.sounds.catalogue import SPLITS, has_program, check_trainable
        from timbrelab.sounds.datasets import _check_common, _seed
        from timbrelab.sounds.playing import styles_for
        from timbrelab.sounds.taxonomy import INSTRUMENTS

        _check_common_sources(self.source_names)
        _check_common((), self.instruments, self.sample_rate)
        rows = []
        for src in self.source_names:
            if self.purpose == "train":
                check_trainable(src)
            if src not in SPLITS[self.purpose]:
                raise BadParameterError(f"{src} is not a {self.purpose} source (the {self.purpose} sources: {', '.join(SPLITS[self.purpose])})")
            for inst in INSTRUMENTS:
                if self.instruments is not None and inst.name not in self.instruments:
                    continue
                programs = [p for p in inst.programs if has_program(src, p)]
                if not programs:
                    continue
                styles = [s for s in styles_for(inst) if self.styles is None or s in self.styles]
                if not styles:
                    continue
                for k in range(self.clips_per_class):
                    rows.append({"source": src, "instrument": inst.name, "program": programs[(k // len(styles)) % len(programs)],
                                 "style": styles[k % len(styles)], "seed": _seed(self.seed, src, inst.name, k)})
            effects = [p for p in EFFECT_PROGRAMS if has_program(src, p)]
            for k in range(self.no_instrument_clips):
                kind = NO_INSTRUMENT_KINDS[k % len(NO_INSTRUMENT_KINDS)]
                if kind == "effect" and not effects:
                    kind = "drums"
                row = {"source": src, "instrument": NO_INSTRUMENT, "style": kind, "seed": _seed(self.seed, src, NO_INSTRUMENT, k)}
                if kind == "effect":
                    row["program"] = effects[(k // len(NO_INSTRUMENT_KINDS)) % len(effects)]
                rows.append(row)
        return rows


@dataclass(frozen=True)
class AugmentedSpec:
    name: str = "augmented"
    base: dict = field(default_factory=dict)  # a CorpusSpec's dict (spec_dict)
    augment: dict = field(default_factory=dict)  # an AugmentConfig's dict
    copies: int = 1
    seed: int = 0
    kind: str = field(default="augmented", init=False)

    def __post_init__(self):
        if not (1 <= int(self.copies) <= 100):
            raise BadParameterError("augmented copies: 1 … 100")

    def base_spec(self) -> CorpusSpec:
        from timbrelab.sounds.datasets import spec_from_dict

        spec = spec_from_dict(self.base)
        if spec.kind != "corpus":
            raise BadParameterError(f"augmented sets are made from a corpus, not a {spec.kind} set")
        return spec

    def config(self):
        from timbrelab.sounds.augment import AugmentConfig

        return AugmentConfig.from_dict(self.augment)

    @property
    def sample_rate(self) -> int:
        return self.base_spec().sample_rate

    @property
    def samples(self) -> int:
        return self.base_spec().samples


def _check_common_sources(sources) -> None:
    from timbrelab.sounds.catalogue import SOURCES

    for s in sources:
        if s not in SOURCES:
            raise BadParameterError(f"unknown sound source '{s}' (known: {', '.join(SOURCES)})")


def spec_as_dict(spec) -> dict:
    """The spec as plain JSON, with what the renders depend on beyond it (the cache key)."""
    from timbrelab.sounds.render import DEFAULT_GAIN

    d = asdict(spec)
    d["kind"] = spec.kind
    d["corpus_version"] = CORPUS_VERSION
    d["renderer"] = {"gain": DEFAULT_GAIN, "fluidsynth": "reverb and chorus off", "timidity": "freepats only (isolated config), reverb and chorus off"}
    return json.loads(json.dumps(d))


# --------------------------------------------------------------------------------------- reading


class ShardedAudio:
    """``audio[i]`` over the shards of a build, memory-mapped (only the touched shards are opened)."""

    def __init__(self, folder: Path, counts: list[int]):
        self.folder = Path(folder)
        self.counts = list(counts)
        self.starts = np.cumsum([0] + self.counts)
        self._open: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return int(self.starts[-1])

    def shard(self, s: int) -> np.ndarray:
        if s not in self._open:
            self._open[s] = np.load(self.folder / f"audio-{s:05d}.npy", mmap_mode="r")
        return self._open[s]

    def __getitem__(self, i: int) -> np.ndarray:
        i = int(i)
        if not (0 <= i < len(self)):
            raise IndexError(i)
        s = int(np.searchsorted(self.starts, i, side="right") - 1)
        return self.shard(s)[i - self.starts[s]]


class ShardedDataset:
    """A built corpus or augmented set: ``rows``, ``audio`` (:class:`ShardedAudio`), ``sample_rate``."""

    def __init__(self, entry):
        self.folder = entry.folder
        self.manifest = entry.manifest
        self.rows: list[dict] = []
        for s in range(self.manifest["shards"]):
            self.rows += json.loads((self.folder / f"rows-{s:05d}.json").read_text(encoding="utf-8"))
        self.sample_rate: int = int(self.manifest["sample_rate"])
        self.audio = ShardedAudio(self.folder, self.manifest["shard_counts"])
        self.sources = None

    def __len__(self) -> int:
        return len(self.rows)

    def clip(self, i: int) -> np.ndarray:
        return np.asarray(self.audio[i], np.float32)[None, :]

    def labels(self) -> list[list[str]]:
        return [[r["instrument"]] for r in self.rows]


# --------------------------------------------------------------------------------------- building


def build(spec, progress: bool | None = None, root: Path | None = None, workers: int | None = None) -> ShardedDataset:
    """Render (or open the verified cached build of) a corpus or augmented set; resumes an interrupted build.

    ``workers``: processes that build shards side by side (default: one per core). Shards are
    independent (fresh synthesizers, per-row seeds), so the files are the same whatever the count."""
    from timbrelab.data.cache import Cache
    from timbrelab.sounds.datasets import NAMESPACE

    cache = Cache(NAMESPACE, root)
    d = spec_as_dict(spec)
    entry = cache.get(d, spec.name, lambda folder: _build(spec, folder, progress, root, workers), resumable=True)
    return ShardedDataset(entry)


def _shards(n: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def _save_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class _ShardTask(Task):
    """Builds shard ``s`` of a corpus or augmented set into the build folder (``task(s) -> clips written``).

    Picklable: a worker process gets it once and opens its own synthesizers (and, for an augmented
    set, its own memory-mapped view of the built corpus ``base``: its folder and manifest)."""

    _local = ("_make", "_rows", "on_clip")

    def __init__(self, spec, folder: Path, base=None):
        self.spec, self.folder, self.shard_items = spec, Path(folder), SHARD_ITEMS  # read here: a worker has its own module
        self.base = None if base is None else (str(base.folder), base.manifest)
        self._make = self._rows = self.on_clip = None

    def rows(self) -> list[dict]:
        if self._rows is None:
            if self.spec.kind == "corpus":
                self._rows = self.spec.items()
            else:
                n = sum(self.base[1]["shard_counts"])
                self._rows = [{"base": i, "copy": c} for i in range(n) for c in range(self.spec.copies)]
        return self._rows

    def _maker(self):
        if self._make is None:
            if self.spec.kind == "corpus":
                self._make = _CorpusRenderer(self.spec)
            else:
                from timbrelab.data.cache import Entry

                self._make = _Augmenter(self.spec, ShardedDataset(Entry(Path(self.base[0]), self.base[1])))
        return self._make

    def __call__(self, s: int) -> int:
        a, b = _shards(len(self.rows()), self.shard_items)[s]
        make = self._maker()
        make.close()  # a fresh synthesizer per shard: a shard's samples never depend on an earlier shard (resume = rebuild)
        try:
            audio = np.zeros((b - a, self.spec.samples), np.float16)
            out_rows = []
            for j, row in enumerate(self._rows[a:b]):
                y, info = make(a + j, row)
                audio[j] = y
                out_rows.append({**row, **info})
                if self.on_clip is not None:
                    self.on_clip()
        finally:
            make.close()
        _save_atomic(self.folder / f"audio-{s:05d}.npy", lambda f: np.save(f, audio))
        _save_atomic(self.folder / f"rows-{s:05d}.json", lambda f: f.write(json.dumps(out_rows).encode()))
        return len(out_rows)


def _build(spec, folder: Path, progress: bool | None, root: Path | None = None, workers: int | None = None) -> dict:
    from tqdm import tqdm

    from timbrelab.data.cache import DataError
    from timbrelab.parallel import cpu_count, make_executor

    if spec.kind == "corpus":
        task, sr = _ShardTask(spec, folder), spec.sample_rate
    else:
        base = build(spec.base_spec(), progress, root, workers)
        task, sr = _ShardTask(spec, folder, base), base.sample_rate
    shards = _shards(len(task.rows()), task.shard_items)
    done = {s for s in range(len(shards)) if (folder / f"audio-{s:05d}.npy").exists() and (folder / f"rows-{s:05d}.json").exists()}
    todo = [s for s in range(len(shards)) if s not in done]
    workers = max(1, min(int(workers or cpu_count()), len(todo)))
    bar = tqdm(total=len(task.rows()), initial=sum(shards[s][1] - shards[s][0] for s in done),
               desc=f"build {spec.name}" + (f" ({workers} processes)" if workers > 1 else ""), unit="clip",
               disable=(progress is False) or None)
    if workers == 1:
        task.on_clip = bar.update  # clip by clip in this process; shard by shard from workers
    try:
        with make_executor(workers) as executor:
            for s, ok, value in executor.run(task, todo):
                if not ok:
                    raise DataError(f"building {spec.name}: shard {s} failed: {value}")
                if workers > 1:
                    bar.update(shards[s][1] - shards[s][0])
    finally:
        bar.close()
    counts = [b - a for a, b in shards]  # every shard holds its rows, silent clips flagged, not dropped
    return {"shards": len(shards), "shard_counts": counts, "sample_rate": sr, "items": len(task.rows())}


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    y = y.mean(axis=0) if y.ndim == 2 else y
    out = np.zeros(n, np.float32)
    out[: min(n, len(y))] = y[:n]
    peak = float(np.abs(out).max())
    return out / peak if peak > 1.0 else out


class _CorpusRenderer:
    """Renders corpus rows, one open renderer per source (opened on first use, in the rows' order)."""

    def __init__(self, spec: CorpusSpec):
        self.spec = spec
        self.renderers: dict = {}

    def renderer(self, source: str):
        from timbrelab.sounds.render import open_renderer

        if source not in self.renderers:
            for r in self.renderers.values():  # rows come source by source: keep one synth open
                r.close()
            self.renderers = {source: open_renderer(source, self.spec.sample_rate, preload=True)}
        return self.renderers[source]

    def __call__(self, index: int, row: dict):
        from timbrelab.sounds import playing
        from timbrelab.sounds.taxonomy import instrument

        spec, n, sr = self.spec, self.spec.samples, self.spec.sample_rate
        rng = np.random.default_rng(row["seed"])
        if row["instrument"] != NO_INSTRUMENT:
            perf = playing.make_performance(instrument(row["instrument"]), row["style"], row["seed"], spec.duration_s)
            y = _fit(self.renderer(row["source"]).render(row["program"], perf, tail_s=0.0), n)
        elif row["style"] == "drums":
            y = _fit(self.renderer(row["source"]).render("drums", playing.make_drum_pattern(row["seed"], spec.duration_s), tail_s=0.0), n)
        elif row["style"] == "effect":
            perf = playing.make_performance(_effect_voice(), "note", row["seed"], spec.duration_s)
            y = _fit(self.renderer(row["source"]).render(row["program"], perf, tail_s=0.0), n)
        else:
            y = _noise(row["style"], n, sr, rng)
        peak = float(np.abs(y).max())
        info = {}
        if peak < 1e-4 and row["style"] != "silence":
            info["silent"] = True  # kept (a fixed row count per shard), flagged: readers may drop it
        return y, info

    def close(self):
        for r in self.renderers.values():
            r.close()
        self.renderers = {}


def _noise(kind: str, n: int, sr: int, rng) -> np.ndarray:
    """Coloured noise (white/pink/brown, a hum, or a mix) at a random level; ``silence``: a near-silent floor."""
    white = rng.standard_normal(n).astype(np.float32)
    if kind == "silence":
        return (white * 10 ** (rng.uniform(-90, -60) / 20)).astype(np.float32)
    colour = rng.choice(["white", "pink", "brown", "hum"])
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1 / sr)
    f[0] = f[1]
    if colour == "pink":
        spec /= np.sqrt(f)
    elif colour == "brown":
        spec /= f
    y = np.fft.irfft(spec, n).astype(np.float32)
    if colour == "hum":
        t = np.arange(n) / sr
        f0 = rng.choice([50.0, 60.0])
        y = 0.2 * y / (np.abs(y).max() + 1e-9) + sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6)).astype(np.float32)
    y /= np.abs(y).max() + 1e-9
    return (y * 10 ** (rng.uniform(-40, -6) / 20)).astype(np.float32)


def _effect_voice():
    """A stand-in instrument for GM sound effects: notes in the middle register."""
    from timbrelab.sounds.taxonomy import Instrument

    return Instrument("effect", EFFECT_PROGRAMS, 48, 72, "effect")


class _Augmenter:
    """Augmented copies of a corpus's clips; accompaniment from another instrument class of the same source."""

    def __init__(self, spec: AugmentedSpec, base: ShardedDataset):
        from timbrelab.sounds.datasets import _seed

        self.spec, self.base, self.cfg = spec, base, spec.config()
        self._seed = _seed
        by = {}
        for i, r in enumerate(base.rows):
            if r["instrument"] != NO_INSTRUMENT and not r.get("silent"):
                by.setdefault(r["source"], []).append(i)
        # accompaniment candidates per (source, instrument): the source's other classes, in row order (computed once)
        self.others = {(src, inst): np.array([j for j in idx if base.rows[j]["instrument"] != inst], int)
                       for src, idx in by.items() for inst in {r["instrument"] for r in base.rows if r["source"] == src}}

    def __call__(self, index: int, row: dict):
        from timbrelab.sounds.augment import augment

        b = self.base.rows[row["base"]]
        seed = self._seed(self.spec.seed, row["base"], row["copy"])
        rng = np.random.default_rng(seed)
        acc = None
        if b["instrument"] != NO_INSTRUMENT:
            pool = self.others.get((b["source"], b["instrument"]), np.array([], int))
            if len(pool):
                acc = self.base.clip(int(rng.choice(pool)))
        y, record = augment(self.base.clip(row["base"]), self.base.sample_rate, self.cfg, seed, accompaniment=acc)
        return _fit(y, self.spec.samples), {"instrument": b["instrument"], "source": b["source"], "style": b.get("style"), "augment": record}

    def close(self):
        pass
