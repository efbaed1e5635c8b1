"""LAION-CLAP as a probe embedder, from a checkpoint file the user supplies (never downloads).

Usage (the ``laion_clap`` package and a checkpoint such as ``630k-audioset-best.pt`` or
``music_audioset_epoch_15_esc_90.14.pt`` already on disk)::

    timbrelab probe exp2 --embedder timbrelab.probe.laion_clap:LaionClapEmbedder \\
        --embedder-option checkpoint=/models/630k-audioset-best.pt

or ``LaionClapEmbedder("/models/630k-audioset-best.pt")`` in Python. ``amodel`` must match the
checkpoint (``HTSAT-tiny`` for the 630k checkpoints, ``HTSAT-base`` for the music ones).

What this adapter guarantees: it imports ``laion_clap`` only when constructed, and it never calls
``load_ckpt()`` without a file (that call downloads a checkpoint): no file given, a file that does not
exist, or the package missing → :class:`~timbrelab.errors.MissingComponentError`, one line. What it
cannot guarantee: ``laion_clap.CLAP_Module`` itself loads its text tokenizer (``roberta-base``)
through ``transformers``, which reads the Hugging Face cache and goes to the network only when the
tokenizer is not cached; run it where that cache is filled, or offline with ``HF_HUB_OFFLINE=1``.

Determinism: LAION-CLAP crops audio longer than 10 s at random (``rand_trunc``); the adapter hands it
at most the first 10 s (480,000 samples at 48 kHz, mono: the channel mean), so the same clip always
gives the same vector. Untested here (no package, no checkpoint on these machines): the test skips
with that reason.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from timbrelab.errors import MissingComponentError

CLAP_SAMPLE_RATE = 48_000
MAX_CLAP_S = 10.0


def _laion_clap():
    try:
        return importlib.import_module("laion_clap")
    except ImportError:
        raise MissingComponentError(
            "LAION-CLAP is not installed (pip install laion-clap); timbrelab never downloads it or its weights"
        ) from None


class LaionClapEmbedder:
    """LAION-CLAP (Wu, Chen et al., ICASSP 2023) behind the probe's :class:`~timbrelab.probe.embedders.Embedder` protocol.

    ``checkpoint``: path of a LAION-CLAP ``.pt`` checkpoint (required; nothing is downloaded).
    ``amodel``: the audio tower the checkpoint was trained with; ``enable_fusion``: the fusion variant.
    """

    def __init__(self, checkpoint: str | None = None, amodel: str = "HTSAT-tiny", enable_fusion: bool | str = False, device: str = "cpu"):
        if not checkpoint:
            raise MissingComponentError(
                "LAION-CLAP needs a checkpoint file: --embedder-option checkpoint=FILE (timbrelab never downloads one)"
            )
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise MissingComponentError(f"LAION-CLAP checkpoint {path} does not exist (timbrelab never downloads one)")
        clap = _laion_clap()
        fusion = enable_fusion if isinstance(enable_fusion, bool) else str(enable_fusion).lower() in ("1", "true", "yes")
        self.model = clap.CLAP_Module(enable_fusion=fusion, amodel=amodel, device=device)
        self.model.load_ckpt(ckpt=str(path), verbose=False)
        self.model.eval()
        self.name = f"LAION-CLAP ({path.name})"
        self.checkpoint = str(path)

    def embed_audio(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """float32 ``(channels, samples)`` → ``(512,)``: mono, 48 kHz, the first 10 s."""
        from timbrelab.audio import as_audio, resample

        x = as_audio(audio).mean(axis=0, keepdims=True)
        if sample_rate != CLAP_SAMPLE_RATE:
            x = resample(x, int(sample_rate), CLAP_SAMPLE_RATE)
        x = x[:, : int(MAX_CLAP_S * CLAP_SAMPLE_RATE)].astype(np.float32)
        import torch

        with torch.no_grad():
            e = self.model.get_audio_embedding_from_data(x=x, use_tensor=False)
        return np.asarray(e, dtype=np.float64)[0]

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """``n`` texts → ``(n, 512)`` (a batch of one is padded: some laion_clap versions fail on it)."""
        import torch

        batch = list(texts) + ([""] if len(texts) == 1 else [])
        with torch.no_grad():
            e = self.model.get_text_embedding(batch, use_tensor=False)
        return np.asarray(e, dtype=np.float64)[: len(texts)]
