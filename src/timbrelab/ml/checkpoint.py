"""One checkpoint format for every model timbrelab trains or ships.

A checkpoint is a safetensors file (numpy arrays, so loading needs no torch) whose metadata holds
one JSON header under the key ``"timbrelab"``::

    {"format": "timbrelab-checkpoint/1", "name": "word2eq", "kind": "word2eq-kernel",
     "config": {...},            # everything needed to rebuild the model (hyper-parameters, shapes)
     "features": {...} | null,   # the feature front end it was trained with (e.g. log-mel config)
     "vocabulary": [...] | null, # class names, or the words a table model holds
     "extra": {...},             # anything else the model needs at load time
     "versions": {...}}          # timbrelab, numpy, torch, python at save time

Torch models convert their ``state_dict`` with :func:`state_to_arrays` / :func:`arrays_to_state`.
Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from timbrelab.errors import MissingComponentError

FORMAT = "timbrelab-checkpoint/1"
HEADER_KEY = "timbrelab"


@dataclass
class Checkpoint:
    """A model's tensors and its JSON header (see the module docstring)."""

    name: str
    kind: str
    tensors: dict = field(default_factory=dict)  # str -> numpy array
    config: dict = field(default_factory=dict)
    features: dict | None = None
    vocabulary: list | None = None
    extra: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    def header(self) -> dict:
        return {"format": FORMAT, "name": self.name, "kind": self.kind, "config": self.config, "features": self.features,
                "vocabulary": self.vocabulary, "extra": self.extra, "versions": self.versions or software_versions()}


def software_versions() -> dict:
    import platform
    import sys

    from timbrelab import __version__

    v = {"timbrelab": __version__, "python": platform.python_version(), "numpy": np.__version__}
    torch = sys.modules.get("torch")  # recorded when loaded; never imported just to say its version
    if torch is not None:
        v["torch"] = torch.__version__
    return v


def save_checkpoint(path, ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` to ``path`` (atomically)."""
    from safetensors.numpy import save_file

    from timbrelab.io_utils import atomic_path

    tensors = {k: np.ascontiguousarray(np.asarray(v)) for k, v in ckpt.tensors.items()}
    header = ckpt.header()
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={HEADER_KEY: json.dumps(header, sort_keys=True)})
    return Path(path)


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; a file of another format is refused clearly."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), "np") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise MissingComponentError(f"{path.name}: not a readable checkpoint ({' '.join(str(exc).split())[:120]})") from None
    if HEADER_KEY not in meta:
        raise MissingComponentError(f"{path.name}: not a timbrelab checkpoint (no '{HEADER_KEY}' header)")
    h = json.loads(meta[HEADER_KEY])
    if h.get("format") != FORMAT:
        raise MissingComponentError(f"{path.name}: checkpoint format {h.get('format')!r}, this timbrelab reads {FORMAT!r}")
    return Checkpoint(name=h["name"], kind=h["kind"], tensors=tensors, config=h.get("config") or {}, features=h.get("features"),
                      vocabulary=h.get("vocabulary"), extra=h.get("extra") or {}, versions=h.get("versions") or {})


def state_to_arrays(state_dict, prefix: str = "") -> dict:
    """A torch ``state_dict`` as numpy arrays (keys prefixed)."""
    return {prefix + k: v.detach().cpu().contiguous().numpy() for k, v in state_dict.items()}


def arrays_to_state(tensors: dict, prefix: str = "") -> dict:
    """The torch ``state_dict`` stored under ``prefix`` by :func:`state_to_arrays`."""
    import torch

    return {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in tensors.items() if k.startswith(prefix)}
