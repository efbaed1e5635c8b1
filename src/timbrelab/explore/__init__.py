"""Explore: a Gaussian-mixture VAE with separate timbre and pitch latents (Luo, Agres & Herremans, ISMIR 2019).

``timbrelab.models.load("explorer")`` gives an :class:`~timbrelab.explore.model.Explorer`: encode a
note, interpolate its timbre towards another instrument, traverse a timbre dimension, and turn the
decoded log-mel spectrograms back into audio (``explore.synth``).
"""
