"""`timbrelab bench fx`: speed, accuracy and streaming memory of the EQ and reverb.

On 10 minutes of stereo 44.1 kHz noise (seeded), in one run:
- our 40-band EQ vs pedalboard's chain of 40 PeakFilters at the same centres, gains and Q (4.31):
  wall time (best of ``--repeats``), real-time factor, and how closely each meets the 40 target
  gains at the band centres (pedalboard's peaking filters overlap, so their sum drifts from the curve);
- our Rafii–Pardo reverb ('church' crowd setting) vs pedalboard's Reverb (a Freeverb) — different
  algorithms, timed for scale only;
- peak resident memory and time of a separate process streaming a 1-hour stereo 44.1 kHz WAV through
  ``timbrelab apply`` (EQ + reverb), the file made on the fly in a temporary folder;
- what a user would pick instead, file to file: SoX (40 ``equalizer`` biquads, ``reverb``) and ffmpeg
  (``firequalizer``, ``afir`` with our reverb's impulse response), with their accuracy (EQ error at the
  band centres, reverb decay time) beside their speed (:func:`external_tools`).
Writes JSON, a markdown table and a PNG.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = "reports/fx"
EQ_WORD = "warm"
REVERB_WORD = "church"


def register(sub) -> None:
    p = sub.add_parser(
        "fx",
        help="EQ and reverb speed vs pedalboard, EQ accuracy, 1-hour streaming memory",
        description=(
            "Time the 40-band EQ and the reverb on minutes of stereo 44.1 kHz noise against pedalboard (best of "
            "--repeats), measure the EQ's error at the band centres, then stream a long stereo file through "
            "`apply \"warm, church\"` in a separate process and report its peak memory. Writes JSON, a markdown "
            "table and a PNG."
        ),
        epilog=(
            "examples:\n"
            "  timbrelab bench fx                                  # the README's figures (~5 min)\n"
            "  timbrelab bench fx --minutes 1 --stream-minutes 5   # a quicker look\n"
        ),
    )
    p.add_argument("--json", metavar="FILE", help=f"JSON output (default {DEFAULT_OUT}/bench_fx.json)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for the markdown table and PNG (default {DEFAULT_OUT})")
    p.add_argument("--minutes", type=float, default=10.0, help="length of the noise for the timing runs (default 10)")
    p.add_argument("--stream-minutes", type=float, default=60.0, help="length of the streamed file (default 60)")
    p.add_argument("--repeats", type=int, default=3, help="timing repeats; the best is reported (default 3)")
    p.set_defaults(func=run)


def _best_time(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _pedalboard():
    try:
        import pedalboard
    except ImportError:
        from timbrelab.errors import MissingComponentError

        raise MissingComponentError("bench fx compares against pedalboard: pip install 'pedalboard>=0.9,<0.10'") from None
    return pedalboard


def _stream_child(in_wav: str, out_wav: str, description: str) -> None:
    """Run in a child process: stream a file through apply; print time and peak RSS as JSON.

    Peak RSS is the kernel's high-water mark of this process's own memory (VmHWM): getrusage's
    ru_maxrss would also count the parent's memory at fork time."""
    from timbrelab.fx import apply_file, plan_effects

    plan = plan_effects(description)
    t = time.perf_counter()
    rep = apply_file(in_wav, out_wav, plan, progress=False)
    dt = time.perf_counter() - t
    peak_mb = _vm_hwm_mb()
    print(json.dumps({"time_s": dt, "peak_rss_mb": peak_mb, "output_frames": rep["output_frames"], "gain_db": rep["gain_db"]}))


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource  # not Linux: fall back to getrusage (may include the parent's memory at fork)

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stream(src: Path, out: Path) -> dict:
    """``_stream_child`` in a fresh process (its own peak memory)."""
    code = f"from timbrelab.bench.fx import _stream_child; _stream_child({str(src)!r}, {str(out)!r}, 'warm, church')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"streaming child failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _make_noise_wav(path: Path, minutes: float, sample_rate: int = 44100, rms: float = 0.1) -> float:
    import soundfile as sf

    rng = np.random.default_rng(1)
    frames = int(minutes * 60 * sample_rate)
    with sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=2, format="WAV", subtype="PCM_16") as f:
        block = sample_rate * 30
        for i in range(0, frames, block):
            n = min(block, frames - i)
            f.write(np.clip(rng.standard_normal((n, 2)) * rms, -1, 1).astype(np.float32))
    return frames / sample_rate


