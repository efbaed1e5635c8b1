"""The General-MIDI sound sources timbrelab renders with, what each one covers, and the train/test split.

Five free GM sources from Debian (``scripts/setup.sh`` installs them), each an independent set of
recorded or synthesised samples:

==================  ==========  ==============================  ===========================  =========================
name                renderer    file                            Debian package               licence
==================  ==========  ==============================  ===========================  =========================
FluidR3_GM          fluidsynth  FluidR3_GM.sf2                  fluid-soundfont-gm           MIT
TimGM6mb            fluidsynth  TimGM6mb.sf2                    timgm6mb-soundfont           GPL-2
sf_GMbank           fluidsynth  sf_GMbank.sf2                   csound-soundfont             public domain
freepats            timidity    freepats.cfg (GUS .pat files)   freepats (+ timidity)        GPL-2+ with an exception
MuseScore_General   fluidsynth  MuseScore_General_Full.sf3      musescore-general-soundfont  MIT
==================  ==========  ==============================  ===========================  =========================

``kind`` says which renderer plays a source: ``"fluidsynth"`` (``render.Renderer`` over pyfluidsynth)
or ``"timidity"`` (``timidity.TimidityRenderer``: TiMidity++ playing a MIDI file with only the
freepats patches loaded). ``render.open_renderer(name, sample_rate)`` picks the right one.

**Split** (``SPLITS``): models train on FluidR3_GM, TimGM6mb, sf_GMbank and freepats and are tested
on MuseScore_General, so a test sound never shares a sample with training.

**Not independent** (``RELATED``): two more Debian soundfonts exist but add no new source.
``fluidr3mono-gm-soundfont`` (FluidR3Mono_GM.sf3) is FluidR3's own samples, mono and Ogg-compressed:
training on it only repeats FluidR3_GM. ``musescore-general-soundfont-small`` (the lossy "small"
MuseScore_General.sf3) shares its samples with the test soundfont: it must never be trained on
(``check_trainable`` refuses it with a clear error).

**Coverage**: the three sf2 files carry all 128 GM programs and a GM drum kit. freepats does not:
its ``freepats.cfg`` maps only part of bank 0 (no vibraphone 11, marimba 12, viola 41, contrabass 43,
choir 52, banjo 105 …). ``has_program(source, program)`` says whether a source really has a
program (a data set must skip a missing one rather than render a stand-in), ``coverage()`` which
training sources provide each instrument class, ``single_source_classes()`` the classes only one
training source provides (a model could learn that source's sound as the class).

**Measured overlaps between the catalogued files** (``SHARED_SAMPLES``; issue 10): the files are not
as independent as their packages suggest. sf_GMbank re-uses TimGM6mb's samples: 329 of its 488
samples are bit-identical PCM in TimGM6mb.sf2. And MuseScore_General (the test soundfont) shares 334
sample names with FluidR3_GM; a mid-range note of a taxonomy program correlates ≥ 0.97 between the
two for 21 of the 36 programs checked (harpsichord, organs, guitars, banjo, basses, trombone, tuba,
saxophones …). Method: each taxonomy program at the middle of its range, 0.8 s at velocity 100, peak
normalised cross-correlation over ±300 samples (1.00 = the same sample; unrelated sounds
0.1 … 0.7, near-sinusoidal ones such as harp and marimba up to ~0.9).

``TIMBRELAB_SOUNDFONT_DIR`` adds a folder to search first (for the sf2/sf3 files and freepats.cfg).
The names ``Soundfont``, ``SOUNDFONTS`` and ``soundfont_path`` are kept as aliases of ``Source``,
``SOURCES`` and ``source_path``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from timbrelab.errors import BadParameterError, MissingComponentError

FLUIDSYNTH = "fluidsynth"
TIMIDITY = "timidity"
DRUMS = "drums"  # the GM drum kit (channel 10, bank 128) in place of a program number


@dataclass(frozen=True)
class Source:
    """A GM sound source: a soundfont played by FluidSynth, or a TiMidity++ patch set (its .cfg file)."""

    name: str
    filename: str  # the .sf2/.sf3 file, or the TiMidity config for kind "timidity"
    debian_package: str
    licence: str
    folders: tuple[str, ...]
    kind: str = FLUIDSYNTH

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "filename": self.filename, "debian_package": self.debian_package, "licence": self.licence}


Soundfont = Source  # the older name

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("FluidR3_GM", "FluidR3_GM.sf2", "fluid-soundfont-gm", "MIT", ("/usr/share/sounds/sf2",)),
        Source("MuseScore_General", "MuseScore_General_Full.sf3", "musescore-general-soundfont", "MIT", ("/usr/share/sounds/sf3",)),
        Source("TimGM6mb", "TimGM6mb.sf2", "timgm6mb-soundfont", "GPL-2", ("/usr/share/sounds/sf2",)),
        Source("sf_GMbank", "sf_GMbank.sf2", "csound-soundfont", "public domain", ("/usr/share/sounds/sf2",)),
        Source("freepats", "freepats.cfg", "freepats", "GPL-2+ (with an exception for compositions)", ("/etc/timidity",), TIMIDITY),
    )
}
SOUNDFONTS = SOURCES  # the older name: every source, not only soundfonts

#: train on four independent sources, test on the fifth: no test sound shares a sample with training
SPLITS: dict[str, tuple[str, ...]] = {"train": ("FluidR3_GM", "TimGM6mb", "sf_GMbank", "freepats"), "test": ("MuseScore_General",)}


@dataclass(frozen=True)
class RelatedSoundfont:
    """A Debian soundfont that is no independent source: it re-uses the samples of a catalogued one."""

    debian_package: str
    filename: str
    same_samples_as: str  # the catalogued source whose samples it re-uses
    trainable: bool
    why: str


RELATED: tuple[RelatedSoundfont, ...] = (
    RelatedSoundfont("fluidr3mono-gm-soundfont", "FluidR3Mono_GM.sf3", "FluidR3_GM", True, "FluidR3's own samples (mono, Ogg-compressed): it adds nothing FluidR3_GM does not have"),
    RelatedSoundfont(
        "musescore-general-soundfont-small",
        "MuseScore_General.sf3",
        "MuseScore_General",
        False,
        "the lossy 'small' MuseScore_General shares its samples with the test soundfont MuseScore_General_Full: training on it would put test sounds into training",
    ),
)


#: programs (of the taxonomy's) whose notes are the same samples in two sources (correlation ≥ 0.97, see above)
SHARED_SAMPLES: dict[tuple[str, str], tuple[int, ...]] = {
    ("TimGM6mb", "sf_GMbank"): (4, 5, 6, 11, 12, 16, 17, 27, 32, 34, 40, 42, 43, 57, 58, 70, 105),
    ("FluidR3_GM", "MuseScore_General"): (4, 6, 11, 12, 16, 17, 24, 25, 26, 27, 32, 33, 34, 53, 56, 57, 58, 64, 65, 75, 105),
}


def _folders(src: Source) -> list[str]:
    extra = [os.environ["TIMBRELAB_SOUNDFONT_DIR"]] if os.environ.get("TIMBRELAB_SOUNDFONT_DIR") else []
    return extra + list(src.folders)


def _pretty_midi_copy(name: str) -> list[Path]:
    if name != "TimGM6mb":
        return []
    try:
        import importlib.util

        spec = importlib.util.find_spec("pretty_midi")
    except (ImportError, ValueError):
        return []
    return [Path(spec.origin).parent / "TimGM6mb.sf2"] if spec and spec.origin else []


def source(name: str) -> Source:
    """The catalogued source called ``name``."""
    if name not in SOURCES:
        related = [r for r in RELATED if name in (r.debian_package, r.filename, Path(r.filename).stem)]
        hint = f" ({related[0].debian_package}: {related[0].why})" if related else ""
        raise MissingComponentError(f"unknown sound source '{name}'{hint} (known: {', '.join(SOURCES)})")
    return SOURCES[name]


def source_path(name: str) -> Path:
    """Path of a catalogued source's file (the .sf2/.sf3, or freepats.cfg); a clear error naming the
    Debian package when it is missing."""
    src = source(name)
    for folder in _folders(src):
        p = Path(folder) / src.filename
        if p.is_file():
            return p
    for p in _pretty_midi_copy(name):
        if p.is_file():
            return p
    raise MissingComponentError(f"{src.filename} is not installed (Debian package {src.debian_package}; scripts/setup.sh installs it)")


soundfont_path = source_path  # the older name


def timidity_binary() -> str:
    """The ``timidity`` program; a clear error naming the Debian package when it is missing."""
    exe = shutil.which("timidity")
    if exe is None:
        raise MissingComponentError("TiMidity++ is not installed (Debian package timidity; scripts/setup.sh installs it): the freepats sounds need it")
    return exe


def available() -> list[str]:
    """Names of the catalogued sources this machine can render (file found; for TiMidity sources also the program)."""
    out = []
    for name, src in SOURCES.items():
        try:
            source_path(name)
            if src.kind == TIMIDITY:
                timidity_binary()
            out.append(name)
        except MissingComponentError:
            pass
    return out


def split_of(name: str) -> str:
    """``"train"`` or ``"test"``: which side of the split a source is on."""
    for k, v in SPLITS.items():
        if name in v:
            return k
    raise BadParameterError(f"sound source '{name}' is in no split (train: {', '.join(SPLITS['train'])}; test: {', '.join(SPLITS['test'])})")


def check_trainable(name: str) -> None:
    """Refuse a source that must never be trained on: the test sources, and a soundfont sharing their samples.

    ``name`` is a source name, a Debian package or a soundfont file name (or path)."""
    key = Path(str(name)).name
    test = set(SPLITS["test"])
    if key in test:
        raise BadParameterError(f"'{key}' is the test soundfont: training on it would make every test score meaningless (train on {', '.join(SPLITS['train'])})")
    for r in RELATED:
        if key in (r.debian_package, r.filename, Path(r.filename).stem) or (r.same_samples_as in test and key.startswith(r.same_samples_as)):
            if not r.trainable:
                raise BadParameterError(f"'{key}' must never be trained on: {r.why}")
    if key in SOURCES and split_of(key) != "train":
        raise BadParameterError(f"'{key}' is not a training source (train on {', '.join(SPLITS['train'])})")


# --- what each source provides ---------------------------------------------------------------------


def _riff_chunks(f, end: int):
    """(id, offset of data, size) of the RIFF sub-chunks from the file position to ``end``."""
    while f.tell() + 8 <= end:
        cid, size = struct.unpack("<4sI", f.read(8))
        start = f.tell()
        yield cid, start, size
        f.seek(start + size + (size & 1))


@functools.lru_cache(maxsize=None)
def _sf2_presets(path: str) -> frozenset[tuple[int, int]]:
    """(bank, program) of every preset in an .sf2/.sf3 file, read from its PHDR chunk (no synthesizer needed)."""
    with open(path, "rb") as f:
        riff, size, form = struct.unpack("<4sI4s", f.read(12))
        if riff != b"RIFF" or form != b"sfbk":
            raise MissingComponentError(f"{path} is not a SoundFont file")
        for cid, start, csize in _riff_chunks(f, 8 + size):
            if cid == b"LIST" and f.read(4) == b"pdta":
                for sid, sstart, ssize in _riff_chunks(f, start + csize):
                    if sid == b"phdr":
                        f.seek(sstart)
                        data = f.read(ssize)
                        recs = [struct.unpack_from("<20sHH", data, i) for i in range(0, len(data) - 38 + 1, 38)]
                        return frozenset((bank, prog) for _, prog, bank in recs[:-1])  # the last record is the terminal EOP
    raise MissingComponentError(f"{path} has no preset table: a damaged SoundFont?")


@functools.lru_cache(maxsize=None)
def _timidity_programs(path: str) -> tuple[frozenset[int], frozenset[int]]:
    """(programs of tone bank 0, notes of drum set 0) a TiMidity config maps to a patch file that exists."""
    tones, drums, section, folders = set(), set(), None, [Path(path).parent]
    for raw in Path(path).read_text(errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] == "dir" and len(words) > 1:
            folders.insert(0, Path(words[1]))
        elif words[0] in ("bank", "drumset") and len(words) > 1:
            section = (words[0], int(words[1]))
        elif re.fullmatch(r"\d+", words[0]) and len(words) > 1 and section in (("bank", 0), ("drumset", 0)):
            patch = words[1] if words[1].endswith(".pat") else words[1] + ".pat"
            if any((d / patch).is_file() for d in folders):
                (tones if section[0] == "bank" else drums).add(int(words[0]))
    return frozenset(tones), frozenset(drums)


def programs_of(name: str) -> frozenset[int]:
    """The GM programs (0-based, bank 0) source ``name`` really has on this machine."""
    src, path = source(name), str(source_path(name))
    if src.kind == TIMIDITY:
        return _timidity_programs(path)[0]
    return frozenset(p for b, p in _sf2_presets(path) if b == 0)


def has_program(name: str, program) -> bool:
    """Whether source ``name`` has GM ``program`` (0-based; ``None`` or ``"drums"``: the GM drum kit).

    False for a program it lacks (freepats has no marimba, 12): a data set skips that pair rather than
    render whatever the synthesizer would fall back to. An uninstalled source has nothing."""
    try:
        src, path = source(name), str(source_path(name))
    except MissingComponentError:
        return False
    if program is None or program == DRUMS:
        if src.kind == TIMIDITY:
            return bool(_timidity_programs(path)[1])
        return (128, 0) in _sf2_presets(path)
    if not (isinstance(program, int) and 0 <= program <= 127):
        raise BadParameterError(f"GM program {program!r} is out of range (0 … 127, or 'drums')")
    return program in programs_of(name)


def coverage(sources=None) -> dict[str, dict[str, tuple[int, ...]]]:
    """For each instrument class (taxonomy order): the sources that provide it, with the class's programs each has.

    ``sources`` defaults to the training split. A source missing on this machine provides nothing."""
    from timbrelab.sounds.taxonomy import INSTRUMENTS

    names = tuple(SPLITS["train"] if sources is None else sources)
    out = {}
    for inst in INSTRUMENTS:
        row = {}
        for s in names:
            progs = tuple(p for p in inst.programs if has_program(s, p))
            if progs:
                row[s] = progs
        out[inst.name] = row
    return out


def single_source_classes(sources=None) -> list[str]:
    """Instrument classes that at most one of ``sources`` (default: the training split) provides."""
    return [name for name, row in coverage(sources).items() if len(row) <= 1]
