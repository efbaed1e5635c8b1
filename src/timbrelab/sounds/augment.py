"""Seeded data augmentation that makes clean soundfont renders sound like real recordings.

``augment(audio, sample_rate, config, seed, accompaniment=None) -> (audio, record)`` runs up to seven
families, each with its own probability and its own drawn parameters, in the order of a recording's
signal chain (``ORDER``):

1. ``accompaniment`` — another instrument playing in the same room, quieter than the main one
   (−20 … −8 dB relative RMS by default); the label stays the predominant instrument;
2. ``eq`` — the colour of the instrument's placement and the microphone: a real crowd EQ curve (an
   Audealize EQ map entry or one person's SocialFX contribution), shaped as Audealize plays it
   (``lexicon.maps.played_curve_db``: min–max normalised to ±``eq_range_db``) at a random amount
   (−1 … 1: negative = the mirror-image curve), applied with ``dsp.eq.GraphicEQ``;
3. ``reverb`` — the room: a real crowd reverb setting (an Audealize reverb map entry or a SocialFX
   reverb contribution) at a random wet amount, applied with ``dsp.reverb.Reverb``; the output keeps
   the input's length (the tail past the clip's end is cut, as in a recording that stops);
4. ``bandlimit`` — the bandwidth of a cheap microphone, preamp or channel: a Butterworth low-pass
   and/or high-pass at log-uniform random cut-offs;
5. ``noise`` — broadband noise (hiss, rumble) added after the band limit (the recorder's own noise):
   white, pink or brown at a random SNR relative to the signal's RMS;
6. ``codec`` — the file it was shared as: a lossy round trip through ffmpeg (mp3 / aac / opus /
   vorbis at 16 … 48 kbps by default), through pipes, time-aligned back to the input;
7. ``gain`` — the recording level: the output peak set to a random level (−24 … 0 dBFS).

Whatever was applied, the output never clips: a peak above 1.0 is normalised to ``CLIP_CEILING``
(recorded as ``record["clip_guard_db"]``). With nothing applied the input comes back unchanged.

Determinism and independence: the seed feeds ``numpy.random.SeedSequence(seed)``, which spawns one
child generator per family in ``FAMILIES`` (always all seven, whatever is enabled). Each family first
draws its coin, then all of its parameters, from its own generator only, so turning a family off (or
changing its ranges) never changes another family's draws. The input is never modified.

The crowd pools: EQ — the 394 Audealize EQ map entries (English and Spanish) and the 1,595 SocialFX
EQ contributions (one person's 40-band curve each); reverb — the 369 Audealize reverb map entries and
the 6,791 SocialFX reverb contributions. A contribution's raw ``E`` (0.29 … 2,723) is put on the map's
0 … 1 scale by quantile mapping (its rank among all contributions → the same quantile of the map's E).
Each draw picks a source uniformly among ``*_sources``, then an entry uniformly within it.

Speed, measured on the 2-core development machine while another benchmark ran (3-s mono clips at
22,050 Hz, mean per clip with the family always on): eq 14 ms (almost all of it GraphicEQ's FIR design,
~11 ms: every drawn curve × amount is a new design, so no cache helps), reverb 18 ms, noise 2 ms,
band limit 1.5 ms, accompaniment 0.4 ms, gain 0.2 ms; all six at once 26 ms; the default config
without codec 13 ms. The codec round trip costs ~190 ms (two ffmpeg processes starting), so the
default config (codec probability 0.3) averages ~67 ms per clip. A codec's bitrate fallback and
delay are found once per (codec, bitrate, rate, channels) per process (``codec_plan``, ~0.2 s each).
"""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
import threading
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from importlib import resources

import numpy as np
from scipy.signal import butter, sosfilt