def _run_tool(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")


def _write_impulse(path: Path, sr: int, seconds: float, channels: int = 1) -> None:
    import soundfile as sf

    imp = np.zeros((int(seconds * sr), channels), np.float32)
    imp[0] = 0.25  # −12 dBFS: room for the EQs' boosts in the tools' own processing
    sf.write(str(path), imp, sr, subtype="FLOAT")


def _read_ir(path: Path) -> np.ndarray:
    import soundfile as sf

    y, _ = sf.read(str(path), dtype="float64", always_2d=True)
    return y[:, 0] / 0.25


def sox_eq_args(gains_db, sr: int) -> list[str]:
    """SoX's effect chain for the 40-band curve: one ``equalizer`` (peaking biquad, Q 4.31) per band."""
    from timbrelab.dsp.eq import BAND_CENTERS_HZ, EQ_Q_FACTOR

    args = []
    for f, g in zip(BAND_CENTERS_HZ, gains_db):
        if f < 0.95 * sr / 2:
            args += ["equalizer", f"{f:g}", f"{EQ_Q_FACTOR:g}q", f"{g:.3f}"]
    return args


def ffmpeg_eq_filter(gains_db) -> str:
    """ffmpeg's FIR equaliser for the 40-band curve: ``firequalizer`` through the 40 (frequency, gain) points."""
    from timbrelab.dsp.eq import BAND_CENTERS_HZ

    entries = ";".join(f"entry({f:g},{g:.3f})" for f, g in zip(BAND_CENTERS_HZ, gains_db))
    return f"firequalizer=gain_entry='{entries}'"


def external_tools(tmp: Path, minutes: float, sr: int, gains_db, reverb, repeats: int) -> dict:
    """What a user would pick instead, file to file on the same 16-bit stereo WAV, best of ``repeats``:
    SoX (a chain of 40 ``equalizer`` biquads; its ``reverb``) and ffmpeg (``firequalizer``; ``afir``
    convolving with our reverb's own impulse response, the way one adds a reverb in ffmpeg), beside
    timbrelab's ``apply_file`` doing the same (EQ 'warm' only; reverb 'church' only, no tail). Accuracy:
    the EQs' error at the band centres (from an impulse through each tool), the reverbs' decay time T30
    of their impulse responses against the setting's rt60. Tools that are not installed are reported so."""
    import shutil

    import soundfile as sf

    from timbrelab.dsp.analysis import decay_time_s
    from timbrelab.dsp.eq import BAND_CENTERS_HZ, GraphicEQ, response_at
    from timbrelab.dsp.reverb import Reverb
    from timbrelab.fx import EffectPlan, apply_file

    src = tmp / "ext_in.wav"
    _make_noise_wav(src, minutes, sr)
    out = tmp / "ext_out.wav"
    imp, imp_out = tmp / "imp.wav", tmp / "imp_out.wav"
    centres = (BAND_CENTERS_HZ >= 40) & (BAND_CENTERS_HZ <= 16000)
    ir_len_s = min(reverb.settings.rt60_s * 1.5 + 0.5, 12.0)
    rows: dict[str, dict] = {}

    def timed(fn):
        return _best_time(fn, repeats)[0]

    eq_plan = EffectPlan(eq=GraphicEQ(tuple(gains_db)))
    rv_plan = EffectPlan(reverb=Reverb(reverb.settings, 1.0))
    rows["timbrelab EQ"] = {"kind": "eq", "time_s": timed(lambda: apply_file(src, out, eq_plan, tail_s=0.0, progress=False))}
    rows["timbrelab reverb"] = {"kind": "reverb", "time_s": timed(lambda: apply_file(src, out, rv_plan, tail_s=0.0, progress=False))}
    ir_ours = Reverb(reverb.settings, 1.0).impulse_response(sr, ir_len_s, channels=1)[0]
    rows["timbrelab reverb"]["t30_s"] = decay_time_s(ir_ours, sr)
    taps = eq_plan.eq.taps(sr)
    rows["timbrelab EQ"]["max_error_db"] = float(np.max(np.abs(response_at(taps, BAND_CENTERS_HZ[centres], sr) - np.asarray(gains_db)[centres])))

    if shutil.which("sox"):
        eq = sox_eq_args(gains_db, sr)
        rows["SoX equalizer ×40"] = {"kind": "eq", "time_s": timed(lambda: _run_tool(["sox", "-q", str(src), str(out), *eq]))}
        _write_impulse(imp, sr, 2.0)
        _run_tool(["sox", "-q", str(imp), str(imp_out), *eq])
        err = response_at(_read_ir(imp_out), BAND_CENTERS_HZ[centres], sr) - np.asarray(gains_db)[centres]
        rows["SoX equalizer ×40"]["max_error_db"] = float(np.max(np.abs(err)))
        rows["SoX reverb"] = {"kind": "reverb", "time_s": timed(lambda: _run_tool(["sox", "-q", str(src), str(out), "reverb", "100"])),
                              "setting": "reverb 100 (reverberance 100 %, the longest)"}
        _write_impulse(imp, sr, ir_len_s)
        _run_tool(["sox", "-q", str(imp), str(imp_out), "reverb", "-w", "100"])
        rows["SoX reverb"]["t30_s"] = decay_time_s(_read_ir(imp_out), sr)
    else:
        rows["SoX"] = {"kind": "missing", "note": "sox is not installed (Debian package sox; scripts/setup.sh installs it)"}
    if shutil.which("ffmpeg"):
        ff = ["ffmpeg", "-v", "error", "-y"]
        flt = ffmpeg_eq_filter(gains_db)
        rows["ffmpeg firequalizer"] = {"kind": "eq", "time_s": timed(lambda: _run_tool([*ff, "-i", str(src), "-af", flt, str(out)]))}
        _write_impulse(imp, sr, 2.0)
        _run_tool([*ff, "-i", str(imp), "-af", flt, "-c:a", "pcm_f32le", str(imp_out)])
        ir = _read_ir(imp_out)
        # firequalizer is linear-phase with a fixed delay: the magnitude is what is compared
        err = response_at(ir, BAND_CENTERS_HZ[centres], sr) - np.asarray(gains_db)[centres]
        rows["ffmpeg firequalizer"]["max_error_db"] = float(np.max(np.abs(err)))
        ir_wav = tmp / "church_ir.wav"
        sf.write(str(ir_wav), ir_ours.astype(np.float32), sr, subtype="FLOAT")
        rows["ffmpeg afir (our IR)"] = {"kind": "reverb", "time_s": timed(lambda: _run_tool([*ff, "-i", str(src), "-i", str(ir_wav), "-lavfi", "afir", str(out)])),
                                        "setting": f"convolution with our '{REVERB_WORD}' impulse response ({ir_len_s:.1f} s)"}
        _run_tool([*ff, "-i", str(imp), "-i", str(ir_wav), "-lavfi", "afir", "-c:a", "pcm_f32le", str(imp_out)])
        rows["ffmpeg afir (our IR)"]["t30_s"] = decay_time_s(_read_ir(imp_out), sr)
    else:
        rows["ffmpeg"] = {"kind": "missing", "note": "ffmpeg is not installed"}
    return {"minutes": minutes, "file": "16-bit stereo 44.1 kHz WAV, white noise", "target_rt60_s": reverb.settings.rt60_s, "tools": rows}


def run(args) -> int:
    from timbrelab import plots
    from tqdm import tqdm

    from timbrelab.dsp.eq import BAND_CENTERS_HZ, EQ_Q_FACTOR, GraphicEQ, response_at
    from timbrelab.bench.provenance import report_provenance
    from timbrelab.dsp.reverb import Reverb, ReverbSettings
    from timbrelab.errors import BadParameterError
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.lexicon.maps import eq_map, played_curve_db, reverb_map

    if not (0.05 <= args.minutes <= 60) or not (0.05 <= args.stream_minutes <= 180) or not (1 <= args.repeats <= 20):
        raise BadParameterError("--minutes 0.05…60, --stream-minutes 0.05…180, --repeats 1…20")
    pb = _pedalboard()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.json) if args.json else out_dir / "bench_fx.json"
    sr = 44100
    steps = tqdm(total=6, desc="bench fx", unit="step")
    x = (np.random.default_rng(0).standard_normal((2, int(args.minutes * 60 * sr))) * 0.1).astype(np.float32)
    dur = x.shape[1] / sr

    gains = played_curve_db(eq_map().get(EQ_WORD).settings)  # the curve as apply plays it (±5 dB)
    ours = GraphicEQ(tuple(gains))
    ours.taps(sr)  # design once outside the timing (cached per curve and rate, as in real use)
    board = pb.Pedalboard([
        pb.PeakFilter(cutoff_frequency_hz=float(f), gain_db=float(g), q=EQ_Q_FACTOR)
        for f, g in zip(BAND_CENTERS_HZ, gains) if f < 0.95 * sr / 2
    ])
    t_eq, _ = _best_time(lambda: ours(x, sr), args.repeats)
    steps.update()
    t_pb_eq, _ = _best_time(lambda: board(x, sr), args.repeats)
    steps.update()

    # accuracy at the band centres (40 Hz … 16 kHz), from impulse responses
    imp = np.zeros((1, sr * 2), np.float32)
    imp[0, 0] = 1
    centres = (BAND_CENTERS_HZ >= 40) & (BAND_CENTERS_HZ <= 16000)
    err_ours = response_at(ours.taps(sr), BAND_CENTERS_HZ[centres], sr) - gains[centres]
    ir_pb = board(imp, sr)[0].astype(np.float64)
    err_pb = response_at(ir_pb, BAND_CENTERS_HZ[centres], sr) - gains[centres]

    rv = Reverb(ReverbSettings.from_list(reverb_map().get(REVERB_WORD).settings))
    t_rv, _ = _best_time(lambda: rv(x, sr, tail_s=0), args.repeats)
    pb_rv = pb.Pedalboard([pb.Reverb(room_size=0.8)])
    t_pb_rv, _ = _best_time(lambda: pb_rv(x, sr), args.repeats)
    steps.update()
    del x

    with tempfile.TemporaryDirectory(prefix="timbrelab-bench-") as tmp:
        src = Path(tmp) / "long.wav"
        stream_dur = _make_noise_wav(src, args.stream_minutes, sr)
        steps.update()
        child = _stream(src, Path(tmp) / "out.wav")
        # the same length at a hot level (RMS 0.35, peaks at full scale): the EQ's boost then crosses the clip
        # guard's ceiling, so apply makes its second pass (the whole file again, scaled down)
        src.unlink()
        _make_noise_wav(src, args.stream_minutes, sr, rms=0.35)
        hot = _stream(src, Path(tmp) / "out.wav")
        steps.update()
        ext = external_tools(Path(tmp), args.minutes, sr, gains, rv, args.repeats)
        steps.update()
    steps.close()

    result = {
        "benchmark": "fx",
        "provenance": report_provenance("fx", args, packages=("pedalboard", "scipy")),
        "repeats": args.repeats,
        "audio": {"duration_s": dur, "sample_rate": sr, "channels": 2, "signal": "white noise, seed 0"},
        "eq_curve": f"crowd curve '{EQ_WORD}'",
        "eq_time_s": t_eq,
        "pedalboard_eq_time_s": t_pb_eq,
        "eq_time_ratio_vs_pedalboard": t_eq / t_pb_eq,
        "eq_realtime_factor": dur / t_eq,
        "pedalboard_eq_realtime_factor": dur / t_pb_eq,
        "eq_max_error_db": float(np.max(np.abs(err_ours))),
        "pedalboard_eq_max_error_db": float(np.max(np.abs(err_pb))),
        "reverb_setting": f"crowd setting '{REVERB_WORD}' (rt60 {rv.settings.rt60_s:.2f} s)",
        "reverb_time_s": t_rv,
        "pedalboard_reverb_time_s": t_pb_rv,
        "reverb_time_ratio_vs_pedalboard": t_rv / t_pb_rv,
        "reverb_realtime_factor": dur / t_rv,
        "stream_duration_s": stream_dur,
        "stream_description": "warm, church",
        "stream_time_s": child["time_s"],
        "stream_realtime_factor": stream_dur / child["time_s"],
        "stream_peak_rss_mb": child["peak_rss_mb"],
        "stream_gain_db": child["gain_db"],  # 0: one pass (the clip guard had nothing to do)
        "stream_two_pass_time_s": hot["time_s"],
        "stream_two_pass_realtime_factor": stream_dur / hot["time_s"],
        "stream_two_pass_peak_rss_mb": hot["peak_rss_mb"],
        "stream_two_pass_gain_db": hot["gain_db"],  # < 0: the guard scaled the file down in a second pass
        "external_tools": ext,
        "goals": {"eq_time_ratio_vs_pedalboard": "<= 1.0", "reverb_time_ratio_vs_pedalboard": "<= 1.0",
                  "stream_realtime_factor": ">= 150", "stream_peak_rss_mb": "< 300",
                  "stream_two_pass_realtime_factor": ">= 150", "stream_two_pass_peak_rss_mb": "< 300"},
    }
    result["goals_met"] = {
        "eq_time_ratio_vs_pedalboard": result["eq_time_ratio_vs_pedalboard"] <= 1.0,
        "reverb_time_ratio_vs_pedalboard": result["reverb_time_ratio_vs_pedalboard"] <= 1.0,
        "stream_realtime_factor": result["stream_realtime_factor"] >= 150,
        "stream_peak_rss_mb": result["stream_peak_rss_mb"] < 300,
        "stream_two_pass_realtime_factor": result["stream_two_pass_realtime_factor"] >= 150,
        "stream_two_pass_peak_rss_mb": result["stream_two_pass_peak_rss_mb"] < 300,
    }
    md = markdown_table(result)
    fig, (a1, a2) = plots.subplots(1, 2, figsize=(11, 3.4))
    names = ["our EQ", "pedalboard EQ", "our reverb", "pedalboard reverb"]
    times = [t_eq, t_pb_eq, t_rv, t_pb_rv]
    a1.barh(names, times, color=["#08519c", "#bbbbbb", "#a50f15", "#bbbbbb"])
    a1.set(xlabel=f"seconds for {dur / 60:g} min stereo 44.1 kHz (best of {args.repeats})", title="speed")
    a2.semilogx(BAND_CENTERS_HZ[centres], err_ours, "o-", ms=3, label="ours (min-phase FIR)")
    a2.semilogx(BAND_CENTERS_HZ[centres], err_pb, "s-", ms=3, label="pedalboard 40 PeakFilters")
    a2.axhspan(-0.5, 0.5, color="g", alpha=0.1, label="±0.5 dB")
    a2.set(xlabel="band centre (Hz)", ylabel="response − target (dB)", title=f"EQ accuracy, '{EQ_WORD}' curve")
    a2.legend(fontsize=7)
    a2.grid(True, which="both", alpha=0.3)
    plots.save(fig, out_dir / "bench_fx.png", dpi=110, bbox_inches="tight")
    atomic_write_text(json_path, json.dumps(result, indent=1))
    atomic_write_text(out_dir / "bench_fx.md", md)
    print(md)
    print(f"wrote {json_path}, {out_dir / 'bench_fx.md'}, {out_dir / 'bench_fx.png'}")
    return 0


