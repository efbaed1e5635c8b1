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


# ------------------------------------------------------------------------- training state (resume)

TRAINING_STATE_KIND = "training-state"


def _flatten(obj, path: str, tensors: dict):
    """JSON-able structure with every array/tensor moved into ``tensors`` (replaced by a reference)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().cpu().contiguous().numpy()
        return {"__tensor__": path, "torch": True, "dtype": str(obj.dtype).replace("torch.", "")}
    if isinstance(obj, np.ndarray):
        tensors[path] = np.ascontiguousarray(obj)
        return {"__tensor__": path, "torch": False}
    if isinstance(obj, dict):
        if not all(isinstance(k, (str, int)) for k in obj):
            raise TypeError(f"training state: keys of {path or 'the state'} must be str or int")
        return {"__dict__": [[k, _flatten(v, f"{path}/{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_flatten(v, f"{path}/{i}", tensors) for i, v in enumerate(obj)], "tuple": isinstance(obj, tuple)}
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"training state: cannot store {type(obj).__name__} at {path}")


def _unflatten(obj, tensors: dict):
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            a = np.array(tensors[obj["__tensor__"]])
            if obj.get("torch"):
                import torch

                return torch.from_numpy(a)
            return a
        if "__dict__" in obj:
            return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            items = [_unflatten(v, tensors) for v in obj["__list__"]]
            return tuple(items) if obj.get("tuple") else items
    return obj


def save_training_state(path, name: str, state: dict) -> Path:
    """An interrupted training's state (model, optimiser, random generators, early-stopping bookkeeping:
    any nest of dicts/lists of tensors, arrays and JSON values) in the one checkpoint format (kind
    ``training-state``), so :func:`load_training_state` gives it back exactly and training resumes."""
    tensors: dict = {}
    tree = _flatten(state, "", tensors)
    return save_checkpoint(path, Checkpoint(name=name, kind=TRAINING_STATE_KIND, tensors=tensors, extra={"state": tree}))


def load_training_state(path) -> dict:
    ckpt = load_checkpoint(path)
    if ckpt.kind != TRAINING_STATE_KIND:
        raise MissingComponentError(f"{Path(path).name}: a '{ckpt.kind}' checkpoint, not a training state")
    return _unflatten(ckpt.extra["state"], ckpt.tensors)
