"""Architectures of the timbre CNNs (Pons et al., EUSIPCO 2017, section III-B) and two baselines.

Every model is a ``TimbreCNN``: a ``Standardizer`` (per-band statistics as buffers, identity until
fitted, so they ship with the weights) followed by an architecture body. Input: log-mel windows
``(batch, 1, n_mels, frames)`` as ``features.logmel.LogMel`` + ``features.windows.windows`` produce them
(``(batch, n_mels, frames)`` is accepted too); output: logits ``(batch, n_classes)``. The caller
applies softmax (single-label training: softmax cross-entropy; multi-label evaluation: classes whose
clip-averaged softmax output is ≥ 0.2, as the paper).

Architectures (``TimbreCNNConfig.arch``):

``single-layer``
    One wide layer of musically motivated filters, frequency × time: 5×1 (128 filters), 5×3 (64),
    5×5 (32), 80×1 (128), 80×3 (64), 80×5 (32) — 448 maps; each conv → batch norm → ELU. Each map is
    max-pooled over the *whole* frequency axis and over time down to ``time_bins`` (4) steps (pool
    96 × 32 on a 128-frame window, as the authors' Keras code: ``MaxPooling2D((96, 128 / 4))``),
    → 448 × 4 = 1792 features → dropout 0.5 → dense (softmax by the caller). The convolutions are
    "valid" along frequency (nothing is padded that the global pool would then look at) and "same"
    along time. **61,867 trainable parameters at 11 classes** (paper: 62k).
``multi-layer``
    The same first layer, "same"-padded in frequency so the maps stack (448 × 96 × 128), max-pool
    ``first_pool`` (12, 16) → 448 × 8 × 8; two 3×3 conv layers of 128 filters, each → BN → ELU →
    2×2 max-pool (→ 128 × 2 × 2); dropout 0.5 → dense 256 → ELU → dropout 0.5 → dense.
    **840,619 trainable parameters at 11 classes** with (12, 16) (paper: 743k, +13 %). The paper's
    count is reproduced by ``first_pool=(24, 32)`` (the authors' Keras code pools 96/4 × 128/4:
    4 × 4 → 1 × 1 after the two 2×2 pools, dense 128 → 256): 742,315 trainable (+1,368 batch-norm
    running statistics, which Keras counts, = 743,683).
``small-rect``
    Choi, Fazekas & Sandler (2016)-style fully convolutional network of small rectangular filters:
    5 conv layers of 3×3 ("same"), each → BN → ELU → max-pool (2,2), (2,2), (2,2), (3,4), then a
    global max-pool to 1 × 1; channels ``width × (1, 2, 2, 4, 4)``; dropout 0.5 → dense.
``dieleman``
    Dieleman & Schrauwen (2014)-style: filters spanning the whole spectrum, i.e. 1-D convolution
    over time with the 96 bands as input channels: conv (96 × 8) → BN → ELU → max-pool 4 → conv
    (width × 8) → BN → ELU → max-pool 4 (temporal pooling: 128 frames → 5 steps) → flatten →
    dropout 0.5 → dense ``2 × width`` → ELU → dropout 0.5 → dense.

``paper_configs(n_classes)`` gives the benchmark's named configurations, including the two baselines
at about the multi-layer's parameter count (``-1x``) and at about twice it (``-2x``).

Weights are initialised He-normal (Keras ``he_normal``, as the authors' code) with zero biases, except
the output layer, which starts at zero (training starts at a cross-entropy of log(n_classes)); a
model is a deterministic function of ``torch.manual_seed`` and its config.

Training note: the single-layer's 1792 pooled features share a large positive offset, which makes
its output layer stiff: on a fixed batch, Adam at 1e-3 oscillates and SGD at 1e-2 diverges, while
Adam at 1e-4 descends steadily (the multi-layer is fine with Adam at 1e-3).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from timbrelab.configs import check_positive_int, config_from_dict
from timbrelab.errors import BadParameterError
from timbrelab.features.standardize import Standardizer

ARCHITECTURES = ("single-layer", "multi-layer", "small-rect", "dieleman")
#: (frequency bins, time frames, filters) of the musically motivated first layer (paper, III-B)
FILTER_SHAPES = ((5, 1, 128), (5, 3, 64), (5, 5, 32), (80, 1, 128), (80, 3, 64), (80, 5, 32))
#: width of the baselines when a config does not say (Dieleman & Schrauwen used 32 filters)
DEFAULT_WIDTH = {"small-rect": 32, "dieleman": 32}
SMALL_RECT_CHANNELS = (1, 2, 2, 4, 4)
SMALL_RECT_POOLS = ((2, 2), (2, 2), (2, 2), (3, 4))
DIELEMAN_KERNEL, DIELEMAN_POOL = 8, 4


@dataclass(frozen=True)
class TimbreCNNConfig:
    """Settings of one timbre CNN; plain data that serialises to JSON (``to_dict`` / ``from_dict``).

    ``width``: channel width of ``small-rect`` / ``dieleman`` (None → ``DEFAULT_WIDTH``; ignored by the
    paper's models). ``dropout``: before each dense layer (paper: 0.5). ``conv_dropout``: before the
    multi-layer's 3×3 conv layers (the paper's text has none; the authors' Keras code used 0.25).
    ``first_pool``: the multi-layer's (frequency, time) pool after the first layer. ``time_bins``:
    time steps the single-layer keeps per map after pooling.
    """

    arch: str = "multi-layer"
    n_classes: int = 11
    n_mels: int = 96
    frames: int = 128
    width: int | None = None
    dropout: float = 0.5
    conv_dropout: float = 0.0
    first_pool: tuple[int, int] = (12, 16)
    time_bins: int = 4

    def __post_init__(self):
        if self.arch not in ARCHITECTURES:
            raise BadParameterError(f"unknown timbre CNN architecture '{self.arch}' (use one of {', '.join(ARCHITECTURES)})")
        object.__setattr__(self, "first_pool", tuple(int(p) for p in self.first_pool))
        ints = {"n_classes": self.n_classes, "n_mels": self.n_mels, "frames": self.frames, "time_bins": self.time_bins}
        if self.width is not None:
            ints["width"] = self.width
        for name, v in ints.items():
            check_positive_int("timbre CNN", name, v)
        if self.n_classes < 2:
            raise BadParameterError(f"timbre CNN: need at least 2 classes, got {self.n_classes}")
        for name in ("dropout", "conv_dropout"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0.0 <= v < 1.0):
                raise BadParameterError(f"timbre CNN: {name} must be in [0, 1), got {v!r}")
        if len(self.first_pool) != 2 or min(self.first_pool) < 1:
            raise BadParameterError(f"timbre CNN: first_pool must be two positive sizes, got {self.first_pool}")
        self._check_sizes()

    def _check_sizes(self) -> None:
        m, t = self.n_mels, self.frames
        if self.arch in ("single-layer", "multi-layer"):
            tallest = max(s[0] for s in FILTER_SHAPES)
            if m < tallest:
                raise BadParameterError(f"{self.arch}: needs at least {tallest} mel bands (its tallest filter), got {m}")
        if self.arch == "single-layer" and t < self.time_bins:
            raise BadParameterError(f"single-layer: {t} frames cannot be pooled to {self.time_bins} time steps")
        if self.arch == "multi-layer":
            pf, pt = self.first_pool
            if m // pf // 4 < 1 or t // pt // 4 < 1:
                raise BadParameterError(f"multi-layer: pool {self.first_pool} then 2×2 twice leaves nothing of {m}×{t}")
        if self.arch == "small-rect" and (m // 24 < 1 or t // 32 < 1):
            raise BadParameterError(f"small-rect: needs at least 24 bands × 32 frames, got {m}×{t}")
        if self.arch == "dieleman" and _dieleman_steps(t) < 1:
            raise BadParameterError(f"dieleman: needs at least {4 * (4 + 7) + 7} frames, got {t}")

    @property
    def resolved_width(self) -> int | None:
        if self.arch not in DEFAULT_WIDTH:
            return None
        return int(self.width or DEFAULT_WIDTH[self.arch])

    def to_dict(self) -> dict:
        d = asdict(self)
        d["first_pool"] = list(self.first_pool)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TimbreCNNConfig":
        return config_from_dict(cls, d, "timbre CNN")


def _dieleman_steps(frames: int) -> int:
    t = (frames - DIELEMAN_KERNEL + 1) // DIELEMAN_POOL
    return (t - DIELEMAN_KERNEL + 1) // DIELEMAN_POOL


# ----------------------------------------------------------------------------------------- blocks


class _TimbreBranch(nn.Module):
    """conv (freq × time, 'same' in time, 'same' or 'valid' in frequency) → BN → ELU."""

    def __init__(self, freq: int, time: int, filters: int, same_freq: bool):
        super().__init__()
        self.freq, self.time, self.same_freq = freq, time, same_freq
        self.conv = nn.Conv2d(1, filters, (freq, time))
        self.bn = nn.BatchNorm2d(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top = (self.freq - 1) // 2 if self.same_freq else 0
        bottom = self.freq - 1 - top if self.same_freq else 0
        left = (self.time - 1) // 2
        x = F.pad(x, (left, self.time - 1 - left, top, bottom))
        return F.elu(self.bn(self.conv(x)))


class MusicallyMotivatedLayer(nn.Module):
    """The paper's first layer: parallel branches of the ``FILTER_SHAPES`` filters; returns a list of maps."""

    def __init__(self, same_freq: bool):
        super().__init__()
        self.branches = nn.ModuleList(_TimbreBranch(f, t, n, same_freq) for f, t, n in FILTER_SHAPES)

    @property
    def out_channels(self) -> int:
        return sum(n for _, _, n in FILTER_SHAPES)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [b(x) for b in self.branches]


def _conv_bn_elu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ELU())


