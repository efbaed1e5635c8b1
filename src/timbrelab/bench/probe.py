"""`timbrelab bench probe`: the timbre-semantics probe for every built-in embedder (and any other given).

Runs, for the embedders of :data:`timbrelab.probe.embedders.BUILTIN_EMBEDDERS` plus each
``--embedder SPEC``:

- **experiment 2** (:mod:`timbrelab.probe.experiment2`): the release's 40 words at strengths
  0.2 … 1.0 on guitar, piano and their mixture; the five figures per effect and overall beside the
  release's four models, the per-descriptor ↑ / – / ↓ table;
- **the SocialFX ranking** (:mod:`timbrelab.probe.socialfx_rank`): contributions rendered on guitar
  and piano, the contributor's word ranked among held-out words — MRR, AUC, top-1 against chance and
  the fold-fitted word → effect text-only reference;
- **text → audio retrieval** (:mod:`timbrelab.probe.retrieval`) on the real recordings (Medley-solos-DB
  small, the Debian set): "a <class> sound" against every clip — mAP, P@10, zero-shot top-1.

Writes ``bench_probe.json`` (every figure, with provenance), ``bench_probe.md`` and two PNGs:
``bench_probe.png`` — Δ against strength like the release's Figure 4 (mean Δ over the sources at
each strength, one line per word, a panel per effect, a row per embedder) — and
``bench_probe_ranking.png`` (MRR per embedder and scoring beside chance and the text reference).

The built-in embedders are timbrelab's own TimbreCLAP models, ``timbreclap`` (trained on every word)
and ``timbreclap-heldout`` (never saw experiment 2's words: the issue's goals are for it). Both saw the
SocialFX folds' test words, so the ranking adds ``timbreclap-heldout-folds`` (:mod:`timbrelab.clap.folds`:
the held-out recipe trained once per fold without that fold's test words, cached in ``--folds-dir``;
``--no-folds`` skips it); the report says for each ranker whether the candidate words were held out.
The ranking's headline scoring is ``delta`` (experiment 2's Δ), chosen before any TimbreCLAP result was
seen; ``processed`` and ``change`` are reported beside it. ``--quick``: 2 words per effect, 3
strengths, 0.5 s excerpts; ranking on one fold per effect, 1 contribution per word, 5 reverb words,
no fold models (seconds).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

DEFAULT_OUT = "reports/probe"
DEFAULT_FOLDS_DIR = "runs/bench-probe"
FOLDS_NAME = "timbreclap-heldout-folds"
#: what each built-in embedder saw of the ranking's candidate words (the SocialFX folds' test words)
RANKING_HELD_OUT = {"timbreclap": "no: trained on every word", "timbreclap-heldout": "no: only experiment 2's words were left out",
                    FOLDS_NAME: "yes: fold k's model never saw fold k's test words (nor experiment 2's)"}
QUICK_WORDS = 2
QUICK_STRENGTHS = (0.2, 0.6, 1.0)
QUICK_EXCERPT_S = 0.5


def register(sub) -> None:
    p = sub.add_parser(
        "probe",
        help="the timbre-semantics probe (experiment 2 + SocialFX ranking) for every built-in embedder",
        description=(
            "Deng, Pardo & Pappas's experiment 2 (does the embedding move towards 'a <word> sound' as timbrelab's EQ / reverb "
            "for the word grows?) and the SocialFX ranking (is the word a person gave for a processed sound ranked first among "
            "held-out words?) for every built-in embedder and each --embedder; JSON, markdown, Figure-4-style Δ curves."
        ),
        epilog=(
            "examples:\n"
            "  timbrelab bench probe                                   # every built-in embedder\n"
            "  timbrelab bench probe --embedder my_package.probe:make_embedder --embedder my-clap\n"
            "  timbrelab bench probe --embedder my-clap --quick        # seconds: a smoke run\n"
        ),
    )
    p.add_argument("--embedder", action="append", default=[], metavar="SPEC",
                   help="an embedder besides the built-in ones: an entry-point name or package.module:factory (repeatable)")
    p.add_argument("--embedder-option", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to the factory of every --embedder (repeatable), e.g. checkpoint=FILE")
    p.add_argument("--json", metavar="FILE", help=f"JSON output (default {DEFAULT_OUT}/bench_probe.json)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for the markdown and PNGs (default {DEFAULT_OUT})")
    p.add_argument("--no-ranking", action="store_true", help="experiment 2 only (skip the SocialFX ranking)")
    p.add_argument("--no-retrieval", action="store_true", help="skip the text → audio retrieval on the real recordings")
    p.add_argument("--no-folds", action="store_true",
                   help=f"skip {FOLDS_NAME} (TimbreCLAP trained once per SocialFX fold without its test words: ~3 min a fold, cached)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                   help="timbreclap-heldout retrained with these seeds, each through experiment 2: the figures' mean ± sd (default 0 1 2; cached)")
    p.add_argument("--no-seeds", action="store_true", help="skip the retraining over seeds")
    p.add_argument("--folds-dir", default=DEFAULT_FOLDS_DIR, help=f"where the fold models are cached (default {DEFAULT_FOLDS_DIR})")
    p.add_argument("--quick", action="store_true", help="a tiny run: few words, strengths, contributions, 0.5 s excerpts (for tests)")
    p.set_defaults(func=run)


def embedders(specs: list[str], options: dict) -> list:
    """The built-in embedders, then each spec; none at all → BadParameterError saying so."""
    from timbrelab.errors import BadParameterError
    from timbrelab.probe.embedders import BUILTIN_EMBEDDERS, load_embedder

    if not BUILTIN_EMBEDDERS and not specs:
        raise BadParameterError("there is no embedder to probe (no built-in one is registered): "
                                "give one with --embedder SPEC (an entry-point name or package.module:factory; repeatable)")
    return [load_embedder(n) for n in sorted(BUILTIN_EMBEDDERS)] + [load_embedder(s, **options) for s in specs]


def run(args) -> int:
    import numpy as np

    from timbrelab.bench.provenance import report_provenance
    from timbrelab.commands.probe import _options
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.probe import experiment2 as E2
    from timbrelab.probe import socialfx_rank as SR
    from timbrelab.probe.embedders import BUILTIN_EMBEDDERS
    from timbrelab.probe.reference import experiment2_config
    from timbrelab.probe.reference import provenance as reference_provenance

    embs = embedders(list(args.embedder), _options(args.embedder_option))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.json) if args.json else out_dir / "bench_probe.json"
    cfg = experiment2_config()
    excerpt_s = QUICK_EXCERPT_S if args.quick else E2.DEFAULT_EXCERPT_S
    words = {e: list(ws[:QUICK_WORDS]) for e, ws in cfg.descriptors.items()} if args.quick else None
    strengths = QUICK_STRENGTHS if args.quick else None

    t0 = time.perf_counter()
    sources = E2.default_sources(excerpt_s)
    exp2 = E2.run_experiment2(embs, sources=sources, words=words, strengths=strengths)
    t_exp2 = time.perf_counter() - t0
    seeds, seed_models = None, []
    if not args.quick and not args.no_seeds:
        seeds, seed_models = seed_spread(args.seeds, args.folds_dir, sources)
    retrieval = None
    if not args.quick and not args.no_retrieval:
        from timbrelab.probe.retrieval import retrieval as run_retrieval

        retrieval = {name: run_retrieval(embs + seed_models, name) for name in ("medley", "debian")}
        if seeds:
            for name, r in retrieval.items():
                vals = {k: [r["embedders"][m.name][k] for m in seed_models] for k in ("map", "mean_p_at_k", "zero_shot_top1")}
                seeds.setdefault("retrieval", {})[name] = {k: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0}
                                                           for k, v in vals.items()}
    ranking = None
    if not args.no_ranking:
        rank_sources = [s for s in sources if s.name in ("guitar", "piano")]
        if not args.quick:
            rank_sources = SR.default_sources(SR.DEFAULT_EXCERPT_S)
        quick = {"eq_folds": [1], "reverb_folds": [1], "max_per_word": 1, "max_reverb_words": 5} if args.quick else {}
        rank_embs = list(embs)
        if not args.quick and not args.no_folds:
            from timbrelab.clap.folds import FoldModels

            rank_embs.insert(len(BUILTIN_EMBEDDERS), FoldModels(args.folds_dir))
        ranking = SR.run_socialfx_ranking(rank_embs, sources=rank_sources, **quick)
    wall = time.perf_counter() - t0
    names = [r.embedder for r in exp2.results]
    rank_names = list(ranking.results) if ranking is not None else []
    result = {
        "benchmark": "probe",
        "provenance": report_provenance("probe", args),
        "quick": bool(args.quick),
        "embedders": names,
        "ranking_embedders": rank_names,
        "ranking_held_out": {n: RANKING_HELD_OUT.get(n, "unknown (a user's embedder)") for n in rank_names},
        "builtin_embedders": sorted(BUILTIN_EMBEDDERS),
        "experiment2": exp2.to_dict(),
        "socialfx_ranking": ranking.to_dict() if ranking is not None else None,
        "experiment2_seeds": seeds,
        "retrieval": retrieval,
        "reference_data": reference_provenance(),
        "seconds": {"experiment2": round(t_exp2, 1), "total": round(wall, 1)},
    }
    md = markdown(result)
    figure4(result["experiment2"], names, out_dir / "bench_probe.png", quick=args.quick)
    if ranking is not None:
        ranking_figure(result["socialfx_ranking"], rank_names, out_dir / "bench_probe_ranking.png")
    atomic_write_text(json_path, json.dumps(result, indent=1, ensure_ascii=False, default=float) + "\n")
    atomic_write_text(out_dir / "bench_probe.md", md)
    print(md)
    print(f"wrote {json_path}, {out_dir / 'bench_probe.md'}, {out_dir / 'bench_probe.png'}" + (f", {out_dir / 'bench_probe_ranking.png'}" if ranking else "")
          + f" ({wall:.0f} s)")
    return 0


def seed_spread(seeds, cache_dir, sources) -> tuple[dict, list]:
    """``timbreclap-heldout``'s recipe trained with each seed (cached), each through experiment 2: per
    seed the five figures per scope, and their mean and sample sd."""
    import numpy as np

    from timbrelab.clap.folds import TrainedCache
    from timbrelab.probe import experiment2 as E2
    from timbrelab.probe.experiment2 import SUMMARY_KEYS

    cache = TrainedCache(cache_dir, "timbreclap-heldout")
    models = []
    for seed in seeds:
        m = cache.model(f"timbreclap-heldout-seed{seed}", seed)
        m.name = f"timbreclap-heldout-seed{seed}"
        models.append(m)
    run = E2.run_experiment2(models, sources=sources)
    per_seed = {str(seed): r.figures() for seed, r in zip(seeds, run.results)}
    out = {"recipe": "timbreclap-heldout", "seeds": list(seeds), "per_seed": per_seed, "mean": {}, "sd": {},
           "validation": {str(seed): m.info.get("validation") for seed, m in zip(seeds, models)}}
    for scope in ("eq", "reverb", "all"):
        vals = {k: [per_seed[str(s)][scope][k] for s in seeds] for k in SUMMARY_KEYS}
        out["mean"][scope] = {k: float(np.mean(v)) for k, v in vals.items()}
        out["sd"][scope] = {k: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for k, v in vals.items()}
    return out, models


def markdown(r: dict) -> str:
    from timbrelab.bench.provenance import markdown_footer
    from timbrelab.commands.probe import markdown as exp2_markdown

    names = r["embedders"]
    rank_names = r.get("ranking_embedders") or names
    lines = [("**Quick run** (2 words per effect, 3 strengths, 0.5 s excerpts; ranking on one fold, 1 contribution per word): "
              "not for comparison.\n") if r["quick"] else "", exp2_markdown(r["experiment2"], names)]
    sd = r.get("experiment2_seeds")
    if sd:
        from timbrelab.probe.experiment2 import SUMMARY_KEYS

        lines += [f"### timbreclap-heldout over seeds {', '.join(map(str, sd['seeds']))} (its recipe retrained by the bench): mean ± sd", "",
                  "| scope | " + " | ".join(SUMMARY_KEYS) + " |", "|---" * (len(SUMMARY_KEYS) + 1) + "|"]
        for scope in ("eq", "reverb", "all"):
            lines.append(f"| {scope} | " + " | ".join(f"{sd['mean'][scope][k]:.3f} ± {sd['sd'][scope][k]:.3f}" for k in SUMMARY_KEYS) + " |")
        lines.append("")
    ret = r.get("retrieval")
    if ret:
        lines += ["## Text → audio retrieval on real recordings", "",
                  "Each class of the set queried as \"a <class> sound\"; every clip ranked by cosine. mAP and P@10 over the set's classes; "
                  "zero-shot top-1: each clip's class = its nearest query among the set's classes. Never trained, selected or stopped on.", "",
                  "| set | embedder | mAP | chance | mean P@10 | zero-shot top-1 | chance |", "|---|---|---|---|---|---|---|"]
        for set_name, x in ret.items():
            for n, v in x["embedders"].items():
                lines.append(f"| {set_name} ({x['clips']} clips, {len(x['classes'])} classes) | {n} | {v['map']:.3f} | {x['chance']['map']:.3f} "
                             f"| {v['mean_p_at_k']:.3f} | {v['zero_shot_top1']:.3f} | {x['chance']['top1']:.3f} |")
            sr = (sd or {}).get("retrieval", {}).get(set_name)
            if sr:
                lines.append(f"| {set_name} | **timbreclap-heldout, seeds {', '.join(map(str, sd['seeds']))}: mean ± sd** | "
                             f"**{sr['map']['mean']:.3f} ± {sr['map']['sd']:.3f}** | {x['chance']['map']:.3f} | "
                             f"**{sr['mean_p_at_k']['mean']:.3f} ± {sr['mean_p_at_k']['sd']:.3f}** | "
                             f"**{sr['zero_shot_top1']['mean']:.3f} ± {sr['zero_shot_top1']['sd']:.3f}** | {x['chance']['top1']:.3f} |")
        lines.append("")
    rank = r["socialfx_ranking"]
    if rank is not None:
        p = rank["protocol"]
        lines += ["## SocialFX ranking: is the contributor's word ranked first among held-out words?", "",
                  f"EQ: Venkatesh et al. folds {p['eq_folds']} ({p['eq_candidates']}); reverb: word → reverb folds {p['reverb_folds']} "
                  f"({p['reverb_candidates']}); ≤ {p['max_per_word']} contributions per word (seed {p['seed']}); prompt {p['prompt']}. "
                  "Scores averaged over the sources: processed = cos(processed, text); delta = cos(processed, text) − cos(original, text); "
                  "change = cos(embed(processed) − embed(original), text). Chance MRR = H_n / n per query (exact).", "",
                  "Held out — did the ranker see the candidate words in training? "
                  + "; ".join(f"{n}: {r['ranking_held_out'].get(n, '?')}" for n in rank_names) + ".", "",
                  "| effect | ranker | scoring | MRR | chance MRR | AUC | top-1 | queries |", "|---|---|---|---|---|---|---|---|"]
        for effect in p["effects"]:
            ref = rank["text_reference"].get(effect)
            if ref:
                lines.append(f"| {effect} | text-only reference (word → {effect} model, fold-fitted) | − MAE of settings | {ref['mrr']:.3f} "
                             f"| {ref['chance_mrr']:.3f} | {ref['auc']:.3f} | {ref['top1_rate']:.3f} | {ref['queries']} |")
            for n in rank_names:
                for sc, s in rank[n][effect].items():
                    lines.append(f"| {effect} | **{n}** | {sc} | **{s['mrr']:.3f}** | {s['chance_mrr']:.3f} | {s['auc']:.3f} | {s['top1_rate']:.3f} | {s['queries']} |")
        lines.append("")
    lines += [f"Run time: {r['seconds']['total']:.0f} s (experiment 2: {r['seconds']['experiment2']:.0f} s).", "", markdown_footer(r["provenance"])]
    return "\n".join(lines) + "\n"


def figure4(exp2: dict, names: list[str], path: Path, quick: bool = False) -> None:
    """Δ against strength like the release's Figure 4: mean Δ over sources per strength, a line per word,
    a panel per effect (columns) and embedder (rows)."""
    import numpy as np

    from timbrelab import plots

    effects = [e for e in ("eq", "reverb") if any(r["effect"] == e for r in exp2["per_word"])]
    fig, axes = plots.subplots(len(names), len(effects), figsize=(5.5 * len(effects), 3.6 * len(names)), squeeze=False)
    for i, n in enumerate(names):
        for j, effect in enumerate(effects):
            ax = axes[i, j]
            rows = [r for r in exp2["per_word"] if r["embedder"] == n and r["effect"] == effect]
            words = list(dict.fromkeys(r["word"] for r in rows))
            colours = plots_colours(len(words))
            for w, c in zip(words, colours):
                rw = [r for r in rows if r["word"] == w]
                ax.plot(rw[0]["strengths"], np.mean([r["deltas"] for r in rw], axis=0), "o-", ms=3, lw=1.2, color=c, label=w)
            ax.axhline(0, color="k", lw=0.6)
            ax.set(xlabel="strength", ylabel="mean Δ over sources", title=f"{n}: {'EQ' if effect == 'eq' else 'reverb'}")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=5.5, ncol=2, loc="best")
    fig.suptitle("Δ = cos(processed, 'a <word> sound') − cos(original, same) against effect strength" + (" — QUICK" if quick else ""), fontsize=10)
    fig.tight_layout()
    plots.save(fig, path, dpi=100)


def plots_colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return [cmap(k % 20) for k in range(n)]


def ranking_figure(rank: dict, names: list[str], path: Path) -> None:
    """MRR per embedder and scoring, per effect, beside chance and the text-only reference."""
    from timbrelab import plots

    effects = rank["protocol"]["effects"]
    fig, axes = plots.subplots(1, len(effects), figsize=(5 * len(effects), 0.5 * 3 * len(names) + 2), squeeze=False)
    for ax, effect in zip(axes[0], effects):
        labels, values = [], []
        for n in names:
            for sc, s in rank[n][effect].items():
                labels.append(f"{n}: {sc}")
                values.append(s["mrr"])
        ax.barh(labels, values, color="#08519c")
        first = rank[names[0]][effect]["delta"]
        ax.axvline(first["chance_mrr"], color="k", ls="--", lw=1, label=f"chance {first['chance_mrr']:.3f}")
        ref = rank["text_reference"].get(effect)
        if ref:
            ax.axvline(ref["mrr"], color="#e6550d", ls="-.", lw=1.2, label=f"text-only reference {ref['mrr']:.3f}")
        ax.invert_yaxis()
        ax.set(xlim=(0, 1), xlabel="mean reciprocal rank", title=f"SocialFX {effect}: contributor's word among held-out words")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    plots.save(fig, path, dpi=100)
