"""`timbrelab bench explore`: the GMVAE explorer on the held-out soundfont, over seeds.

What it does (every number from this run):

1. Trains ``recipes/explorer.toml`` once per seed (``--seeds``, default 0 1 2) — or reuses the
   finished training of the same recipe (``timbrelab train explorer --set train.seed=N`` is the same
   training, resumed from its per-epoch state).
2. Test notes: every semitone of every instrument of MuseScore_General (the held-out soundfont,
   velocity 90) — never used for training, selection or early stopping. The simple classifiers of
   the disentanglement table are fit on the training sources' dry notes.
3. Disentanglement (the paper's style of table): accuracy of a multinomial logistic regression
   (``eval.classification.linear_probe_accuracy``) reading the instrument and the pitch from each
   latent's posterior mean; beside it, the mixtures' own posteriors (the GMVAE as a classifier).
4. Reconstruction: mean absolute log-mel error (dB) of the decoded test notes; the timbre CNN
   (the shipped ``timbre_cnn``) on the original audio and on the audio resynthesised from the
   reconstruction (Griffin-Lim and harmonic): its accuracy on each and the agreement between them;
   and each resynthesis from the *original* spectrogram (what the spectrogram-to-audio step alone costs).
5. Interpolation: ``--triples`` seeded (source note, target instrument) pairs — a held-out note of the
   source at a pitch both instruments play — at α = 0, .25, .5, .75, 1 (z_t + α(μ_target − μ_source),
   pitch latent kept): the fraction where the timbre CNN's probability of the target never falls as
   α grows, and the pitch error of the interpolated notes (pYIN, librosa) in cents against the
   source note's MIDI pitch — beside pYIN's error on the original held-out notes (the tracker's own floor).
6. Speed: one interpolation set (5 notes) from the CLI (a fresh process: start-up and model load
   included) and one studio interaction (one note at a new α, model held in memory).

Selection: the seed with the lowest validation loss (TimGM6mb's notes); the tables give mean ± sd
over seeds and the selected seed's detail; figures of an interpolation, a traversal and the latent
spaces are drawn with the selected model.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from timbrelab.bench.seeds import mean_sd

DEFAULT_OUT = "reports/explore"
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
GOALS = {"pitch_median_cents": 25.0, "pitch_p95_cents": 50.0, "monotonic_fraction": 0.9, "instrument_from_timbre": 0.9,
         "instrument_from_pitch_max_x_chance": 2.0, "studio_seconds": 1.0}
QUICK_SOURCES = ("FluidR3_GM", "TimGM6mb")


def register(sub) -> None:
    p = sub.add_parser(
        "explore",
        help="the GMVAE explorer: disentanglement, reconstruction, interpolation (monotonic target, pitch kept), speed; over seeds",
        description=("Train the GMVAE timbre/pitch explorer over seeds (or reuse finished training) and test each seed on the held-out "
                     "soundfont's notes: instrument and pitch read from each latent, reconstruction error and the timbre CNN's agreement "
                     "(Griffin-Lim and harmonic resynthesis), timbre interpolation (does the CNN's probability of the target rise with α; "
                     "pitch error in cents by pYIN), and speed; JSON, markdown and figures."),
        epilog=(
            "examples:\n"
            "  timbrelab bench explore                   # seeds 0 1 2 (trains what is not trained yet: ~35 min a seed)\n"
            "  timbrelab bench explore --evaluate shipped   # test the packaged model only\n"
            "  timbrelab bench explore --quick           # a smoke run of the pipeline\n"
        ),
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], metavar="N", help="training seeds (default 0 1 2)")
    p.add_argument("--evaluate", metavar="CHECKPOINT", help="train nothing: test this explorer checkpoint ('shipped': the packaged one)")
    p.add_argument("--triples", type=int, default=40, help="interpolation triples per model (default 40)")
    p.add_argument("--json", metavar="FILE", help=f"JSON output (default {DEFAULT_OUT}/bench_explore.json)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for the markdown and PNGs (default {DEFAULT_OUT})")
    p.add_argument("--quick", action="store_true", help="a tiny run (4 instruments, 1 epoch, few notes) to check the pipeline")
    p.set_defaults(func=run)


# ------------------------------------------------------------------------------------ data and models


def _quick_instruments():
    from timbrelab.bench.timbre_cnn import QUICK_INSTRUMENTS

    return tuple(QUICK_INSTRUMENTS)


def _train_seed(seed: int, quick: bool):
    from timbrelab.explore.model import Explorer
    from timbrelab.explore.train import train_recipe
    from timbrelab.ml.recipes import load_recipe

    overrides = [f"train.seed={seed}"]
    if quick:
        overrides += [f"train.instruments={list(_quick_instruments())}", f"train.sources={list(QUICK_SOURCES)}", "train.epochs=1",
                      "train.augment_copies=0", "train.validation_notes=64"]
    recipe = load_recipe("explorer", overrides=overrides)
    trained = train_recipe(recipe, progress=None)
    return Explorer.from_checkpoint(trained.checkpoint), trained.metrics


def test_notes(quick: bool):
    """(NoteFeatures of the held-out soundfont, their audio float32 (n, samples))."""
    from timbrelab.explore.data import load_notes, note_audio, note_spec
    from timbrelab.sounds.datasets import build

    inst = _quick_instruments() if quick else None
    nf = load_notes("test", instruments=inst)
    ds = build(note_spec("test", instruments=inst))
    audio = np.stack([note_audio(ds.audio[i]) for i in range(len(ds.rows))])
    return nf, audio


def fit_notes(quick: bool):
    from timbrelab.explore.data import load_notes

    return load_notes("train", QUICK_SOURCES[:1] if quick else None, instruments=_quick_instruments() if quick else None)


# ------------------------------------------------------------------------------------ measures


def disentanglement(ex, fit, test) -> dict:
    from timbrelab.eval.classification import accuracy, linear_probe_accuracy

    ef, et = ex.encode_logmel(fit.X), ex.encode_logmel(test.X)
    n_i, n_p = len(fit.classes), ex.net.config.n_pitches
    out = {
        "instrument_from_timbre": linear_probe_accuracy(ef["z_timbre"], fit.y_inst, et["z_timbre"], test.y_inst, n_i),
        "instrument_from_pitch": linear_probe_accuracy(ef["z_pitch"], fit.y_inst, et["z_pitch"], test.y_inst, n_i),
        "pitch_from_pitch": linear_probe_accuracy(ef["z_pitch"], fit.y_pitch, et["z_pitch"], test.y_pitch, n_p),
        "pitch_from_timbre": linear_probe_accuracy(ef["z_timbre"], fit.y_pitch, et["z_timbre"], test.y_pitch, n_p),
        "mixture_instrument": accuracy(test.y_inst, et["p_instrument"].argmax(-1)),
        "mixture_pitch": accuracy(test.y_pitch, et["p_pitch"].argmax(-1)),
        "mixture_pitch_within_1": float((np.abs(et["p_pitch"].argmax(-1) - test.y_pitch) <= 1).mean()),
        "chance_instrument": 1.0 / len(np.unique(test.y_inst)),
        "chance_pitch": 1.0 / len(np.unique(test.y_pitch)),
        "fit_notes": len(fit), "test_notes": len(test),
    }
    return out


def _cnn_probs(cnn, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The timbre CNN's class probabilities of one note (mean over its windows)."""
    from timbrelab.timbre_cnn.data import clip_windows

    w = clip_windows(np.asarray(audio, np.float32).reshape(1, -1), sample_rate, cnn.front_end)
    return cnn.window_probabilities(w).mean(axis=0)