class SingleLayerBody(nn.Module):
    def __init__(self, c: TimbreCNNConfig):
        super().__init__()
        self.layer = MusicallyMotivatedLayer(same_freq=False)
        self.pool = nn.AdaptiveMaxPool2d((1, c.time_bins))
        self.dropout = nn.Dropout(c.dropout)
        self.out = nn.Linear(self.layer.out_channels * c.time_bins, c.n_classes)

    def forward(self, x):
        maps = [self.pool(m) for m in self.layer(x)]
        return self.out(self.dropout(torch.cat(maps, dim=1).flatten(1)))


class MultiLayerBody(nn.Module):
    def __init__(self, c: TimbreCNNConfig):
        super().__init__()
        self.layer = MusicallyMotivatedLayer(same_freq=True)
        self.pool1 = nn.MaxPool2d(c.first_pool)
        self.drop2 = nn.Dropout(c.conv_dropout)
        self.conv2 = _conv_bn_elu(self.layer.out_channels, 128)
        self.drop3 = nn.Dropout(c.conv_dropout)
        self.conv3 = _conv_bn_elu(128, 128)
        f = c.n_mels // c.first_pool[0] // 2 // 2
        t = c.frames // c.first_pool[1] // 2 // 2
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(c.dropout), nn.Linear(128 * f * t, 256), nn.ELU(),
            nn.Dropout(c.dropout), nn.Linear(256, c.n_classes),
        )

    def forward(self, x):
        x = self.pool1(torch.cat(self.layer(x), dim=1))
        x = F.max_pool2d(self.conv2(self.drop2(x)), 2)
        x = F.max_pool2d(self.conv3(self.drop3(x)), 2)
        return self.head(x)


