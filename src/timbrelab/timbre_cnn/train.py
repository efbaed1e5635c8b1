"""Training a timbre CNN on this CPU: Adam, cross-entropy on windows, early stopping on clip accuracy.

``train_model(model_config, train, val, TrainConfig())`` fits the model's standardiser on the
training windows, then trains with ``timbrelab.ml.train.fit`` (the one training loop): mini-batches of
windows (``data.adapters.WindowDataset``, each window labelled with its clip's class), clip-level
accuracy (window probabilities averaged per clip) on the validation clips after every epoch; the
weights of the best validation epoch are kept, and training stops after ``patience`` epochs without
improvement. Seeds are fixed, so a run is repeatable on one machine with the same number of torch
threads (the library never sets it: the caller may, e.g. ``torch.set_num_threads`` in a script).
The result is bit-identical to the hand-written loop this replaced (tests/test_timbre_cnn_train.py).

``train_on_clips`` (the corpus way: a random crop of each clip per draw) has three options more, all off
by default: ``spec_augment`` (SpecAugment masks, ``features.spec_augment``), ``lr_schedule="cosine"``
and ``precision="bf16"`` (the training steps under CPU autocast; validation and weights stay fp32).
Each draws nothing from the crops' and order's random streams, and each resumes with the run.

``train_recipe(recipe, progress)`` is the trainer behind ``timbrelab train timbre-cnn``
(``timbrelab/recipes/timbre-cnn.toml``): it renders (or reuses) the training sets the recipe names,
holds out a stratified validation split, trains the recipe's architecture (resumably: stopped, the same
command goes on from its last epoch) and returns the ``TimbreClassifier``'s checkpoint with its
validation metrics.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from timbrelab.timbre_cnn.data import Windows
from timbrelab.timbre_cnn.evaluate import clip_probabilities

LR_SCHEDULES = ("constant", "cosine")
#: "bf16": on this AMX CPU a small-rect-1x epoch took ~100 s with three runs side by side against ~225 s
#: in fp32 with two (the committed runs' histories); the bits depend on the CPU's bf16 kernels as fp32's do
PRECISIONS = ("fp32", "bf16")

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
    epoch_clips: int | None = None  # clips per epoch when training on clip maps (None: all); a fresh random subset each epoch
    label_smoothing: float = 0.0
    spec_augment: dict = field(default_factory=dict)  # features.spec_augment.SpecAugmentConfig fields ({}: off); train_on_clips only
    lr_schedule: str = "constant"  # "cosine": the learning rate falls from lr to 0 over max_epochs (train_on_clips only)
    precision: str = "fp32"  # "bf16": training steps under CPU autocast to bfloat16 (train_on_clips only; validation and the weights stay fp32)

    def __post_init__(self):
        from timbrelab.errors import BadParameterError

        if self.lr_schedule not in LR_SCHEDULES:
            raise BadParameterError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.precision not in PRECISIONS:
            raise BadParameterError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        from timbrelab.features.spec_augment import SpecAugmentConfig

        SpecAugmentConfig.from_dict(self.spec_augment or {})  # a bad mask setting is refused here, not at the first step

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    model: object
    history: list = field(default_factory=list)  # per epoch: train loss, val accuracy, seconds
    best_epoch: int = 0
    seconds: float = 0.0
    front_end: object = None  # the FrontEndConfig of the training windows
    classes: tuple = ()

    def classifier(self, info: dict | None = None):
        """The trained model with the front end and classes of its training windows, ready to classify or save."""
        from timbrelab.timbre_cnn.classify import TimbreClassifier

        return TimbreClassifier(self.model, self.front_end, self.classes, info)


def validation_accuracy(model, val: Windows) -> float:
    """Clip-level top-1 accuracy (window probabilities averaged per clip); 0 without validation clips."""
    return float((clip_probabilities(model, val).argmax(axis=1) == val.labels).mean()) if val.n_clips else 0.0


def train_model(model_config, train: Windows, val: Windows, cfg: TrainConfig | None = None, progress: bool | None = None) -> TrainResult:
    import torch

    from timbrelab.data.adapters import WindowDataset
    from timbrelab.ml.train import LoopConfig, fit
    from timbrelab.timbre_cnn.models import build_model

    cfg = cfg or TrainConfig()
    if val.n_clips and (val.front_end != train.front_end or val.classes != train.classes):
        from timbrelab.errors import BadParameterError

        raise BadParameterError("the validation windows were computed with another front end or classes than the training windows")
    torch.manual_seed(cfg.seed)
    model = build_model(model_config)
    model.standardizer.fit(torch.from_numpy(train.X))
    lr = cfg.lr or DEFAULT_LR.get(model.config.arch, 1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    ds = WindowDataset(train.X, train.window_labels())

    def loss_on(indices):
        x, y = ds.batch(indices)
        return torch.nn.functional.cross_entropy(model(x), y)

    loop = LoopConfig(max_epochs=cfg.max_epochs, patience=cfg.patience, batch_size=cfg.batch_size, seed=cfg.seed, mode="max")
    fitted = fit(model, loss_on, len(ds), loop, opt, validate=lambda m: validation_accuracy(m, val), progress=progress,
                 desc=f"train {model.config.arch}")
    history = [{"epoch": h["epoch"], "train_loss": h["train_loss"], "val_accuracy": h["score"], "seconds": h["seconds"]} for h in fitted.history]
    return TrainResult(model, history, fitted.best_epoch, fitted.seconds, train.front_end, train.classes)


def train_on_clips(model_config, train, val: Windows, cfg: TrainConfig | None = None, progress: bool | None = None,
                   standardizer_clips: int = 2000, state_path=None) -> TrainResult:
    """Train on whole-clip maps (``data.ClipMaps``) with a random crop per clip and step: the corpus way.

    The standardiser is fitted on (at most ``standardizer_clips``) training clips; an epoch is
    ``cfg.epoch_clips`` clips drawn afresh (all clips when None); early stopping on ``val``'s clip
    accuracy as in :func:`train_model`. Deterministic for a seed (one torch thread count).

    ``state_path``: a file for the training state after every epoch (the one checkpoint format); a run
    that finds it there resumes from it and ends with the weights of an uninterrupted run. The file is
    kept when the run ends (a run that finds a finished state returns at once): the caller deletes it
    once what it wanted from the run is safely written (a bench: the scored row)."""
    import torch

    from timbrelab.data.adapters import CropDataset
    from timbrelab.errors import BadParameterError
    from timbrelab.features.spec_augment import SpecAugmentConfig, spec_augment
    from timbrelab.ml.train import LoopConfig, fit
    from timbrelab.timbre_cnn.models import build_model

    cfg = cfg or TrainConfig()
    if val.n_clips and (val.front_end != train.front_end or val.classes != train.classes):
        raise BadParameterError("the validation windows were computed with another front end or classes than the training clips")
    if model_config.n_classes != len(train.classes):
        raise BadParameterError(f"the model has {model_config.n_classes} outputs for {len(train.classes)} classes")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = build_model(model_config)
    fit_on = np.sort(rng.choice(train.n_clips, size=min(standardizer_clips, train.n_clips), replace=False))
    model.standardizer.fit(train.X[i].astype(np.float32) for i in fit_on)
    lr = cfg.lr or DEFAULT_LR.get(model.config.arch, 1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    ds = CropDataset(train.X, train.y, train.front_end.frames, seed=cfg.seed)
    masking = SpecAugmentConfig.from_dict(cfg.spec_augment or {})
    mask_rng = np.random.default_rng([cfg.seed, 1])  # its own stream: masks on or off leave the crops and the order unchanged
    n = min(cfg.epoch_clips or train.n_clips, train.n_clips)
    order = {"clips": rng.permutation(train.n_clips)[:n]}

    def new_epoch(_epoch):
        order["clips"] = rng.permutation(train.n_clips)[:n]

    # channels-last convolutions: 1.2-1.4x faster training on CPU for the 2-D models (measured on 2 cores:
    # small-rect-1x 29 -> 38 windows/s, multi-layer 6.5 -> 9.2); the weights are converted back at the end
    model = model.to(memory_format=torch.channels_last)

    def loss_on(indices):
        x, y = ds.batch(order["clips"][np.asarray(indices)])
        x = spec_augment(x, mask_rng, masking, model.standardizer.mean)  # masked cells = band means: 0 once standardised
        x = x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
            logits = model(x)
        return torch.nn.functional.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)

    loop = LoopConfig(max_epochs=cfg.max_epochs, patience=cfg.patience, batch_size=cfg.batch_size, seed=cfg.seed, mode="max")
    scheduler = None
    if cfg.lr_schedule == "cosine":  # stepped once per update: from lr down to 0 at the last step of max_epochs
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.max_epochs * ((n + cfg.batch_size - 1) // cfg.batch_size))
    on_state = resume = None
    if state_path is not None:
        from pathlib import Path

        from timbrelab.ml.checkpoint import load_training_state, save_training_state

        state_path = Path(state_path)

        def save_state(state):
            state["data"] = {"rng": rng.bit_generator.state, "crops": ds.rng.bit_generator.state, "masks": mask_rng.bit_generator.state,
                             "clips": order["clips"]}
            save_training_state(state_path, f"timbre-cnn {model.config.arch}", state)

        on_state = save_state
        if state_path.exists():
            resume = load_training_state(state_path)
            rng.bit_generator.state = resume["data"]["rng"]
            ds.rng.bit_generator.state = resume["data"]["crops"]
            if "masks" in resume["data"]:  # a state saved before masking existed: its mask stream was never drawn
                mask_rng.bit_generator.state = resume["data"]["masks"]
            order["clips"] = resume["data"]["clips"]
    fitted = fit(model, loss_on, n, loop, opt, scheduler, validate=lambda m: validation_accuracy(m, val), progress=progress,
                 desc=f"train {model.config.arch}", on_epoch=new_epoch, on_state=on_state, resume=resume)
    model = model.to(memory_format=torch.contiguous_format)
    history = [{"epoch": h["epoch"], "train_loss": h["train_loss"], "val_accuracy": h["score"], "seconds": h["seconds"]} for h in fitted.history]
    return TrainResult(model, history, fitted.best_epoch, fitted.seconds, train.front_end, train.classes)


# ------------------------------------------------------------------------------------- the recipe


def recipe_specs(train_section: dict) -> dict:
    """The data set specs of a recipe's ``[train.data.NAME]`` tables: ``{NAME: spec}`` (the corpus
    first, then the augmented set made from it when the recipe has ``[train.augment]``)."""
    from timbrelab.sounds.datasets import spec_from_dict

    data = train_section.get("data") or {}
    if not data:
        from timbrelab.errors import BadParameterError

        raise BadParameterError("the recipe names no training data ([train.data.NAME] tables)")
    return {name: spec_from_dict(d) for name, d in data.items()}


@dataclass
class CorpusData:
    """What training on the corpus needs: training clip maps, validation windows, and what they are."""

    train: object  # data.ClipMaps
    val: Windows
    specs: dict
    seconds: float
    validation_source: str
    left_out_twins: int = 0  # training clips left out: a training source playing the validation source's samples


def corpus_data(train_section: dict, progress: bool | None = None) -> CorpusData:
    """Build (or reuse) a recipe's corpus and its augmented copies, and split them by source: the
    clips of ``validation_source`` (a training source, never the test soundfont) are the validation
    set — at most ``validation_clips_per_class`` per class, so validation stays cheap — and every
    other source's clips are the training set, except the programs in which another source plays the
    validation source's own samples (``catalogue.SHARED_SAMPLES``). Silent clips are left out.

    The recipe's ``[train.data]`` has one ``kind = "corpus"`` table and one ``kind = "augmented"``
    table whose ``base`` is that corpus (filled in here when left out)."""
    from timbrelab.errors import BadParameterError
    from timbrelab.sounds.catalogue import SHARED_SAMPLES
    from timbrelab.sounds.datasets import build, spec_dict, spec_from_dict
    from timbrelab.timbre_cnn import data as TD

    t0 = time.perf_counter()
    data = train_section.get("data") or {}
    corpus = [k for k, d in data.items() if d.get("kind") == "corpus"]
    augmented = [k for k, d in data.items() if d.get("kind") == "augmented"]
    if len(corpus) != 1 or len(augmented) != 1:
        raise BadParameterError("a timbre-CNN recipe needs one [train.data.X] table of kind 'corpus' and one of kind 'augmented'")
    base = spec_from_dict(data[corpus[0]])
    aug_d = dict(data[augmented[0]])
    aug_d.setdefault("base", _spec_json(base))
    aug = spec_from_dict(aug_d)
    if spec_from_dict(aug.base) != base:
        raise BadParameterError("the augmented set must be made from the recipe's corpus")
    ds = build(aug, progress=progress)
    front_end = TD.FrontEndConfig.from_dict(train_section.get("front_end", {}))
    maps = TD.clip_maps(ds, front_end, TD.CLASSES_WITH_NONE, progress)
    vsrc = train_section.get("validation_source", "TimGM6mb")
    if vsrc not in base.source_names:
        raise BadParameterError(f"validation_source '{vsrc}' is not one of the corpus's sources ({', '.join(base.source_names)})")
    per_class = int(train_section.get("validation_clips_per_class", 20))
    is_val = np.array([r["source"] == vsrc for r in maps.rows])
    # leave-one-source-out means the validation source's samples too: a training source's programs that
    # play the validation source's own samples (catalogue.SHARED_SAMPLES: sf_GMbank re-uses TimGM6mb's) are
    # left out of training, or validation would reward memorising those samples
    base_ds = build(base, progress=False)
    program_of = [r.get("program") for r in base_ds.rows]
    twins = {(b if a == vsrc else a): set(progs) for (a, b), progs in SHARED_SAMPLES.items() if vsrc in (a, b)}
    is_twin_of = lambda source, program: source in twins and program in twins[source]  # noqa: E731
    is_twin = np.array([is_twin_of(r["source"], program_of[r["base"]]) for r in maps.rows])
    rng = np.random.default_rng(int(train_section.get("validation_seed", 0)))
    val_idx = []
    for c in range(len(maps.classes)):
        idx = np.flatnonzero(is_val & (maps.y == c))
        val_idx += sorted(rng.permutation(idx)[:per_class].tolist())
    train = maps.subset(np.flatnonzero(~is_val & ~is_twin))
    if train_section.get("with_dry", False):
        # the dry corpus clips train beside their augmented copies (the same sources and programs; validation unchanged)
        dry = TD.clip_maps(base_ds, front_end, TD.CLASSES_WITH_NONE, progress)
        keep = [i for i, r in enumerate(dry.rows) if r["source"] != vsrc and not is_twin_of(r["source"], r.get("program"))]
        train = TD.ClipMaps.stack(train, dry.subset(keep))
    val = maps.subset(np.array(sorted(val_idx), int)).windows()
    specs = {corpus[0]: base, augmented[0]: aug}
    return CorpusData(train, val, {k: spec_dict(v) if v.kind not in ("corpus", "augmented") else _spec_json(v) for k, v in specs.items()},
                      round(time.perf_counter() - t0, 1), vsrc, int(is_twin.sum()))


def _spec_json(spec) -> dict:
    from timbrelab.sounds.corpus import spec_as_dict

    return spec_as_dict(spec)


def train_config_of(train_section: dict) -> TrainConfig:
    known = {f for f in TrainConfig.__dataclass_fields__}
    return TrainConfig(**{k: train_section[k] for k in known if k in train_section})


#: bump when a code change makes the training states of ``timbrelab train timbre-cnn`` stale
TRAINING_VERSION = 1


def train_recipe(recipe: dict, progress: bool | None = None):
    """``timbrelab train timbre-cnn``: see the module docstring and ``recipes/timbre-cnn.toml``.
    Resumable: the state after every epoch goes to ``ml.recipes.training_state_dir``, so the same
    command run again goes on from the last finished epoch."""
    from timbrelab.errors import BadParameterError
    from timbrelab.ml.recipes import Trained, training_state_dir
    from timbrelab.timbre_cnn import data as TD
    from timbrelab.timbre_cnn.models import count_parameters, paper_configs

    t = recipe.get("train", {})
    configs = paper_configs(len(TD.CLASSES_WITH_NONE))
    arch = t.get("architecture")
    if arch not in configs:
        raise BadParameterError(f"[train] architecture must be one of {', '.join(configs)}, got {arch!r}")
    cfg = train_config_of(t)
    d = corpus_data(t, progress)
    sd = training_state_dir("timbre-cnn", recipe, TRAINING_VERSION)
    sd.mkdir(parents=True, exist_ok=True)
    r = train_on_clips(configs[arch], d.train, d.val, cfg, progress, state_path=sd / "state.safetensors")
    clf = r.classifier({"architecture": arch})
    metrics = {
        "params": count_parameters(r.model), "val_accuracy": max(h["val_accuracy"] for h in r.history), "best_epoch": r.best_epoch,
        "epochs_run": len(r.history), "training_seconds": r.seconds, "data_seconds": d.seconds, "history": r.history,
        "clips": {"train": d.train.n_clips, "validation": d.val.n_clips}, "validation_source": d.validation_source,
        "train_config": cfg.to_dict(), "data": d.specs,
    }
    return Trained(clf.to_checkpoint(), metrics)