from timbrelab.audio import as_audio, check_sample_rate
from timbrelab.dsp.amount import MAX_EQ_AMOUNT
from timbrelab.dsp.eq import N_BANDS, GraphicEQ
from timbrelab.dsp.reverb import MAX_REVERB_AMOUNT, Reverb, ReverbSettings
from timbrelab.dsp.signals import pink_noise, white_noise
from timbrelab.errors import AudioFileError, BadParameterError, MissingComponentError
from timbrelab.lexicon.maps import AUDEALIZE_EQ_RANGE_DB, eq_map, played_curve_db, reverb_map

FAMILIES = ("eq", "reverb", "gain", "noise", "bandlimit", "codec", "accompaniment")
#: the order families are applied in: a recording's signal chain (see the module docstring)
ORDER = ("accompaniment", "eq", "reverb", "bandlimit", "noise", "codec", "gain")
SOURCES = ("audealize", "socialfx")
NOISE_COLORS = ("white", "pink", "brown")
#: codec name → (ffmpeg encoder, container written to the pipe, extra encoder options)
CODECS = {
    "mp3": ("libmp3lame", "mp3", ()),
    "aac": ("aac", "adts", ()),
    "opus": ("libopus", "ogg", ("-ar", "48000")),  # opus runs at 48 kHz; the decoder resamples back
    "vorbis": ("libvorbis", "ogg", ()),
}
#: a peak above 1.0 is scaled down to this (−0.09 dBFS)
CLIP_CEILING = 0.99
BANDLIMIT_ORDER = 4
#: a cut-off is kept below this fraction of Nyquist (a low-pass at Nyquist does nothing)
MAX_CUTOFF_NYQUIST = 0.9
SILENCE_RMS = 1e-7


def _range(value, name: str, lo: float = -math.inf, hi: float = math.inf) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise BadParameterError(f"augment: {name} must be a range [low, high] of two numbers, got {value!r}") from None
    if isinstance(value, str) or any(isinstance(v, bool) for v in value):
        raise BadParameterError(f"augment: {name} must be a range [low, high] of two numbers, got {value!r}")
    if not (math.isfinite(a) and math.isfinite(b)):
        raise BadParameterError(f"augment: {name} must be finite, got {value!r}")
    if a > b:
        raise BadParameterError(f"augment: {name} = [{a:g}, {b:g}] has its low end above its high end")
    if a < lo or b > hi:
        raise BadParameterError(f"augment: {name} = [{a:g}, {b:g}] is outside {lo:g} … {hi:g}")
    return (a, b)


def _choices(value, name: str, allowed, empty_ok: bool = False) -> tuple:
    if isinstance(value, str):
        value = (value,)
    try:
        value = tuple(value)
    except TypeError:
        raise BadParameterError(f"augment: {name} must be a list, got {value!r}") from None
    bad = [v for v in value if v not in allowed]
    if bad:
        raise BadParameterError(f"augment: unknown {name} {bad} (known: {list(allowed)})")
    if len(set(value)) != len(value):
        raise BadParameterError(f"augment: {name} lists an entry twice: {list(value)}")
    if not value and not empty_ok:
        raise BadParameterError(f"augment: {name} cannot be empty")
    return value


