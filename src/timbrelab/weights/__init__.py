"""Small trained weights shipped inside the package, and their manifest.

``manifest.json`` (beside this file) has one entry per model: its files with SHA-256, the exact
training command, the data it was trained on and its measured metrics. ``load_file(model, name)``
checks the hash before returning a path, so a damaged or mismatched file is refused clearly.
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib import resources
from pathlib import Path

from timbrelab.errors import MissingComponentError

MANIFEST = "manifest.json"


def weights_dir() -> Path:
    return Path(str(resources.files("timbrelab.weights")))


def sha256(path) -> str:
    from timbrelab.io_utils import file_sha256

    return file_sha256(path)


def manifest() -> dict:
    p = weights_dir() / MANIFEST
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}


def entry(model: str) -> dict:
    m = manifest()
    if model not in m:
        raise MissingComponentError(f"no trained weights for '{model}' in this installation (see timbrelab/weights/manifest.json)")
    return m[model]


def load_file(model: str, name: str) -> Path:
    """Path of one shipped file of ``model``, after checking its SHA-256 against the manifest."""
    e = entry(model)
    if name not in e["files"]:
        raise MissingComponentError(f"'{model}' ships no file '{name}'")
    path = weights_dir() / name
    if not path.exists() or sha256(path) != e["files"][name]:
        raise MissingComponentError(f"the weights file {name} of '{model}' is missing or does not match its manifest hash")
    return path


def register(model: str, files: list[str], command: str, data: str, metrics: dict, extra: dict | None = None) -> dict:
    """Record (or replace) ``model``'s manifest entry; ``files`` are names already written in weights_dir()."""
    d = weights_dir()
    m = manifest()
    m[model] = {
        "files": {name: sha256(d / name) for name in files},
        "training_command": command,
        "data": data,
        "metrics": metrics,
        **(extra or {}),
    }
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(dict(sorted(m.items())), f, indent=1)
        f.write("\n")
    from timbrelab.io_utils import publish

    publish(tmp, d / MANIFEST)
    return m[model]
