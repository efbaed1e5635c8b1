"""``timbrelab train explorer``: the GMVAE on the training sources' notes (``recipes/explorer.toml``).

Data: every semitone of every instrument at two velocities from the training sources
(``explore.data.note_spec("train")``), plus ``augment_copies`` seeded copies with crowd EQ and
gain; the notes of ``validation_source`` (a training source, never trained on in this run) are the
validation set — model selection and early stopping look only at it. The held-out soundfont is
the benchmark's (``timbrelab bench explore``).

Validation score (lower is better): the loss on the validation notes with the latents at their
posterior means (no sampling, so it is deterministic) and without the adversaries' terms.
Interrupted? The same command resumes from the last finished epoch (state under the cache's
``train-state/explorer-KEY``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from timbrelab.configs import config_from_dict
from timbrelab.explore.model import MODEL_NAME, Explorer, GMVAE, GMVAEConfig

TRAINING_VERSION = 1


@dataclass(frozen=True)
class ExplorerTrainConfig:
    seed: int = 0
    epochs: int = 30
    patience: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    classification_weight: float = 10.0  # λ_cls: the mixtures' own posteriors must name the labels
    adversary_weight: float = 10.0  # λ_adv: gradient-reversal heads (0: off)
    augment_copies: int = 1
    validation_source: str = "TimGM6mb"
    validation_notes: int = 1024  # a seeded subset of the validation source's notes (0: all)
    sources: tuple | None = None  # None: every training source
    instruments: tuple | None = None  # None: the whole taxonomy (the mixture always has a component per class)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ExplorerTrainConfig":
        d = dict(d)
        for k in ("sources", "instruments"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return config_from_dict(cls, d, "explorer training")


def total_loss(terms: dict, cfg: ExplorerTrainConfig, adversaries: bool = True) -> torch.Tensor:
    loss = terms["reconstruction"] + terms["kl_timbre"] + terms["kl_pitch"]
    loss = loss + cfg.classification_weight * (terms["ce_timbre"] + terms["ce_pitch"])
    if adversaries and "adv_instrument_from_pitch" in terms:
        loss = loss + cfg.adversary_weight * (terms["adv_instrument_from_pitch"] + terms["adv_pitch_from_timbre"])
    return loss


@torch.no_grad()
def validation_terms(net: GMVAE, X, y_inst, y_pitch, batch: int = 256) -> dict:
    """Mean loss terms on fixed notes with the latents at their posterior means; plus the mixtures' accuracies."""
    net.eval()
    sums: dict = {}
    for i in range(0, len(X), batch):
        x = net.standardizer(X[i : i + batch])
        mu_t, lv_t = net.timbre_encoder(x)
        mu_p, lv_p = net.pitch_encoder(x)
        x_hat = net.decoder(torch.cat([mu_t, mu_p], dim=-1))
        yi, yp = y_inst[i : i + batch], y_pitch[i : i + batch]
        terms = {
            "reconstruction": 0.5 * ((x_hat - x) ** 2).flatten(1).sum(-1),
            "kl_timbre": net.timbre_prior.kl(mu_t, lv_t, yi),
            "kl_pitch": net.pitch_prior.kl(mu_p, lv_p, yp),
            "ce_timbre": torch.nn.functional.cross_entropy(net.timbre_prior.log_likelihoods(mu_t), yi, reduction="none"),
            "ce_pitch": torch.nn.functional.cross_entropy(net.pitch_prior.log_likelihoods(mu_p), yp, reduction="none"),
            "instrument_accuracy": (net.timbre_prior.log_likelihoods(mu_t).argmax(-1) == yi).float(),
            "pitch_accuracy": (net.pitch_prior.log_likelihoods(mu_p).argmax(-1) == yp).float(),
        }
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v.sum())
    return {k: v / max(len(X), 1) for k, v in sums.items()}


def state_dir_for(recipe: dict) -> Path:
    from timbrelab.ml.recipes import training_state_dir

    return training_state_dir("explorer", recipe, TRAINING_VERSION)


