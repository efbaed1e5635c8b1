"""The explorer's Gaussian-mixture VAE and the :class:`Explorer` that plays it.

After Luo, Agres & Herremans (ISMIR 2019, code yjlolo/gmvae-synth): two encoders read a note's
log-mel spectrogram (``explore.data.FEATURES``: 128 bands × 44 frames, standardised per band) and
give diagonal Gaussians over a **timbre** latent and a **pitch** latent (16-d each); a decoder maps
the two together back to the spectrogram. Each latent has a Gaussian-mixture prior with learnable
means and variances: one component per instrument class of the taxonomy for timbre, one per MIDI
pitch 28 … 96 for pitch.

Training (``explore/train.py``) is supervised, as every note is labelled: the loss of a note of
instrument ``i`` and pitch ``p`` is

    ½‖x̂ − x‖² + KL(q(z_t|x) ‖ p(z_t|i)) + KL(q(z_p|x) ‖ p(z_p|p))
      + λ_cls · [CE(p(i|z_t)) + CE(p(p|z_p))]  + λ_adv · adversaries

where ``p(k|z) ∝ N(z; μ_k, σ_k²)`` is the mixture's own posterior (a classifier with no weights of
its own), and the optional adversaries (gradient reversal, Ganin & Lempitsky 2015 — not in the
paper) are small heads that try to read the instrument from z_pitch and the pitch from z_timbre;
the encoders are trained to defeat them, which keeps each latent about its own factor.

Timbre interpolation (the paper's demo): ``z_t' = z_t + α (μ_target − μ_source)``, pitch latent kept.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from timbrelab.configs import config_from_dict
from timbrelab.errors import BadParameterError
from timbrelab.explore.data import FEATURES, N_FRAMES, NOTE_SAMPLES, PITCHES
from timbrelab.features.standardize import Standardizer

MODEL_NAME = "explorer"
KIND = "gmvae"
MIN_LOGVAR = -6.0  # the mixture components' variances stay above e^-6


@dataclass(frozen=True)
class GMVAEConfig:
    n_mels: int = FEATURES.n_mels
    n_frames: int = N_FRAMES
    latent_dim: int = 16
    channels: tuple = (32, 64, 64)  # the stride-2 convolutions of each encoder
    decoder_channels: tuple = (32, 32, 16)  # the decoder's: its dense layer's output, then one per transposed convolution but the last
    hidden: int = 256
    n_instruments: int = 28
    n_pitches: int = len(PITCHES)
    adversary_hidden: int = 64  # 0: no adversaries

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        d["decoder_channels"] = list(self.decoder_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "GMVAEConfig":
        d = dict(d)
        for k in ("channels", "decoder_channels"):
            if k in d:
                d[k] = tuple(d[k])
        return config_from_dict(cls, d, "GMVAE")

    def reduced_shape(self) -> tuple[int, int, int]:
        h, w = self.n_mels, self.n_frames
        for _ in self.channels:
            h, w = (h + 1) // 2, (w + 1) // 2
        return self.channels[-1], h, w


class _Encoder(nn.Module):
    def __init__(self, c: GMVAEConfig):
        super().__init__()
        layers, cin = [], 1
        for cout in c.channels:
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        self.conv = nn.Sequential(*layers)
        ch, h, w = c.reduced_shape()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(ch * h * w, c.hidden), nn.ReLU(), nn.Linear(c.hidden, 2 * c.latent_dim))

    def forward(self, x):  # (B, mels, frames) → mean, log-variance (B, d)
        mu, logvar = self.head(self.conv(x[:, None])).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 6.0)


class _Decoder(nn.Module):
    def __init__(self, c: GMVAEConfig):
        super().__init__()
        self.c = c
        if len(c.decoder_channels) != len(c.channels):
            raise BadParameterError("GMVAE: the decoder needs as many channel counts as the encoder has convolutions")
        _, h, w = c.reduced_shape()
        self.fc = nn.Sequential(nn.Linear(2 * c.latent_dim, c.hidden), nn.ReLU(), nn.Linear(c.hidden, c.decoder_channels[0] * h * w), nn.ReLU())
        layers, chans = [], list(c.decoder_channels) + [1]
        for k in range(len(c.decoder_channels)):
            layers.append(nn.ConvTranspose2d(chans[k], chans[k + 1], 4, stride=2, padding=1))
            if k < len(c.decoder_channels) - 1:
                layers += [nn.BatchNorm2d(chans[k + 1]), nn.ReLU()]
        self.deconv = nn.Sequential(*layers)

    def forward(self, z):  # (B, 2d) → (B, mels, frames), standardised units
        _, h, w = self.c.reduced_shape()
        y = self.deconv(self.fc(z).view(-1, self.c.decoder_channels[0], h, w))[:, 0]
        return y[:, : self.c.n_mels, : self.c.n_frames]


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class GaussianMixturePrior(nn.Module):
    """``k`` diagonal Gaussians in ``d`` dimensions with learnable means and log-variances."""

    def __init__(self, k: int, d: int, seed_scale: float = 1.0):
        super().__init__()
        self.means = nn.Parameter(torch.randn(k, d) * seed_scale)
        self.logvars = nn.Parameter(torch.zeros(k, d))

    def logvar(self):
        return self.logvars.clamp(min=MIN_LOGVAR)

    def log_likelihoods(self, z):
        """log N(z; μ_k, σ_k²) for every component: (B, d) → (B, k)."""
        lv = self.logvar()
        diff = z[:, None, :] - self.means[None]
        return -0.5 * ((diff * diff) / lv.exp()[None] + lv[None] + math.log(2 * math.pi)).sum(-1)

    def kl(self, mu, logvar, labels):
        """KL(N(mu, e^logvar) ‖ component ``labels``), per example."""
        m, lv = self.means[labels], self.logvar()[labels]
        return 0.5 * (lv - logvar + (logvar.exp() + (mu - m) ** 2) / lv.exp() - 1.0).sum(-1)


class GMVAE(nn.Module):
    def __init__(self, config: GMVAEConfig | None = None):
        super().__init__()
        c = self.config = config or GMVAEConfig()
        self.standardizer = Standardizer(c.n_mels)
        self.timbre_encoder = _Encoder(c)
        self.pitch_encoder = _Encoder(c)
        self.decoder = _Decoder(c)
        self.timbre_prior = GaussianMixturePrior(c.n_instruments, c.latent_dim)
        self.pitch_prior = GaussianMixturePrior(c.n_pitches, c.latent_dim)
        if c.adversary_hidden:
            a = c.adversary_hidden
            self.instrument_from_pitch = nn.Sequential(nn.Linear(c.latent_dim, a), nn.ReLU(), nn.Linear(a, c.n_instruments))
            self.pitch_from_timbre = nn.Sequential(nn.Linear(c.latent_dim, a), nn.ReLU(), nn.Linear(a, c.n_pitches))

    def encode(self, logmel):
        """log-mel (B, mels, frames) → (mu_t, logvar_t, mu_p, logvar_p)."""
        x = self.standardizer(logmel)
        return (*self.timbre_encoder(x), *self.pitch_encoder(x))

    def decode(self, z_timbre, z_pitch):
        """Latents (B, d) each → log-mel (B, mels, frames) in the features' own units."""
        return self.standardizer.inverse(self.decoder(torch.cat([z_timbre, z_pitch], dim=-1)))

    def losses(self, logmel, y_inst, y_pitch, generator: torch.Generator | None = None) -> dict:
        """Per-batch mean of every term of the loss (see the module docstring)."""
        x = self.standardizer(logmel)
        mu_t, lv_t = self.timbre_encoder(x)
        mu_p, lv_p = self.pitch_encoder(x)
        z_t = mu_t + torch.randn(mu_t.shape, generator=generator) * (0.5 * lv_t).exp()
        z_p = mu_p + torch.randn(mu_p.shape, generator=generator) * (0.5 * lv_p).exp()
        x_hat = self.decoder(torch.cat([z_t, z_p], dim=-1))
        out = {
            "reconstruction": 0.5 * ((x_hat - x) ** 2).flatten(1).sum(-1).mean(),
            "kl_timbre": self.timbre_prior.kl(mu_t, lv_t, y_inst).mean(),
            "kl_pitch": self.pitch_prior.kl(mu_p, lv_p, y_pitch).mean(),
            "ce_timbre": F.cross_entropy(self.timbre_prior.log_likelihoods(z_t), y_inst),
            "ce_pitch": F.cross_entropy(self.pitch_prior.log_likelihoods(z_p), y_pitch),
        }
        if self.config.adversary_hidden:
            out["adv_instrument_from_pitch"] = F.cross_entropy(self.instrument_from_pitch(_Reverse.apply(z_p)), y_inst)
            out["adv_pitch_from_timbre"] = F.cross_entropy(self.pitch_from_timbre(_Reverse.apply(z_t)), y_pitch)
        return out


