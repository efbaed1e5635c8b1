"""`timbrelab bench word2reverb`: word → reverb settings for words nobody rated, 4-fold word-disjoint CV.

Runs every method of ``timbrelab.word2fx.reverb_task.method_specs`` (mean, nearest word, kNN and kernel
regression on MiniLM / GloVe / prompt / concatenated embeddings, the MLP) on the committed folds;
hyper-parameters are chosen on an inner validation split of each fold's training words. Reports, per
method, every metric per fold and its mean ± sd, the inner-validation MAE (the only score used to pick
the shipped method), the human split-half reference, and how the contributions agree with the
Audealize map. Writes JSON, a markdown table and a PNG; ``--quick`` runs one fold, GloVe only, no MLP.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = "reports/word2reverb"
TABLE_METRICS = [("mae", "MAE (0–1)", 4), ("mae_log_d", "log d", 4), ("mae_log_rt", "log rt", 4), ("mae_m", "m", 4), ("mae_log_f", "log f", 4), ("mae_log_E", "log E", 4),
                 ("rt_log2", "rt err (oct)", 3), ("cutoff_oct", "cutoff err (oct)", 3), ("E_db", "E err (dB)", 2)]


def register(sub) -> None:
    p = sub.add_parser(
        "word2reverb",
        help="word → reverb settings from text embeddings: 4-fold word-disjoint cross-validation",
        description=(
            "Predict reverb settings (d, rt, m, f, E) for held-out SocialFX reverb words from text embeddings, "
            "on four fixed word-disjoint folds, with errors per parameter and on decay time, cutoff and wet "
            "level, beside the mean and nearest-word baselines and a human split-half reference."
        ),
        epilog=(
            "examples:\n"
            "  timbrelab bench word2reverb             # all methods (~30 s)\n"
            "  timbrelab bench word2reverb --quick     # one fold, GloVe only\n"
        ),
    )
    p.add_argument("--json", metavar="FILE", help=f"JSON output (default {DEFAULT_OUT}/bench_word2reverb.json)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for the markdown table and PNG (default {DEFAULT_OUT})")
    p.add_argument("--quick", action="store_true", help="one fold, GloVe only, no MLP (seconds; for tests)")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from timbrelab.bench.provenance import report_provenance
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.word2fx import reverb_data as RD
    from timbrelab.word2fx import reverb_task as R

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.json) if args.json else out_dir / "bench_word2reverb.json"
    specs = R.method_specs(quick=args.quick)
    folds = [1] if args.quick else sorted(RD.reverb_folds())
    threads = None
    if not args.quick:  # the MLP is tiny: one thread avoids oversubscription stalls on a shared 2-core machine
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        bar = tqdm(total=len(specs) * len(folds), desc="bench word2reverb", unit="fit")
        cv = R.cross_validate(specs, folds, progress=lambda s: (bar.set_postfix_str(s), bar.update()))
        bar.close()
    finally:
        if threads is not None:
            torch.set_num_threads(threads)  # as it was: a bench run in-process leaves no global switch behind
    wall = time.perf_counter() - t0
    try:
        from timbrelab.models import info

        e = info("word2reverb")
        shipped = {"method": e["metrics"]["method"], "hyperparameters": e["metrics"]["hyperparameters"], "files": e["files"]}
    except Exception:  # no weights trained yet
        shipped = None
    result = {
        "benchmark": "word2reverb",
        "provenance": report_provenance("word2reverb", args, **({"torch_threads": 1} if threads is not None else {})),
        "quick": bool(args.quick),
        "protocol": RD.FOLDS_PROTOCOL,
        "metrics_doc": {
            "mae": "mean absolute error over the 5 normalised (0–1) targets log d, log rt, m, log f, log E",
            "mae_<target>": "MAE on one normalised target",
            "rt_log2": "|log2(rt_pred / rt_label)|, decay time rt = d·ln(0.001)/ln(g)",
            "cutoff_oct": "|log2(f_pred / f_label)|, low-pass cutoff",
            "E_db": "|20·log10(E_pred / E_label)|, raw E scale",
            "d_log2": "|log2(d_pred / d_label)|", "g_mae": "|g_pred − g_label|", "m_ms": "|m_pred − m_label| in ms",
            "label": "a test word's mean normalised target over its contributions; each test word counts once",
        },
        "min_support": RD.MIN_SUPPORT,
        "folds": cv["folds"],
        "n_test_words": cv["n_test_words"],
        "wall_s": wall,
        "methods": {n: {k: v for k, v in r.items() if k != "predictions"} for n, r in cv["methods"].items()},
        "human_split_half": cv["human_split_half"],
        "selected_by_inner_validation": cv["selected_by_inner_validation"],
        "shipped": shipped,
        "map_agreement": RD.map_agreement(),
    }
    md = markdown_table(result)
    _plot(cv, result, out_dir / "bench_word2reverb.png")
    atomic_write_text(json_path, json.dumps(result, indent=1))
    atomic_write_text(out_dir / "bench_word2reverb.md", md)
    print(md)
    print(f"wrote {json_path}, {out_dir / 'bench_word2reverb.md'}, {out_dir / 'bench_word2reverb.png'} ({wall:.0f} s)")
    return 0


def _fmt(s: dict, digits: int) -> str:
    return f"{s['mean']:.{digits}f} ± {s['sd']:.{digits}f}"


def _hp(hps: list[dict]) -> str:
    keys = [k for k in hps[0] if k != "weighting"] + ["weighting"]
    return "; ".join(f"{k} " + "/".join(str(h.get(k)) for h in hps) for k in keys if k in hps[0])


def markdown_table(r: dict) -> str:
    from timbrelab.bench.provenance import markdown_footer

    head = "| method | inner-val MAE | " + " | ".join(t for _, t, _ in TABLE_METRICS) + " | chosen per fold |"
    rows = [head, "|" + "---|" * (len(TABLE_METRICS) + 3)]
    sel = r["selected_by_inner_validation"]
    for name, m in r["methods"].items():
        label = f"**{name}**" if name == sel else name
        rows.append(f"| {label} | {m['inner_val_mae_mean']:.4f} | " + " | ".join(_fmt(m["summary"][k], d) for k, _, d in TABLE_METRICS)
                    + f" | {_hp(m['hyperparameters'])} |")
    h = r["human_split_half"]["summary"]
    rows.append("| *human split-half (reference)* | | " + " | ".join(_fmt(h[k], d) for k, _, d in TABLE_METRICS) + " | |")
    n = ", ".join(f"{v}" for v in r["n_test_words"].values())
    ma = r["map_agreement"]["spearman"]
    notes = (
        f"\n{'Quick run: fold 1 only, GloVe only, no MLP. ' if r['quick'] else ''}"
        f"Test folds {r['folds']} ({n} test words each, words with ≥ {r['min_support']} occurrences); mean ± sd over folds; "
        f"each test word scored once against the mean of its contributions. **Bold**: lowest inner-validation MAE "
        f"(the selection rule for the shipped model; test scores are not used)."
        + (f" Shipped: {r['shipped']['method']} {r['shipped']['hyperparameters']}." if r.get("shipped") else "")
        + "\n*Human split-half*: for each test word, the mean of a random half of its contributions scored against the mean of "
        "the other half; each side has half the data, so it is noisier than a model scored against a full-word label "
        "(a pessimistic reference, not a ceiling)."
        + f"\nAgreement of the contributions with the Audealize map over {r['map_agreement']['n_words']} shared words (Spearman): "
        + ", ".join(f"{k} {v:.2f}" for k, v in ma.items())
        + f".\nWall time {r['wall_s']:.0f} s.\n\n" + markdown_footer(r["provenance"]) + "\n"
    )
    return "\n".join(rows) + "\n" + notes


def _plot(cv: dict, r: dict, path: Path) -> None:
    from timbrelab import plots
    from timbrelab.word2fx.reverb_data import targets_to_perceptual

    names = list(r["methods"])
    fig, ax = plots.subplots(2, 2, figsize=(12, 8.5))
    human = r["human_split_half"]["summary"]
    for a, key, title in [(ax[0, 0], "mae", "MAE, 5 normalised targets"), (ax[0, 1], "rt_log2", "decay-time error (oct)")]:
        mean = [r["methods"][n]["summary"][key]["mean"] for n in names]
        sd = [r["methods"][n]["summary"][key]["sd"] for n in names]
        colors = ["#a50f15" if n == r["selected_by_inner_validation"] else ("#bbbbbb" if n in ("mean", "nearest") else "#08519c") for n in names]
        a.barh(names, mean, xerr=sd, color=colors)
        a.axvline(human[key]["mean"], color="k", ls="--", lw=1, label="human split-half")
        a.axvline(r["methods"]["mean"]["summary"][key]["mean"], color="grey", ls=":", lw=1, label="mean baseline")
        lo = min(mean) - 2 * max(sd)
        a.set_xlim(max(0, lo), max(human[key]["mean"], max(mean) + max(sd)) * 1.03)
        a.invert_yaxis()
        a.set(title=f"test: {title}, mean ± sd", xlabel=key)
        a.legend(fontsize=7, loc="lower right")
    label = targets_to_perceptual(np.array(cv["predictions"]["label"]))
    show = [n for n in ("mean", "nearest", r["selected_by_inner_validation"]) if n in cv["methods"]]
    for a, j, unit, title in [(ax[1, 0], 1, "s", "decay time rt"), (ax[1, 1], 3, "Hz", "low-pass cutoff f")]:
        x = np.exp(label[:, j])
        for n, c in zip(show, ["#bbbbbb", "#fdae6b", "#a50f15"]):
            p = np.exp(targets_to_perceptual(np.array(cv["methods"][n]["predictions"]))[:, j])
            a.scatter(x, p, s=8, alpha=0.6, color=c, label=n)
        lims = [min(x.min(), 0.8 * x.min()), x.max() * 1.2]
        a.plot(lims, lims, "k-", lw=0.7)
        a.set(xscale="log", yscale="log", xlabel=f"human (word's mean over contributions), {unit}", ylabel=f"predicted, {unit}",
              title=f"{title}: test words of every fold")
        a.legend(fontsize=7)
        a.grid(True, which="both", alpha=0.3)
    fig.suptitle("word → reverb (SocialFX reverb contributions), word-disjoint 4-fold CV" + (" — QUICK" if r["quick"] else ""))
    fig.tight_layout()
    plots.save(fig, path, dpi=100)
