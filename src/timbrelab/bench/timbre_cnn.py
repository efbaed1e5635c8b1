"""`timbrelab bench timbre-cnn`: the timbre CNNs of Pons et al. (2017) and their baselines, trained and tested here.

Data (rendered by ``timbrelab.sounds``, split by soundfont — no test sound shares a sample with
training): training = single notes (pitches jittered, so no class owns an exact pitch grid: a first
run with grid-aligned train and test notes let the models learn "pitch 60 → saxophone") and short phrases of all 28 instrument classes from FluidR3_GM +
TimGM6mb, with 15 % of the training clips (by class) held out for early stopping; tests = (1) single
notes from MuseScore_General (cross-soundfont), (2) mixtures of 2–3 MuseScore phrases (multi-label,
like IRMAS's predominant-instrument test, threshold 0.2), with test notes off the training pitch grid
and at another velocity, (3) real recordings from Debian packages
(top-1). Clip predictions average the window probabilities. Models: single-layer and multi-layer
(the paper's), small-rectangular (Choi-style 3×3) and Dieleman-style full-height filters at 1× and
2× the multi-layer's parameters. The model with the best *validation* accuracy is the one shipped;
test sets are never used to choose. The training data and the shipped architecture are those of the
recipe ``timbrelab/recipes/timbre-cnn.toml``; the shipped model is made the way every model is:
``timbrelab train timbre-cnn -o RUN_DIR`` then ``timbrelab ship RUN_DIR``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = "reports/timbre_cnn"
PAPER_IRMAS = [("single-layer", 62_000, 0.559, 0.484), ("multi-layer", 743_000, 0.589, 0.516), ("Han et al. (2017)", 1_446_000, 0.602, 0.503)]
QUICK_INSTRUMENTS = ("violin", "flute", "piano", "trumpet")


def register(sub) -> None:
    p = sub.add_parser(
        "timbre-cnn",
        help="instrument recognition CNNs (Pons et al. 2017) vs baselines, cross-soundfont",
        description=(
            "Train the single-layer and multi-layer timbre CNNs of Pons et al. (2017) and the small-rectangular "
            "and Dieleman baselines on notes of the training soundfonts, select by validation accuracy, and "
            "test on the held-out soundfont's notes and mixtures and on real recordings. The shipped model is "
            "trained from the recipe (its architecture: this bench's selection) with `timbrelab train timbre-cnn` "
            "and put into the package with `timbrelab ship RUN_DIR`."
        ),
        epilog=(
            "examples:\n"
            "  timbrelab bench timbre-cnn                          # all six models (~30 min)\n"
            "  timbrelab bench timbre-cnn --models small-rect-1x --epochs 4\n"
            "  timbrelab bench timbre-cnn --quick --models dieleman-1x   # check the pipeline (~1 min)\n"
        ),
    )
    p.add_argument("--json", metavar="FILE", help=f"JSON output (default {DEFAULT_OUT}/bench_timbre_cnn.json)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for the markdown table and PNGs (default {DEFAULT_OUT})")
    p.add_argument("--models", nargs="+", metavar="NAME", help="only these configurations (default: all six)")
    p.add_argument("--epochs", type=int, default=12, help="maximum epochs (default 12; early stopping, patience 3)")
    p.add_argument("--quick", action="store_true", help="a tiny run (4 instruments, 1 epoch) to check the pipeline")
    p.set_defaults(func=run)


def data_specs(quick: bool = False) -> dict:
    from timbrelab.sounds.catalogue import SPLITS
    from timbrelab.sounds.datasets import MixSetSpec, NoteSetSpec, PhraseSetSpec

    inst = QUICK_INSTRUMENTS if quick else None
    if quick:
        return {
            "train_notes": NoteSetSpec("cnn-quick-train-notes", SPLITS["train"], inst, pitch_step=12, velocities=(90,), duration_s=1.0, release_s=0.3),
            "train_phrases": PhraseSetSpec("cnn-quick-train-phrases", SPLITS["train"], inst, per_instrument=1, duration_s=3.0),
            "test_notes": NoteSetSpec("cnn-quick-test-notes", SPLITS["test"], inst, pitch_step=12, velocities=(90,), duration_s=1.0, release_s=0.3),
            "test_mixes": MixSetSpec("cnn-quick-test-mixes", SPLITS["test"], inst, n_mixes=4, duration_s=3.0),
        }
    from timbrelab.ml.recipes import load_recipe
    from timbrelab.timbre_cnn.train import recipe_specs

    return {
        # the recipe's training sets (pitches jittered: no class owns an exact pitch grid); test pitches off the training grid
        **recipe_specs(load_recipe("timbre-cnn")["train"]),
        "test_notes": NoteSetSpec("cnn-test-notes", SPLITS["test"], None, pitch_step=4, velocities=(100,), duration_s=1.5, release_s=0.5, pitch_offset=2),
        "test_mixes": MixSetSpec("cnn-test-mixes", SPLITS["test"], None, n_mixes=60, duration_s=3.0),
    }


def run(args) -> int:
    import torch
    from tqdm import tqdm

    from timbrelab.bench.provenance import report_provenance
    from timbrelab.errors import BadParameterError
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.sounds.datasets import build, spec_dict
    from timbrelab.sounds.recordings import recordings
    from timbrelab.timbre_cnn import data as TD
    from timbrelab.timbre_cnn.evaluate import clip_probabilities, score
    from timbrelab.eval.classification import confusion
    from timbrelab.plots import confusion_matrix
    from timbrelab.timbre_cnn.models import count_parameters, paper_configs
    from timbrelab.timbre_cnn.train import TrainConfig, train_model

    configs = paper_configs(len(TD.CLASSES))
    names = args.models or list(configs)
    unknown = [n for n in names if n not in configs]
    if unknown:
        raise BadParameterError(f"unknown model(s) {', '.join(unknown)} (known: {', '.join(configs)})")
    if not (1 <= args.epochs <= 200):
        raise BadParameterError("--epochs must be 1 … 200")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.json) if args.json else out_dir / "bench_timbre_cnn.json"
    t0 = time.perf_counter()

    specs = data_specs(args.quick)
    built = {k: build(s) for k, s in specs.items()}
    train_all = TD.concat([TD.from_dataset(built["train_notes"]), TD.from_dataset(built["train_phrases"])])
    train, val = TD.split_validation(train_all, 0.15, seed=0)
    tests = {"notes": TD.from_dataset(built["test_notes"]), "mixes": TD.from_dataset(built["test_mixes"])}
    recs = recordings()
    if args.quick:
        recs = [r for r in recs if r.instrument in QUICK_INSTRUMENTS][:3]
    if recs:
        tests["real"] = TD.from_recordings(recs)
    test_seconds = {"notes": len(built["test_notes"]) * specs["test_notes"].samples / built["test_notes"].sample_rate}
    data_seconds = time.perf_counter() - t0
    cfg = TrainConfig(max_epochs=1 if args.quick else args.epochs, patience=3, seed=0)

    results, models = {}, {}
    for name in tqdm(names, desc="bench timbre-cnn", unit="model"):
        r = train_model(configs[name], train, val, cfg)
        m = r.model
        models[name] = m
        row = {"config": configs[name].to_dict(), "params": count_parameters(m), "training_seconds": r.seconds, "best_epoch": r.best_epoch,
               "epochs_run": len(r.history), "history": r.history, "val_accuracy": max(h["val_accuracy"] for h in r.history)}
        for tname, w in tests.items():
            t = time.perf_counter()
            s, probs = score(m, w, multi_label=(tname == "mixes"))
            if tname == "notes":
                row["inference_realtime_factor"] = test_seconds["notes"] / (time.perf_counter() - t)
            row[tname] = s
        results[name] = row
    selected = max(results, key=lambda n: (results[n]["val_accuracy"], -results[n]["params"]))
    # confusion matrix of the selected model on the cross-soundfont notes
    probs = clip_probabilities(models[selected], tests["notes"])
    cm = confusion(tests["notes"].labels, probs.argmax(axis=1), len(TD.CLASSES))
    confusion_matrix(cm, TD.CLASSES, f"{selected}: cross-soundfont notes (MuseScore_General)", out_dir / "confusion_notes.png")

    result = {
        "benchmark": "timbre-cnn",
        "provenance": report_provenance("timbre-cnn", args, torch_threads=torch.get_num_threads()),
        "classes": list(TD.CLASSES),
        "data": {k: {"spec": spec_dict(s), "clips": len(built[k])} for k, s in specs.items()},
        "windows": {"train": int(len(train.X)), "validation": int(len(val.X)), **{k: int(len(w.X)) for k, w in tests.items()}},
        "clips": {"train": train.n_clips, "validation": val.n_clips, **{k: w.n_clips for k, w in tests.items()}},
        "real_recordings": [{"file": n, "instrument": TD.CLASSES[int(l)]} for n, l in zip(tests["real"].names, tests["real"].labels)] if "real" in tests else [],
        "train_config": cfg.to_dict(),
        "models": results,
        "selected_by_validation": selected,
        "paper_irmas": [{"model": m, "params": p, "micro_f1": a, "macro_f1": b} for m, p, a, b in PAPER_IRMAS],
        "seconds": {"data": round(data_seconds, 1), "total": round(time.perf_counter() - t0, 1)},
    }
    ml, sr = results.get("multi-layer"), [results[n] for n in results if n.startswith("small-rect")]
    if ml and sr:
        result["goal"] = {
            "text": "multi-layer macro-F1 on cross-soundfont notes >= small-rect's, with at most half its parameters",
            "comparisons": [{"small_rect": n, "small_rect_params": results[n]["params"], "small_rect_macro_f1": results[n]["notes"]["macro_f1"],
                             "multi_layer_params": ml["params"], "multi_layer_macro_f1": ml["notes"]["macro_f1"],
                             "param_ratio": ml["params"] / results[n]["params"],
                             "met": ml["notes"]["macro_f1"] >= results[n]["notes"]["macro_f1"] and ml["params"] <= 0.5 * results[n]["params"]}
                            for n in results if n.startswith("small-rect")],
        }
    md = markdown_table(result)
    _plot(result, out_dir)
    atomic_write_text(json_path, json.dumps(result, indent=1, default=float))
    atomic_write_text(out_dir / "bench_timbre_cnn.md", md)
    print(md)
    print(f"wrote {json_path}, {out_dir / 'bench_timbre_cnn.md'}, {out_dir / 'bench_timbre_cnn.png'}, {out_dir / 'confusion_notes.png'}")
    return 0


def markdown_table(r: dict) -> str:
    def f(x):
        return f"{x:.3f}"

    lines = ["| model | params | val acc | notes acc | notes macro-F1 | mixes micro-F1 | mixes macro-F1 | real top-1 | train s | epochs | inference × real time |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for n, m in r["models"].items():
        mark = " **(selected)**" if n == r["selected_by_validation"] else ""
        real = f(m["real"]["accuracy"]) if "real" in m else "–"
        lines.append(f"| {n}{mark} | {m['params']:,} | {f(m['val_accuracy'])} | {f(m['notes']['accuracy'])} | {f(m['notes']['macro_f1'])} | {f(m['mixes']['micro_f1'])} | {f(m['mixes']['macro_f1'])} | {real} | {m['training_seconds']:.0f} | {m['best_epoch']}/{m['epochs_run']} | {m['inference_realtime_factor']:.0f} |")
    lines += ["", "Paper (IRMAS, 11 classes, predominant-instrument test) — **different data**, for orientation only:", "",
              "| model | params | micro F1 | macro F1 |", "|---|---|---|---|"]
    lines += [f"| {p['model']} | {p['params'] / 1000:.0f}k | {p['micro_f1']:.3f} | {p['macro_f1']:.3f} |" for p in r["paper_irmas"]]
    c = r["clips"]
    lines += ["", f"Data: {len(r['classes'])} classes; training {c['train']} clips ({r['windows']['train']} windows) + validation {c['validation']} clips from FluidR3_GM + TimGM6mb; "
              f"tests: {c['notes']} MuseScore_General notes, {c['mixes']} mixtures of 2–3 MuseScore phrases (threshold 0.2), {c.get('real', 0)} real recordings. "
              f"Total run time {r['seconds']['total'] / 60:.1f} min."]
    if "goal" in r:
        for g in r["goal"]["comparisons"]:
            lines.append(f"Goal vs {g['small_rect']}: multi-layer macro-F1 {g['multi_layer_macro_f1']:.3f} vs {g['small_rect_macro_f1']:.3f}, parameters ×{g['param_ratio']:.2f} — {'met' if g['met'] else 'not met'}.")
    from timbrelab.bench.provenance import markdown_footer

    lines += ["", markdown_footer(r["provenance"])]
    return "\n".join(lines) + "\n"


def _plot(r: dict, out_dir: Path) -> None:
    from timbrelab import plots

    names = list(r["models"])
    sets = [("notes", "macro_f1", "cross-soundfont notes macro-F1"), ("mixes", "macro_f1", "mixtures macro-F1"), ("real", "accuracy", "real recordings top-1")]
    fig = plots.figure(figsize=(13, 3.2))
    axes = fig.subplots(1, 3, sharey=True)
    for ax, (t, k, title) in zip(axes, sets):
        vals = [r["models"][n][t][k] if t in r["models"][n] else 0 for n in names]
        colors = ["#a50f15" if n == r["selected_by_validation"] else "#3182bd" for n in names]
        ax.barh(names, vals, color=colors)
        for i, n in enumerate(names):
            ax.text(vals[i] + 0.01, i, f"{vals[i]:.2f} ({r['models'][n]['params'] / 1000:.0f}k)", va="center", fontsize=7)
        ax.set(xlim=(0, 1.15), title=title)
    fig.suptitle("timbre CNNs (red: selected by validation accuracy)", fontsize=10)
    plots.save(fig, out_dir / "bench_timbre_cnn.png", dpi=110)
