"""Word → effect models: predict EQ curves and reverb settings for words nobody rated (Venkatesh et al. 2022).

- ``data`` — SocialEQ contributions, the Venkatesh folds, EQ targets, ``word_key``;
- ``reverb_data`` — SocialFX reverb contributions, targets, per-word labels, our folds, the map's E scale;
- ``models`` — the regressors (mean, kNN, kernel, polarity kernel, ridge, MLP on ``ml.train``);
- ``methods`` — a method as data (regressor, features, grid) and what builds it;
- ``eq_task`` / ``reverb_task`` — the two tasks of the cross-validation harness (``eval.crossval``):
  metrics, the method catalogues the benches run, human references;
- ``eq`` / ``reverb`` — the shipped models (checkpoints, recipe trainers);
- ``vocabulary`` — the words whose embeddings ship precomputed (``text.table``);
- ``fallback`` — words in no crowd map → the shipped models.
"""
