"""Data shared by every model (shared ground: nothing here imports a capability).

- ``cache``: spec → content-addressed folder (the SHA-256 of the spec's JSON) → manifest with the
  SHA-256 of every file, verified on load (a damaged build is rebuilt or refused, never used).
- ``adapters``: small ``torch.utils.data.Dataset`` adapters — labelled feature windows, mixtures with
  their sources, (clip, caption) pairs.

Modules are imported on demand (``from timbrelab.data.cache import Cache``).
"""
