"""`timbrelab bench separate`: the text-queried separator on held-out and real mixtures, over seeds.

What it does (every number from this run; nothing read from elsewhere but the seed's and AudioSep's
published figures, shown beside ours for orientation):

1. Trains ``recipes/separator.toml`` once per seed (``--seeds``, default 0 1 2) — or reuses the
   finished training of the same recipe (the trainer's per-phase states: a run of
   ``timbrelab train separator --set train.seed=N`` is the same training) — and keeps each seed's
   model after phase 1 (query network frozen) and after phase 2 (unfrozen).
2. Test sets, none ever used for training, selection or early stopping:
   - ``held-out soundfont``: duets and trios of MuseScore_General renders (the timbre CNN's test corpus,
     3-s clips), the sources at equal RMS, including violin + trumpet duets as in seed 002; every source
     is asked for by name ("the violin");
   - ``real Medley mixtures``: sums of two Medley-solos-DB recordings of different instruments
     (CC BY 4.0, ``sounds.recordings``), at equal RMS, each asked for by name;
   - ``wrong query``: each held-out duet asked for an instrument it does not contain: the output's
     energy relative to the mixture's (dB; lower is better), beside the same for present queries.
3. Metrics (``eval.separation``): SDR and SDRi (plain SDR, as the seed and AudioSep report; BSS-eval v3
   SDR by mir_eval for the selected model when mir_eval is installed), SI-SDR and SI-SDRi, the seed's
   spectral correlation and MSE; per target instrument; median and mean.
4. Baselines in the same run: the mixture itself (SDRi 0 by definition; its SDR is shown), the oracle
   ideal ratio mask on the model's STFT (an upper bound for a magnitude mask with the mixture's phase),
   an unconditioned one that knows only how many sources there are (the mixture divided by their
   number: what a mask that cannot tell the sources apart does best at equal levels), and a non-learned
   query-conditioned one: a band-pass over the named instrument's pitch range (its lowest fundamental
   to 4× its highest, from the taxonomy).
5. Speed: real-time factor of ``separate_file`` on a 60-s stereo 44.1-kHz file on this machine's cores.

Selection: the shipped model is the seed with the best validation SDRi (validation = TimGM6mb
mixtures, a training source); the tables give mean ± sd over seeds and the selected seed's detail.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from timbrelab.bench.seeds import mean_sd

DEFAULT_OUT = "reports/separate"
PAPER = {  # Pang, Shen & Teng (seed 002), SDR / SDRi on their violin/trumpet duets; AudioSep on MUSIC
    "seed 002, fine-tuned AudioSep": {"violin": {"sdr": 16.87, "sdri": 15.88, "spectral_correlation": 0.9898, "spectral_mse": 0.0009},
                                      "trumpet": {"sdr": 10.09, "sdri": 9.01, "spectral_correlation": 0.9575, "spectral_mse": 0.0006}},
    "seed 002, pre-trained AudioSep": {"violin": {"sdr": 17.57, "sdri": 17.10, "spectral_correlation": 0.9933, "spectral_mse": 0.0006},
                                       "trumpet": {"sdr": -9.91, "sdri": -5.59, "spectral_correlation": 0.2872, "spectral_mse": 0.0272}},
    "AudioSep (MUSIC test, SDRi)": {"all": {"sdri": 10.51}},
}


def register(sub) -> None:
    p = sub.add_parser(
        "separate",
        help="the text-queried separator: held-out soundfont and real Medley mixtures, baselines, seeds, speed",
        description=("Train the text-queried separator over seeds (or reuse finished training), then test each seed after phase 1 "
                     "(query network frozen) and phase 2 (unfrozen) on held-out-soundfont duets and trios, real Medley-solos-DB "
                     "mixtures and a wrong-query control, beside the mixture, mixture ÷ number of sources, a pitch-range band-pass "
                     "and the oracle ideal ratio mask; SDR, SDRi, SI-SDR(i), spectral correlation and MSE, BSS-eval SDR for the "
                     "selected seed, speed; JSON, markdown and figures."),
        epilog=(
            "examples:\n"
            "  timbrelab bench separate                 # seeds 0 1 2 (trains what is not trained yet: ~25 min a seed)\n"
            "  timbrelab bench separate --seeds 0       # one seed\n"
            "  timbrelab bench separate --evaluate shipped   # test the packaged model only\n"
            "  timbrelab bench separate --quick         # a smoke run of the pipeline\n"
        ),
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], metavar="N", help="training seeds (default 0 1 2)")
    p.add_argument("--evaluate", metavar="CHECKPOINT", help="train nothing: test this separator checkpoint ('shipped': the packaged one)")
    p.add_argument("--json", metavar="FILE", help=f"JSON output (default {DEFAULT_OUT}/bench_separate.json)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for the markdown and PNGs (default {DEFAULT_OUT})")
    p.add_argument("--quick", action="store_true", help="a tiny run (few mixtures, a few training steps) to check the pipeline")
    p.set_defaults(func=run)


# ------------------------------------------------------------------------------------ test sets


def _equal_rms(parts: list[np.ndarray], rms: float = 0.05) -> list[np.ndarray]:
    out = []
    for p in parts:
        r = float(np.sqrt(np.mean(p.astype(np.float64) ** 2)))
        out.append((p * (rms / max(r, 1e-8))).astype(np.float32))
    return out


def heldout_mixtures(quick: bool = False) -> list[dict]:
    """Duets (violin + trumpet among them) and trios of the held-out soundfont's clips."""
    from timbrelab.bench.timbre_cnn import test_specs
    from timbrelab.sounds.datasets import build

    ds = build(test_specs(quick)["test_corpus"])
    by: dict[str, list[int]] = {}
    for i, r in enumerate(ds.rows):
        if r["instrument"] != "no instrument" and float(np.abs(np.asarray(ds.audio[i], np.float32)).max()) > 1e-3:
            by.setdefault(r["instrument"], []).append(i)
    names = sorted(by)
    rng = np.random.default_rng(2002)
    plans = []
    if "violin" in by and "trumpet" in by:
        plans += [("violin", "trumpet")] * (3 if quick else 12)
    plans += [tuple(rng.choice(names, 2, replace=False)) for _ in range(4 if quick else 60)]
    plans += [tuple(rng.choice(names, 3, replace=False)) for _ in range(2 if quick else 30)]
    out = []
    for k, plan in enumerate(plans):
        clips = [np.asarray(ds.audio[by[n][int(rng.integers(len(by[n])))]], np.float32) for n in plan]
        srcs = _equal_rms(clips)
        absent = [n for n in names if n not in plan]
        out.append({"id": f"heldout-{k}", "instruments": list(plan), "sources": srcs, "mixture": np.sum(srcs, axis=0),
                    "sample_rate": ds.sample_rate, "absent": absent[int(rng.integers(len(absent)))]})
    return out


