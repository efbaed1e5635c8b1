"""The main job on a bundled example: descriptors at amounts 0.3 / 0.6 / 1.0, audio + a report.

``run_demo(out_dir)`` applies each descriptor to the bundled CC0 guitar clip at each amount, writes
the audio (FLAC), before/after spectra and EQ curves or decay curves (PNG), an HTML page with players
and a JSON record of every setting.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path

import numpy as np

from timbrelab.audio import read_audio, write_audio
from timbrelab.dsp.analysis import average_spectrum_db, energy_decay_db, smooth_octave_db
from timbrelab.dsp.eq import BAND_CENTERS_HZ
from timbrelab.fx import apply, plan_effects
from timbrelab.lexicon.resolve import used_summary
from timbrelab import plots
from timbrelab.io_utils import atomic_write_text

DEFAULT_DESCRIPTORS = ["warm", "bright", "tinny", "less muddy", "more air", "toasty", "small room", "church"]
DEFAULT_AMOUNTS = [0.3, 0.6, 1.0]
EXAMPLE = "guitar_em9.flac"
SEPARATION_EXAMPLE = "duet_violin_trumpet.flac"


def example_path() -> Path:
    """The bundled example clip (CC0 electric guitar, see examples/PROVENANCE.md)."""
    return Path(str(resources.files("timbrelab").joinpath("examples", EXAMPLE)))


def separation_example_path() -> Path:
    """The bundled separation example: a violin + trumpet duet rendered from the held-out soundfont (see examples/PROVENANCE.md)."""
    return Path(str(resources.files("timbrelab").joinpath("examples", SEPARATION_EXAMPLE)))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def run_demo(out_dir, descriptors=None, amounts=None, input_path=None, progress: bool | None = None, fallback=None) -> dict:
    """``fallback``: the strategy for words in no crowd map (default: the trained models, loaded once for this demo)."""
    from timbrelab.dsp.amount import check_amount
    from timbrelab.dsp.reverb import MAX_REVERB_AMOUNT
    from timbrelab.errors import BadParameterError
    from timbrelab.io_utils import atomic_dir

    descriptors = descriptors or DEFAULT_DESCRIPTORS
    amounts = amounts or DEFAULT_AMOUNTS
    # everything that can fail on the user's input fails here, before anything is written
    if fallback is None:
        from timbrelab.word2fx.fallback import ModelFallback

        fallback = ModelFallback()
    plans = {desc: plan_effects(desc, fallback=fallback) for desc in descriptors}
    has_reverb = any(p.reverb is not None for p in plans.values())
    for a in amounts:
        check_amount(a, "amount")
        if has_reverb and not (0 <= a <= MAX_REVERB_AMOUNT):
            raise BadParameterError(f"amount {a:g} cannot drive a reverb (0 … {MAX_REVERB_AMOUNT:g}); a reverb descriptor is in the demo")
    src = Path(input_path) if input_path else example_path()
    x, sr = read_audio(src)
    with atomic_dir(out_dir, replace_if=lambda p: (p / "demo.json").exists()) as tmp:
        record = _render(tmp, descriptors, amounts, plans, src, x, sr, progress, fallback)
    return record


def _render(out_dir: Path, descriptors, amounts, plans, src: Path, x, sr: int, progress, fallback=None) -> dict:
    # a Figure of its own (drawn by the Agg canvas when saved): no pyplot state, no global backend switch
    from matplotlib.figure import Figure
    from tqdm import tqdm

    write_audio(out_dir / "original.flac", x, sr, bit_depth="24")
    f0, p0 = average_spectrum_db(x, sr)
    keep = f0 >= 20
    record = {"input": src.name, "sample_rate": sr, "amounts": amounts, "descriptors": []}
    jobs = [(d, a) for d in descriptors for a in amounts]
    bar = tqdm(total=len(jobs), desc="demo", unit="render", disable=(progress is False) or None)
    for desc in descriptors:
        plan = plans[desc]
        effect = "reverb" if plan.reverb is not None and plan.eq is None else "eq"
        entry = {"description": desc, "plan": plan.to_dict(), "renders": []}
        fig = Figure(figsize=(16, 3.6))
        axes = fig.subplots(1, 3)
        ax_a, ax_s, ax_c = axes
        ax_a.semilogx(f0[keep], smooth_octave_db(f0, p0, 3)[keep], color="k", lw=1.2, label="before")
        ax_s.axhline(0, color="k", lw=1, label="original")
        s0 = smooth_octave_db(f0, p0, 3)
        for a, color in zip(amounts, ["#9ecae1", "#4292c6", "#08519c", "#08306b", "#041d40"]):
            res = apply(x, sr, desc, eq_amount=a, reverb_amount=a, fallback=fallback)
            name = f"{_slug(desc)}_{a:g}.flac"
            write_audio(out_dir / name, res.audio, sr, bit_depth="24")
            f1, p1 = average_spectrum_db(res.audio[:, : x.shape[1]], sr)
            s1 = smooth_octave_db(f1, p1, 3)
            ax_s.semilogx(f1[keep], (s1 - s0)[keep], color=color, lw=1, label=f"amount {a:g}")
            ax_a.semilogx(f1[keep], s1[keep], color=color, lw=0.9, label=f"after, amount {a:g}")
            if res.report["plan"]["eq"]:
                g = np.array(res.report["plan"]["eq"]["effective_gains_db"])
                ax_c.semilogx(BAND_CENTERS_HZ, g, "o-", ms=2.5, color=color, label=f"amount {a:g}")
            if res.report["plan"]["reverb"]:
                from timbrelab.dsp.reverb import Reverb

                rv = Reverb.from_dict(res.report["plan"]["reverb"])
                ir = rv.impulse_response(sr, min(rv.settings.rt60_s * 1.2 + 0.1, 8.0))
                edc = energy_decay_db(ir, normalise=False)
                ax_c.plot(np.arange(len(edc)) / sr, edc, color=color, label=f"amount {a:g}")
            entry["renders"].append({"amount": a, "file": name, "gain_db": res.report["gain_db"], "notes": res.report["notes"]})
            bar.update(1)
        ax_a.set(xlabel="frequency (Hz)", ylabel="power (dB)", title="average spectrum before / after", xlim=(20, sr / 2))
        fig.suptitle(f"'{desc}'", fontsize=12, y=1.06, fontweight="bold")  # above the panels: a long description cannot run into the next title
        ax_a.legend(fontsize=7)
        ax_a.grid(True, which="both", alpha=0.3)
        ax_s.set(xlabel="frequency (Hz)", ylabel="after − before (dB)", title="change of the average spectrum (1/3 octave)", xlim=(20, sr / 2))
        ax_s.legend(fontsize=7)
        ax_s.grid(True, which="both", alpha=0.3)
        if effect == "eq":
            ax_c.axhline(0, color="0.6", lw=0.8)
            ax_c.set(xlabel="frequency (Hz)", ylabel="gain (dB)", title="EQ curve applied")
        else:
            ax_c.set(xlabel="time (s)", ylabel="energy decay (dB)", title="reverb energy decay, re. the dry impulse", ylim=(-80, 10))
        ax_c.legend(fontsize=7)
        ax_c.grid(True, which="both", alpha=0.3)
        png = f"{_slug(desc)}.png"
        plots.save(fig, out_dir / png, dpi=110, bbox_inches="tight")
        entry["plot"] = png
        record["descriptors"].append(entry)
    bar.close()
    atomic_write_text(out_dir / "demo.json", json.dumps(record, indent=1))
    atomic_write_text(out_dir / "index.html", _html(record))
    return record


def _html(record: dict) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>timbrelab demo</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}td{padding:4px 10px}img{max-width:100%}</style></head><body>",
        f"<h1>timbrelab demo</h1><p>Input: {html.escape(record['input'])} ({record['sample_rate']} Hz). "
        "Each descriptor at amounts " + ", ".join(f"{a:g}" for a in record["amounts"]) + ".</p>",
        "<p>original: <audio controls src='original.flac'></audio></p>",
    ]
    for d in record["descriptors"]:
        parts.append(f"<h2>{html.escape(d['description'])}</h2>")
        for r in d["plan"]["descriptors"]:
            used = html.escape(used_summary(r["used"]))
            parts.append(f"<p>'{html.escape(r['text'])}' → {r['effect'].upper()} from {r['source']} ({used}) {html.escape(r['note'])}</p>")
        parts.append("<table><tr>" + "".join(f"<td>amount {x['amount']:g}<br><audio controls src='{x['file']}'></audio></td>" for x in d["renders"]) + "</tr></table>")
        parts.append(f"<img src='{d['plot']}' alt='spectra and curves for {html.escape(d['description'])}'>")
    parts.append("<p>Settings of every render: <a href='demo.json'>demo.json</a>.</p></body></html>")
    return "\n".join(parts)
