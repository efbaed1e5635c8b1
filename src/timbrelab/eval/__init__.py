"""Evaluation shared by every model (shared ground: nothing here imports a capability).

- ``classification``: accuracy, micro/macro precision, recall and F1, multi-label thresholding,
  confusion matrices (the timbre CNN's tables).
- ``separation``: SDR, SI-SDR, their improvements over the mixture, spectral correlation and MSE.
- ``crossval``: the word-disjoint cross-validation harness (word2fx, the probe).
- ``ranking``: reciprocal rank, AUC of one ranking, the exact chance MRR (the probe's SocialFX ranking).

Modules are imported on demand (``from timbrelab.eval.classification import single_label_scores``).
"""
