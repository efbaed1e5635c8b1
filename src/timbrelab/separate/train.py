"""Training the separator: seed 002's two-phase recipe on the one training loop (``ml.train.fit``).

Phase 1 trains the mask network with the query network (TimbreCLAP's text tower, copied from the
shipped ``timbreclap``) frozen; phase 2 unfreezes it at a smaller learning rate. AdamW with a linear
warm-up, then a cosine decay to a tenth over the phase.

Loss (``loss``): ``"snr"`` (the recipe's) is the negative signal-to-noise ratio of the waveform estimate,
soft-capped at 30 dB (``−10·log10(‖s‖² / (‖s − ŝ‖² + 10⁻³‖s‖²))``), and for a query naming an absent
instrument a tenth of the estimate's energy relative to the mixture in dB (floored at −20 dB). It is
level-invariant, so loud and quiet mixtures count alike. ``"l1"`` is the seed's L1 on the waveform; in
200-step trials here it drove the masks towards zero without separating (validation SDRi fell from
2.2 to 1.7 dB), so the recipe does not use it. Each phase early-stops on validation mean SDRi
(the plain SDR of ``eval.separation``, over examples whose query names something present) and keeps
its best epoch; the metrics record both phases, so what each buys is measured.

Validation mixtures come from a training source held out of training (``validation_source``:
TimGM6mb); the held-out test soundfont and the real recordings are never used here.

Resumable: after every epoch the loop's whole state goes to ``state_dir`` (``ml.checkpoint``
training-state format); running the same training again continues where it stopped and ends with
the same weights.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from timbrelab.errors import BadParameterError
from timbrelab.separate.model import QueryRows


@dataclass
class PhaseConfig:
    epochs: int = 6
    lr: float = 1e-3
    query_lr: float = 0.0  # 0: the query network stays frozen (phase 1)
    warmup_steps: int = 200
    patience: int | None = 2
    weight_decay: float = 1e-4
    final_lr_fraction: float = 0.1  # cosine decay to this fraction of lr by the phase's last epoch


@dataclass
class SeparatorTrainConfig:
    seed: int = 0
    batch_size: int = 16
    epoch_examples: int = 3000
    validation_examples: int = 192
    loss: str = "snr"
    phase1: PhaseConfig = None
    phase2: PhaseConfig = None

    def __post_init__(self):
        if self.loss not in ("snr", "l1"):
            raise BadParameterError(f"separator training: loss is 'snr' or 'l1', got {self.loss!r}")
        self.phase1 = _phase(self.phase1, PhaseConfig())
        self.phase2 = _phase(self.phase2, PhaseConfig(epochs=3, lr=3e-4, query_lr=1e-4, warmup_steps=100))

    def to_dict(self) -> dict:
        return asdict(self)


def _phase(v, default: PhaseConfig) -> PhaseConfig:
    if v is None:
        return default
    if isinstance(v, PhaseConfig):
        return v
    known = set(PhaseConfig.__dataclass_fields__)
    bad = set(v) - known
    if bad:
        raise BadParameterError(f"separator training phase: unknown settings {sorted(bad)}")
    return PhaseConfig(**{**asdict(default), **v})


def _as_batch(examples) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    n = max(e["mixture"].shape[-1] for e in examples)
    pad = lambda x: np.pad(x, (0, n - x.shape[-1]))  # noqa: E731
    mix = torch.from_numpy(np.stack([pad(e["mixture"]) for e in examples]))
    tgt = torch.from_numpy(np.stack([pad(e["target"]) for e in examples]))
    return mix, tgt, [e["query"] for e in examples]


def separation_loss(est: torch.Tensor, tgt: torch.Tensor, mix: torch.Tensor, kind: str = "snr") -> torch.Tensor:
    """The training loss of a batch (see the module docstring)."""
    if kind == "l1":
        return torch.nn.functional.l1_loss(est, tgt)
    s2, e2 = (tgt * tgt).sum(-1), ((tgt - est) ** 2).sum(-1)
    x2 = (mix * mix).sum(-1) + 1e-12
    present = s2 > 1e-6 * x2
    # every branch finite for every row (torch.where back-propagates through both): no 0/0 anywhere
    l_present = -10 * torch.log10((s2 + 1e-12) / (e2 + 1e-3 * s2 + 1e-12))
    l_absent = 0.1 * 10 * torch.log10((est * est).sum(-1) / x2 + 1e-2)
    return torch.where(present, l_present, l_absent).mean()


def batch_sdr_db(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Per-row plain SDR in dB (``eval.separation.sdr``'s formula, capped at 100 dB), float64."""
    s, e = reference.double(), estimate.double()
    num = (s * s).sum(-1)
    den = ((s - e) ** 2).sum(-1).clamp_min(1e-300)
    return (10 * torch.log10(num.clamp_min(1e-300) / den)).clamp(max=100.0)


