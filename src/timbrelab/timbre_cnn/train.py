"""Training a timbre CNN on this CPU: Adam, cross-entropy on windows, early stopping on clip accuracy.

``train_model(model_config, train, val, TrainConfig())`` fits the model's standardiser on the
training windows, then trains with mini-batches of windows (each labelled with its clip's class),
evaluating clip-level accuracy (window probabilities averaged per clip) on the validation clips
after every epoch; the weights of the best validation epoch are kept, and training stops after
``patience`` epochs without improvement. Seeds are fixed, so a run is repeatable on one machine.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from timbrelab.timbre_cnn.data import Windows
from timbrelab.timbre_cnn.evaluate import clip_probabilities

#: Adam learning rates per architecture: the single-layer model oscillates at 1e-3 (seen while building it)
DEFAULT_LR = {"single-layer": 1e-4}


@dataclass
class TrainConfig:
    max_epochs: int = 12
    patience: int = 3
    batch_size: int = 16
    lr: float | None = None  # None: DEFAULT_LR for the architecture, else 1e-3
    weight_decay: float = 1e-5
    seed: int = 0
    threads: int | None = None  # torch threads (None: torch's default)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    model: object
    history: list = field(default_factory=list)  # per epoch: train loss, val accuracy, seconds
    best_epoch: int = 0
    seconds: float = 0.0


def train_model(model_config, train: Windows, val: Windows, cfg: TrainConfig | None = None, progress: bool | None = None) -> TrainResult:
    import torch
    from tqdm import tqdm

    from timbrelab.timbre_cnn.models import build_model

    cfg = cfg or TrainConfig()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = build_model(model_config)
    model.standardizer.fit(torch.from_numpy(train.X))
    lr = cfg.lr or DEFAULT_LR.get(model.config.arch, 1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    X = torch.from_numpy(train.X)
    y = torch.from_numpy(train.window_labels().astype(np.int64))
    g = torch.Generator().manual_seed(cfg.seed)
    result = TrainResult(model)
    best, best_state, since = -1.0, None, 0
    t_start = time.perf_counter()
    n_batches = (len(X) + cfg.batch_size - 1) // cfg.batch_size
    bar = tqdm(total=cfg.max_epochs * n_batches, desc=f"train {model.config.arch}", unit="batch", disable=(progress is False) or None, leave=False)
    for epoch in range(cfg.max_epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(X), generator=g)
        losses = []
        for i in range(0, len(perm), cfg.batch_size):
            b = perm[i : i + cfg.batch_size]
            loss = torch.nn.functional.cross_entropy(model(X[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.update()
        acc = float((clip_probabilities(model, val).argmax(axis=1) == val.labels).mean()) if val.n_clips else 0.0
        result.history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_accuracy": acc, "seconds": round(time.perf_counter() - t0, 2)})
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", val_acc=f"{acc:.3f}")
        if acc > best:
            best, since, result.best_epoch = acc, 0, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            since += 1
            if since >= cfg.patience:
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    result.seconds = round(time.perf_counter() - t_start, 1)
    return result
