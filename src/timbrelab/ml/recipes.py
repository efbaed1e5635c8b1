"""Recipes as data: one TOML file per shipped model says how it is trained.

A recipe (``timbrelab/recipes/NAME.toml``, or any file given with ``--recipe``; in the file name ``-``
and ``_`` are interchangeable, so ``timbre-cnn.toml`` trains the model ``timbre_cnn``)::

    [model]
    name = "word2eq"                                   # registry name (the manifest key)
    loader = "timbrelab.word2fx.eq:EQWordModel"        # from_checkpoint builds it
    trainer = "timbrelab.word2fx.eq:train_recipe"      # trainer(recipe, progress) -> Trained

    [data]
    description = "SocialEQ English contributions …"

    [train]                                            # the trainer's own settings
    method = "glove+minilm-wordnet-kernel"
    seed = 0

Shipped data that is not a model (a table read by its own module) has ``loader = ""``.
``--set train.seed=1`` overrides a value (parsed as TOML: numbers, booleans, strings, lists).
The resolved recipe is written into the run's ``run.json`` and from there into the manifest.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from timbrelab.errors import BadParameterError


@dataclass
class Trained:
    """What a trainer returns: the checkpoint and the metrics measured while training."""

    checkpoint: object  # timbrelab.ml.checkpoint.Checkpoint
    metrics: dict = field(default_factory=dict)


def training_state_dir(model: str, recipe: dict, version: int) -> Path:
    """Where ``timbrelab train`` keeps a recipe's training state between epochs: the cache's
    ``train-state/MODEL-KEY``, KEY a hash of the resolved recipe and the trainer's ``version`` (bumped when a
    code change makes earlier states stale). The same command run again resumes where it was stopped
    (or returns at once when it had finished); any other recipe or ``--set`` starts afresh."""
    from timbrelab.data.cache import cache_root

    key = hashlib.sha256(json.dumps([recipe, version], sort_keys=True, default=str).encode()).hexdigest()[:16]
    return cache_root() / "train-state" / f"{model}-{key}"


def recipes_dir() -> Path:
    return Path(str(resources.files("timbrelab").joinpath("recipes")))


def names() -> list[str]:
    return sorted(p.stem for p in recipes_dir().glob("*.toml"))


def load_recipe(name: str | None = None, path=None, overrides=()) -> dict:
    """The recipe named ``name`` (shipped) or read from ``path``, with ``KEY=VALUE`` overrides applied."""
    if path is None:
        if name is None:
            raise BadParameterError("give a model name or --recipe FILE")
        path = recipes_dir() / f"{name}.toml"
        if not path.exists():  # timbre-cnn.toml trains timbre_cnn: either spelling finds it
            path = next((p for p in recipes_dir().glob("*.toml") if _same(p.stem, name)), path)
        if not path.exists():
            raise BadParameterError(f"no recipe for '{name}' (known: {', '.join(names())}); or give --recipe FILE")
    try:
        recipe = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadParameterError(f"cannot read recipe {path}: {exc}") from None
    for section, keys in (("model", ("name", "loader", "trainer")), ("data", ("description",))):
        for k in keys:
            if k not in recipe.get(section, {}):
                raise BadParameterError(f"recipe {path}: [{section}] {k} is missing")
    if name is not None and not _same(recipe["model"]["name"], name):
        raise BadParameterError(f"recipe {path} trains '{recipe['model']['name']}', not '{name}'")
    return apply_overrides(recipe, overrides)


def _same(a: str, b: str) -> bool:
    """Recipe and model names match with ``-`` and ``_`` taken as the same (file timbre-cnn.toml, model timbre_cnn)."""
    return a.replace("-", "_") == b.replace("-", "_")


def apply_overrides(recipe: dict, overrides) -> dict:
    out = copy.deepcopy(recipe)
    for item in overrides:
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip():
            raise BadParameterError(f"--set {item!r}: use SECTION.KEY=VALUE, e.g. train.seed=1")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw  # a bare word: a string
        *path, last = key.strip().split(".")
        d = out
        for p in path:
            d = d.setdefault(p, {})
            if not isinstance(d, dict):
                raise BadParameterError(f"--set {item!r}: {p} is not a section")
        d[last] = value
    return out
