"""`timbrelab bench timbre-cnn-ablation`: what each augmentation family (and each training source)
buys on the real recordings.

One architecture (default: the recipe's), several seeds, trained exactly as the recipe trains it but
on a smaller corpus (``--clips-per-class``, default 50 per source and class, so that the nine-plus
augmented variants build in reasonable time) and a smaller training budget (``ABLATION_TRAINING``:
5 epochs of 2,000 clips instead of the recipe's 10 of 4,000; ``--set`` overrides it), so that twelve
variants × three seeds fit in hours of two cores, not days. The rows compare variants under one
protocol; they are not the recipe's scores. Variants:

- ``all``: every augmentation family as the recipe sets it (the reference row);
- ``no-augmentation``: plain copies;
- ``no-FAMILY`` for each family of ``sounds.augment.FAMILIES``: every family but that one;
- ``no-SOURCE`` for each training source but the validation source: the corpus without it;
- ``with-dry``: every family, and the dry corpus clips train beside their augmented copies (the
  recipe's ``train.with_dry``; every other row trains on the augmented copies only).

Each row: Medley-solos-DB and Debian top-1 (mean ± sd over seeds), held-out soundfont notes
macro-F1, the "no instrument" rate on non-instrument sounds, and the change of the Medley/Debian
top-1 against ``all``. The same tests as ``bench timbre-cnn``, never used to train, select or stop.
Finished (variant, seed) runs are kept under ``--runs`` so an interrupted ablation resumes.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

DEFAULT_OUT = "reports/timbre_cnn"
DEFAULT_RUNS = "runs/bench-timbre-cnn-ablation"
#: the ablation's training budget (recipe overrides, before the user's ``--set``)
ABLATION_TRAINING = ("train.max_epochs=5", "train.epoch_clips=2000")


def register(sub) -> None:
    p = sub.add_parser(
        "timbre-cnn-ablation",
        help="what each augmentation family and training source buys on real recordings (timbre CNN)",
        description="Train the recipe's timbre CNN on a smaller corpus with each augmentation family (and each training source) "
                    "left out in turn, several seeds each, and report the real-recording scores against the full recipe.",
        epilog=(
            "examples:\n"
            "  timbrelab bench timbre-cnn-ablation                        # every variant, seeds 0 1 2\n"
            "  timbrelab bench timbre-cnn-ablation --variants all no-augmentation no-codec --seeds 0\n"
        ),
    )
    p.add_argument("--json", metavar="FILE", help=f"JSON output (default {DEFAULT_OUT}/bench_timbre_cnn_ablation.json)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for the markdown table and PNG (default {DEFAULT_OUT})")
    p.add_argument("--runs", default=DEFAULT_RUNS, help=f"folder of finished runs, for resuming (default {DEFAULT_RUNS})")
    p.add_argument("--model", help="architecture (default: the recipe's)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="N", help="training seeds (default 0 1 2)")
    p.add_argument("--variants", nargs="+", metavar="NAME", help="only these variants (default: all; see the description)")
    p.add_argument("--clips-per-class", type=int, default=50, help="corpus clips per source and class (default 50)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe value, e.g. train.max_epochs=4 "
                   f"(the ablation's own budget comes first: {' '.join(ABLATION_TRAINING)})")
    p.add_argument("--quick", action="store_true", help="a tiny run to check the pipeline")
    p.set_defaults(func=run)


def variants(train_section: dict) -> list[str]:
    from timbrelab.sounds.augment import FAMILIES
    from timbrelab.sounds.datasets import spec_from_dict

    corpus = next(spec_from_dict(d) for d in train_section["data"].values() if d.get("kind") == "corpus")
    sources = [s for s in corpus.source_names if s != train_section.get("validation_source", "TimGM6mb")]
    return ["all", "no-augmentation", *[f"no-{f}" for f in FAMILIES], *[f"no-{s}" for s in sources], "with-dry"]


def variant_section(train_section: dict, variant: str, clips_per_class: int) -> dict:
    """The recipe's ``[train]`` table changed for one variant (a smaller corpus; a family or a source left out)."""
    from timbrelab.errors import BadParameterError
    from timbrelab.sounds.augment import FAMILIES, AugmentConfig
    from timbrelab.sounds.datasets import spec_from_dict

    t = copy.deepcopy(train_section)
    ck = next(k for k, d in t["data"].items() if d.get("kind") == "corpus")
    ak = next(k for k, d in t["data"].items() if d.get("kind") == "augmented")
    corpus = t["data"][ck]
    corpus["clips_per_class"] = clips_per_class
    corpus["no_instrument_clips"] = clips_per_class
    corpus["name"] = f"{corpus['name']}-abl{clips_per_class}"
    aug = AugmentConfig.from_dict(t["data"][ak].get("augment") or {})
    what = variant[3:] if variant.startswith("no-") else None
    name = variant.replace("_", "").lower()
    if variant == "with-dry":  # every family, and the dry clips train beside their augmented copies (the same augmented set as `all`)
        t["with_dry"] = True
        name = "all"
    elif variant == "no-augmentation":
        aug = AugmentConfig.none()
    elif what in FAMILIES:
        aug = aug.without(what)
    elif what is not None:
        sources = list(spec_from_dict(corpus).source_names)
        if what not in sources or what == t.get("validation_source", "TimGM6mb"):
            raise BadParameterError(f"unknown ablation variant '{variant}' (known: {', '.join(variants(train_section))})")
        corpus["sources"] = [s for s in sources if s != what]
        corpus["name"] += f"-{name}"
    elif variant != "all":
        raise BadParameterError(f"unknown ablation variant '{variant}' (known: {', '.join(variants(train_section))})")
    t["data"][ak] = {**t["data"][ak], "augment": aug.to_dict(), "name": f"{t['data'][ak]['name']}-abl{clips_per_class}-{name}"}
    return t