def medley_mixtures(sample_rate: int, quick: bool = False) -> list[dict]:
    """Pairs of real Medley-solos-DB recordings of different instruments, summed at equal RMS."""
    from timbrelab.audio import read_audio
    from timbrelab.sounds.recordings import real_set

    recs = real_set("medley")
    audio = [read_audio(r.path, sample_rate, mono=True)[0][0] for r in recs]
    rng = np.random.default_rng(1989)
    out = []
    n = 6 if quick else 80
    while len(out) < n:
        i, j = (int(v) for v in rng.choice(len(recs), 2, replace=False))
        if recs[i].instrument == recs[j].instrument:
            continue
        m = min(len(audio[i]), len(audio[j]))
        srcs = _equal_rms([audio[i][:m], audio[j][:m]])
        out.append({"id": f"medley-{len(out)}", "instruments": [recs[i].instrument, recs[j].instrument], "sources": srcs,
                    "mixture": np.sum(srcs, axis=0), "sample_rate": sample_rate, "files": [Path(recs[i].path).name, Path(recs[j].path).name]})
    return out


# ------------------------------------------------------------------------------------ systems


def query_of(name: str) -> str:
    return f"the {name}"


def irm_estimate(model_config, mixture: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Oracle ideal ratio mask ``|S| / (|S| + |M − S|)`` on the model's STFT, with the mixture's phase."""
    import torch

    from timbrelab.features.stft import istft, stft

    c = model_config.stft_config()
    with torch.no_grad():
        M, S = stft(torch.from_numpy(mixture), c), stft(torch.from_numpy(source), c)
        N = M - S
        mask = S.abs() / (S.abs() + N.abs() + 1e-8)
        return istft(mask * M, c, mixture.shape[-1]).numpy()


def bandpass_estimate(model_config, mixture: np.ndarray, name: str, sample_rate: int) -> np.ndarray:
    """The non-learned baseline: keep the STFT bins from the instrument's lowest fundamental to 4× its highest."""
    import torch

    from timbrelab.features.stft import istft, stft
    from timbrelab.sounds.taxonomy import instrument

    inst = instrument(name)
    lo, hi = 440.0 * 2 ** ((inst.low - 69) / 12), 4 * 440.0 * 2 ** ((inst.high - 69) / 12)
    c = model_config.stft_config()
    freqs = np.arange(c.n_bins) * sample_rate / c.n_fft
    keep = torch.from_numpy(((freqs >= lo * 0.94) & (freqs <= hi)).astype(np.float32))[:, None]
    with torch.no_grad():
        M = stft(torch.from_numpy(mixture), c)
        return istft(keep * M, c, mixture.shape[-1]).numpy()


def _metrics(ref: np.ndarray, est: np.ndarray, mix: np.ndarray) -> dict:
    from timbrelab.eval import separation as S

    return {"sdr": S.sdr(ref, est), "sdri": S.sdr_improvement(ref, est, mix), "si_sdr": S.si_sdr(ref, est),
            "si_sdri": S.si_sdr_improvement(ref, est, mix), "spectral_correlation": S.spectral_correlation(ref, est),
            "spectral_mse": S.spectral_mse(ref, est)}


def _energy_db(x: np.ndarray, ref: np.ndarray) -> float:
    return 10 * math.log10(max(float(np.sum(x.astype(np.float64) ** 2)), 1e-20) / max(float(np.sum(ref.astype(np.float64) ** 2)), 1e-20))


def score_model(model, mixes: list[dict], wrong_query: bool = False) -> list[dict]:
    """One row per (mixture, queried source) — and, with ``wrong_query``, per absent query."""
    rows = []
    for m in mixes:
        queries = [query_of(n) for n in m["instruments"]] + ([query_of(m["absent"])] if wrong_query else [])
        est = model.separate(m["mixture"][None], m["sample_rate"], queries)[:, 0]
        for k, name in enumerate(m["instruments"]):
            rows.append({"mixture": m["id"], "instrument": name, "n_sources": len(m["instruments"]),
                         "output_db": _energy_db(est[k], m["mixture"]), **_metrics(m["sources"][k], est[k], m["mixture"])})
        if wrong_query:
            rows.append({"mixture": m["id"], "instrument": m["absent"], "absent": True, "output_db": _energy_db(est[-1], m["mixture"])})
    return rows


def score_baselines(model_config, mixes: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"mixture": [], "mixture ÷ number of sources": [], "pitch-range band-pass": [], "oracle IRM": []}
    for m in mixes:
        for k, name in enumerate(m["instruments"]):
            ref, mix = m["sources"][k], m["mixture"]
            base = {"mixture": m["id"], "instrument": name, "n_sources": len(m["instruments"])}
            out["mixture"].append({**base, **_metrics(ref, mix, mix)})
            out["mixture ÷ number of sources"].append({**base, **_metrics(ref, mix / len(m["instruments"]), mix)})
            out["oracle IRM"].append({**base, **_metrics(ref, irm_estimate(model_config, mix, ref), mix)})
            out["pitch-range band-pass"].append({**base, **_metrics(ref, bandpass_estimate(model_config, mix, name, m["sample_rate"]), mix)})
    return out


def summary(rows: list[dict]) -> dict:
    rows = [r for r in rows if not r.get("absent")]
    out = {"n": len(rows)}
    for k in ("sdr", "sdri", "si_sdr", "si_sdri", "spectral_correlation", "spectral_mse", "output_db", "bss_sdr", "bss_sdri"):
        v = np.array([r[k] for r in rows if k in r and r[k] is not None and np.isfinite(r[k])], float)
        if len(v):
            out[k] = {"median": float(np.median(v)), "mean": float(v.mean())}
    return out


def per_instrument(rows: list[dict]) -> dict:
    names = sorted({r["instrument"] for r in rows if not r.get("absent")})
    return {n: summary([r for r in rows if r["instrument"] == n and not r.get("absent")]) for n in names}


def speed(model, seconds: float = 60.0) -> dict:
    import tempfile

    import soundfile as sf

    from timbrelab.separate.stream import separate_file

    with tempfile.TemporaryDirectory() as d:
        x = (0.1 * np.random.default_rng(0).standard_normal((int(seconds * 44100), 2))).astype(np.float32)
        src = Path(d) / "mix.wav"
        sf.write(src, x, 44100, subtype="FLOAT")
        t0 = time.perf_counter()
        separate_file(model, src, ["the violin"], Path(d) / "v.wav", Path(d) / "r.wav", progress=False)
        s = time.perf_counter() - t0
    return {"file": f"{seconds:.0f} s stereo 44.1 kHz WAV, one query + residual", "seconds": round(s, 2), "real_time_factor": round(s / seconds, 4)}


# ------------------------------------------------------------------------------------ run


def _train_seed(seed: int, quick: bool):
    """(final model, phase-1 model, training metrics) of one seed, reusing finished training."""
    from timbrelab.ml.checkpoint import load_training_state
    from timbrelab.ml.recipes import load_recipe
    from timbrelab.separate.model import Separator, SeparatorNet
    from timbrelab.separate.train import state_dir_for, train_recipe

    overrides = [f"train.seed={seed}"]
    if quick:
        from timbrelab.bench.timbre_cnn import QUICK_INSTRUMENTS

        overrides += [f"train.data.corpus.instruments={list(QUICK_INSTRUMENTS)}", "train.data.corpus.clips_per_class=6",
                      "train.data.corpus.no_instrument_clips=8", "train.data.corpus.name='cnn-quick-corpus'",
                      "train.data.augmented.name='cnn-quick-augmented'", "train.epoch_examples=16", "train.validation_examples=8", "train.phase1.epochs=1", "train.phase2.epochs=1"]
    recipe = load_recipe("separator", overrides=overrides)
    trained = train_recipe(recipe, progress=None)
    final = Separator.from_checkpoint(trained.checkpoint)
    p1 = SeparatorNet(final.net.config)
    p1.load_state_dict(load_training_state(state_dir_for(recipe) / "phase1.done.safetensors")["model"])
    return final, Separator(p1, "separator-phase1"), trained.metrics



def _fmt(d, key="median", digits=2) -> str:
    if d is None:
        return "–"
    if isinstance(d, dict) and "mean" in d and "sd" in d:
        return "–" if d["mean"] is None else f"{d['mean']:.{digits}f} ± {d['sd']:.{digits}f}"
    v = d.get(key) if isinstance(d, dict) else d
    return "–" if v is None else f"{v:.{digits}f}"


def run(args) -> int:
    import json

    import torch

    from timbrelab.bench.provenance import markdown_footer, report_provenance
    from timbrelab.io_utils import atomic_write_text

    prov = report_provenance("separate", args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    heldout = heldout_mixtures(args.quick)
    medley = medley_mixtures(heldout[0]["sample_rate"], args.quick)
    sets = {"held-out soundfont": heldout, "real Medley mixtures": medley}
    report: dict = {"provenance": prov, "paper": PAPER, "test_sets": {k: {"mixtures": len(v), "queries": sum(len(m["instruments"]) for m in v)} for k, v in sets.items()},
                    "seeds": {}, "baselines": {}}

    models: dict = {}
    if args.evaluate:
        from timbrelab.ml.registry import load, load_path

        m = load("separator") if args.evaluate == "shipped" else load_path(args.evaluate, "timbrelab.separate.model:Separator")
        models["evaluated"] = (m, None, {})
    else:
        for s in args.seeds:
            models[f"seed {s}"] = _train_seed(s, args.quick)

    for name, (final, p1, metrics) in models.items():
        entry = {"training": {k: v for k, v in metrics.items() if k in ("phase1", "phase2", "training_seconds", "validation_sdri_db_start", "parameters",
                                                                         "query_parameters", "macs_per_second", "receptive_field_s")}}
        for label, model in (("phase 2", final), ("phase 1", p1)):
            if model is None:
                continue
            res = {}
            for set_name, mixes in sets.items():
                rows = score_model(model, mixes, wrong_query=(set_name == "held-out soundfont"))
                absent = [r["output_db"] for r in rows if r.get("absent")]
                res[set_name] = {"summary": summary(rows), "per_instrument": per_instrument(rows), "rows": rows,
                                 **({"wrong_query_output_db": {"median": float(np.median(absent)), "mean": float(np.mean(absent))}} if absent else {})}
            entry[label] = res
        report["seeds"][name] = entry

    config = next(iter(models.values()))[0].net.config
    for set_name, mixes in sets.items():
        b = score_baselines(config, mixes)
        report["baselines"][set_name] = {k: {"summary": summary(v), "per_instrument": per_instrument(v)} for k, v in b.items()}

    # selection: best validation SDRi (phase 2) among the seeds
    if args.evaluate:
        selected = "evaluated"
    else:
        selected = max(report["seeds"], key=lambda k: report["seeds"][k]["training"].get("phase2", report["seeds"][k]["training"].get("phase1", {})).get("validation_sdri_db") or -1e9)
    report["selected"] = selected
    sel_model = models[selected][0]
    report["cost"] = {**sel_model.cost(), "size_mb": round(sum(p.numel() for p in sel_model.net.state_dict().values()) * 4 / 1e6, 2)}
    try:
        from timbrelab.eval.separation import bss_eval_sdr

        for set_name in sets:
            rows = report["seeds"][selected]["phase 2"][set_name]["rows"]
            mixes = {m["id"]: m for m in sets[set_name]}
            for r in rows:
                if not r.get("absent"):
                    m = mixes[r["mixture"]]
                    k = m["instruments"].index(r["instrument"])
                    est = sel_model.separate(m["mixture"][None], m["sample_rate"], [query_of(r["instrument"])])[0, 0]
                    r["bss_sdr"] = bss_eval_sdr(m["sources"][k], est)
                    r["bss_sdri"] = r["bss_sdr"] - bss_eval_sdr(m["sources"][k], m["mixture"])  # BSS-eval SDR of the mixture as the baseline
            report["seeds"][selected]["phase 2"][set_name]["summary"] = summary(rows)
            report["seeds"][selected]["phase 2"][set_name]["per_instrument"] = per_instrument(rows)
    except Exception as exc:  # mir_eval is a dev extra
        report["bss_eval"] = f"not computed: {exc}"
    torch_threads = torch.get_num_threads()
    report["speed"] = {**speed(sel_model, 10.0 if args.quick else 60.0), "torch_threads": torch_threads}

    # spread over seeds
    if len(models) > 1:
        spread = {}
        for label in ("phase 1", "phase 2"):
            for set_name in sets:
                for k in ("sdri", "si_sdri", "sdr"):
                    spread.setdefault(label, {}).setdefault(set_name, {})[f"median_{k}"] = mean_sd(
                        [report["seeds"][s][label][set_name]["summary"].get(k, {}).get("median") for s in report["seeds"]])
                for inst in ("violin", "trumpet"):
                    spread[label][set_name][f"{inst}_median_sdri"] = mean_sd(
                        [report["seeds"][s][label][set_name]["per_instrument"].get(inst, {}).get("sdri", {}).get("median") for s in report["seeds"]])
            spread[label]["held-out soundfont"]["wrong_query_output_db"] = mean_sd(
                [report["seeds"][s][label]["held-out soundfont"]["wrong_query_output_db"]["median"] for s in report["seeds"]])
            spread[label]["validation_sdri_db"] = mean_sd(
                [report["seeds"][s]["training"].get(label.replace(" ", ""), {}).get("validation_sdri_db") for s in report["seeds"]])
        report["spread"] = spread
    report["seconds"] = round(time.perf_counter() - t0, 1)

    json_path = Path(args.json or out / "bench_separate.json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(json_path, json.dumps(report, indent=1, default=float) + "\n")
    atomic_write_text(out / "bench_separate.md", markdown(report, prov))
    try:
        figures(report, sets, sel_model, out)
    except Exception as exc:
        print(f"figures not drawn: {exc}")
    print(markdown(report, prov))
    return 0


def markdown(r: dict, prov: dict) -> str:
    from timbrelab.bench.provenance import markdown_footer

    sel = r["selected"]
    S = r["seeds"][sel]
    lines = ["# Text-queried separation (`timbrelab bench separate`)", ""]
    lines += [f"Test sets: " + "; ".join(f"{k}: {v['mixtures']} mixtures, {v['queries']} queries" for k, v in r["test_sets"].items()) + ".",
              f"Selected (best validation SDRi): **{sel}**. SDR is the plain signal-to-distortion ratio (seed 002 and AudioSep report it); "
              "BSS-eval v3 SDR (mir_eval) for the selected model in the last column. Medians over queries.", ""]
    if "spread" in r:
        lines += [f"## Over seeds ({len(r['seeds'])} seeds, mean ± sd of each seed's median)", "",
                  "| model | set | SDRi dB | SI-SDRi dB | SDR dB | violin SDRi | trumpet SDRi | wrong-query output dB | validation SDRi |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for label in ("phase 1", "phase 2"):
            for set_name, d in r["spread"][label].items():
                if not isinstance(d, dict) or "median_sdri" not in d:
                    continue
                lines.append(f"| {label} ({'query frozen' if label == 'phase 1' else 'query trained'}) | {set_name} | {_fmt(d['median_sdri'])} | {_fmt(d['median_si_sdri'])} | "
                             f"{_fmt(d['median_sdr'])} | {_fmt(d['violin_median_sdri'])} | {_fmt(d['trumpet_median_sdri'])} | "
                             f"{_fmt(d.get('wrong_query_output_db'))} | {_fmt(r['spread'][label]['validation_sdri_db'])} |")
        lines.append("")
    lines += ["## Systems (the selected model and the baselines, median over queries)", "",
              "| system | set | SDR | SDRi | SI-SDR | SI-SDRi | spectral corr. | spectral MSE | BSS-eval SDR | BSS-eval SDRi |", "|---|---|---|---|---|---|---|---|---|---|"]
    for set_name in r["test_sets"]:
        systems = [(f"{sel}, phase 2", S["phase 2"][set_name]["summary"])]
        if "phase 1" in S:
            systems.append((f"{sel}, phase 1", S["phase 1"][set_name]["summary"]))
        systems += [(k, v["summary"]) for k, v in r["baselines"][set_name].items()]
        for name, s in systems:
            lines.append(f"| {name} | {set_name} | {_fmt(s.get('sdr'))} | {_fmt(s.get('sdri'))} | {_fmt(s.get('si_sdr'))} | {_fmt(s.get('si_sdri'))} | "
                         f"{_fmt(s.get('spectral_correlation'), digits=3)} | {_fmt(s.get('spectral_mse'), digits=4)} | {_fmt(s.get('bss_sdr'))} | {_fmt(s.get('bss_sdri'))} |")
    wq = S["phase 2"]["held-out soundfont"].get("wrong_query_output_db")
    present = S["phase 2"]["held-out soundfont"]["summary"].get("output_db")
    if wq:
        lines += ["", f"Wrong-query control (held-out duets and trios asked for an absent instrument): output energy {wq['median']:.1f} dB relative to the "
                  f"mixture (median; present queries: {present['median']:.1f} dB)."]
    lines += ["", "## Per instrument (selected model, phase 2, held-out soundfont; median SDRi dB / SI-SDRi dB / spectral corr., n)", "",
              "| instrument | SDRi | SI-SDRi | spectral corr. | n |", "|---|---|---|---|---|"]
    for name, s in S["phase 2"]["held-out soundfont"]["per_instrument"].items():
        lines.append(f"| {name} | {_fmt(s.get('sdri'))} | {_fmt(s.get('si_sdri'))} | {_fmt(s.get('spectral_correlation'), digits=3)} | {s['n']} |")
    lines += ["", "Real Medley mixtures, per instrument (median SDRi dB, n): " +
              ", ".join(f"{k} {_fmt(v.get('sdri'))} ({v['n']})" for k, v in S["phase 2"]["real Medley mixtures"]["per_instrument"].items()) + "."]
    lines += ["", "## Beside the papers (orientation only: other data, other protocols)", "",
              "| system | violin SDR / SDRi | trumpet SDR / SDRi | violin spectral corr. / MSE | trumpet spectral corr. / MSE |", "|---|---|---|---|---|"]
    for name, d in r["paper"].items():
        if "violin" in d:
            v, t = d["violin"], d["trumpet"]
            lines.append(f"| {name} | {v['sdr']:.2f} / {v['sdri']:.2f} | {t['sdr']:.2f} / {t['sdri']:.2f} | {v['spectral_correlation']:.4f} / {v['spectral_mse']:.4f} | "
                         f"{t['spectral_correlation']:.4f} / {t['spectral_mse']:.4f} |")
    pv, pt = (S["phase 2"]["held-out soundfont"]["per_instrument"].get(k, {}) for k in ("violin", "trumpet"))
    if pv and pt:
        lines.append(f"| timbrelab ({sel}), held-out violin+trumpet and other mixtures | {_fmt(pv.get('sdr'))} / {_fmt(pv.get('sdri'))} | {_fmt(pt.get('sdr'))} / {_fmt(pt.get('sdri'))} | "
                     f"{_fmt(pv.get('spectral_correlation'), digits=4)} / {_fmt(pv.get('spectral_mse'), digits=4)} | {_fmt(pt.get('spectral_correlation'), digits=4)} / {_fmt(pt.get('spectral_mse'), digits=4)} |")
    lines.append("")
    lines.append("AudioSep reports SDRi 10.51 dB on the MUSIC test set. The seed fine-tunes on violin/trumpet duets of real recordings; ours is trained on "
                 "soundfont renders only and tested on a soundfont it never saw and on real Medley-solos-DB sums; our spectral MSE normalisation is stated in "
                 "`eval/separation.py`.")
    c, sp = r["cost"], r["speed"]
    lines += ["", f"Model: {c['parameters']:,} separation parameters + {c['query_parameters']:,} in the query network (TimbreCLAP's text tower), "
              f"{c['macs_per_second'] / 1e6:.0f} M multiply-adds per second of audio, receptive field {c['receptive_field_s']} s, {c['size_mb']} MB of float32 weights. "
              f"Speed: {sp['file']} in {sp['seconds']} s (real-time factor {sp['real_time_factor']}, {sp['torch_threads']} torch threads)."]
    tr = S["training"]
    if tr.get("training_seconds"):
        lines.append(f"Training ({sel}): {tr['training_seconds'] / 60:.1f} min "
                     f"(phase 1 best epoch {tr.get('phase1', {}).get('best_epoch')}, phase 2 best epoch {tr.get('phase2', {}).get('best_epoch')}).")
    lines += ["", f"Bench time {r['seconds'] / 60:.1f} min.", "", markdown_footer(prov), ""]
    return "\n".join(lines)


def figures(r: dict, sets: dict, model, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from timbrelab.features.stft import stft

    sel = r["selected"]
    # 1. SDRi distributions: model vs baselines per set
    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4), squeeze=False)
    for ax, set_name in zip(axes[0], sets):
        data = [[x["sdri"] for x in r["seeds"][sel]["phase 2"][set_name]["rows"] if not x.get("absent")]]
        labels = ["timbrelab"]
        for b in ("pitch-range band-pass", "oracle IRM"):
            bs = score_baselines(model.net.config, sets[set_name])[b]
            data.append([x["sdri"] for x in bs])
            labels.append(b.replace("pitch-range ", ""))
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(labels) + 1), labels)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_title(set_name)
        ax.set_ylabel("SDRi (dB)")
    fig.tight_layout()
    fig.savefig(out / "sdri_boxes.png", dpi=110)
    plt.close(fig)
    # 2. spectrograms of a violin + trumpet duet: mixture, references, estimates
    m = next((m for m in sets["held-out soundfont"] if m["instruments"] == ["violin", "trumpet"]), sets["held-out soundfont"][0])
    est = model.separate(m["mixture"][None], m["sample_rate"], [query_of(n) for n in m["instruments"]])[:, 0]
    panels = [("mixture", m["mixture"])] + [(f"reference: {n}", s) for n, s in zip(m["instruments"], m["sources"])] + \
             [(f"estimate: \"{query_of(n)}\"", e) for n, e in zip(m["instruments"], est)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.0 * len(panels)), sharex=True)
    c = model.net.config.stft_config()
    for ax, (title, x) in zip(axes, panels):
        with torch.no_grad():
            S = stft(torch.from_numpy(np.ascontiguousarray(x, np.float32)), c).abs().numpy()
        ax.imshow(20 * np.log10(S[:256] + 1e-4), origin="lower", aspect="auto", vmin=-60, vmax=40, cmap="magma",
                  extent=[0, len(x) / m["sample_rate"], 0, 256 * m["sample_rate"] / c.n_fft / 1000])
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("kHz")
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(out / "spectrograms_violin_trumpet.png", dpi=110)
    plt.close(fig)
