"""The text-queried separator: a mask network on the shared complex STFT, conditioned by FiLM.

Shape (sized for two CPU cores; the issue allows "a better CPU-sized U-Net"): the mixture's
magnitude STFT (``features.stft``: 22,050 Hz, Hann 1024 / hop 256, 513 bins) is compressed
(``log(|X| + 1e-3)``), standardised per bin (statistics fit on training mixtures, shipped in the
weights), projected frame by frame to ``hidden`` channels, then passes ``len(dilations)`` residual
blocks of dilated 1-D convolutions over time (a temporal convolutional network, as Open-Unmix's
frame-wise encoder/decoder around a time model; the receptive field is stated by
``receptive_field_frames``). Every block is modulated by FiLM (a per-channel scale and shift) from
the query vector. A decoder predicts a magnitude mask in [0, 1] per bin and frame; the estimate is
``istft(mask · X)`` (the mixture's phase). No normalisation runs across time, so a frame's output
depends only on the frames within the receptive field: chunked processing with enough context gives
the same samples as one pass over the whole file (``separate/stream.py``).

The query network is the text tower of timbrelab's language–audio model (``timbreclap``: frozen
MiniLM sentence rows → its trained projection, 128-d): AudioSep's CLAP text encoder, here. The
two-phase recipe (seed 002) trains first with the query network frozen, then unfrozen
(``set_query_trainable``).

Cost per second of audio (mono, 86 frames): about ``macs_per_frame() · 86`` multiply-adds
(``Separator.cost()`` states it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from timbrelab.errors import BadParameterError, MissingComponentError

CHECKPOINT_KIND = "text-queried-separator"


@dataclass(frozen=True)
class SeparatorConfig:
    sample_rate: int = 22050
    n_fft: int = 1024
    hop: int = 256
    hidden: int = 256
    dilations: tuple = (1, 2, 4, 8, 16, 1, 2, 4, 8, 16)
    kernel: int = 3
    query_dim: int = 128  # the query network's output (TimbreCLAP's shared space)
    query_config: dict = field(default_factory=dict)  # the TimbreCLAP text tower's config

    def __post_init__(self):
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))
        if self.hidden < 8 or self.kernel < 1 or self.kernel % 2 == 0 or not self.dilations or min(self.dilations) < 1:
            raise BadParameterError("separator: hidden ≥ 8, an odd kernel and dilations ≥ 1")

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def receptive_field_frames(self) -> int:
        return 1 + sum((self.kernel - 1) * d for d in self.dilations)

    def stft_config(self):
        from timbrelab.features.stft import STFTConfig

        return STFTConfig(self.n_fft, self.hop, "hann", True)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dilations"] = list(self.dilations)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SeparatorConfig":
        from timbrelab.configs import config_from_dict

        return config_from_dict(cls, d, "separator")


class _FrameNorm(nn.Module):
    """LayerNorm over channels of ``(batch, channels, frames)``, frame by frame (never across time)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x):
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class _Block(nn.Module):
    def __init__(self, hidden: int, kernel: int, dilation: int, query_dim: int):
        super().__init__()
        self.conv = nn.Conv1d(hidden, hidden, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
        self.norm = _FrameNorm(hidden)
        self.film = nn.Linear(query_dim, 2 * hidden)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.out = nn.Conv1d(hidden, hidden, 1)

    def forward(self, x, q):
        gamma, beta = self.film(q).unsqueeze(-1).chunk(2, dim=1)
        y = self.norm(self.conv(x)) * (1 + gamma) + beta
        return x + self.out(nn.functional.gelu(y))


def query_tower(config: dict):
    """A TimbreCLAP network without its audio tower: the separator's query network."""
    from timbrelab.clap.model import TimbreCLAPNet

    net = TimbreCLAPNet(config)
    net.audio = nn.Identity()
    net.audio_skip = None
    net.logit_scale.requires_grad_(False)
    return net


class SeparatorNet(nn.Module):
    """Mixture STFT + query vector → mask (see the module docstring)."""

    def __init__(self, config: SeparatorConfig | dict):
        super().__init__()
        from timbrelab.features.standardize import Standardizer
        from timbrelab.features.stft import ISTFT, STFT

        c = config if isinstance(config, SeparatorConfig) else SeparatorConfig.from_dict(config)
        self.config = c
        self.stft, self.istft = STFT(c.stft_config()), ISTFT(c.stft_config())
        self.standardizer = Standardizer(c.n_bins)
        self.encoder = nn.Sequential(nn.Conv1d(c.n_bins, c.hidden, 1), _FrameNorm(c.hidden), nn.GELU())
        self.blocks = nn.ModuleList(_Block(c.hidden, c.kernel, d, c.query_dim) for d in c.dilations)
        self.decoder = nn.Sequential(nn.Conv1d(2 * c.hidden, c.hidden, 1), nn.GELU(), nn.Conv1d(c.hidden, c.n_bins, 1))
        self.query = query_tower(c.query_config) if c.query_config else None

    @staticmethod
    def compress(mag: torch.Tensor) -> torch.Tensor:
        return torch.log(mag + 1e-3)

    def embed_queries(self, rows: torch.Tensor) -> torch.Tensor:
        """Sentence-encoder rows ``(n, text_dim)`` → query vectors ``(n, query_dim)``."""
        if self.query is None:
            raise MissingComponentError("this separator has no query network")
        return self.query.encode_text(rows) * self.config.query_dim ** 0.5  # unit-variance entries for FiLM

    def mask(self, spec: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """Complex ``(batch, bins, frames)`` + query vectors ``(batch, query_dim)`` → mask in [0, 1]."""
        x = self.standardizer(self.compress(spec.abs()))
        h0 = self.encoder(x)
        h = h0
        for b in self.blocks:
            h = b(h, q)
        return torch.sigmoid(self.decoder(torch.cat([h, h0], dim=1)))

    def forward(self, audio: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """Mono mixtures ``(batch, samples)`` → estimates ``(batch, samples)``."""
        spec = self.stft(audio)
        return self.istft(self.mask(spec, q) * spec, audio.shape[-1])

    def separation_parameters(self):
        return [p for n, p in self.named_parameters() if not n.startswith("query.")]

    def set_query_trainable(self, trainable: bool) -> None:
        if self.query is not None:
            for n, p in self.query.named_parameters():
                p.requires_grad_(trainable and n != "logit_scale")

    def macs_per_frame(self) -> int:
        c = self.config
        blocks = len(c.dilations) * (c.hidden * c.hidden * c.kernel + c.hidden * c.hidden)
        return c.n_bins * c.hidden + blocks + 2 * c.hidden * c.hidden + c.hidden * c.n_bins


class QueryRows:
    """The frozen sentence encoder's rows for query texts, computed once per text."""

    def __init__(self, encoder: str = "minilm"):
        self.encoder = encoder
        self.rows: dict[str, np.ndarray] = {}

    def add(self, texts) -> None:
        from timbrelab.text.encoders import embed

        new = [t for t in dict.fromkeys(texts) if t not in self.rows]
        if new:
            self.rows.update(zip(new, embed(new, self.encoder)))

    def __call__(self, texts) -> torch.Tensor:
        self.add(texts)
        return torch.from_numpy(np.stack([self.rows[t] for t in texts]).astype(np.float32))


@dataclass
class Separator:
    """The trained separator, ready to use: ``separate(audio, sample_rate, ["the violin"])``."""

    net: SeparatorNet
    name: str = "separator"
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.net.eval()
        self._rows = QueryRows(self.net.config.query_config.get("text_encoder", "minilm"))

    @property
    def sample_rate(self) -> int:
        return self.net.config.sample_rate

    def query_rows(self, texts) -> np.ndarray:
        """The frozen sentence encoder's rows for ``texts`` (cached per text)."""
        return self._rows(texts).numpy()

    @torch.no_grad()
    def query_vectors(self, texts) -> torch.Tensor:
        return self.net.embed_queries(torch.from_numpy(self.query_rows(texts)))

    @torch.no_grad()
    def masks(self, mono: np.ndarray, queries) -> np.ndarray:
        """Mono audio ``(samples,)`` at the model's rate → masks ``(n_queries, bins, frames)``."""
        q = self.query_vectors(queries)
        spec = self.net.stft(torch.from_numpy(np.ascontiguousarray(mono, np.float32))[None])
        return self.net.mask(spec.expand(len(queries), -1, -1), q).numpy()

    @torch.no_grad()
    def apply_masks(self, audio: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Audio ``(channels, samples)`` at the model's rate, masks ``(n, bins, frames)`` → ``(n, channels, samples)``."""
        x = torch.from_numpy(np.ascontiguousarray(audio, np.float32))
        spec = self.net.stft(x)  # (channels, bins, frames)
        m = torch.from_numpy(masks)[:, None]
        return self.net.istft(m * spec[None], x.shape[-1]).numpy()

    def separate(self, audio, sample_rate: int, queries) -> np.ndarray:
        """Audio float32 ``(channels, samples)`` at ``sample_rate`` → estimates ``(n_queries, channels, samples)``
        at the same rate, whole in memory (``separate.stream.separate_file`` for files of any length).
        The mask is computed on the down-mix at the model's rate and applied to every channel; content
        above the model's Nyquist frequency (11,025 Hz) stays in the residual."""
        from timbrelab.audio import as_audio, check_sample_rate, resample

        queries = check_queries(queries)
        x = as_audio(audio)
        sr = check_sample_rate(sample_rate)
        y = resample(x, sr, self.sample_rate) if sr != self.sample_rate else x
        from timbrelab.separate.stream import separate_array

        est = separate_array(self, y, queries)
        if sr != self.sample_rate:
            est = np.stack([resample(e, self.sample_rate, sr) for e in est])
            est = _fit_length(est, x.shape[1])
        return est.astype(np.float32)

    def cost(self) -> dict:
        c = self.net.config
        fps = c.sample_rate / c.hop
        sep_params = sum(p.numel() for p in self.net.separation_parameters())
        q_params = sum(p.numel() for p in self.net.query.parameters()) if self.net.query is not None else 0
        return {"parameters": sep_params, "query_parameters": q_params, "macs_per_second": int(self.net.macs_per_frame() * fps),
                "receptive_field_s": round(c.receptive_field_frames * c.hop / c.sample_rate, 3)}

    def to_checkpoint(self, name: str | None = None):
        from timbrelab.ml.checkpoint import Checkpoint, state_to_arrays

        return Checkpoint(name=name or self.name, kind=CHECKPOINT_KIND, tensors=state_to_arrays(self.net.state_dict()),
                          config=self.net.config.to_dict(), features=self.net.config.stft_config().to_dict(), extra=dict(self.info))

    @classmethod
    def from_checkpoint(cls, ckpt) -> "Separator":
        from timbrelab.ml.checkpoint import arrays_to_state

        if ckpt.kind != CHECKPOINT_KIND:
            raise MissingComponentError(f"checkpoint '{ckpt.name}' holds a {ckpt.kind}, not a separator")
        net = SeparatorNet(ckpt.config)
        net.load_state_dict(arrays_to_state(ckpt.tensors))
        return cls(net, ckpt.name, dict(ckpt.extra or {}))


def check_queries(queries) -> list[str]:
    if isinstance(queries, str):
        queries = [queries]
    out = [" ".join(str(q).split()) for q in queries]
    if not out or any(not q for q in out):
        raise BadParameterError("separate: give at least one non-empty description of what to extract, e.g. \"the violin\"")
    if any(len(q) > 200 for q in out):
        raise BadParameterError("separate: a description is at most 200 characters")
    return out


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[-1] >= n:
        return x[..., :n]
    pad = [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])]
    return np.pad(x, pad)