def run(args) -> int:
    import torch
    from tqdm import tqdm

    from timbrelab.bench.provenance import markdown_footer, report_provenance
    from timbrelab.bench.timbre_cnn import _key, build_tests, check_seeds, recipe, run_identity, test_specs, train_and_score
    from timbrelab.errors import BadParameterError
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.timbre_cnn import data as TD
    from timbrelab.timbre_cnn.models import paper_configs
    from timbrelab.timbre_cnn.train import corpus_data, train_config_of

    prov = report_provenance("timbre-cnn-ablation", args, torch_threads=torch.get_num_threads())  # at the start: the code that runs
    if not args.quick:
        args.set = [*ABLATION_TRAINING, *args.set]
    rec = recipe(args)
    t_section = rec["train"]
    configs = paper_configs(len(TD.CLASSES_WITH_NONE))
    model = args.model or t_section["architecture"]
    if model not in configs:
        raise BadParameterError(f"unknown model '{model}' (known: {', '.join(configs)})")
    if not (1 <= args.clips_per_class <= 10_000):
        raise BadParameterError("--clips-per-class must be 1 … 10,000")
    check_seeds(args.seeds)
    names = args.variants or variants(t_section)
    clips = 3 if args.quick else args.clips_per_class
    sections = {v: variant_section(t_section, v, clips) for v in names}  # refuses unknown variants before any work
    out_dir, runs_dir = Path(args.out), Path(args.runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tspecs = test_specs(args.quick)
    tests = None
    cfg0 = train_config_of(t_section)
    rows = {}
    for v in tqdm(names, desc="ablation", unit="variant"):
        d = corpus_data(sections[v])
        if tests is None:
            tests, real = build_tests(d.train.front_end, tspecs, args.quick)
        runs = []
        for seed in args.seeds:
            path = runs_dir / f"{model}-{v}-seed{seed}-{_key(run_identity(sections[v]), model, [r.path.name for rs in real.values() for r in rs])}.json"
            if path.exists():
                runs.append(json.loads(path.read_text(encoding="utf-8")))
                continue
            row, _ = train_and_score(configs[model], d, tests, cfg0, seed, state_path=path.with_suffix(".state.safetensors"))
            atomic_write_text(path, json.dumps(row, indent=1, default=float))
            path.with_suffix(".state.safetensors").unlink(missing_ok=True)  # only now: a run stopped while being scored resumes finished
            runs.append(row)
        rows[v] = summarise(runs, d)
    result = {
        "benchmark": "timbre-cnn-ablation",
        "provenance": prov,
        "model": model, "seeds": list(args.seeds), "clips_per_class": clips, "variants": rows,
        "training": {"max_epochs": cfg0.max_epochs, "epoch_clips": cfg0.epoch_clips, "overrides": list(args.set)},
        "seconds": {"total": round(time.perf_counter() - t0, 1)},
    }
    md = markdown(result) + "\n\n" + markdown_footer(result["provenance"]) + "\n"
    json_path = Path(args.json) if args.json else out_dir / "bench_timbre_cnn_ablation.json"
    plot(result, out_dir / "bench_timbre_cnn_ablation.png")
    atomic_write_text(json_path, json.dumps(result, indent=1, default=float))
    atomic_write_text(out_dir / "bench_timbre_cnn_ablation.md", md)
    print(md)
    print(f"wrote {json_path}, {out_dir / 'bench_timbre_cnn_ablation.md'}, {out_dir / 'bench_timbre_cnn_ablation.png'}")
    return 0


def summarise(runs: list[dict], d) -> dict:
    from timbrelab.bench.seeds import mean_sd as ms

    out = {"train_clips": d.train.n_clips, "val_accuracy": ms([r["val_accuracy"] for r in runs])}
    for t, k in (("medley", "accuracy"), ("debian", "accuracy"), ("notes", "macro_f1"), ("none", "no_instrument_rate")):
        if t in runs[0]:
            out[f"{t}_{k}"] = ms([r[t][k] for r in runs])
    return out


COLUMNS = (("medley_accuracy", "Medley top-1"), ("debian_accuracy", "Debian top-1"), ("notes_macro_f1", "notes macro-F1"),
           ("none_no_instrument_rate", "no-instrument rate"), ("val_accuracy", "val acc"))


DELTA_COLUMNS = (("medley_accuracy", "Medley"), ("debian_accuracy", "Debian"), ("notes_macro_f1", "notes"), ("none_no_instrument_rate", "no-instrument"))


def markdown(r: dict) -> str:
    ref = r["variants"].get("all")
    tr = r.get("training", {})
    budget = f", {tr['max_epochs']} epochs of {tr['epoch_clips']} clips" if tr else ""
    lines = [f"Ablation of {r['model']} ({r['clips_per_class']} corpus clips per source and class{budget}), mean ± sd over seeds "
             f"{', '.join(map(str, r['seeds']))}; Δ = change of the mean against `all`, Welch's t over the seeds in brackets "
             "(|t| ≥ 2.8 is p < 0.05 at three seeds a side). One protocol for every row: "
             "compare rows with each other, not with the recipe's bench.", "",
             "| variant | train clips | " + " | ".join(c for _, c in COLUMNS) + " | " + " | ".join(f"Δ {c}" for _, c in DELTA_COLUMNS) + " |",
             "|---|---|" + "---|" * (len(COLUMNS) + len(DELTA_COLUMNS))]
    for v, m in r["variants"].items():
        cells = [f"{m[k]['mean']:.3f} ± {m[k]['sd']:.3f}" if k in m else "–" for k, _ in COLUMNS]
        deltas = [_delta(m[k], ref[k]) if ref and v != "all" and k in m and k in ref else "–" for k, _ in DELTA_COLUMNS]
        lines.append(f"| {v} | {m['train_clips']} | " + " | ".join(cells + deltas) + " |")
    return "\n".join(lines)


def _delta(a: dict, b: dict) -> str:
    from timbrelab.bench.seeds import change_cell, welch_t

    return change_cell(a["mean"] - b["mean"], welch_t(a, b))


def plot(r: dict, path: Path) -> None:
    from timbrelab import plots

    names = list(r["variants"])
    fig = plots.figure(figsize=(13, 0.35 * len(names) + 1.9), layout="constrained")
    axes = fig.subplots(1, 3, sharey=True)
    panels = (("medley_accuracy", "Medley-solos-DB top-1"), ("debian_accuracy", "Debian top-1"), ("notes_macro_f1", "held-out notes macro-F1"))
    for ax, (k, title) in zip(axes, panels):
        m = [r["variants"][n].get(k, {"mean": 0, "sd": 0}) for n in names]
        ax.barh(names, [x["mean"] for x in m], xerr=[x["sd"] for x in m], color=["#a50f15" if n == "all" else "#3182bd" for n in names])
        ax.set(xlim=(0, 1), title=title)
    fig.suptitle(f"augmentation / source ablation of {r['model']} (mean ± sd over {len(r['seeds'])} seeds)", fontsize=10)
    plots.save(fig, path, dpi=110)