@dataclass(frozen=True)
class AugmentConfig:
    """Which families run, how often, and the ranges their parameters are drawn from (uniformly unless
    said otherwise). JSON-able: ``to_dict`` / ``from_dict``. Validated on construction (BadParameterError).

    ``enabled``: the families that may run (a subset of ``FAMILIES``); each enabled family runs with
    its ``*_probability``. ``without(family)`` turns one off, ``none()`` is a config that does nothing.
    """

    enabled: tuple = FAMILIES
    eq_probability: float = 0.5
    eq_amount_range: tuple = (-1.0, 1.0)  # × the played curve; negative = the mirror image
    eq_range_db: float = AUDEALIZE_EQ_RANGE_DB  # the played curve spans ±this (Audealize's 5 dB)
    eq_sources: tuple = SOURCES
    reverb_probability: float = 0.5
    reverb_amount_range: tuple = (0.1, 1.0)  # Reverb's wet amount (1 = the crowd setting)
    reverb_sources: tuple = SOURCES
    gain_probability: float = 0.5
    gain_peak_db_range: tuple = (-24.0, 0.0)  # output peak in dBFS
    noise_probability: float = 0.5
    noise_snr_db_range: tuple = (10.0, 50.0)
    noise_colors: tuple = NOISE_COLORS
    bandlimit_probability: float = 0.3
    lowpass_hz_range: tuple = (3000.0, 11000.0)  # log-uniform; capped at 0.9 × Nyquist
    highpass_hz_range: tuple = (40.0, 400.0)  # log-uniform
    codec_probability: float = 0.3
    codecs: tuple = tuple(CODECS)
    codec_bitrates_kbps: tuple = (16, 24, 32, 48)  # one drawn uniformly (raised where an encoder refuses it)
    accompaniment_probability: float = 0.5
    accompaniment_db_range: tuple = (-20.0, -8.0)  # accompaniment RMS relative to the main clip's

    def __post_init__(self):
        s = lambda name, v: object.__setattr__(self, name, v)  # noqa: E731
        s("enabled", _choices(self.enabled, "enabled families", FAMILIES, empty_ok=True))
        for fam in FAMILIES:
            name = f"{fam}_probability"
            p = getattr(self, name)
            if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not (0.0 <= p <= 1.0):
                raise BadParameterError(f"augment: {name} must be a probability 0 … 1, got {p!r}")
            s(name, float(p))
        s("eq_amount_range", _range(self.eq_amount_range, "eq_amount_range", -MAX_EQ_AMOUNT, MAX_EQ_AMOUNT))
        r = self.eq_range_db
        if isinstance(r, bool) or not isinstance(r, (int, float, np.integer, np.floating)) or not (0.0 < r <= 12.0):
            raise BadParameterError(f"augment: eq_range_db must be a number of dB in (0, 12], got {r!r}")
        s("eq_range_db", float(r))
        s("eq_sources", _choices(self.eq_sources, "eq_sources", SOURCES))
        s("reverb_amount_range", _range(self.reverb_amount_range, "reverb_amount_range", 0.0, MAX_REVERB_AMOUNT))
        s("reverb_sources", _choices(self.reverb_sources, "reverb_sources", SOURCES))
        s("gain_peak_db_range", _range(self.gain_peak_db_range, "gain_peak_db_range", -120.0, 0.0))
        s("noise_snr_db_range", _range(self.noise_snr_db_range, "noise_snr_db_range", -20.0, 120.0))
        s("noise_colors", _choices(self.noise_colors, "noise_colors", NOISE_COLORS))
        s("lowpass_hz_range", _range(self.lowpass_hz_range, "lowpass_hz_range", 20.0, 100_000.0))
        s("highpass_hz_range", _range(self.highpass_hz_range, "highpass_hz_range", 1.0, 100_000.0))
        if self.highpass_hz_range[1] >= self.lowpass_hz_range[0]:
            raise BadParameterError(
                f"augment: the high-pass range {list(self.highpass_hz_range)} Hz must lie below the low-pass range "
                f"{list(self.lowpass_hz_range)} Hz (both may apply at once)"
            )
        s("codecs", _choices(self.codecs, "codecs", tuple(CODECS)))
        try:
            rates = tuple(self.codec_bitrates_kbps)
        except TypeError:
            rates = (self.codec_bitrates_kbps,)
        if not rates or any(isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not (6 <= b <= 320) for b in rates):
            raise BadParameterError(f"augment: codec_bitrates_kbps must be whole numbers of kbps in 6 … 320, got {self.codec_bitrates_kbps!r}")
        s("codec_bitrates_kbps", tuple(int(b) for b in rates))
        s("accompaniment_db_range", _range(self.accompaniment_db_range, "accompaniment_db_range", -120.0, 0.0))

    # -- variants ------------------------------------------------------------------------------
    @classmethod
    def none(cls) -> "AugmentConfig":
        """A config that applies nothing (augment returns the input unchanged)."""
        return cls(enabled=())

    def without(self, family: str) -> "AugmentConfig":
        """This config with ``family`` off (for ablations); other families' draws stay the same."""
        _choices((family,), "family", FAMILIES)
        return replace(self, enabled=tuple(f for f in self.enabled if f != family))

    def only(self, *families: str, always: bool = False) -> "AugmentConfig":
        """This config with only ``families`` on; ``always=True`` also sets their probability to 1."""
        families = _choices(families, "families", FAMILIES)
        changes = {f"{f}_probability": 1.0 for f in families} if always else {}
        return replace(self, enabled=tuple(f for f in FAMILIES if f in families), **changes)

    # -- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "AugmentConfig":
        from timbrelab.configs import config_from_dict

        if not isinstance(d, dict):
            raise BadParameterError(f"augment config must be a JSON object, got {type(d).__name__}")
        return config_from_dict(cls, d, "augment config")