def markdown_table(r: dict) -> str:
    d = r["audio"]["duration_s"] / 60
    rows = [
        "| measure | timbrelab | pedalboard | ratio (ours / pedalboard) |",
        "|---|---|---|---|",
        f"| 40-band EQ, {d:g} min stereo 44.1 kHz | {r['eq_time_s']:.2f} s ({r['eq_realtime_factor']:.0f}× real time) | {r['pedalboard_eq_time_s']:.2f} s ({r['pedalboard_eq_realtime_factor']:.0f}×) | **{r['eq_time_ratio_vs_pedalboard']:.2f}** (goal ≤ 1.0) |",
        f"| EQ max error at band centres 40 Hz–16 kHz | {r['eq_max_error_db']:.3f} dB | {r['pedalboard_eq_max_error_db']:.2f} dB | |",
        f"| reverb ({r['reverb_setting']}; pedalboard: Freeverb) | {r['reverb_time_s']:.2f} s ({r['reverb_realtime_factor']:.0f}× real time) | {r['pedalboard_reverb_time_s']:.2f} s | **{r['reverb_time_ratio_vs_pedalboard']:.2f}** (goal ≤ 1.0) |",
        f"| streaming {r['stream_duration_s'] / 60:g} min file, '{r['stream_description']}', peak memory | {r['stream_peak_rss_mb']:.0f} MB (goal < 300) | | |",
        f"| streaming time (decode, EQ, reverb, encode; a second pass only if the clip guard must scale) | {r['stream_time_s']:.1f} s (**{r['stream_realtime_factor']:.0f}×** real time; goal ≥ 150×) | | |",
        *([f"| the same, a hot file (the clip guard scales it by {r['stream_two_pass_gain_db']:+.1f} dB: both passes) | {r['stream_two_pass_time_s']:.1f} s "
           f"(**{r['stream_two_pass_realtime_factor']:.0f}×** real time; goal ≥ 150×), {r['stream_two_pass_peak_rss_mb']:.0f} MB | | |"] if "stream_two_pass_time_s" in r else []),
    ]
    ext = r.get("external_tools")
    if ext:
        rows += ["", f"What a user would pick instead, file to file on the same {ext['minutes']:g}-minute {ext['file']} (best of {r['repeats']}; "
                 f"the reverb setting's rt60 is {ext['target_rt60_s']:.2f} s):", "",
                 "| tool | effect | time | × real time | accuracy |", "|---|---|---|---|---|"]
        secs = ext["minutes"] * 60
        for name, t in ext["tools"].items():
            if t["kind"] == "missing":
                rows.append(f"| {name} | — | — | — | {t['note']} |")
                continue
            acc = (f"max error at band centres {t['max_error_db']:.2f} dB" if t["kind"] == "eq"
                   else f"T30 {t['t30_s']:.2f} s" + (f" ({t['setting']})" if t.get("setting") else ""))
            rows.append(f"| {name} | {t['kind']} | {t['time_s']:.2f} s | {secs / t['time_s']:.0f}× | {acc} |")
    from timbrelab.bench.provenance import markdown_footer

    return "\n".join(rows) + "\n\n" + markdown_footer(r["provenance"]) + "\n"
