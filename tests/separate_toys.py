"""A tiny, untrained-but-deterministic separator for fast tests (the shipped one is tested in the bench)."""

from __future__ import annotations

from pathlib import Path

import torch


def tiny_separator(seed: int = 0):
    from timbrelab.clap.model import TimbreCLAPConfig
    from timbrelab.separate.model import Separator, SeparatorConfig, SeparatorNet

    torch.manual_seed(seed)
    q = TimbreCLAPConfig(dim=8, audio_hidden=(8,), text_hidden=(16,)).to_dict()
    net = SeparatorNet(SeparatorConfig(hidden=16, dilations=(1, 2), query_dim=8, query_config=q))
    for b in net.blocks:  # FiLM starts at zero in training; give the toy a query dependence
        torch.nn.init.normal_(b.film.weight, std=0.5)
    return Separator(net, "separator")


def save_tiny(path: Path, seed: int = 0) -> Path:
    from timbrelab.ml.checkpoint import save_checkpoint

    save_checkpoint(path, tiny_separator(seed).to_checkpoint())
    return Path(path)
