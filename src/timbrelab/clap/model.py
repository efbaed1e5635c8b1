"""TimbreCLAP: timbrelab's own language–audio embedding, small enough to train on this CPU.

Two towers into one ``dim``-dimensional space (rows L2-normalised, so a dot product is a cosine):

- **audio**: the sound's timbre statistics (``features.timbre_stats``: long-term spectrum shape,
  per-band movement, decay and envelope correlation — what EQ and reverb change, and much of what
  tells instruments apart), standardised with statistics fitted on the training items, then an MLP;
- **text**: the offline sentence encoder (``text.encoders``, MiniLM in numpy), frozen, beside an
  optional *word → effect prior* — what the crowd's settings for the nearest training words say the
  text means as an EQ curve and as a reverb (a kernel regression over a memory of training words that
  ships in the checkpoint; :meth:`TimbreCLAPNet._recall`) — then a trained MLP projection. Words are
  embedded as the probe prompts them: ``"a <word> sound"``.

:class:`TimbreCLAP` is the ready-to-use model (the probe's embedder protocol: ``name``,
``embed_audio``, ``embed_text``; plus ``fingerprint`` and ``audio_center`` for describe/search); it
saves to and loads from the one checkpoint format (``ml.checkpoint``), kind ``timbreclap``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from timbrelab.errors import BadParameterError, MissingComponentError

CHECKPOINT_KIND = "timbreclap"


@dataclass(frozen=True)
class TimbreCLAPConfig:
    """The network's shape (JSON-able; saved in the checkpoint)."""

    stats_dim: int = 197
    text_encoder: str = "minilm"
    text_dim: int = 384
    dim: int = 128
    audio_hidden: tuple = (512, 256)
    text_hidden: tuple = (256,)
    dropout: float = 0.1
    init_temperature: float = 0.07
    audio_linear: bool = False  # a linear path beside the audio MLP (an effect's change of the statistics then moves the embedding near-linearly)
    prior_eq_words: int = 0  # entries of the word → EQ memory (0: no prior)
    prior_reverb_words: int = 0  # entries of the word → reverb memory
    prior_eq_dim: int = 40
    prior_reverb_dim: int = 5
    prior_temperature: float = 0.05
    prior_top_k: int = 16

    def __post_init__(self):
        object.__setattr__(self, "audio_hidden", tuple(int(h) for h in self.audio_hidden))
        object.__setattr__(self, "text_hidden", tuple(int(h) for h in self.text_hidden))
        if self.dim < 2 or self.stats_dim < 1 or self.text_dim < 1:
            raise BadParameterError("TimbreCLAP: dimensions must be positive (dim ≥ 2)")
        if not 0 <= self.dropout < 1:
            raise BadParameterError(f"TimbreCLAP: dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["audio_hidden"], d["text_hidden"] = list(self.audio_hidden), list(self.text_hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TimbreCLAPConfig":
        from timbrelab.configs import config_from_dict

        return config_from_dict(cls, d, "TimbreCLAP")


def _mlp(d_in: int, hidden: tuple, d_out: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d_in, h), nn.GELU(), nn.Dropout(dropout)]
        d_in = h
    layers.append(nn.Linear(d_in, d_out))
    return nn.Sequential(*layers)