class SmallRectBody(nn.Module):
    def __init__(self, c: TimbreCNNConfig):
        super().__init__()
        w = c.resolved_width
        chans = [1] + [w * k for k in SMALL_RECT_CHANNELS]
        pools = [nn.MaxPool2d(p) for p in SMALL_RECT_POOLS] + [nn.AdaptiveMaxPool2d(1)]
        self.features = nn.Sequential(*[
            nn.Sequential(_conv_bn_elu(chans[i], chans[i + 1]), pools[i]) for i in range(len(SMALL_RECT_CHANNELS))
        ])
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(c.dropout), nn.Linear(chans[-1], c.n_classes))

    def forward(self, x):
        return self.head(self.features(x))


class DielemanBody(nn.Module):
    def __init__(self, c: TimbreCNNConfig):
        super().__init__()
        w = c.resolved_width
        self.features = nn.Sequential(
            nn.Conv1d(c.n_mels, w, DIELEMAN_KERNEL), nn.BatchNorm1d(w), nn.ELU(), nn.MaxPool1d(DIELEMAN_POOL),
            nn.Conv1d(w, w, DIELEMAN_KERNEL), nn.BatchNorm1d(w), nn.ELU(), nn.MaxPool1d(DIELEMAN_POOL),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(c.dropout), nn.Linear(w * _dieleman_steps(c.frames), 2 * w), nn.ELU(),
            nn.Dropout(c.dropout), nn.Linear(2 * w, c.n_classes),
        )

    def forward(self, x):
        return self.head(self.features(x.squeeze(1)))  # (B, 1, M, T) → bands as channels


_BODIES = {"single-layer": SingleLayerBody, "multi-layer": MultiLayerBody, "small-rect": SmallRectBody, "dieleman": DielemanBody}


# ------------------------------------------------------------------------------------------ model