def reconstruction(ex, test, audio, cnn, n: int, seed: int = 0) -> dict:
    from timbrelab.explore.data import FEATURES, PITCHES, log_mels
    from timbrelab.explore.synth import METHODS, render

    enc = ex.encode_logmel(test.X)
    rec = ex.decode(enc["z_timbre"], enc["z_pitch"])
    db = 20 / np.log(10)  # natural-log magnitude → dB
    out = {"logmel_mae_db": float(np.abs(rec - test.X).mean() * db)}
    idx = np.random.default_rng(seed).choice(len(test), min(n, len(test)), replace=False)
    cls = {c: i for i, c in enumerate(cnn.classes)}
    truth = np.array([cls.get(test.classes[test.y_inst[i]], -1) for i in idx])
    orig_pred = np.array([int(np.argmax(_cnn_probs(cnn, audio[i], FEATURES.sample_rate))) for i in idx])
    out["cnn_accuracy_original"] = float((orig_pred == truth).mean())
    out["notes"] = int(len(idx))
    for m in METHODS:
        pitch = [PITCHES[int(np.argmax(enc["p_pitch"][i]))] for i in idx]  # the harmonic path plays what the pitch latent reads
        rec_audio = [render(rec[i], m, p)[0] for i, p in zip(idx, pitch)]
        voc_audio = [render(test.X[i], m, int(test.rows[i]["pitch"]))[0] for i in idx]  # the resynthesis alone: the true pitch
        rp = np.array([int(np.argmax(_cnn_probs(cnn, a, FEATURES.sample_rate))) for a in rec_audio])
        vp = np.array([int(np.argmax(_cnn_probs(cnn, a, FEATURES.sample_rate))) for a in voc_audio])
        voc_err = np.abs(log_mels(np.stack(voc_audio)) - _peak_matched(test.X[idx], np.stack(voc_audio), audio[idx])).mean() * db
        out[m] = {"cnn_accuracy_reconstruction": float((rp == truth).mean()), "cnn_agreement_reconstruction": float((rp == orig_pred).mean()),
                  "cnn_accuracy_resynthesis_of_original": float((vp == truth).mean()),
                  "cnn_agreement_resynthesis_of_original": float((vp == orig_pred).mean()),
                  "resynthesis_logmel_mae_db": float(voc_err)}
    return out


