"""The embedder protocol: audio and text into one space, and how an embedder is found by name.

An :class:`Embedder` is anything with

- ``name: str`` — how reports name it;
- ``embed_audio(audio, sample_rate) -> np.ndarray`` of shape ``(d,)`` for float32 ``(channels,
  samples)`` audio at ``sample_rate`` Hz (the embedder resamples / down-mixes as it needs);
- ``embed_text(texts: list[str]) -> np.ndarray`` of shape ``(n, d)``, the same ``d``.

It must be deterministic — the same input gives the same vector (fixed crops, no random state, eval
mode) — because experiment 2 compares embeddings of clips that differ only by an effect: a random
crop would show up as "the effect moved the embedding". :func:`check_embedding` validates shapes.

:func:`load_embedder` finds one from a spec, in this order:

1. a built-in name in :data:`BUILTIN_EMBEDDERS` (name → factory): timbrelab's own language–audio
   models, ``timbreclap`` (trained on every word) and ``timbreclap-heldout`` (never saw a word of
   experiment 2), loaded from the model registry (``timbrelab.clap``);
2. an installed entry point of the group ``timbrelab.embedders`` (``ENTRY_POINT_GROUP``) whose name
   is the spec — how a third-party package plugs in without touching timbrelab, e.g. in its
   ``pyproject.toml``::

       [project.entry-points."timbrelab.embedders"]
       my-clap = "my_package.probe:make_embedder"

3. ``package.module:factory`` — imported and called.

A factory is called with the keyword ``options`` given (``load_embedder(spec, checkpoint="…")``, the
CLI's ``--embedder-option KEY=VALUE``); it may also be an embedder object itself. Anything else is a
:class:`~timbrelab.errors.BadParameterError` with a one-line message.

The LAION-CLAP adapter is ``timbrelab.probe.laion_clap:LaionClapEmbedder`` with the option
``checkpoint=FILE`` (see :mod:`timbrelab.probe.laion_clap`).
"""

from __future__ import annotations

import importlib
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from timbrelab.errors import BadParameterError

ENTRY_POINT_GROUP = "timbrelab.embedders"

def _shipped(model_name: str) -> Callable[..., "Embedder"]:
    """A factory for a TimbreCLAP in the model registry (its ``fingerprint``: the checkpoint's sha256)."""

    def factory(**options):
        if options:
            raise BadParameterError(f"the built-in embedder {model_name.replace('_', '-')} takes no options (got {', '.join(options)})")
        from timbrelab.errors import MissingComponentError
        from timbrelab.ml import registry

        if model_name not in registry.available():
            raise MissingComponentError(f"the model {model_name} is not shipped in this install (timbrelab train "
                                        f"{model_name.replace('_', '-')} && timbrelab ship runs/…)")
        model = registry.load(model_name)
        entry = registry.info(model_name)
        model.fingerprint = entry["files"][entry["checkpoint"]]
        return model

    factory.__name__ = f"load_{model_name}"
    return factory


#: built-in embedder name → factory (called with the load options): timbrelab's own TimbreCLAP models
BUILTIN_EMBEDDERS: dict[str, Callable[..., "Embedder"]] = {
    "timbreclap": _shipped("timbreclap"),
    "timbreclap-heldout": _shipped("timbreclap_heldout"),
}


@runtime_checkable
class Embedder(Protocol):
    """Audio and text into one embedding space (see the module docstring for the contract)."""

    name: str

    def embed_audio(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """float32 ``(channels, samples)`` at ``sample_rate`` Hz → ``(d,)``."""
        ...

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """``n`` texts → ``(n, d)``."""
        ...


def _is_embedder(obj) -> bool:
    if isinstance(obj, type):  # a class with a class-level ``name`` is a factory to call, not an embedder
        return False
    return all(callable(getattr(obj, m, None)) for m in ("embed_audio", "embed_text")) and isinstance(getattr(obj, "name", None), str)


def _entry_points() -> list:
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def _build(factory, spec: str, options: dict) -> Embedder:
    if _is_embedder(factory) and not options:
        return factory
    if not callable(factory):
        raise BadParameterError(f"embedder '{spec}' is neither an embedder nor a factory that makes one")
    try:
        emb = factory(**options)
    except TypeError as exc:
        raise BadParameterError(f"embedder '{spec}' cannot be made with options {sorted(options)} ({exc})") from None
    if not _is_embedder(emb):
        raise BadParameterError(f"embedder '{spec}' gave a {type(emb).__name__}, which lacks name / embed_audio / embed_text")
    return emb


def load_embedder(spec, **options) -> Embedder:
    """An embedder from a built-in name, an entry-point name or ``package.module:factory``.

    ``spec`` may also be an embedder object (returned as it is). ``options`` are passed to the factory.
    Raises BadParameterError (one line) for an unknown name, a module that cannot be imported or a
    factory that does not make an embedder.
    """
    if not isinstance(spec, str):
        if _is_embedder(spec):
            return spec
        raise BadParameterError(f"an embedder spec must be a name or package.module:factory, got {type(spec).__name__}")
    spec = spec.strip()
    if spec in BUILTIN_EMBEDDERS:
        return _build(BUILTIN_EMBEDDERS[spec], spec, options)
    points = _entry_points()
    for ep in points:
        if ep.name == spec:
            try:
                target = ep.load()
            except Exception as exc:  # a broken third-party package: say which, in one line
                raise BadParameterError(f"embedder '{spec}' (entry point {ep.value}) cannot be loaded: {type(exc).__name__}: {exc}") from None
            return _build(target, spec, options)
    module_name, sep, attr = spec.partition(":")
    if sep and module_name and attr:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise BadParameterError(f"embedder '{spec}': cannot import {module_name} ({exc})") from None
        target = module
        for part in attr.split("."):
            if not hasattr(target, part):
                raise BadParameterError(f"embedder '{spec}': {module_name} has no {attr}")
            target = getattr(target, part)
        return _build(target, spec, options)
    known = sorted(BUILTIN_EMBEDDERS) + sorted(ep.name for ep in points)
    raise BadParameterError(
        f"unknown embedder '{spec}' (installed: {', '.join(known) if known else 'none'}; "
        "or give package.module:factory, e.g. timbrelab.probe.laion_clap:LaionClapEmbedder)"
    )


def check_embedding(vec, expected_dim: int | None = None, what: str = "embedding") -> np.ndarray:
    """``vec`` as a finite float64 array of shape ``(d,)`` (or ``(n, d)``: then every row); raise if not."""
    a = np.asarray(vec, dtype=np.float64)
    if a.ndim not in (1, 2) or a.shape[-1] == 0:
        raise BadParameterError(f"{what} has shape {a.shape}; an embedder must return (d,) for audio and (n, d) for text")
    if expected_dim is not None and a.shape[-1] != expected_dim:
        raise BadParameterError(f"{what} has dimension {a.shape[-1]}, the other embeddings {expected_dim}: audio and text must share one space")
    if not np.all(np.isfinite(a)):
        raise BadParameterError(f"{what} contains NaN or infinite values")
    return a


def cosine(a, b) -> float:
    """Cosine similarity of two vectors (0.0 when either is all zeros: no direction, no similarity)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))