class TimbreCNN(nn.Module):
    """``Standardizer`` → architecture body. ``(batch, 1, n_mels, frames)`` log-mel → logits ``(batch, n_classes)``."""

    def __init__(self, config: TimbreCNNConfig):
        super().__init__()
        self.config = config
        self.standardizer = Standardizer(config.n_mels)
        self.body = _BODIES[config.arch](config)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-normal weights (fan-in), zero biases, batch norm at identity; the output layer all zeros.

        Deterministic given the torch seed. The zero output layer starts training at a cross-entropy
        of exactly log(n_classes): the pooled first-layer features are all large and positive
        (maxima of ~3000 batch-normalised values, about 3.5 each), so a random output layer, He-normal
        as the authors' Keras code or Glorot, starts at 2–4× that and takes the first steps to undo it.
        """
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.reset_parameters()
        nn.init.zeros_(self.output_layer.weight)

    @property
    def output_layer(self) -> nn.Linear:
        """The last dense layer (its outputs are the logits)."""
        return [m for m in self.body.modules() if isinstance(m, nn.Linear)][-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or x.shape[1] != 1 or tuple(x.shape[2:]) != (c.n_mels, c.frames):
            raise BadParameterError(
                f"{c.arch}: expected log-mel windows (batch, 1, {c.n_mels}, {c.frames}), got {tuple(x.shape)} "
                "(cut longer spectrograms with timbrelab.features.windows.windows)"
            )
        return self.body(self.standardizer(x))

    def extra_repr(self) -> str:
        return f"arch={self.config.arch}, n_classes={self.config.n_classes}, parameters={count_parameters(self)}"


class TimbreCNNEnsemble(nn.Module):
    """Trained ``TimbreCNN``s of one input shape and class list as one model: the mean of their softmax
    outputs, returned as its logarithm (so a softmax of the output gives the mean back). For scoring
    (``timbrelab bench timbre-cnn --evaluate A B C``); it is not a checkpoint kind and is not shipped."""

    def __init__(self, members):
        super().__init__()
        members = list(members)
        if not members:
            raise BadParameterError("an ensemble needs at least one model")
        shapes = {(m.config.n_classes, m.config.n_mels, m.config.frames) for m in members}
        if len(shapes) != 1:
            raise BadParameterError(f"the ensemble's models differ in classes or input shape: {sorted(shapes)}")
        self.members = nn.ModuleList(members)
        self.config = members[0].config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.stack([torch.softmax(m(x), dim=1) for m in self.members]).mean(dim=0)
        return torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))


def build_model(config: TimbreCNNConfig | dict) -> TimbreCNN:
    """A fresh ``TimbreCNN`` for a config (or its ``to_dict``); call ``torch.manual_seed`` first for a fixed init."""
    if isinstance(config, dict):
        config = TimbreCNNConfig.from_dict(config)
    if not isinstance(config, TimbreCNNConfig):
        raise BadParameterError(f"build_model takes a TimbreCNNConfig or its dict, got {type(config).__name__}")
    return TimbreCNN(config)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; buffers such as batch-norm statistics and the standardizer are not counted."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only))


def parameters_of(config: TimbreCNNConfig) -> int:
    """Trainable parameter count of a config, without allocating weights (built on the meta device)."""
    with torch.device("meta"):
        return count_parameters(TimbreCNN(config))


def width_for_budget(arch: str, target: int, n_classes: int = 11, at_least: bool = False, **settings) -> int:
    """The width of ``small-rect`` / ``dieleman`` whose parameter count is closest to ``target``.

    ``at_least=True``: the smallest width whose count is ≥ ``target`` instead.
    """
    if arch not in DEFAULT_WIDTH:
        raise BadParameterError(f"only {', '.join(DEFAULT_WIDTH)} have a width to choose, not '{arch}'")
    count = lambda w: parameters_of(TimbreCNNConfig(arch, n_classes, width=w, **settings))  # noqa: E731
    lo, hi = 1, 4096
    if count(hi) < target:
        raise BadParameterError(f"{arch}: a budget of {target} parameters needs a width above {hi}")
    while lo < hi:  # smallest width with count ≥ target (counts grow with width)
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if count(mid) < target else (lo, mid)
    if not at_least and lo > 1 and abs(count(lo - 1) - target) <= abs(count(lo) - target):
        return lo - 1
    return lo


def paper_configs(n_classes: int = 11, **settings) -> dict[str, TimbreCNNConfig]:
    """The benchmark's named configurations.

    ``single-layer`` and ``multi-layer`` as in the paper; ``small-rect-1x`` / ``dieleman-1x`` with the
    parameter count closest to the multi-layer's, and ``small-rect-2x`` / ``dieleman-2x`` with the
    smallest width that has at least twice it (widths found by ``width_for_budget`` at this
    ``n_classes``), so the benchmark can compare at matched budgets and check "multi-layer ≥
    small-rect with at most half its parameters" against the ``-2x`` models.
    ``settings`` (e.g. ``n_mels``, ``frames``, ``dropout``) apply to all of them.
    """
    single = TimbreCNNConfig("single-layer", n_classes, **settings)
    multi = TimbreCNNConfig("multi-layer", n_classes, **settings)
    budget = parameters_of(multi)
    out = {"single-layer": single, "multi-layer": multi}
    for arch in ("small-rect", "dieleman"):
        for factor in (1, 2):
            width = width_for_budget(arch, factor * budget, n_classes, at_least=factor == 2, **settings)
            out[f"{arch}-{factor}x"] = replace(TimbreCNNConfig(arch, n_classes, **settings), width=width)
    return out