def _peak_matched(logmel: np.ndarray, resynth: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The original log-mels shifted by the level change resynthesis applied (it peak-normalises), so the error is about shape."""
    gain = np.log(np.abs(resynth).max(axis=1) / np.maximum(np.abs(original).max(axis=1), 1e-9))
    return logmel + gain[:, None, None]


def tracked_hz(audio: np.ndarray, sample_rate: int) -> float | None:
    """pYIN's (librosa) median f0 over the voiced frames (all tracked frames if none is voiced; None: nothing tracked)."""
    import librosa

    f0, voiced, _ = librosa.pyin(np.asarray(audio, np.float32).reshape(-1), fmin=30.0, fmax=2500.0, sr=sample_rate, frame_length=2048)
    f = f0[voiced] if voiced.any() else f0[~np.isnan(f0)]
    return float(np.median(f)) if len(f) else None


def cents_between(f_hz: float | None, ref_hz: float | None) -> float | None:
    return None if f_hz is None or ref_hz is None else float(abs(1200 * np.log2(f_hz / ref_hz)))


def pitch_error_cents(audio: np.ndarray, midi: int, sample_rate: int) -> float | None:
    """|pYIN's median f0 − the MIDI pitch| in cents (None: nothing tracked)."""
    from timbrelab.explore.synth import midi_to_hz

    return cents_between(tracked_hz(audio, sample_rate), midi_to_hz(midi))


def _triples(test, n: int, seed: int) -> list[tuple[int, str]]:
    """(index of a held-out source note, target instrument): the target plays the note's pitch."""
    from timbrelab.sounds.taxonomy import instrument

    rng = np.random.default_rng(seed)
    names = sorted({r["instrument"] for r in test.rows})
    out = []
    for _ in range(50 * n):
        if len(out) >= n:
            break
        s, t = rng.choice(names, 2, replace=False)
        ti = instrument(str(t))
        cand = [i for i, r in enumerate(test.rows) if r["instrument"] == s and ti.low <= int(r["pitch"]) <= ti.high]
        if cand:
            out.append((int(rng.choice(cand)), str(t)))
    return out


def interpolation(ex, test, audio, cnn, n_triples: int, seed: int = 0) -> dict:
    from timbrelab.explore.data import FEATURES, PITCHES
    from timbrelab.explore.synth import METHODS, midi_to_hz, render

    sr = FEATURES.sample_rate
    cls = {c: i for i, c in enumerate(cnn.classes)}
    triples = _triples(test, n_triples, seed)
    enc = ex.encode_logmel(test.X[[i for i, _ in triples]])
    rows = []
    for k, (i, target) in enumerate(triples):
        src, pitch = test.rows[i]["instrument"], int(test.rows[i]["pitch"])
        read = PITCHES[int(np.argmax(enc["p_pitch"][k]))]  # what the kept pitch latent says: the harmonic path plays this
        zt, zp = ex.interpolation_latents(src, target, ALPHAS, z_timbre=enc["z_timbre"][k], z_pitch=enc["z_pitch"][k])
        logmels = ex.decode(zt, zp)
        original_hz = tracked_hz(audio[i], sr)
        row = {"source": src, "target": target, "pitch_midi": pitch, "pitch_latent_reads": read, "original_tracked_hz": original_hz}
        for m in METHODS:
            notes = [render(lm, m, read)[0] for lm in logmels]
            p_t = [float(_cnn_probs(cnn, a, sr)[cls[target]]) for a in notes]
            hz = [tracked_hz(a, sr) for a in notes]
            row[m] = {"p_target": p_t, "monotonic": bool(np.all(np.diff(p_t) >= 0)),
                      "pitch_error_cents": [cents_between(f, midi_to_hz(pitch)) for f in hz],
                      "pitch_vs_tracked_original_cents": [cents_between(f, original_hz) for f in hz]}
        rows.append(row)
    floor = [cents_between(r["original_tracked_hz"], midi_to_hz(r["pitch_midi"])) for r in rows]
    out = {"triples": len(rows), "alphas": list(ALPHAS), "rows": rows, "tracker_floor": _cents_summary(floor)}
    for m in METHODS:
        errs = [e for r in rows for e in r[m]["pitch_error_cents"]]
        out[m] = {"monotonic_fraction": float(np.mean([r[m]["monotonic"] for r in rows])) if rows else None,
                  "p_target_alpha0": float(np.mean([r[m]["p_target"][0] for r in rows])) if rows else None,
                  "p_target_alpha1": float(np.mean([r[m]["p_target"][-1] for r in rows])) if rows else None,
                  "target_rises_fraction": float(np.mean([r[m]["p_target"][-1] > r[m]["p_target"][0] for r in rows])) if rows else None,
                  "pitch": _cents_summary(errs),
                  "pitch_vs_tracked_original": _cents_summary([e for r in rows for e in r[m]["pitch_vs_tracked_original_cents"]])}
    return out


def _cents_summary(errs) -> dict:
    v = np.array([e for e in errs if e is not None], float)
    return {"median": float(np.median(v)) if len(v) else None, "p95": float(np.percentile(v, 95)) if len(v) else None,
            "within_50_cents": float((v <= 50).mean()) if len(v) else None, "octave_errors": float((v >= 1100).mean()) if len(v) else None,
            "untracked": int(sum(e is None for e in errs)), "n": int(len(errs))}


def speed(model_arg: str | None, ex) -> dict:
    import subprocess
    import sys
    import tempfile

    from timbrelab.explore import play

    out: dict = {}
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "timbrelab", "explore", "interpolate", "--source", "piano", "--target", "saxophone", "--pitch", "60", "-o", d]
        if model_arg:
            cmd += ["--model", model_arg]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        out["cli_interpolation_set_seconds"] = round(time.perf_counter() - t0, 2) if r.returncode == 0 else None
        if r.returncode != 0:
            out["cli_error"] = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["?"]
    for m in ("griffin-lim", "harmonic"):
        times = []
        for a in (0.1, 0.3, 0.5, 0.7, 0.9):
            t0 = time.perf_counter()
            play.interpolate(ex, "piano", "saxophone", [a], pitch=60, method=m)
            times.append(time.perf_counter() - t0)
        out[f"studio_note_seconds_{m}"] = round(float(np.median(times)), 3)
    out.update(studio_http_seconds(ex))
    return out


