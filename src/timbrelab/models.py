"""The public model registry: ``timbrelab.models.available()`` and ``timbrelab.models.load(name)``.

>>> import timbrelab.models
>>> "word2eq" in timbrelab.models.available()
True

``load(name)`` returns the shipped model ready to use, its checkpoint hash-checked against the
manifest; ``info(name)`` is its manifest entry (file hash, training command, recipe, data, metrics,
software versions, git commit). See :mod:`timbrelab.ml.registry`.
"""

from timbrelab.ml.registry import available, checkpoint_path, info, load, load_path

__all__ = ["available", "checkpoint_path", "info", "load", "load_path"]