# ---- crowd pools ---------------------------------------------------------------------------------


def _data_rows(name: str) -> list[dict]:
    text = resources.files("timbrelab.lexicon").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@lru_cache(maxsize=None)
def eq_pool(source: str) -> tuple[tuple[dict, ...], np.ndarray]:
    """``(meta, shapes)`` of one EQ source: ``meta[i]`` names the entry (word, lang, index),
    ``shapes[i]`` its 40-band curve min–max normalised to −1 … +1 (``played_curve_db(g, 1)``)."""
    if source == "audealize":
        entries = eq_map().entries
        meta = tuple({"word": e.word, "lang": e.lang} for e in entries)
        raw = np.array([e.settings for e in entries], np.float64)
    elif source == "socialfx":
        rows = _data_rows("socialfx_eq_contributions.csv")
        bands = [k for k in rows[0] if k.startswith("RSC_")]
        meta = tuple({"word": r["descriptor"].strip().lower(), "lang": r["language"]} for r in rows)
        raw = np.array([[float(r[b]) for b in bands] for r in rows], np.float64)
    else:
        raise BadParameterError(f"augment: unknown EQ source {source!r} (known: {list(SOURCES)})")
    if raw.shape[1:] != (N_BANDS,):
        raise BadParameterError(f"augment: EQ source {source} has {raw.shape[1]} bands, not {N_BANDS}")
    shapes = np.array([played_curve_db(g, 1.0) for g in raw])
    keep = np.abs(shapes).max(axis=1) > 0  # a flat curve is no colouring
    return tuple(m for m, k in zip(meta, keep) if k), shapes[keep]


@lru_cache(maxsize=None)
def reverb_pool(source: str) -> tuple[tuple[dict, ...], np.ndarray]:
    """``(meta, settings)`` of one reverb source: ``settings[i]`` = ``[d, g, m, f, E, wetdry]`` on the
    Audealize map's scale (SocialFX raw E quantile-mapped onto the map's E distribution)."""
    _, map_settings = reverb_map().settings_matrix(None)
    if source == "audealize":
        meta = tuple({"word": e.word, "lang": e.lang} for e in reverb_map().entries)
        return meta, map_settings.copy()
    if source != "socialfx":
        raise BadParameterError(f"augment: unknown reverb source {source!r} (known: {list(SOURCES)})")
    rows = _data_rows("socialfx_reverb_contributions.csv")
    raw = np.array([[float(v) for v in r["param"].split(",")] for r in rows], np.float64)
    e_raw = raw[:, 4]
    order = np.argsort(e_raw, kind="stable")
    ranks = np.empty(len(e_raw))
    ranks[order] = np.arange(len(e_raw))
    # ties get their mean rank, so equal raw E always maps to equal map E
    _, inv = np.unique(e_raw, return_inverse=True)
    ranks = (np.bincount(inv, ranks) / np.bincount(inv))[inv]
    e_map = np.quantile(map_settings[:, 4], (ranks + 0.5) / len(e_raw))
    settings = np.c_[raw[:, :4], e_map, np.ones(len(raw))]
    meta = tuple({"word": r["words"].strip().lower(), "lang": r["language"]} for r in rows)  # the words typed
    return meta, settings