def load_training_notes(cfg: ExplorerTrainConfig, progress: bool | None = None):
    """(training NoteFeatures, validation NoteFeatures, a description)."""
    from timbrelab.errors import BadParameterError
    from timbrelab.explore.data import load_notes
    from timbrelab.sounds.catalogue import SPLITS

    sources = tuple(cfg.sources) if cfg.sources is not None else SPLITS["train"]
    if cfg.validation_source not in sources:
        raise BadParameterError(f"the validation source {cfg.validation_source} is not among the training sources {sources}")
    train_sources = tuple(s for s in sources if s != cfg.validation_source)
    train = load_notes("train", train_sources, augment_copies=cfg.augment_copies, seed=cfg.seed, progress=progress, instruments=cfg.instruments)
    val = load_notes("train", (cfg.validation_source,), progress=progress, instruments=cfg.instruments)
    if cfg.validation_notes and len(val) > cfg.validation_notes:
        keep = np.zeros(len(val), bool)
        keep[np.random.default_rng(cfg.seed).choice(len(val), cfg.validation_notes, replace=False)] = True
        val = val.subset(keep)
    described = {"train_sources": list(train_sources), "train_notes": len(train), "augment_copies": cfg.augment_copies,
                 "validation_source": cfg.validation_source, "validation_notes": len(val)}
    return train, val, described


def fit_explorer(net: GMVAE, train, val, cfg: ExplorerTrainConfig, progress: bool | None = None, state_dir=None) -> dict:
    """Train ``net`` on ``train`` (NoteFeatures), select and early-stop on ``val``; returns the metrics."""
    from timbrelab.ml.checkpoint import load_training_state, save_training_state
    from timbrelab.ml.train import LoopConfig, fit

    X, yi, yp = torch.from_numpy(train.X), torch.from_numpy(train.y_inst), torch.from_numpy(train.y_pitch)
    Xv, yiv, ypv = torch.from_numpy(val.X), torch.from_numpy(val.y_inst), torch.from_numpy(val.y_pitch)
    net.standardizer.fit(X[torch.randperm(len(X), generator=torch.Generator().manual_seed(cfg.seed))[:2048]])
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history_terms: list = []

    def loss_on(idx):
        return total_loss(net.losses(X[idx], yi[idx], yp[idx]), cfg)

    def validate(model):
        terms = validation_terms(model, Xv, yiv, ypv)
        history_terms.append({k: round(v, 4) for k, v in terms.items()})
        return total_loss(terms, cfg, adversaries=False)

    state_file = Path(state_dir) / "state.safetensors" if state_dir is not None else None
    resume = load_training_state(state_file) if state_file is not None and state_file.exists() else None
    if resume is not None:
        history_terms.extend(resume.get("history_terms", []))
    loop = LoopConfig(max_epochs=cfg.epochs, patience=cfg.patience, batch_size=cfg.batch_size, seed=cfg.seed, mode="min", clip_grad_norm=10.0)
    on_state = None
    if state_file is not None:
        state_file.parent.mkdir(parents=True, exist_ok=True)
        on_state = lambda s: save_training_state(state_file, "explorer", {**s, "history_terms": list(history_terms)})  # noqa: E731
    r = fit(net, loss_on, len(X), loop, opt, validate=validate, progress=progress, desc="explorer", on_state=on_state, resume=resume)
    net.eval()
    best = history_terms[r.best_epoch - 1] if 0 < r.best_epoch <= len(history_terms) else {}
    return {"best_epoch": r.best_epoch, "validation_loss": r.best_score, "validation_terms": best, "history": r.history,
            "history_terms": history_terms, "seconds": r.seconds}


def train_recipe(recipe: dict, progress: bool | None = None, state_dir=None):
    """``timbrelab train explorer``: see the module docstring and ``recipes/explorer.toml``."""
    from timbrelab.ml.recipes import Trained

    cfg = ExplorerTrainConfig.from_dict(recipe.get("train", {}))
    t0 = time.perf_counter()
    train, val, described = load_training_notes(cfg, progress)
    data_s = time.perf_counter() - t0
    torch.manual_seed(cfg.seed)
    net = GMVAE(GMVAEConfig.from_dict({**recipe.get("model_config", {}), "n_instruments": len(train.classes)}))
    sd = Path(state_dir) if state_dir is not None else state_dir_for(recipe)
    metrics = fit_explorer(net, train, val, cfg, progress, sd)
    explorer = Explorer(net, train.classes, {"name": recipe["model"]["name"]})
    metrics.update({"data_seconds": round(data_s, 1), "train_config": cfg.to_dict(), "data": described, **explorer.cost()})
    return Trained(explorer.to_checkpoint(recipe["model"]["name"] or MODEL_NAME), metrics)