@torch.no_grad()
def validation_sdri(net, examples, rows: QueryRows, batch_size: int = 32) -> float:
    """Mean SDRi over the examples whose target is not silent."""
    net.eval()
    keep = [e for e in examples if float(np.abs(e["target"]).max()) > 0]
    if not keep:
        raise BadParameterError("separator validation: no example has a present target")
    out = []
    for i in range(0, len(keep), batch_size):
        mix, tgt, queries = _as_batch(keep[i : i + batch_size])
        est = net(mix, net.embed_queries(rows(queries)))
        out.append(batch_sdr_db(tgt, est) - batch_sdr_db(tgt, mix))
    return float(torch.cat(out).mean())


def fit_standardizer(net, examples) -> None:
    with torch.no_grad():
        mix, _, _ = _as_batch(examples)
        net.standardizer.fit(net.compress(net.stft(mix).abs()))


def two_phase_fit(net, draw, val_examples, cfg: SeparatorTrainConfig, progress: bool | None = None, state_dir=None, desc: str = "separator") -> dict:
    """Train ``net`` (a ``SeparatorNet`` with a query network) in the two phases.

    ``draw(epoch, indices)`` → training examples (dicts with ``mixture``, ``target``, ``query``);
    ``val_examples``: fixed validation examples. Returns the metrics (per phase: best epoch, best
    validation SDRi, history, seconds). ``state_dir``: where per-epoch states go (resume)."""
    from timbrelab.ml.checkpoint import load_training_state, save_training_state
    from timbrelab.ml.train import LoopConfig, fit

    rows = QueryRows(net.config.query_config.get("text_encoder", "minilm"))
    rows.add([e["query"] for e in val_examples])
    metrics: dict = {"validation_sdri_db_start": validation_sdri(net, val_examples, rows)}
    state_dir = Path(state_dir) if state_dir is not None else None
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
    for phase, pc in (("phase1", cfg.phase1), ("phase2", cfg.phase2)):
        if pc.epochs <= 0:
            continue
        frozen = pc.query_lr <= 0
        net.set_query_trainable(not frozen)
        groups = [{"params": net.separation_parameters(), "lr": pc.lr}]
        if not frozen:
            groups.append({"params": [p for p in net.query.parameters() if p.requires_grad], "lr": pc.query_lr})
        opt = torch.optim.AdamW(groups, weight_decay=pc.weight_decay)
        total = pc.epochs * ((cfg.epoch_examples + cfg.batch_size - 1) // cfg.batch_size)

        def lr_at(step, pc=pc, total=total):
            if step < pc.warmup_steps:
                return (step + 1) / pc.warmup_steps
            t = min(1.0, (step - pc.warmup_steps) / max(1, total - pc.warmup_steps))
            return pc.final_lr_fraction + (1 - pc.final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * t))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
        epoch_box = [0]

        def loss_on(idx, frozen=frozen):
            if frozen:
                net.query.eval()  # frozen means frozen: no dropout in the query tower either
            mix, tgt, queries = _as_batch(draw(epoch_box[0] + (100 if phase == "phase2" else 0), idx.tolist()))
            with torch.set_grad_enabled(not frozen):
                q = net.embed_queries(rows(queries))
            return separation_loss(net(mix, q), tgt, mix, cfg.loss)

        def on_epoch(e):
            epoch_box[0] = e + 1

        state_file = state_dir / f"{phase}.state.safetensors" if state_dir else None
        done_file = state_dir / f"{phase}.done.safetensors" if state_dir else None
        if done_file is not None and done_file.exists():
            saved = load_training_state(done_file)
            net.load_state_dict(saved["model"])
            metrics[phase] = saved["metrics"]
            continue
        resume = load_training_state(state_file) if state_file is not None and state_file.exists() else None
        if resume is not None:
            epoch_box[0] = int(resume["epoch"])
        loop = LoopConfig(max_epochs=pc.epochs, patience=pc.patience, batch_size=cfg.batch_size, seed=cfg.seed * 1000 + (2 if phase == "phase2" else 1),
                          mode="max", clip_grad_norm=5.0)
        on_state = (lambda s: save_training_state(state_file, "separator", s)) if state_file is not None else None
        r = fit(net, loss_on, cfg.epoch_examples, loop, opt, sched, validate=lambda m: validation_sdri(m, val_examples, rows), progress=progress,
                desc=f"{desc} {phase}", on_epoch=on_epoch, on_state=on_state, resume=resume)
        metrics[phase] = {"query": "frozen" if frozen else "trained", "best_epoch": r.best_epoch, "validation_sdri_db": r.best_score,
                          "history": r.history, "seconds": r.seconds}
        if done_file is not None:
            save_training_state(done_file, "separator", {"model": {k: v.clone() for k, v in net.state_dict().items()}, "metrics": metrics[phase]})
            state_file.unlink(missing_ok=True)
    net.set_query_trainable(False)
    net.eval()
    metrics["training_seconds"] = round(sum(metrics[p]["seconds"] for p in ("phase1", "phase2") if p in metrics), 1)
    return metrics


# ------------------------------------------------------------------------------ from the recipe