# ---- the draws -----------------------------------------------------------------------------------


def _uniform(rng: np.random.Generator, lo_hi) -> float:
    lo, hi = lo_hi
    return float(lo + (hi - lo) * rng.random())


def _log_uniform(rng: np.random.Generator, lo_hi) -> float:
    lo, hi = lo_hi
    return float(math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * rng.random()))


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _draw(family: str, rng: np.random.Generator, c: AugmentConfig) -> dict | None:
    """The coin, then every parameter of ``family`` (always the same number of draws for a config)."""
    if rng.random() >= getattr(c, f"{family}_probability"):
        return None
    if family == "eq":
        source = _pick(rng, c.eq_sources)
        meta, _ = eq_pool(source)
        i = int(rng.integers(len(meta)))
        return {"source": source, "index": i, **meta[i], "amount": round(_uniform(rng, c.eq_amount_range), 4),
                "range_db": c.eq_range_db}
    if family == "reverb":
        source = _pick(rng, c.reverb_sources)
        meta, _ = reverb_pool(source)
        i = int(rng.integers(len(meta)))
        return {"source": source, "index": i, **meta[i], "amount": round(_uniform(rng, c.reverb_amount_range), 4)}
    if family == "gain":
        return {"peak_db": round(_uniform(rng, c.gain_peak_db_range), 3)}
    if family == "noise":
        return {"color": _pick(rng, c.noise_colors), "snr_db": round(_uniform(rng, c.noise_snr_db_range), 3),
                "noise_seed": int(rng.integers(2**31))}
    if family == "bandlimit":
        mode = _pick(rng, ("lowpass", "highpass", "both"))
        low = round(_log_uniform(rng, c.lowpass_hz_range), 1)
        high = round(_log_uniform(rng, c.highpass_hz_range), 1)
        return {"mode": mode, "lowpass_hz": low if mode != "highpass" else None,
                "highpass_hz": high if mode != "lowpass" else None, "order": BANDLIMIT_ORDER}
    if family == "codec":
        return {"codec": _pick(rng, c.codecs), "bitrate_kbps": int(_pick(rng, c.codec_bitrates_kbps))}
    if family == "accompaniment":
        return {"relative_db": round(_uniform(rng, c.accompaniment_db_range), 3), "offset_fraction": float(rng.random())}
    raise AssertionError(family)


