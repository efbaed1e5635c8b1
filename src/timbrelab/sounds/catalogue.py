"""The General-MIDI soundfonts timbrelab renders with, and how they split into train and test.

Three free GM soundfonts from Debian (``scripts/setup.sh`` installs them):

==================  ==============================  =============================  =========
name                file                            Debian package                 licence
==================  ==============================  =============================  =========
FluidR3_GM          FluidR3_GM.sf2                  fluid-soundfont-gm             MIT
MuseScore_General   MuseScore_General_Full.sf3      musescore-general-soundfont    MIT
TimGM6mb            TimGM6mb.sf2                    timgm6mb-soundfont             GPL-2
==================  ==============================  =============================  =========

**Split**: models train on FluidR3_GM + TimGM6mb and are tested on MuseScore_General, so a test
sound never shares a sample with training (``SPLITS``). ``TIMBRELAB_SOUNDFONT_DIR`` adds a folder to
search first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from timbrelab.errors import MissingComponentError


@dataclass(frozen=True)
class Soundfont:
    name: str
    filename: str
    debian_package: str
    licence: str
    folders: tuple[str, ...]


SOUNDFONTS: dict[str, Soundfont] = {
    s.name: s
    for s in (
        Soundfont("FluidR3_GM", "FluidR3_GM.sf2", "fluid-soundfont-gm", "MIT", ("/usr/share/sounds/sf2",)),
        Soundfont("MuseScore_General", "MuseScore_General_Full.sf3", "musescore-general-soundfont", "MIT", ("/usr/share/sounds/sf3",)),
        Soundfont("TimGM6mb", "TimGM6mb.sf2", "timgm6mb-soundfont", "GPL-2", ("/usr/share/sounds/sf2",)),
    )
}

#: train on two soundfonts, test on the third: no test sound shares a sample with training
SPLITS: dict[str, tuple[str, ...]] = {"train": ("FluidR3_GM", "TimGM6mb"), "test": ("MuseScore_General",)}


def _pretty_midi_copy(name: str) -> list[Path]:
    if name != "TimGM6mb":
        return []
    try:
        import importlib.util

        spec = importlib.util.find_spec("pretty_midi")
    except (ImportError, ValueError):
        return []
    return [Path(spec.origin).parent / "TimGM6mb.sf2"] if spec and spec.origin else []


def soundfont_path(name: str) -> Path:
    """Path of a catalogued soundfont; a clear error naming the Debian package when it is missing."""
    if name not in SOUNDFONTS:
        raise MissingComponentError(f"unknown soundfont '{name}' (known: {', '.join(SOUNDFONTS)})")
    sf = SOUNDFONTS[name]
    extra = [os.environ["TIMBRELAB_SOUNDFONT_DIR"]] if os.environ.get("TIMBRELAB_SOUNDFONT_DIR") else []
    for folder in extra + list(sf.folders):
        p = Path(folder) / sf.filename
        if p.is_file():
            return p
    for p in _pretty_midi_copy(name):
        if p.is_file():
            return p
    raise MissingComponentError(f"soundfont {sf.filename} is not installed (Debian package {sf.debian_package}; scripts/setup.sh installs it)")


def available() -> list[str]:
    """Names of the catalogued soundfonts found on this machine."""
    out = []
    for name in SOUNDFONTS:
        try:
            soundfont_path(name)
            out.append(name)
        except MissingComponentError:
            pass
    return out


def split_of(name: str) -> str:
    return next(k for k, v in SPLITS.items() if name in v)