def train_config_of(t: dict) -> SeparatorTrainConfig:
    known = {"seed", "batch_size", "epoch_examples", "validation_examples", "loss", "phase1", "phase2"}
    return SeparatorTrainConfig(**{k: t[k] for k in known if k in t})


def new_net(model: dict, seed: int):
    """A fresh ``SeparatorNet`` whose query network starts from the shipped TimbreCLAP text tower."""
    from timbrelab.ml.registry import load
    from timbrelab.separate.model import SeparatorConfig, SeparatorNet

    clap = load(model.get("query_model", "timbreclap"))
    torch.manual_seed(int(seed))
    cfg = SeparatorConfig.from_dict({k: v for k, v in model.items() if k != "query_model"} | {"query_config": clap.net.config.to_dict(),
                                                                                              "query_dim": clap.net.config.dim})
    net = SeparatorNet(cfg)
    state = {k: v for k, v in clap.net.state_dict().items() if not k.startswith(("audio.", "audio_skip."))}
    missing = net.query.load_state_dict(state, strict=False)
    if missing.unexpected_keys:
        raise BadParameterError(f"separator: the query model has unexpected weights {missing.unexpected_keys[:3]}")
    return net


def corpus_samplers(t: dict, progress: bool | None = None):
    """(training sampler, validation examples, data description) from the recipe's corpus: the clips of
    ``validation_source`` make the validation mixtures; every other training source's clips the training
    mixtures, except programs that play the validation source's own samples (``catalogue.SHARED_SAMPLES``,
    as the timbre CNN's leave-one-source-out split)."""
    from timbrelab.separate.data import MixConfig, MixtureSampler
    from timbrelab.sounds.catalogue import SHARED_SAMPLES
    from timbrelab.sounds.corpus import spec_as_dict
    from timbrelab.sounds.datasets import build, spec_from_dict

    data = t.get("data", {})
    if "corpus" not in data:
        raise BadParameterError("a separator recipe needs a [train.data.corpus] table")
    base = spec_from_dict(data["corpus"])
    sets = [build(base, progress)]
    if "augmented" in data:
        aug_d = dict(data["augmented"])
        aug_d.setdefault("base", spec_as_dict(base))
        sets.append(build(spec_from_dict(aug_d), progress))
    corpus_rows = sets[0].rows
    mix = MixConfig.from_dict(t.get("mixtures", {}))
    vsrc = t.get("validation_source", "TimGM6mb")
    if vsrc not in base.source_names:
        raise BadParameterError(f"validation_source '{vsrc}' is not one of the corpus's sources ({', '.join(base.source_names)})")
    twins = {(b if a == vsrc else a): set(progs) for (a, b), progs in SHARED_SAMPLES.items() if vsrc in (a, b)}

    def program(d, r):
        return r.get("program") if d == 0 else corpus_rows[r["base"]].get("program")

    def train_keep(d, r):
        return r["source"] != vsrc and not (r["source"] in twins and program(d, r) in twins[r["source"]])

    train = MixtureSampler(sets, mix, keep=train_keep)
    val = MixtureSampler(sets[:1], mix, keep=lambda d, r: r["source"] == vsrc)
    rng = np.random.default_rng([int(t.get("validation_seed", 0)), 7])
    val_examples = [val.draw(rng) for _ in range(int(t.get("validation_examples", 192)))]
    return train, val_examples, {"validation_source": vsrc, "train_classes": train.classes,
                                 "train_clips": sum(len(v) for v in train.by_class.values()), "mixtures": mix.to_dict(),
                                 "sets": [spec_as_dict(base)] + ([spec_as_dict(spec_from_dict(aug_d))] if len(sets) > 1 else [])}


TRAINING_VERSION = 3  # bump when a code change makes earlier training states stale


def state_dir_for(recipe: dict) -> Path:
    from timbrelab.ml.recipes import training_state_dir

    return training_state_dir("separator", recipe, TRAINING_VERSION)


def train_recipe(recipe: dict, progress: bool | None = None, state_dir=None):
    """``timbrelab train separator``: see the module docstring and ``recipes/separator.toml``."""
    from timbrelab.ml.recipes import Trained
    from timbrelab.separate.model import Separator

    t = recipe.get("train", {})
    cfg = train_config_of(t)
    t0 = time.perf_counter()
    train, val_examples, described = corpus_samplers(t, progress)
    data_s = time.perf_counter() - t0
    net = new_net(recipe.get("model_config", {}), cfg.seed)
    fit_standardizer(net, train.batch(cfg.seed, 10_000, range(64)))
    sd = Path(state_dir) if state_dir is not None else state_dir_for(recipe)
    sd.mkdir(parents=True, exist_ok=True)
    metrics = two_phase_fit(net, lambda e, idx: train.batch(cfg.seed, e, idx), val_examples, cfg, progress, sd)
    sep = Separator(net, recipe["model"]["name"], {"train_classes": train.classes})
    metrics.update({"data_seconds": round(data_s, 1), "train_config": cfg.to_dict(), "data": described, **sep.cost()})
    return Trained(sep.to_checkpoint(), metrics)
