"""One training loop for every torch model timbrelab trains (nanoGPT-sized: readable in one sitting).

``fit(model, loss_on, n_examples, LoopConfig(...), optimizer, ...)``:

- every epoch: ``model.train()``, a permutation of the ``n_examples`` training examples from a
  generator seeded with ``config.seed``, mini-batches of ``config.batch_size``; for each batch
  ``loss_on(indices)`` returns the loss, then ``zero_grad → backward → (clip the gradient norm to
  config.clip_grad_norm, if set) → step`` and, if given, the scheduler steps once per update;
- after the epoch, ``validate(model)`` (if given) returns a score; ``mode`` says whether higher
  ("max", e.g. accuracy) or lower ("min", e.g. error) is better, and an improvement must beat the best
  by more than ``min_delta``. The weights of the best epoch are kept and restored at the end;
  training stops after ``patience`` epochs without improvement. Without ``validate`` every epoch runs
  and the last weights are kept;
- resumable: after each epoch ``on_state(state)`` (if given) receives everything the loop needs to go
  on — model and optimiser (and scheduler) state, the batch-order generator, the early-stopping
  bookkeeping and history — and ``fit(..., resume=state)`` continues from it exactly where it was: an
  interrupted run that resumes ends with the same weights, bit for bit, as one that was not
  interrupted (``ml.checkpoint.save_training_state`` stores such a state in the one checkpoint format).

The caller seeds torch before building the model (``torch.manual_seed``), so a run is repeatable;
the loop never changes process-wide settings (threads, determinism flags).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable


@dataclass
class LoopConfig:
    max_epochs: int = 10
    patience: int | None = None  # None: no early stopping
    batch_size: int = 16
    seed: int = 0
    mode: str = "max"  # "max": higher validation score is better; "min": lower
    min_delta: float = 0.0
    clip_grad_norm: float | None = None  # clip the gradients' global norm to this before each step

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    best_epoch: int = 0
    best_score: float | None = None
    history: list = field(default_factory=list)  # per epoch: {"epoch", "train_loss", "score", "seconds"}
    seconds: float = 0.0


def fit(
    model,
    loss_on: Callable,
    n_examples: int,
    config: LoopConfig,
    optimizer,
    scheduler=None,
    validate: Callable | None = None,
    progress: bool | None = None,
    desc: str = "train",
    on_epoch: Callable[[int], None] | None = None,
    on_state: Callable[[dict], None] | None = None,
    resume: dict | None = None,
) -> FitResult:
    import torch
    from tqdm import tqdm

    if config.mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {config.mode!r}")
    sign = 1.0 if config.mode == "max" else -1.0
    g = torch.Generator().manual_seed(config.seed)
    result = FitResult()
    best, best_state, since = -math.inf, None, 0
    n_batches = (n_examples + config.batch_size - 1) // config.batch_size
    start, before_s = 0, 0.0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(resume["scheduler"])
        g.set_state(resume["generator"])
        torch.set_rng_state(resume["torch_rng"])  # dropout draws from torch's default generator
        best, since, start = float(resume["best"]), int(resume["since"]), int(resume["epoch"])
        best_state = resume["best_state"]
        result.best_epoch, result.best_score, result.history = int(resume["best_epoch"]), resume["best_score"], list(resume["history"])
        before_s = float(resume.get("seconds", 0.0))
    bar = tqdm(total=config.max_epochs * n_batches, initial=start * n_batches, desc=desc, unit="batch",
               disable=(progress is False) or None, leave=False)
    t_start = time.perf_counter()
    try:
        for epoch in range(start, config.max_epochs):
            if validate is not None and config.patience is not None and since >= config.patience:
                break  # a resumed run that had already stopped
            t0 = time.perf_counter()
            model.train()
            perm = torch.randperm(n_examples, generator=g)
            losses = []
            for i in range(0, n_examples, config.batch_size):
                loss = loss_on(perm[i : i + config.batch_size])
                optimizer.zero_grad()
                loss.backward()
                if config.clip_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                losses.append(loss.item())
                bar.update()
            record = {"epoch": epoch + 1, "train_loss": float(sum(losses) / max(len(losses), 1))}
            if validate is not None:
                score = float(validate(model))
                record["score"] = score
                bar.set_postfix(loss=f"{record['train_loss']:.3f}", score=f"{score:.3f}")
                if sign * score > best + config.min_delta:
                    best, since, result.best_epoch, result.best_score = sign * score, 0, epoch + 1, score
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    since += 1
            record["seconds"] = round(time.perf_counter() - t0, 2)
            result.history.append(record)
            if on_epoch is not None:
                on_epoch(epoch)
            if on_state is not None:
                on_state({"epoch": epoch + 1, "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
                          "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict() if scheduler is not None else None,
                          "generator": g.get_state(), "torch_rng": torch.get_rng_state(), "best": best, "since": since, "best_state": best_state,
                          "best_epoch": result.best_epoch, "best_score": result.best_score, "history": list(result.history),
                          "seconds": before_s + time.perf_counter() - t_start})
            if validate is not None and config.patience is not None and since >= config.patience:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        elif validate is None:
            result.best_epoch = len(result.history)
    finally:
        bar.close()
    result.seconds = round(before_s + time.perf_counter() - t_start, 1)  # a resumed run counts its earlier part
    return result
