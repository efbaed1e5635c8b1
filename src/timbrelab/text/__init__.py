"""Text encoders, shared ground under every capability that reads words.

- :mod:`timbrelab.text.encoders` — the encoder protocol (``encode(texts) -> float32 (n, dim)``, rows
  L2-normalised), MiniLM, GloVe and prompt templates, ``get_encoder(name)`` and the one cached
  ``embed(texts, encoder)`` (``"minilm+glove"`` concatenates encoders' rows);
- :mod:`timbrelab.text.minilm` — all-MiniLM-L6-v2 run in numpy (no torch, no transformers);
- :mod:`timbrelab.text.table` — a table of precomputed rows in the one checkpoint format, consulted
  before any encoder runs (the shipped ``text_embeddings``).

Nothing here imports a capability (``word2fx``, ``lexicon``, …); importing this package costs numpy only.
"""