def studio_http_seconds(ex) -> dict:
    """What the Explore tab waits for: the studio app's own endpoint (POST /api/explore/interpolate, then
    GET of the note's WAV, as the browser does), model in memory, median of five α (after one warm-up);
    through FastAPI's in-process client, so without a network's latency."""
    from fastapi.testclient import TestClient

    from timbrelab.service import Service
    from timbrelab.studio.app import StudioSettings, create_app

    app = create_app(StudioSettings(), service=Service(loader=lambda name: ex if name == "explorer" else None))
    out = {}
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        for m in ("griffin-lim", "harmonic"):
            times = []
            for k, a in enumerate((0.5, 0.1, 0.3, 0.5, 0.7, 0.9)):
                t0 = time.perf_counter()
                r = client.post("/api/explore/interpolate", json={"source": "piano", "target": "saxophone", "pitch": 60, "alpha": a, "method": m})
                r.raise_for_status()
                client.get(r.json()["audio"]["url"]).raise_for_status()
                if k:
                    times.append(time.perf_counter() - t0)
            out[f"studio_http_note_seconds_{m}"] = round(float(np.median(times)), 3)
    return out


# ------------------------------------------------------------------------------------ the run



def _get(d: dict, path: str):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


SPREAD_KEYS = ("disentanglement.instrument_from_timbre", "disentanglement.instrument_from_pitch", "disentanglement.pitch_from_pitch",
               "disentanglement.pitch_from_timbre", "disentanglement.mixture_instrument", "disentanglement.mixture_pitch",
               "reconstruction.logmel_mae_db", "reconstruction.griffin-lim.cnn_agreement_reconstruction",
               "reconstruction.harmonic.cnn_agreement_reconstruction", "interpolation.griffin-lim.monotonic_fraction",
               "interpolation.harmonic.monotonic_fraction", "interpolation.griffin-lim.pitch.median", "interpolation.griffin-lim.pitch.p95",
               "interpolation.harmonic.pitch.median", "interpolation.harmonic.pitch.p95", "interpolation.griffin-lim.pitch_vs_tracked_original.p95",
               "interpolation.griffin-lim.p_target_alpha1", "training.validation_loss", "training.seconds", "training.best_epoch")


