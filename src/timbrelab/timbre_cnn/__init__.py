"""Timbre CNNs (Pons, Slizovskaia, Gong, Gómez & Serra, EUSIPCO 2017): instrument recognition from log-mel
spectrograms with musically motivated filter shapes.

- ``models``: the paper's single-layer and multi-layer architectures, the small-rectangular-filter
  (Choi et al.) and Dieleman baselines, and the configurations the benchmark compares.
- ``data``: the front end (``FrontEndConfig``: ``features.logmel`` then ``features.windows``) and
  labelled windows of rendered data sets and recordings.
- ``train``: training on ``ml.train.fit``; ``train_recipe`` behind ``timbrelab train timbre-cnn``.
- ``evaluate``: clip-level probabilities and scores (``eval.classification``).
- ``classify``: ``TimbreClassifier`` (the checkpointed model) and ``classify`` / ``classify_file``.
"""