class TimbreCLAPNet(nn.Module):
    """The two towers and the contrastive temperature (``logit_scale = log(1 / temperature)``)."""

    def __init__(self, config: TimbreCLAPConfig | dict | None = None):
        super().__init__()
        from timbrelab.features.standardize import Standardizer

        c = config if isinstance(config, TimbreCLAPConfig) else TimbreCLAPConfig.from_dict(config or {})
        self.config = c
        self.standardizer = Standardizer(c.stats_dim)  # one "band" per statistic, one "frame" per item
        self.audio = _mlp(c.stats_dim, c.audio_hidden, c.dim, c.dropout)
        self.audio_skip = nn.Linear(c.stats_dim, c.dim, bias=False) if c.audio_linear else None
        # the word → effect prior: a memory of training words (their sentence-encoder rows) and the crowd's
        # settings for them (EQ: the mean played curve, ±1; reverb: the mean standardised log d, g, m, log f, E)
        self.register_buffer("eq_keys", torch.zeros(c.prior_eq_words, c.text_dim))
        self.register_buffer("eq_values", torch.zeros(c.prior_eq_words, c.prior_eq_dim))
        self.register_buffer("reverb_keys", torch.zeros(c.prior_reverb_words, c.text_dim))
        self.register_buffer("reverb_values", torch.zeros(c.prior_reverb_words, c.prior_reverb_dim))
        prior_dim = (c.prior_eq_dim if c.prior_eq_words else 0) + (c.prior_reverb_dim if c.prior_reverb_words else 0)
        self.text = _mlp(c.text_dim + prior_dim, c.text_hidden, c.dim, c.dropout)
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1.0 / c.init_temperature))))

    def encode_audio(self, stats: torch.Tensor) -> torch.Tensor:
        """``(n, stats_dim)`` timbre statistics → ``(n, dim)``, L2-normalised."""
        x = self.standardizer(stats[..., None])[..., 0]
        z = self.audio(x) if self.audio_skip is None else self.audio(x) + self.audio_skip(x)
        return nn.functional.normalize(z, dim=-1)

    def _recall(self, rows: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Kernel regression over the memory: the settings of the ``prior_top_k`` words nearest each row
        (cosine of sentence-encoder rows), softmax-weighted at ``prior_temperature``. A row's own entry
        (cosine > 0.9999: the same text) is skipped, so a training word's prior is what its neighbours
        say — as it is for a word the model never saw."""
        sims = rows @ keys.T
        sims = sims.masked_fill(sims > 0.9999, float("-inf"))
        k = min(self.config.prior_top_k, keys.shape[0])
        top, idx = sims.topk(k, dim=1)
        w = torch.softmax(top / self.config.prior_temperature, dim=1)
        w = torch.nan_to_num(w)  # a memory of one entry that is the row itself
        return (w[..., None] * values[idx]).sum(dim=1)

    def text_features(self, rows: torch.Tensor) -> torch.Tensor:
        parts = [rows]
        if self.config.prior_eq_words:
            parts.append(self._recall(rows, self.eq_keys, self.eq_values))
        if self.config.prior_reverb_words:
            parts.append(self._recall(rows, self.reverb_keys, self.reverb_values))
        return torch.cat(parts, dim=-1)

    def encode_text(self, rows: torch.Tensor) -> torch.Tensor:
        """``(n, text_dim)`` sentence-encoder rows (→ with the word → effect prior) → ``(n, dim)``, L2-normalised."""
        return nn.functional.normalize(self.text(self.text_features(rows)), dim=-1)


@dataclass
class TimbreCLAP:
    """The trained model, ready to embed (the probe's :class:`~timbrelab.probe.embedders.Embedder`)."""

    net: TimbreCLAPNet
    stats_config: object  # features.timbre_stats.TimbreStatsConfig
    name: str = "timbreclap"
    info: dict = field(default_factory=dict)
    audio_center: np.ndarray | None = None  # mean audio embedding of the training clips (describe centres on it)
    fingerprint: str = ""  # the checkpoint's hash when loaded from the registry

    def __post_init__(self):
        self.net.eval()
        self._text_cache: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self.net.config.dim

    def audio_stats(self, audio, sample_rate: int) -> np.ndarray:
        from timbrelab.features.timbre_stats import timbre_stats

        return timbre_stats(audio, sample_rate, self.stats_config)

    @torch.no_grad()
    def embed_stats(self, stats: np.ndarray) -> np.ndarray:
        """``(n, stats_dim)`` → ``(n, dim)`` float32."""
        return self.net.encode_audio(torch.from_numpy(np.asarray(stats, np.float32))).numpy()

    def embed_audio(self, audio, sample_rate: int) -> np.ndarray:
        """float32 ``(channels, samples)`` (the first ``stats_config.max_seconds``) → ``(dim,)``."""
        return self.embed_stats(self.audio_stats(audio, sample_rate)[None])[0]

    @torch.no_grad()
    def embed_text(self, texts) -> np.ndarray:
        """``n`` texts → ``(n, dim)`` float32 (the sentence encoder's rows are cached per text)."""
        from timbrelab.text.encoders import embed

        texts = [str(t) for t in texts]
        new = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        if new:
            rows = embed(new, self.net.config.text_encoder)
            for t, r in zip(new, rows):
                self._text_cache[t] = r
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        rows = np.stack([self._text_cache[t] for t in texts]).astype(np.float32)
        return self.net.encode_text(torch.from_numpy(rows)).numpy()

    def to_checkpoint(self, name: str | None = None):
        from timbrelab.ml.checkpoint import Checkpoint, state_to_arrays

        tensors = state_to_arrays(self.net.state_dict())
        if self.audio_center is not None:
            tensors["audio_center"] = np.asarray(self.audio_center, np.float32)
        return Checkpoint(name=name or self.name.replace("-", "_"), kind=CHECKPOINT_KIND, tensors=tensors, config=self.net.config.to_dict(),
                          features=self.stats_config.to_dict(), extra={"embedder_name": self.name, **self.info})

    @classmethod
    def from_checkpoint(cls, ckpt) -> "TimbreCLAP":
        from timbrelab.features.timbre_stats import TimbreStatsConfig
        from timbrelab.ml.checkpoint import arrays_to_state

        if ckpt.kind != CHECKPOINT_KIND:
            raise MissingComponentError(f"checkpoint '{ckpt.name}' holds a {ckpt.kind}, not a TimbreCLAP model")
        tensors = dict(ckpt.tensors)
        center = tensors.pop("audio_center", None)
        net = TimbreCLAPNet(ckpt.config)
        net.load_state_dict(arrays_to_state(tensors))
        extra = dict(ckpt.extra or {})
        name = extra.pop("embedder_name", ckpt.name.replace("_", "-"))
        return cls(net, TimbreStatsConfig.from_dict(ckpt.features or {}), name, extra, center)