class Explorer:
    """A trained GMVAE with its class names: encode notes, interpolate and traverse timbre, decode to audio.

    Latent operations work on the posterior means (no sampling), so every answer is deterministic.
    """

    def __init__(self, net: GMVAE, classes, info: dict | None = None):
        self.net = net.eval()
        self.classes = tuple(classes)
        self.info = dict(info or {})
        if len(self.classes) != net.config.n_instruments:
            raise BadParameterError(f"explorer: {len(self.classes)} class names for {net.config.n_instruments} mixture components")

    # ------------------------------------------------------------------ checkpoint
    def to_checkpoint(self, name: str = MODEL_NAME):
        from timbrelab.ml.checkpoint import Checkpoint, state_to_arrays

        return Checkpoint(name=name, kind=KIND, tensors=state_to_arrays(self.net.state_dict()), config=self.net.config.to_dict(),
                          features=FEATURES.to_dict(), vocabulary=list(self.classes),
                          extra={"pitches": list(PITCHES), "note_samples": NOTE_SAMPLES, **self.info})

    @classmethod
    def from_checkpoint(cls, ckpt) -> "Explorer":
        from timbrelab.ml.checkpoint import arrays_to_state

        if ckpt.kind != KIND:
            raise BadParameterError(f"not an explorer checkpoint (kind {ckpt.kind!r}, expected {KIND!r})")
        if ckpt.features and ckpt.features != FEATURES.to_dict():
            raise BadParameterError("this explorer was trained with other log-mel settings than this timbrelab computes")
        net = GMVAE(GMVAEConfig.from_dict(ckpt.config))
        net.load_state_dict(arrays_to_state(ckpt.tensors))
        info = {k: v for k, v in ckpt.extra.items() if k not in ("pitches", "note_samples")}
        return cls(net, ckpt.vocabulary, info)

    # ------------------------------------------------------------------ names
    def instrument_index(self, name: str) -> int:
        from timbrelab.sounds.taxonomy import instrument

        canonical = instrument(name).name  # aliases ("sax") and unknown names (one clear error)
        if canonical not in self.classes:
            raise BadParameterError(f"the explorer has no '{canonical}' (it knows: {', '.join(self.classes)})")
        return self.classes.index(canonical)

    @staticmethod
    def pitch_index(pitch: int) -> int:
        p = int(pitch)
        if p not in PITCHES:
            raise BadParameterError(f"pitch {pitch} is outside the explorer's range (MIDI {PITCHES[0]} … {PITCHES[-1]})")
        return PITCHES.index(p)

    # ------------------------------------------------------------------ latents
    @torch.no_grad()
    def encode_logmel(self, logmel: np.ndarray) -> dict:
        """log-mels (n, 128, 44) → posterior means ``z_timbre``, ``z_pitch`` (n, 16) and the mixtures' posteriors."""
        mu_t, _, mu_p, _ = self.net.encode(torch.as_tensor(np.asarray(logmel, np.float32)))
        return {"z_timbre": mu_t.numpy(), "z_pitch": mu_p.numpy(),
                "p_instrument": torch.softmax(self.net.timbre_prior.log_likelihoods(mu_t), -1).numpy(),
                "p_pitch": torch.softmax(self.net.pitch_prior.log_likelihoods(mu_p), -1).numpy()}

    def encode_audio(self, audio, sample_rate: int) -> dict:
        """One note (``(channels, samples)`` at any rate; its first half second) → :meth:`encode_logmel` of it."""
        from timbrelab.audio import as_audio, resample
        from timbrelab.explore.data import log_mels, note_audio

        x = as_audio(audio)
        mono = x.mean(axis=0)
        if int(sample_rate) != FEATURES.sample_rate:
            mono = resample(mono[None], int(sample_rate), FEATURES.sample_rate)[0]
        start = _onset(mono)
        return self.encode_logmel(log_mels(note_audio(mono[start:])[None]))

    def timbre_mean(self, instrument: str) -> np.ndarray:
        return self.net.timbre_prior.means[self.instrument_index(instrument)].detach().numpy().copy()

    def pitch_mean(self, pitch: int) -> np.ndarray:
        return self.net.pitch_prior.means[self.pitch_index(pitch)].detach().numpy().copy()

    @torch.no_grad()
    def decode(self, z_timbre: np.ndarray, z_pitch: np.ndarray) -> np.ndarray:
        """Latents (n, 16) each → log-mels (n, 128, 44)."""
        zt = torch.as_tensor(np.atleast_2d(np.asarray(z_timbre, np.float32)))
        zp = torch.as_tensor(np.atleast_2d(np.asarray(z_pitch, np.float32)))
        return self.net.decode(zt, zp).numpy()

    def interpolation_latents(self, source: str, target: str, alphas, z_timbre=None, z_pitch=None, pitch: int | None = None):
        """The paper's timbre interpolation: ``z_t + α (μ_target − μ_source)`` for each α, pitch latent kept.

        The source note is ``z_timbre``/``z_pitch`` (an encoded note) or, if not given, the source
        instrument's mixture mean and the pitch's mixture mean."""
        mu_s, mu_t = self.timbre_mean(source), self.timbre_mean(target)
        zt0 = mu_s if z_timbre is None else np.asarray(z_timbre, np.float32).reshape(-1)
        if z_pitch is None:
            if pitch is None:
                raise BadParameterError("interpolation needs a pitch or an encoded note")
            z_pitch = self.pitch_mean(pitch)
        zp = np.asarray(z_pitch, np.float32).reshape(-1)
        a = np.asarray(list(alphas), np.float32)
        return zt0[None] + a[:, None] * (mu_t - mu_s)[None], np.repeat(zp[None], len(a), axis=0)

    def traversal_latents(self, instrument: str, pitch: int, dim: int, values):
        """The instrument's timbre mean with dimension ``dim`` (0-based) set to mean + each value × its prior's σ."""
        d = self.net.config.latent_dim
        if not (0 <= int(dim) < d):
            raise BadParameterError(f"timbre dimension {dim} is out of range (0 … {d - 1})")
        k = self.instrument_index(instrument)
        sd = float((0.5 * self.net.timbre_prior.logvar()[k, int(dim)].detach()).exp())
        v = np.asarray(list(values), np.float32)
        zt = np.repeat(self.timbre_mean(instrument)[None], len(v), axis=0)
        zt[:, int(dim)] += v * sd
        return zt, np.repeat(self.pitch_mean(pitch)[None], len(v), axis=0)

    def nearest(self, encoded: dict, top: int = 3) -> dict:
        """The instruments and the pitch an :meth:`encode_logmel` result reads (first note)."""
        p = encoded["p_instrument"][0]
        order = np.argsort(-p)[:top]
        pitch = PITCHES[int(np.argmax(encoded["p_pitch"][0]))]
        return {"instruments": [{"instrument": self.classes[i], "probability": float(p[i])} for i in order], "pitch_midi": int(pitch)}

    def cost(self) -> dict:
        n = sum(p.numel() for p in self.net.parameters())
        return {"parameters": int(n), "size_mb": round(n * 4 / 1e6, 2)}


def _onset(mono: np.ndarray) -> int:
    """The first sample within 40 dB of the peak: a user's file may start with silence, the training notes start at their note-on."""
    if not len(mono):
        return 0
    peak = float(np.abs(mono).max())
    if peak <= 0:
        return 0
    return int(np.argmax(np.abs(mono) >= peak * 0.01))
