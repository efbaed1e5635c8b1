"""Timbre CNNs (Pons, Slizovskaia, Gong, Gómez & Serra, EUSIPCO 2017): instrument recognition from log-mel
spectrograms with musically motivated filter shapes.

- ``frontend``: the log-mel front end (torch, Slaney mel like librosa's default), windowing, per-band
  standardisation that ships with the model weights.
- ``models``: the paper's single-layer and multi-layer architectures, the small-rectangular-filter
  (Choi et al.) and Dieleman baselines, and the configurations the benchmark compares.
"""
