"""A tiny, untrained-but-deterministic explorer for fast tests (the shipped GMVAE is tested in the bench)."""

from __future__ import annotations

import torch


def tiny_explorer(seed: int = 0):
    """A seeded, randomly initialised ``Explorer`` over the taxonomy's 28 classes: small convolutions and
    hidden layer, the real front end (128 mel bands × 44 frames) and latent size (16). Its standardiser
    is set as if fitted on notes (louder low bands), so the decoded spectrograms sound like something, and
    its decoder's weights are scaled up, so the latents move them."""
    from timbrelab.explore.model import GMVAE, Explorer, GMVAEConfig
    from timbrelab.sounds.taxonomy import class_names

    classes = class_names()
    torch.manual_seed(seed)
    net = GMVAE(GMVAEConfig(channels=(4, 8, 8), decoder_channels=(8, 8, 4), hidden=32, n_instruments=len(classes), adversary_hidden=0))
    s = net.standardizer
    with torch.no_grad():
        s.mean.copy_(torch.linspace(-1.0, -8.0, s.n_mels))
        s.std.fill_(1.5)
        s.n_values.fill_(1000)
        # a freshly initialised decoder barely depends on its input: louder weights, so that moving the timbre
        # latent (α 0 → 0.25) changes the spectrogram by ~0.2 natural-log units, not ~0.006
        for layer in [*(m for m in net.decoder.fc if isinstance(m, torch.nn.Linear)), net.decoder.deconv[-1]]:
            layer.weight.mul_(3.0)
    return Explorer(net, classes, {"toy": True})