def draw_parameters(config: AugmentConfig, seed: int) -> dict:
    """Every enabled family's drawn parameters for ``seed`` (None = its coin said no), in ``ORDER``.
    Pure: no audio needed; ``augment`` applies exactly these."""
    if not isinstance(config, AugmentConfig):
        raise BadParameterError(f"augment needs an AugmentConfig, got {type(config).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BadParameterError(f"augment: seed must be a whole number ≥ 0, got {seed!r}")
    children = np.random.SeedSequence(int(seed)).spawn(len(FAMILIES))
    out = {}
    for family in ORDER:
        if family in config.enabled:
            out[family] = _draw(family, np.random.default_rng(children[FAMILIES.index(family)]), config)
    return out


# ---- the families --------------------------------------------------------------------------------


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _apply_accompaniment(x, sr, p, accompaniment):
    if accompaniment is None:
        return None, "no accompaniment audio was given"
    main_rms = _rms(x)
    if main_rms < SILENCE_RMS:
        return None, "the clip is silent"
    acc = as_audio(accompaniment, "accompaniment")
    n = x.shape[1]
    if acc.shape[1] >= n:
        start = int(p["offset_fraction"] * (acc.shape[1] - n + 1))
        seg = acc[:, start : start + n]
    else:  # loop a short accompaniment to the clip's length
        start = 0
        seg = np.tile(acc, (1, -(-n // acc.shape[1])))[:, :n]
    if seg.shape[0] != x.shape[0]:
        seg = seg.mean(axis=0, keepdims=True) if seg.shape[0] != 1 else seg
        seg = np.broadcast_to(seg, x.shape)
    acc_rms = _rms(seg)
    if acc_rms < SILENCE_RMS:
        return None, "the accompaniment is silent"
    scale = main_rms * 10 ** (p["relative_db"] / 20) / acc_rms
    p["offset_samples"] = start
    return (x + scale * seg).astype(np.float32), None


def _apply_eq(x, sr, p):
    shape = eq_pool(p["source"])[1][p["index"]]
    eq = GraphicEQ(tuple(shape * p["range_db"]), p["amount"])
    p["effective_gains_db"] = [round(float(g), 3) for g in eq.effective_gains_db]
    return eq(x, sr), None


def _apply_reverb(x, sr, p):
    settings = ReverbSettings.from_list(reverb_pool(p["source"])[1][p["index"]])
    p["settings"] = [round(v, 6) for v in settings.to_list()]
    p["rt60_s"] = round(settings.rt60_s, 3)
    return Reverb(settings, p["amount"])(x, sr, tail_s=0.0), None


def _brown_noise(shape, sr: int, seed: int) -> np.ndarray:
    """Noise with a 1/f² power spectrum (−6 dB/octave), flat below 20 Hz (no sub-audio drift)."""
    n = shape[1]
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal((shape[0], n // 2 + 1)) + 1j * rng.standard_normal((shape[0], n // 2 + 1))
    f = np.fft.rfftfreq(n, 1 / sr)
    spec /= np.maximum(f, 20.0)
    spec[:, 0] = 0
    return np.fft.irfft(spec, n, axis=-1)


def _apply_noise(x, sr, p):
    sig_rms = _rms(x)
    if sig_rms < SILENCE_RMS:
        return None, "the clip is silent (no level to set an SNR against)"
    c, n = x.shape
    dur = (n + 0.5) / sr  # int(dur · sr) == n
    if p["color"] == "white":
        noise = white_noise(dur, sr, c, seed=p["noise_seed"], level=1.0)
    elif p["color"] == "pink":
        noise = pink_noise(dur, sr, c, seed=p["noise_seed"], level=1.0)
    else:
        noise = _brown_noise(x.shape, sr, p["noise_seed"])
    noise = np.asarray(noise, np.float64)[:, :n]
    noise *= sig_rms * 10 ** (-p["snr_db"] / 20) / max(_rms(noise), 1e-30)
    return (x + noise).astype(np.float32), None


def _apply_bandlimit(x, sr, p):
    nyq = sr / 2
    sos = []
    if p["lowpass_hz"] is not None:
        if p["lowpass_hz"] < MAX_CUTOFF_NYQUIST * nyq:
            sos.append(butter(p["order"], p["lowpass_hz"] / nyq, "lowpass", output="sos"))
        else:
            p["lowpass_note"] = f"not applied: at or above {MAX_CUTOFF_NYQUIST:g} × Nyquist"
    if p["highpass_hz"] is not None:
        sos.append(butter(p["order"], p["highpass_hz"] / nyq, "highpass", output="sos"))
    if not sos:
        return None, "the low-pass lies above the clip's bandwidth"
    return sosfilt(np.concatenate(sos), x.astype(np.float64), axis=-1).astype(np.float32), None


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if not exe:
        raise MissingComponentError("the codec augmentation needs the ffmpeg program (apt install ffmpeg)")
    return exe


def _ff_last_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:160] if lines else "no message"


def codec_round_trip_raw(audio: np.ndarray, sample_rate: int, codec: str, bitrate_kbps: int) -> np.ndarray:
    """Encode ``audio`` with ``codec`` at ``bitrate_kbps`` and decode it back at ``sample_rate``, both
    through pipes (an encoder and a decoder process run side by side; no file is written). Returns the
    decoded float32 ``(channels, samples)`` as ffmpeg gives it: not yet time-aligned or length-matched."""
    ffmpeg = _ffmpeg()
    if codec not in CODECS:
        raise BadParameterError(f"augment: unknown codec {codec!r} (known: {list(CODECS)})")
    encoder, container, extra = CODECS[codec]
    c = audio.shape[0]
    base = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-threads", "1"]
    enc_cmd = base + ["-f", "f32le", "-ar", str(sample_rate), "-ac", str(c), "-i", "pipe:0",
                      "-c:a", encoder, "-b:a", f"{int(bitrate_kbps)}k", *extra, "-f", container, "pipe:1"]
    dec_cmd = base + ["-i", "pipe:0", "-map", "0:a:0", "-c:a", "pcm_f32le", "-f", "f32le",
                      "-ar", str(sample_rate), "-ac", str(c), "pipe:1"]
    data = np.ascontiguousarray(audio.T, dtype="<f4").tobytes()
    enc = subprocess.Popen(enc_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dec = subprocess.Popen(dec_cmd, stdin=enc.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    enc.stdout.close()  # the decoder owns the read end now
    enc_err: list[bytes] = []

    def feed():
        try:
            enc.stdin.write(data)
        except (BrokenPipeError, OSError):
            pass
        finally:
            try:
                enc.stdin.close()
            except OSError:
                pass
        enc_err.append(enc.stderr.read())

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    try:
        out, dec_err = dec.communicate(timeout=120)
        t.join(timeout=120)
        enc_rc = enc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        for proc in (enc, dec):
            proc.kill()
        raise AudioFileError(f"the {codec} round trip through ffmpeg gave no answer in 120 s") from None
    finally:
        for proc in (enc, dec):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        enc.stderr.close()
    if enc_rc != 0:
        raise MissingComponentError(
            f"ffmpeg could not encode {codec} at {bitrate_kbps} kbps, {sample_rate} Hz, {c} channel(s) "
            f"({_ff_last_line(enc_err[0] if enc_err else b'')}); choose other codecs or bitrates"
        )
    if dec.returncode != 0:
        raise AudioFileError(f"ffmpeg could not decode its own {codec} stream ({_ff_last_line(dec_err)})")
    n = len(out) // (4 * c)
    return np.frombuffer(out, "<f4", n * c).reshape(n, c).T.copy()


def _lag(y: np.ndarray, x: np.ndarray, max_lag: int) -> int:
    """The lag (samples, ≥ 0) by which ``y`` trails ``x``: the cross-correlation peak in 0 … max_lag."""
    a, b = y.mean(axis=0).astype(np.float64), x.mean(axis=0).astype(np.float64)
    n = 1 << int(math.ceil(math.log2(len(a) + len(b))))
    cc = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)[: max_lag + 1]
    return int(np.argmax(cc))


@lru_cache(maxsize=256)
def codec_plan(codec: str, bitrate_kbps: int, sample_rate: int, channels: int) -> tuple[int, int]:
    """``(bitrate_kbps, delay_samples)`` of a codec round trip, found once per process and cached.

    The bitrate: the asked one, or, where the encoder refuses it at this rate and channel count
    (libvorbis has a floor that depends on both: 32 kbps for stereo at 22,050 Hz), the first of
    1.5×, 2×, 3× it that the encoder takes. The delay: the encoder priming a container cannot signal
    through a pipe (mp3 ~1105 samples, AAC in ADTS 1024, opus and vorbis 0), measured by
    cross-correlation on a seeded noise burst, so the round trip can be time-aligned."""
    rng = np.random.default_rng(1234)
    n = int(1.5 * sample_rate)
    probe = np.zeros((channels, n), np.float32)
    burst = slice(int(0.25 * sample_rate), int(1.0 * sample_rate))
    probe[:, burst] = rng.standard_normal((channels, burst.stop - burst.start)) * 0.1
    error = None
    for rate in dict.fromkeys(int(math.ceil(bitrate_kbps * k)) for k in (1, 1.5, 2, 3)):
        try:
            y = codec_round_trip_raw(probe, sample_rate, codec, rate)
        except MissingComponentError as exc:
            if shutil.which("ffmpeg") is None:
                raise
            error = exc
            continue
        return rate, _lag(y, probe, min(y.shape[1] - 1, int(0.2 * sample_rate)))
    raise error


def _apply_codec(x, sr, p):
    rate, delay = codec_plan(p["codec"], p["bitrate_kbps"], sr, x.shape[0])
    y = codec_round_trip_raw(x, sr, p["codec"], rate)[:, delay:]
    n = x.shape[1]
    if y.shape[1] < n:
        y = np.concatenate([y, np.zeros((x.shape[0], n - y.shape[1]), np.float32)], axis=1)
    if rate != p["bitrate_kbps"]:
        p["asked_bitrate_kbps"], p["bitrate_kbps"] = p["bitrate_kbps"], rate
    p["delay_samples"] = delay
    return np.ascontiguousarray(y[:, :n], dtype=np.float32), None


def _apply_gain(x, sr, p):
    peak = float(np.max(np.abs(x)))
    if peak < SILENCE_RMS:
        return None, "the clip is silent"
    return (x * (10 ** (p["peak_db"] / 20) / peak)).astype(np.float32), None


def augment(audio, sample_rate: int, config: AugmentConfig, seed: int, accompaniment=None) -> tuple[np.ndarray, dict]:
    """Augment one clip: ``(audio, sample_rate)`` → ``(augmented float32 audio of the same shape, record)``.

    Deterministic for (audio, config, seed, accompaniment). Families run in ``ORDER`` with the
    parameters of ``draw_parameters(config, seed)``. ``accompaniment``: another clip at the same
    sample rate (any length: a random stretch is taken, a short one is looped; mono is spread over
    the channels), needed by the ``accompaniment`` family, which is skipped without it.

    ``record`` (JSON-able): ``seed``, ``sample_rate``, ``applied`` (families in the order applied),
    each applied family's parameters under its name (crowd source, word and index; amount; SNR; codec
    and bitrate; …), ``skipped`` (family → why, for a family drawn but not applicable), and
    ``clip_guard_db`` when the output had to be scaled down to stay below 1.0. The input is never modified.
    """
    draws = draw_parameters(config, seed)
    x = as_audio(audio)
    sample_rate = check_sample_rate(sample_rate)
    squeeze = np.ndim(audio) == 1
    record: dict = {"seed": int(seed), "sample_rate": sample_rate, "applied": []}
    skipped = {}
    y = x
    for family in ORDER:
        p = draws.get(family)
        if p is None:
            continue
        if family == "accompaniment":
            out, why = _apply_accompaniment(y, sample_rate, p, accompaniment)
        else:
            out, why = _APPLY[family](y, sample_rate, p)
        if out is None:
            skipped[family] = why
            continue
        y = out
        record["applied"].append(family)
        record[family] = p
    if skipped:
        record["skipped"] = skipped
    if record["applied"]:
        peak = float(np.max(np.abs(y)))
        if peak > 1.0:
            y = (y * (CLIP_CEILING / peak)).astype(np.float32)
            record["clip_guard_db"] = round(20 * math.log10(CLIP_CEILING / peak), 3)
    else:
        y = x.copy()  # as_audio may hand back the caller's own array (or a view of it)
    y = np.ascontiguousarray(y, dtype=np.float32)
    return (y[0] if squeeze else y), record


_APPLY = {
    "eq": _apply_eq,
    "reverb": _apply_reverb,
    "gain": _apply_gain,
    "noise": _apply_noise,
    "bandlimit": _apply_bandlimit,
    "codec": _apply_codec,
}

__all__ = [
    "FAMILIES", "ORDER", "CODECS", "AugmentConfig", "augment", "draw_parameters", "eq_pool", "reverb_pool",
    "codec_round_trip_raw", "codec_plan",
]
