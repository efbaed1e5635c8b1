"""Real, labelled instrument recordings: the test sets of every model trained on rendered sounds.

Two sets, never used for training, model selection or early stopping:

``debian``
    25 instrument samples from Debian packages (``lmms-common``, ``sonic-pi-samples``), labelled by
    the timbrelab developers from the packages' file names and copyright notes. The labels are
    committed in ``sounds/data/real_recordings.json``; the audio stays where Debian installs it.
``medley``
    97 real solo recordings of 2.97 s (about 12 per class over 8 classes) from Medley-solos-DB v1.2
    (Lostanlen, Cella, Bittner & Essid, Zenodo 1344103, 2019; CC BY 4.0), the balanced subset of
    koerthawkins/neuroment2, copied into ``sounds/data/medley-solos-db-small/`` by
    ``scripts/sync_data.py`` with its provenance. Its class names map onto the taxonomy
    (``MEDLEY_CLASSES``: female singer → voice, distorted electric guitar → electric guitar, tenor
    saxophone → saxophone).

``no-instrument``
    29 real sounds that are none of the instruments (drum loops, cymbals, vinyl noise, crowds,
    effects) from the same Debian packages (``sounds/data/no_instrument_recordings.json``): the test
    of the "no instrument" answer.

``real_set(name)`` gives a set's :class:`Recording` list; ``recordings()`` is the Debian set (kept
for its callers).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from timbrelab.errors import BadParameterError

#: Medley-solos-DB's class names → the taxonomy's
MEDLEY_CLASSES = {
    "clarinet": "clarinet", "distorted electric guitar": "electric guitar", "female singer": "voice", "flute": "flute",
    "piano": "piano", "tenor saxophone": "saxophone", "trumpet": "trumpet", "violin": "violin",
}
REAL_SETS = ("debian", "medley", "no-instrument")


@dataclass(frozen=True)
class Recording:
    path: Path
    package: str
    instrument: str
    note: str
    licence: str


def _data_dir() -> Path:
    return Path(str(resources.files("timbrelab.sounds").joinpath("data")))


def recordings(only_present: bool = True, listing: str = "real_recordings.json") -> list[Recording]:
    """The Debian set (only the files installed on this machine unless ``only_present`` is False)."""
    raw = json.loads((_data_dir() / listing).read_text(encoding="utf-8"))
    out = [Recording(Path(r["path"]), r["package"], r["instrument"], r["note"], r["licence"]) for r in raw["recordings"]]
    return [r for r in out if r.path.is_file()] if only_present else out


def medley() -> list[Recording]:
    """The 97 Medley-solos-DB recordings shipped with the package, labelled with taxonomy names."""
    folder = _data_dir() / "medley-solos-db-small"
    rows = list(csv.DictReader((folder / "labels.csv").open(encoding="utf-8")))
    return [Recording(folder / r["file"], "Medley-solos-DB v1.2", MEDLEY_CLASSES[r["instrument"]],
                      f"{r['instrument']} ({r['original_split']} split of Medley-solos-DB)", "CC BY 4.0") for r in rows]


def real_set(name: str) -> list[Recording]:
    """``"debian"`` or ``"medley"``: the set's recordings (Debian: those installed here)."""
    if name == "debian":
        return recordings()
    if name == "medley":
        return medley()
    if name == "no-instrument":
        return recordings(listing="no_instrument_recordings.json")
    raise BadParameterError(f"unknown real set '{name}' (known: {', '.join(REAL_SETS)})")


def set_classes(recs) -> list[str]:
    """The taxonomy classes a set's labels use, in the taxonomy's order."""
    from timbrelab.sounds.taxonomy import class_names

    used = {r.instrument for r in recs}
    return [c for c in class_names() if c in used]
