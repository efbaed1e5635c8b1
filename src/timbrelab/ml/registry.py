"""The model registry: every shipped model by name, loaded ready to use, with its manifest.

The weights manifest (``timbrelab/weights/manifest.json``) has one entry per shipped model: its
checkpoint file and SHA-256, the ``loader`` (``"module:Class"`` whose ``from_checkpoint`` builds the
model), the training command and recipe, the data, the metrics, software versions and git commit.
Shipped *data* in the same checkpoint format (e.g. ``text_embeddings``, read by
:mod:`timbrelab.text.table`) has the same entry with an empty ``loader``: trained and shipped the same
way, but not a model — ``available()`` does not list it and ``load()`` refuses it.
``load(name)`` checks the hash, reads the checkpoint (:mod:`timbrelab.ml.checkpoint`) and calls the
loader. Each call returns a new instance: whoever loads a model owns its lifetime (the service
layer keeps one per process).

Training and shipping have one shape for every model:
``timbrelab train NAME [--recipe FILE] -o RUN_DIR`` writes ``RUN_DIR/NAME.safetensors`` and
``RUN_DIR/run.json`` (never into the package); ``timbrelab ship RUN_DIR`` copies the checkpoint into
the package and records its manifest entry.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

from timbrelab.errors import BadParameterError, MissingComponentError

RUN_FILE = "run.json"


def _weights():
    from timbrelab import weights

    return weights


def available() -> list[str]:
    """Names of the shipped models (manifest entries with a loader), sorted."""
    return sorted(k for k, v in _weights().manifest().items() if isinstance(v, dict) and v.get("loader"))


def info(name: str) -> dict:
    """The manifest entry of a shipped model."""
    e = _weights().entry(name)
    if not e.get("loader"):
        raise MissingComponentError(f"'{name}' is shipped data, not a loadable model")
    return e


def checkpoint_path(name: str) -> Path:
    """The hash-checked path of a shipped model's checkpoint."""
    e = info(name)
    return _weights().load_file(name, e["checkpoint"])


def loader(spec: str):
    module, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise MissingComponentError(f"cannot find the loader {spec} ({exc})") from None
    return obj


def load_path(path, loader_spec: str | None = None):
    """A model from a checkpoint file (e.g. a training run's); its loader from ``loader_spec`` or the
    run.json beside it."""
    from timbrelab.ml.checkpoint import load_checkpoint

    path = Path(path)
    if loader_spec is None:
        run = path.parent / RUN_FILE
        if not run.exists():
            raise BadParameterError(f"{path}: no {RUN_FILE} beside it says how to load it")
        loader_spec = json.loads(run.read_text())["loader"]
    return loader(loader_spec).from_checkpoint(load_checkpoint(path))


def load(name: str):
    """A shipped model, ready to use (``timbrelab.models.load("word2eq").predict(["warm"])``)."""
    from timbrelab.ml.checkpoint import load_checkpoint

    e = info(name)
    return loader(e["loader"]).from_checkpoint(load_checkpoint(checkpoint_path(name)))


def write_run(run_dir, name: str, checkpoint, loader_spec: str, recipe: dict, metrics: dict, data: str, command: str,
              prov: dict | None = None) -> Path:
    """Write a training run's checkpoint and run.json into ``run_dir`` (created if missing). ``prov``:
    ``provenance.provenance(command)`` read when training started (default: now)."""
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.ml.checkpoint import save_checkpoint
    from timbrelab.provenance import provenance

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_name = f"{name}.safetensors"
    save_checkpoint(run_dir / ckpt_name, checkpoint)
    run = {"name": name, "checkpoint": ckpt_name, "loader": loader_spec, "recipe": recipe, "metrics": metrics, "data": data,
           "training_command": command, "provenance": prov or provenance(command)}
    atomic_write_text(run_dir / RUN_FILE, json.dumps(run, indent=1, default=str) + "\n")
    return run_dir


def ship(run_dir) -> dict:
    """Copy a training run's checkpoint into the package and record its manifest entry."""
    from timbrelab.ml.checkpoint import load_checkpoint

    run_dir = Path(run_dir)
    try:
        run = json.loads((run_dir / RUN_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise BadParameterError(f"{run_dir}: not a training run folder ({RUN_FILE}: {exc})") from None
    src = run_dir / run["checkpoint"]
    ckpt = load_checkpoint(src)  # refuse anything that is not a readable checkpoint
    if run["loader"]:  # shipped data (loader "") is read by its own module, not built by a loader
        loader(run["loader"]).from_checkpoint(ckpt)  # refuse a model its loader cannot build
    w = _weights()
    dst = w.weights_dir() / run["checkpoint"]
    tmp = dst.with_name("." + dst.name + ".part")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)
    prov = run.get("provenance", {})
    git = prov.get("git", {})
    return w.register(
        run["name"], [run["checkpoint"]], run["training_command"], run["data"], run["metrics"],
        {"checkpoint": run["checkpoint"], "loader": run["loader"], "recipe": run["recipe"],
         "versions": {**prov.get("packages", {}), "python": prov.get("python")},
         "git_commit": git.get("commit"), "git_dirty": git.get("dirty"), "trained_utc": prov.get("date_utc")},
    )
