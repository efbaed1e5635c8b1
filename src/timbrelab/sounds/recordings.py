"""A small list of real, labelled instrument recordings from Debian packages (``lmms-common``,
``sonic-pi-samples``), for testing models trained on rendered sounds. The labels are committed in
``sounds/data/real_recordings.json``; the audio stays where Debian installs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Recording:
    path: Path
    package: str
    instrument: str
    note: str
    licence: str


def recordings(only_present: bool = True) -> list[Recording]:
    raw = json.loads(resources.files("timbrelab.sounds").joinpath("data", "real_recordings.json").read_text(encoding="utf-8"))
    out = [Recording(Path(r["path"]), r["package"], r["instrument"], r["note"], r["licence"]) for r in raw["recordings"]]
    return [r for r in out if r.path.is_file()] if only_present else out
