"""Words to effects, applied to audio: the ``apply`` API and file processing behind ``timbrelab apply``.

``plan_effects`` turns a description into a :class:`EffectPlan` (one GraphicEQ, one Reverb, and how
each descriptor was resolved). ``apply`` runs a plan on an in-memory array; ``apply_file`` streams a
file of any length through it in two passes with bounded memory:

1. decode blocks → (resample) → EQ → reverb (→ its tail) → a temporary float file beside the output,
   metering peak and loudness on the way;
2. one constant output gain — loudness match (optional) and the clip guard — then the final format,
   written atomically (the output appears only when complete; the input is only ever read).

Without loudness matching it first tries one pass straight into the (temporary) output: while the
peak stays at or under the ceiling that is exactly what the two passes would write (gain 1), at about
half the cost; the moment the peak goes over, that attempt is dropped and the two passes run.

Clip guard: if the processed peak would exceed −0.1 dBFS, the whole result is scaled down by one
constant gain so its peak is −0.1 dBFS (no limiter, no distortion); the report states the gain.
A plan with every effect at amount 0 (and no loudness match) passes audio through untouched.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from timbrelab import audio as aio
from timbrelab.dsp.amount import check_amount
from timbrelab.dsp.eq import GraphicEQ, N_BANDS
from timbrelab.dsp.loudness import LoudnessMeter
from timbrelab.dsp.reverb import MAX_REVERB_AMOUNT, Reverb, ReverbSettings
from timbrelab.errors import AudioFileError, BadParameterError
from timbrelab.lexicon.maps import EQ, REVERB
from timbrelab.lexicon.parse import Phrase, parse_description
from timbrelab.lexicon.resolve import Resolution, blend_reverb_settings, eq_gains_db, resolve

CEILING_DBFS = -0.1
CEILING = 10 ** (CEILING_DBFS / 20)
MAX_TAIL_S = 30.0
#: apply_file tries one pass first when it can (see the module docstring); tests turn it off to compare
ONE_PASS = True
BYPASS_NOTE = "every effect at amount 0: audio passed through unchanged"


@dataclass
class EffectPlan:
    """What will be done: the EQ, the reverb and the reasoning for each descriptor."""

    description: str = ""
    resolutions: list[Resolution] = field(default_factory=list)
    eq: GraphicEQ | None = None
    reverb: Reverb | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def active(self) -> list:
        return [fx for fx in (self.eq, self.reverb) if fx is not None and not fx.is_bypass]

    @property
    def is_bypass(self) -> bool:
        return not self.active

    def to_dict(self) -> dict:
        return {
            "description": self.description,
            "descriptors": [r.to_dict() for r in self.resolutions],
            "eq": self.eq.to_dict() if self.eq else None,
            "reverb": self.reverb.to_dict() if self.reverb else None,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "EffectPlan":
        """Rebuild a plan from ``to_dict`` output (or a hand-written ``{"eq": …, "reverb": …}``)."""
        try:
            eq = GraphicEQ.from_dict(d["eq"]) if d.get("eq") else None
            rv = Reverb.from_dict(d["reverb"]) if d.get("reverb") else None
        except (KeyError, TypeError, ValueError) as exc:
            raise BadParameterError(f"settings JSON is not a timbrelab plan ({exc})") from None
        return cls(description=d.get("description", ""), eq=eq, reverb=rv, notes=["settings loaded from JSON"])

    def summary(self) -> str:
        lines = []
        for r in self.resolutions:
            p = r.phrase
            mod = ("−" if p.sign < 0 else "") + (f"×{p.scale:g} " if p.scale != 1 else "")
            if r.source == "map":
                u = r.used[0]
                how = f"crowd map word '{u['word']}' ({u['num']} contributions, agreement {u['agreement']:.2f})"
            elif r.source == "lexicon":
                u = r.used[0]
                how = f"engineering lexicon term '{u['term']}' ({u['shape']}; sources: {', '.join(u['sources'])})"
            elif r.source == "model":
                m = r.used[0]
                near = ", ".join(f"'{u['word']}' {u['similarity']:.2f}" for u in r.used[1:])
                how = f"the {m['model']} model ({m['method']}; nearest crowd words {near})"
            else:
                how = f"{r.source}: " + ", ".join(
                    f"'{u['word']}' (similarity {u['similarity']:.2f}, weight {u['weight']:.2f})" if "similarity" in u else f"'{u['word']}'"
                    for u in r.used
                )
            lines.append(f"  '{p.original}' → {mod}{r.effect.upper()} from {how}" + (f" [{r.note}]" if r.note else ""))
        if self.eq is not None:
            g = self.eq.effective_gains_db
            lines.append(f"  EQ (amount {self.eq.amount:g}): " + " ".join(f"{x:+.1f}" for x in g) + " dB")
            lines.append("      at 20 Hz … 19.7 kHz (40 bands); " + repr(self.eq))
        if self.reverb is not None:
            lines.append(f"  {self.reverb!r}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def plan_effects(
    description: str | None = None,
    eq_amount: float = 1.0,
    reverb_amount: float = 1.0,
    eq_words: Iterable[str] = (),
    reverb_words: Iterable[str] = (),
    fallback=None,
) -> EffectPlan:
    """Resolve a description (and words forced onto an effect) into one EQ and one reverb.

    ``fallback``: the strategy for words in no crowd map (see :mod:`timbrelab.lexicon.resolve`); default
    a :class:`timbrelab.word2fx.fallback.ModelFallback` of its own, which loads a trained model only if a
    word needs it. A server passes one that holds its models (``timbrelab.service.Service.fallback``).
    """
    eq_amount = check_amount(eq_amount, "EQ amount")
    if isinstance(reverb_amount, (int, float)) and not isinstance(reverb_amount, bool) and reverb_amount < 0:
        raise BadParameterError("reverb amount cannot be negative: timbrelab adds reverb, it cannot remove it")
    reverb_amount = check_amount(reverb_amount, "reverb amount", 0.0, MAX_REVERB_AMOUNT)
    items: list[tuple[Phrase, str | None]] = []
    if description is not None and str(description).strip():
        items += [(p, None) for p in parse_description(description)]
    for effect, words in ((EQ, eq_words), (REVERB, reverb_words)):
        for w in words:
            items += [(p, effect) for p in parse_description(w)]
    if not items:
        raise BadParameterError("nothing to apply: give a description such as \"warm, small room\" (or --eq/--reverb WORD)")
    if fallback is None:
        from timbrelab.word2fx.fallback import ModelFallback

        fallback = ModelFallback()
    resolutions = [resolve(p, force_effect=eff, fallback=fallback) for p, eff in items]
    plan = EffectPlan(description=description or "", resolutions=resolutions)

    eq_res = [r for r in resolutions if r.effect == EQ]
    if eq_res:
        gains = np.zeros(N_BANDS)
        for r in eq_res:
            gains += r.phrase.factor * eq_gains_db(r)
        plan.eq = GraphicEQ(tuple(gains), eq_amount)
    rv_res = [r for r in resolutions if r.effect == REVERB]
    if rv_res:
        weights = np.array([r.phrase.scale * max(r.support, 1e-3) for r in rv_res])
        settings = rv_res[0].settings if len(rv_res) == 1 else tuple(blend_reverb_settings([r.settings for r in rv_res], weights))
        scale = float(np.average([r.phrase.scale for r in rv_res], weights=weights))
        amount = reverb_amount * scale
        if amount > MAX_REVERB_AMOUNT:
            plan.notes.append(f"reverb amount {amount:g} clamped to {MAX_REVERB_AMOUNT:g}")
            amount = MAX_REVERB_AMOUNT
        plan.reverb = Reverb(ReverbSettings.from_list(settings), amount)
        if len(rv_res) > 1:
            plan.notes.append(f"{len(rv_res)} reverb descriptors blended into one reverb (log-average of decay time, delay and cutoff)")
    return plan


@dataclass
class ApplyResult:
    """Output of :func:`apply`: the audio, its sample rate and a JSON-serialisable report."""

    audio: np.ndarray
    sample_rate: int
    report: dict


def _streams(plan: EffectPlan, sample_rate: int, channels: int) -> list:
    return [fx.stream(sample_rate, channels) for fx in plan.active]


def process_blocks(blocks: Iterable[np.ndarray], plan: EffectPlan, sample_rate: int, channels: int, tail_s: float = 0.0) -> Iterator[np.ndarray]:
    """Run a plan over a stream of ``(channels, n)`` blocks, then ``tail_s`` seconds of ring-out."""
    streams = _streams(plan, sample_rate, channels)

    def through(y, start=0):
        for s in streams[start:]:
            y = s.process(y)
        return y

    for block in blocks:
        yield through(np.asarray(block, np.float64))
    tail = int(round(tail_s * sample_rate))
    step = 1 << 16
    for i in range(0, tail, step):
        yield through(np.zeros((channels, min(step, tail - i))))
    for k, s in enumerate(streams):
        yield through(s.flush(), k + 1)


def resolve_tail_s(plan: EffectPlan, tail_s: float | None) -> float:
    if tail_s is None:
        return plan.reverb.default_tail_s() if plan.reverb is not None and not plan.reverb.is_bypass else 0.0
    if isinstance(tail_s, bool) or not isinstance(tail_s, (int, float)) or not math.isfinite(tail_s) or not (0 <= tail_s <= MAX_TAIL_S):
        raise BadParameterError(f"tail {tail_s!r} s is out of range (0 … {MAX_TAIL_S:g} s)")
    return float(tail_s)


def output_gain(peak: float, lufs_in: float | None, lufs_out: float | None) -> tuple[float, list[str]]:
    """One constant gain: loudness match (if both loudnesses are given), then the clip guard."""
    gain, notes = 1.0, []
    if lufs_in is not None and lufs_out is not None:
        if math.isfinite(lufs_in) and math.isfinite(lufs_out):
            gain = 10 ** ((lufs_in - lufs_out) / 20)
            notes.append(f"loudness matched: {lufs_out:.1f} → {lufs_in:.1f} LUFS ({20 * math.log10(gain):+.2f} dB)")
        else:
            notes.append("loudness not matched: the input or output is too quiet or short to measure")
    if peak * gain > CEILING:
        new = CEILING / peak
        notes.append(f"clip guard: peak {20 * math.log10(peak * gain):+.2f} dBFS scaled to {CEILING_DBFS} dBFS ({20 * math.log10(new / gain):+.2f} dB)")
        gain = new
    return gain, notes


def apply(
    audio,
    sample_rate: int,
    description: str | None = None,
    eq_amount: float = 1.0,
    reverb_amount: float = 1.0,
    match_loudness: bool = False,
    tail_s: float | None = None,
    eq_words: Iterable[str] = (),
    reverb_words: Iterable[str] = (),
    plan: EffectPlan | None = None,
    fallback=None,
) -> ApplyResult:
    """Apply a description to in-memory audio.

    ``audio``: float ``(channels, samples)`` (1-D = mono); ``sample_rate`` in Hz. ``eq_amount`` in
    −2…2 (0 = bit-exact bypass, 1 = crowd curve, negative = opposite curve); ``reverb_amount`` in 0…2.
    ``tail_s``: seconds added for the reverb to ring out (default its rt60; 0 = keep length).
    Returns :class:`ApplyResult` with ``.audio`` (float32, same channel count), ``.sample_rate`` and
    ``.report`` (what was done). The input array is never modified.
    """
    x = aio.as_audio(audio)
    sample_rate = aio.check_sample_rate(sample_rate)
    plan = plan or plan_effects(description, eq_amount, reverb_amount, eq_words, reverb_words, fallback=fallback)
    report = {"plan": plan.to_dict(), "sample_rate": sample_rate, "channels": x.shape[0], "input_frames": x.shape[1]}
    if plan.is_bypass and not match_loudness:
        report.update(output_frames=x.shape[1], gain_db=0.0, notes=[BYPASS_NOTE])
        return ApplyResult(x.copy(), sample_rate, report)
    tail = resolve_tail_s(plan, tail_s)
    y = np.concatenate(list(process_blocks([x[:, i : i + (1 << 16)] for i in range(0, x.shape[1], 1 << 16)], plan, sample_rate, x.shape[0], tail)), axis=1)
    lin = lout = None
    if match_loudness:
        from timbrelab.dsp.loudness import integrated_loudness

        lin, lout = integrated_loudness(x, sample_rate), integrated_loudness(y, sample_rate)
    gain, notes = output_gain(float(np.max(np.abs(y))) if y.size else 0.0, lin, lout)
    report.update(output_frames=y.shape[1], tail_s=tail, gain_db=round(20 * math.log10(gain), 3), notes=notes)
    out = y.astype(np.float32)  # the same float32 steps as the file path, so both agree bit for bit
    if gain != 1.0:
        out *= np.float32(gain)
    return ApplyResult(out, sample_rate, report)


def settings_record(plan: EffectPlan, reports: list[dict]) -> dict:
    """What ``apply --settings-json`` writes (and ``--from-settings`` reads back): the plan, and each
    file's report without its copy of the plan."""
    return {"plan": plan.to_dict(), "files": [{k: v for k, v in r.items() if k != "plan"} for r in reports]}


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def apply_file(
    in_path,
    out_path,
    plan: EffectPlan,
    match_loudness: bool = False,
    tail_s: float | None = None,
    bit_depth: str | None = None,
    sample_rate: int | None = None,
    block_frames: int = aio.DEFAULT_BLOCK_FRAMES,
    progress: bool | None = None,
) -> dict:
    """Stream ``in_path`` through ``plan`` into ``out_path`` (format from its extension). Returns the report."""
    from tqdm import tqdm

    in_path, out_path = Path(in_path), Path(out_path)
    if same_file(in_path, out_path):
        raise BadParameterError(f"the output {out_path.name} is the input file: choose another output (inputs are never overwritten)")
    aio.container_for(out_path)
    info = aio.info(in_path)
    if not (1 <= block_frames <= 1 << 24):
        raise BadParameterError(f"block size {block_frames} is out of range (1 … {1 << 24} frames)")
    subtype = aio.choose_subtype(out_path, bit_depth, info.subtype)
    sr_out = aio.check_sample_rate(sample_rate) if sample_rate else info.sample_rate
    channels = info.channels
    bypass = plan.is_bypass and not match_loudness and sr_out == info.sample_rate
    tail = 0.0 if bypass else resolve_tail_s(plan, tail_s)
    report = {
        "input": str(in_path), "output": str(out_path), "plan": plan.to_dict(),
        "input_sample_rate": info.sample_rate, "sample_rate": sr_out, "channels": channels,
        "input_frames": info.frames, "subtype": subtype, "tail_s": tail,
    }
    parent = out_path.parent if str(out_path.parent) else Path(".")
    if not parent.is_dir():
        raise AudioFileError(f"{out_path}: the folder {parent} does not exist")
    total = info.frames + int(tail * info.sample_rate)

    def source(meter_in, bar):
        blocks = aio.iter_blocks(in_path, block_frames)
        if sr_out != info.sample_rate:
            blocks = _resampled(blocks, aio.StreamResampler(info.sample_rate, sr_out, channels))
        for b in blocks:
            if meter_in is not None:
                meter_in.process(b)
            bar.update(b.shape[1])
            yield b

    def processed(meter_in, bar):
        return source(meter_in, bar) if bypass else process_blocks(source(meter_in, bar), plan, sr_out, channels, tail)

    disable = (progress is False) or None
    if not match_loudness and ONE_PASS:
        # one pass, straight into the output, while the peak stays under the clip guard's ceiling (the
        # usual case); the output is what the two passes would write with gain 1, bit for bit
        meter_out = LoudnessMeter(sr_out, channels, loudness=False)
        bar = tqdm(total=total, unit="frame", unit_scale=True, desc=in_path.name, disable=disable, leave=False)
        try:
            with aio.AtomicAudioWriter(out_path, sr_out, channels, subtype) as w:
                for y in processed(None, bar):
                    if y.shape[1]:
                        meter_out.process(y)
                        if not bypass and meter_out.peak > CEILING:
                            raise _NeedsGain
                        w.write(np.asarray(y, np.float32))
            notes = [BYPASS_NOTE] if bypass else []
            report.update(output_frames=w.frames, gain_db=0.0, peak_dbfs=round(20 * math.log10(max(meter_out.peak, 1e-12)), 2), notes=notes)
            return report
        except _NeedsGain:
            pass  # the writer removed its temporary file: start again, in two passes
        finally:
            bar.close()
    tmp = bar = None
    try:  # the temporary file is made inside the try: a Ctrl-C / SIGTERM at any moment leaves none behind
        bar = tqdm(total=total * 2, unit="frame", unit_scale=True, desc=in_path.name, disable=disable, leave=False)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.stem}.", suffix=".float.part", dir=parent)
        tmp = Path(tmp_name)
        os.close(fd)
        meter_in = LoudnessMeter(sr_out, channels) if match_loudness else None
        meter_out = LoudnessMeter(sr_out, channels, loudness=match_loudness)  # the clip guard needs only the peak

        import soundfile as sf

        with sf.SoundFile(tmp_name, "w", samplerate=sr_out, channels=channels, format="RF64", subtype="FLOAT") as f:
            for y in processed(meter_in, bar):
                if y.shape[1]:
                    meter_out.process(y)
                    f.write(np.ascontiguousarray(y.T, dtype=np.float32))
        if bypass:
            gain, notes = 1.0, [BYPASS_NOTE]
        else:
            lin = meter_in.integrated_lufs() if meter_in else None
            gain, notes = output_gain(meter_out.peak, lin, meter_out.integrated_lufs() if meter_in else None)
        with aio.AtomicAudioWriter(out_path, sr_out, channels, subtype) as w:
            with sf.SoundFile(tmp_name) as f:
                while True:
                    data = f.read(block_frames, dtype="float32", always_2d=True)
                    if not len(data):
                        break
                    w.write(data.T if gain == 1.0 else (data.T * np.float32(gain)))
                    bar.update(len(data))
        report.update(output_frames=w.frames, gain_db=round(20 * math.log10(gain), 3), peak_dbfs=round(20 * math.log10(max(meter_out.peak * gain, 1e-12)), 2), notes=notes)
        return report
    finally:
        if bar is not None:
            bar.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)


class _NeedsGain(Exception):
    """The one-pass output went over the clip guard's ceiling: apply_file starts again in two passes."""


def _resampled(blocks, rs: "aio.StreamResampler"):
    for b in blocks:
        y = rs.process(b)
        if y.shape[1]:
            yield y
    y = rs.flush()
    if y.shape[1]:
        yield y