def run(args) -> int:
    import json

    import torch

    from timbrelab.bench.provenance import report_provenance
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.ml.registry import load

    prov = report_provenance("explore", args, packages=("librosa",))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    test, audio = test_notes(args.quick)
    fit = fit_notes(args.quick)
    cnn = load("timbre_cnn")
    n_rec = 8 if args.quick else 200
    n_tri = min(args.triples, 4) if args.quick else args.triples
    report: dict = {"provenance": prov, "goals": GOALS, "test_notes": len(test), "seeds": {}}

    models: dict = {}
    if args.evaluate:
        from timbrelab.ml.registry import load_path

        ex = load("explorer") if args.evaluate == "shipped" else load_path(args.evaluate, "timbrelab.explore.model:Explorer")
        models["evaluated"] = (ex, {})
    else:
        for s in args.seeds:
            models[f"seed {s}"] = _train_seed(s, args.quick)

    for name, (ex, metrics) in models.items():
        ex.net.eval()
        entry = {"training": {k: metrics.get(k) for k in ("best_epoch", "validation_loss", "validation_terms", "seconds", "parameters", "size_mb", "data")}}
        entry["disentanglement"] = disentanglement(ex, fit, test)
        entry["reconstruction"] = reconstruction(ex, test, audio, cnn, n_rec)
        entry["interpolation"] = interpolation(ex, test, audio, cnn, n_tri)
        report["seeds"][name] = entry
        print(f"{name}: " + json.dumps({k: entry["disentanglement"][k] for k in ("instrument_from_timbre", "instrument_from_pitch", "pitch_from_pitch")}))

    selected = "evaluated" if args.evaluate else min(report["seeds"], key=lambda k: report["seeds"][k]["training"].get("validation_loss") or 1e18)
    report["selected"] = selected
    sel = models[selected][0]
    report["cost"] = sel.cost()
    model_arg = args.evaluate if args.evaluate and args.evaluate != "shipped" else None  # None: the CLI loads the shipped model
    if not args.evaluate:
        import tempfile

        from timbrelab.ml.checkpoint import save_checkpoint

        tmp = Path(tempfile.mkdtemp()) / "selected.safetensors"
        save_checkpoint(tmp, sel.to_checkpoint())
        model_arg = str(tmp)
    report["speed"] = {**speed(model_arg, sel), "torch_threads": torch.get_num_threads()}
    if len(report["seeds"]) > 1:
        report["spread"] = {k: mean_sd([_get(v, k) for v in report["seeds"].values()]) for k in SPREAD_KEYS}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    report["verdict"] = verdict(report)

    json_path = Path(args.json or out / "bench_explore.json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(json_path, json.dumps(report, indent=1, default=float) + "\n")
    text = markdown(report, prov)
    atomic_write_text(out / "bench_explore.md", text)
    try:
        figures(sel, test, out)
    except Exception as exc:  # a figure is not worth losing the numbers for
        print(f"figures not drawn: {exc}")
    print(text)
    return 0


def verdict(r: dict) -> dict:
    S = r["seeds"][r["selected"]]
    g = GOALS
    d, it = S["disentanglement"], S["interpolation"]
    v = {}
    for m in ("griffin-lim", "harmonic"):
        p = it[m]["pitch"]
        v[f"pitch kept ({m})"] = p["median"] is not None and p["median"] <= g["pitch_median_cents"] and p["p95"] <= g["pitch_p95_cents"]
        v[f"target rises monotonically ({m})"] = (it[m]["monotonic_fraction"] or 0) >= g["monotonic_fraction"]
    v["instrument from z_timbre ≥ 0.9"] = d["instrument_from_timbre"] >= g["instrument_from_timbre"]
    v["instrument from z_pitch ≤ 2× chance"] = d["instrument_from_pitch"] <= g["instrument_from_pitch_max_x_chance"] * d["chance_instrument"]
    s = r["speed"].get("studio_http_note_seconds_griffin-lim", r["speed"].get("studio_note_seconds_griffin-lim"))
    v["studio note ≤ 1 s"] = s is not None and s <= g["studio_seconds"]
    return v


def _f(x, digits=3) -> str:
    if x is None:
        return "–"
    if isinstance(x, dict):
        return "–" if x.get("mean") is None else f"{x['mean']:.{digits}f} ± {x['sd']:.{digits}f}"
    return f"{x:.{digits}f}"


def markdown(r: dict, prov: dict) -> str:
    from timbrelab.bench.provenance import markdown_footer

    sel = r["selected"]
    S = r["seeds"][sel]
    d, rec, it = S["disentanglement"], S["reconstruction"], S["interpolation"]
    L = ["# The timbre/pitch explorer (`timbrelab bench explore`)", "",
         f"Held-out soundfont (MuseScore_General): {r['test_notes']} notes. Selected (lowest validation loss): **{sel}**.", ""]
    if "spread" in r:
        sp = r["spread"]
        L += [f"## Over seeds ({len(r['seeds'])} seeds, mean ± sd)", "", "| measure | mean ± sd |", "|---|---|"]
        for k, v in sp.items():
            L.append(f"| {k} | {_f(v)} |")
        L.append("")
    L += ["## Disentanglement (held-out soundfont; a logistic regression on each latent's posterior mean, fit on the training sources' notes)", "",
          "| read | from z_timbre | from z_pitch | chance | the mixture's own posterior |", "|---|---|---|---|---|",
          f"| instrument ({int(round(1 / d['chance_instrument']))} classes) | {_f(d['instrument_from_timbre'])} | {_f(d['instrument_from_pitch'])} | "
          f"{_f(d['chance_instrument'])} | {_f(d['mixture_instrument'])} |",
          f"| pitch (MIDI note, exact) | {_f(d['pitch_from_timbre'])} | {_f(d['pitch_from_pitch'])} | {_f(d['chance_pitch'])} | "
          f"{_f(d['mixture_pitch'])} (±1 semitone: {_f(d['mixture_pitch_within_1'])}) |", ""]
    L += ["## Reconstruction", "", f"Log-mel error of the decoded held-out notes: {rec['logmel_mae_db']:.2f} dB (mean absolute). "
          f"Timbre CNN (shipped) on {rec['notes']} held-out notes: accuracy {rec['cnn_accuracy_original']:.3f} on the original audio.", "",
          "| audio from spectrogram | CNN accuracy, reconstruction | CNN agrees with original, reconstruction | CNN accuracy, resynthesis of the original spectrogram | log-mel error of that resynthesis (dB) |",
          "|---|---|---|---|---|"]
    for m in ("griffin-lim", "harmonic"):
        x = rec[m]
        L.append(f"| {m} | {_f(x['cnn_accuracy_reconstruction'])} | {_f(x['cnn_agreement_reconstruction'])} | {_f(x['cnn_accuracy_resynthesis_of_original'])} | "
                 f"{_f(x['resynthesis_logmel_mae_db'], 2)} |")
    L += ["", f"## Interpolation ({it['triples']} triples, α = {', '.join(f'{a:g}' for a in it['alphas'])})", "",
          "| audio from spectrogram | target's CNN probability never falls | rises from α=0 to 1 | mean P(target) α=0 → 1 | pitch error median (cents) | 95th pct | within 50 cents | octave errors | untracked |",
          "|---|---|---|---|---|---|---|---|---|"]
    for m in ("griffin-lim", "harmonic"):
        x = it[m]
        p = x["pitch"]
        L.append(f"| {m} | {_f(x['monotonic_fraction'])} | {_f(x['target_rises_fraction'])} | {_f(x['p_target_alpha0'])} → {_f(x['p_target_alpha1'])} | "
                 f"{_f(p['median'], 1)} | {_f(p['p95'], 1)} | {_f(p['within_50_cents'])} | {_f(p['octave_errors'])} | {p['untracked']} of {p['n']} |")
    L += ["", "The same notes against pYIN's reading of the original source note instead of its MIDI pitch (what is left when the tracker's own "
          "octave confusions on that note are taken out): " + "; ".join(
              f"{m}: median {_f(it[m]['pitch_vs_tracked_original']['median'], 1)} cents, 95th percentile {_f(it[m]['pitch_vs_tracked_original']['p95'], 1)}, "
              f"within 50 cents {_f(it[m]['pitch_vs_tracked_original']['within_50_cents'])}" for m in ("griffin-lim", "harmonic")) + "."]
    fl = it["tracker_floor"]
    L += ["", f"pYIN on the original held-out source notes (the tracker's own floor): median {_f(fl['median'], 1)} cents, 95th percentile {_f(fl['p95'], 1)}, "
          f"octave errors {_f(fl['octave_errors'])}. The harmonic resynthesis plays the pitch the kept pitch latent reads (its nearest mixture component, "
          "a whole semitone): its error is 0 when that reading is right and ≥ 100 cents when it is not; Griffin-Lim's pitch comes from the decoded spectrogram alone.", ""]
    sp = r["speed"]
    L += ["## Speed", "", f"One interpolation set (5 notes, Griffin-Lim) from the CLI, a fresh process: {sp.get('cli_interpolation_set_seconds')} s. "
          f"One studio interaction (a note at a new α, model in memory): {sp.get('studio_note_seconds_griffin-lim')} s with Griffin-Lim, "
          f"{sp.get('studio_note_seconds_harmonic')} s harmonic ({sp.get('torch_threads')} torch threads); through the studio's endpoint "
          f"(POST /api/explore/interpolate + GET of the WAV): {sp.get('studio_http_note_seconds_griffin-lim')} s / "
          f"{sp.get('studio_http_note_seconds_harmonic')} s.", ""]
    c, tr = r["cost"], S["training"]
    L += [f"Model: {c['parameters']:,} parameters, {c['size_mb']} MB float32." + (f" Training ({sel}): {tr['seconds'] / 60:.1f} min, best epoch {tr['best_epoch']}." if tr.get("seconds") else ""), ""]
    L += ["## Goals (issue 14)", "", "| goal | met |", "|---|---|"] + [f"| {k} | {'met' if v else 'not met'} |" for k, v in r["verdict"].items()]
    L += ["", f"Bench time {r['seconds'] / 60:.1f} min.", "", markdown_footer(prov), ""]
    return "\n".join(L)


def figures(ex, test, out: Path) -> None:
    from timbrelab import plots
    from timbrelab.explore import play

    names = {r["instrument"] for r in test.rows}
    src, tgt = ("piano", "saxophone") if {"piano", "saxophone"} <= names else tuple(sorted(names)[:2])
    play.spectrogram_figure(play.interpolate(ex, src, tgt, ALPHAS, pitch=60), out / "interpolation.png")
    play.spectrogram_figure(play.traverse(ex, src, 60, 1, (-2, -1, 0, 1, 2)), out / "traversal.png")
    enc = ex.encode_logmel(test.X)
    fig, axes = plots.subplots(1, 2, figsize=(10, 4.5))
    for ax, key, labels, title in ((axes[0], "z_timbre", test.y_inst, "z_timbre (colour: instrument)"), (axes[1], "z_pitch", test.y_pitch, "z_pitch (colour: MIDI pitch − 28)")):
        z = enc[key] - enc[key].mean(axis=0)
        _, _, vt = np.linalg.svd(z, full_matrices=False)
        xy = z @ vt[:2].T
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=labels, s=5, cmap="tab20" if key == "z_timbre" else "viridis")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("first principal axis", fontsize=8)
        ax.set_ylabel("second principal axis", fontsize=8)
        if key == "z_pitch":
            fig.colorbar(sc, ax=ax)
    fig.suptitle("the held-out notes' latents (posterior means)", fontsize=10)
    plots.save(fig, out / "latents.png")
