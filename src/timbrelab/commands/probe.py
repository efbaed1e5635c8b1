"""`timbrelab probe`: the timbre-semantics probe (Deng, Pardo & Pappas) run on any embedder.

``timbrelab probe exp2`` runs experiment 2 (:mod:`timbrelab.probe.experiment2`) and prints markdown
tables: the release's four models beside the embedder, per effect and overall, then the per-descriptor
↑ / – / ↓ table. ``timbrelab probe exp1`` runs experiment 1 (:mod:`timbrelab.probe.experiment1`) on a
ratings table the user supplies and prints its statistics beside the release's.
"""

from __future__ import annotations

import json
import sys

EXAMPLES = """\
examples:
  timbrelab probe exp2 --embedder my_package.probe:make_embedder
  timbrelab probe exp2 --embedder my-clap --json exp2.json      # an installed entry point
  timbrelab probe exp2 --embedder timbrelab.probe.laion_clap:LaionClapEmbedder --embedder-option checkpoint=630k-audioset-best.pt
  timbrelab probe exp2 --embedder my-clap --out reports/probe --excerpt-s 3
"""

SCOPES = (("eq", "EQ"), ("reverb", "Reverb"), ("all", "All"))
COLUMNS = ("positive_slope_rate", "positive_final_delta_rate", "all_source_consistency_rate", "mean_pearson_r", "mean_spearman_rho")


def register(sub) -> None:
    p = sub.add_parser("probe", help="do language–audio embeddings encode timbre? (Deng, Pardo & Pappas)",
                       description=("The timbre-semantics probe of Deng, Pardo & Pappas, pointed at any embedder: "
                                    "a built-in name, an installed entry point of the group timbrelab.embedders, or package.module:factory."),
                       epilog="examples:\n  timbrelab probe exp2 --embedder my_package.probe:make_embedder\n  timbrelab probe exp2 --embedder my-clap --json exp2.json\n"
                              "  timbrelab probe exp1 --ratings ccmusic_timbre.csv --embedder my-clap\n")
    probe_sub = p.add_subparsers(dest="probe", metavar="EXPERIMENT")
    probe_sub.required = True
    e1 = probe_sub.add_parser(
        "exp1",
        help="experiment 1: does the embedding agree with human timbre ratings?",
        description=(
            "Experiment 1 of Deng, Pardo & Pappas's release on a ratings table you supply (CSV: instrument, audio, then one "
            "column per descriptor with the mean human rating; see timbrelab.probe.experiment1 for CCMusic's data). "
            "cos(audio, descriptor) per instrument and descriptor (text = the bare descriptor); Pearson / Spearman across "
            "instruments per descriptor and across descriptors per instrument; counts of positive correlations, beside "
            "the release's four models."
        ),
        epilog="examples:\n  timbrelab probe exp1 --ratings ccmusic_timbre.csv --embedder my_package.probe:make_embedder\n"
               "  timbrelab probe exp1 --ratings ratings.csv --embedder my-clap --json exp1.json\n",
    )
    e1.add_argument("--ratings", required=True, metavar="TABLE.csv", help="the ratings table (instrument, audio, descriptor columns)")
    e1.add_argument("--embedder", required=True, metavar="SPEC", help="a built-in name, an entry-point name, or package.module:factory")
    e1.add_argument("--embedder-option", action="append", default=[], metavar="KEY=VALUE",
                    help="passed to the embedder's factory (repeatable), e.g. checkpoint=FILE")
    e1.add_argument("--json", metavar="FILE", help="write every figure, with provenance, as JSON")
    e1.set_defaults(func=run_exp1)
    e = probe_sub.add_parser(
        "exp2",
        help="experiment 2: does the embedding follow an effect towards its word?",
        description=(
            "Experiment 2 of Deng, Pardo & Pappas's release: the 20 EQ and 20 reverb words of the release, each applied "
            "by timbrelab's own Audealize EQ or reverb at strengths 0.2 … 1.0 to a guitar, a piano and their mixture "
            "(real recordings: the bundled CC0 guitar and a Debian piano sample; the first --excerpt-s seconds). "
            "Δ = cos(processed, \"a <word> sound\") − cos(original, same text); per source and word: slope and Pearson / "
            "Spearman over strengths, final Δ. Prints the release's four models beside the embedder, per effect and "
            "overall, and the per-descriptor ↑ / – / ↓ table (the rule is printed with it)."
        ),
        epilog=EXAMPLES,
    )
    e.add_argument("--embedder", required=True, metavar="SPEC", help="a built-in name, an entry-point name, or package.module:factory")
    e.add_argument("--embedder-option", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to the embedder's factory (repeatable), e.g. checkpoint=FILE")
    e.add_argument("--json", metavar="FILE", help="write every figure, per word, with provenance, as JSON")
    e.add_argument("--out", metavar="DIR", help="write probe_exp2.json and probe_exp2.md into DIR")
    e.add_argument("--excerpt-s", type=float, default=None, metavar="SECONDS",
                   help="seconds of each source, from its start (default 5)")
    e.add_argument("--piano", metavar="FILE", help="the piano recording to use (default: one from the Debian catalogue)")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=run_exp2)


def _options(pairs: list[str]) -> dict:
    from timbrelab.errors import BadParameterError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadParameterError(f"--embedder-option '{pair}' is not KEY=VALUE")
        out[key.strip()] = value
    return out


def _f(x: float) -> str:
    return f"{x:.3f}"


def markdown(record: dict, names: list[str]) -> str:
    """The report's tables: per scope, the release's models then ours; the descriptor table; notes."""
    from timbrelab.probe.experiment2 import DIRECTION_RULE
    from timbrelab.probe.reference import REFERENCE_MODELS

    ref = record["reference"]["experiment2"]
    lines = ["## Experiment 2: does the embedding move towards the word as the effect grows?", "",
             f"Reference rows: {record['reference']['citation']}. Rates are fractions 0–1; r and ρ are correlations.", ""]
    for scope, title in SCOPES:
        lines += [f"### {title}", "", "| model | pos. slope rate | pos. final-Δ rate | all-source consistency | mean Pearson r | mean Spearman ρ |",
                  "|---|---|---|---|---|---|"]
        for m in REFERENCE_MODELS:
            if scope in ref.get(m, {}):
                lines.append(f"| {m} (release) | " + " | ".join(_f(ref[m][scope][k]) for k in COLUMNS) + " |")
        for n in names:
            if scope in record[n]:
                lines.append(f"| **{n}** | " + " | ".join(f"**{_f(record[n][scope][k])}**" for k in COLUMNS) + " |")
        lines.append("")
    lines += ["### Per descriptor", "", f"Rule: {DIRECTION_RULE}.", "",
              "| embedder | effect | word | from | slopes > 0 | mean final Δ | direction |", "|---|---|---|---|---|---|---|"]
    for d in record["descriptor_table"]:
        lines.append(f"| {d['embedder']} | {d['effect']} | {d['word']} | {d['resolution']} | {d['positive_slopes']}/{d['sources']} "
                     f"| {d['mean_final_delta']:+.4f} | {d['direction']} |")
    lines += ["", "Sources: " + "; ".join(f"{s['name']}: {s['origin']}, {s['duration_s']:g} s" for s in record["protocol"]["sources"]) + "."]
    lines += [f"Note: {n}." if not n.endswith(".") else f"Note: {n}" for n in record["notes"]]
    return "\n".join(lines) + "\n"


def _command(args) -> str:
    if sys.argv[1:3] == ["probe", "exp2"]:
        import shlex

        return " ".join(["timbrelab", *map(shlex.quote, sys.argv[1:])])
    parts = ["timbrelab probe exp2", "--embedder", args.embedder]
    parts += [x for o in args.embedder_option for x in ("--embedder-option", o)]
    for opt in ("json", "out", "excerpt_s", "piano"):
        if getattr(args, opt) is not None:
            parts += [f"--{opt.replace('_', '-')}", str(getattr(args, opt))]
    return " ".join(parts)


def run_exp2(args) -> int:
    from pathlib import Path

    from timbrelab.errors import BadParameterError
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.probe.embedders import load_embedder
    from timbrelab.probe.experiment2 import DEFAULT_EXCERPT_S, default_sources, run_experiment2
    from timbrelab.probe.reference import provenance as reference_provenance
    from timbrelab.provenance import markdown_footer, provenance
    from timbrelab.service import Service

    embedder = load_embedder(args.embedder, **_options(args.embedder_option))  # a bad spec fails before any audio is read
    excerpt_s = DEFAULT_EXCERPT_S if args.excerpt_s is None else args.excerpt_s
    if not (0 < excerpt_s <= 600):
        raise BadParameterError(f"--excerpt-s {excerpt_s:g} is out of range (0 … 600 s)")
    for target in (args.json, args.out):
        if target is not None and not Path(target).parent.exists():
            raise BadParameterError(f"{target}: the folder {Path(target).parent} does not exist")
    sources = default_sources(excerpt_s, args.piano)
    with Service() as service:
        result = run_experiment2(embedder, sources=sources, fallback=service.fallback, progress=False if args.quiet else None)
    record = result.to_dict()
    record["provenance"] = provenance(_command(args), reference_data=reference_provenance())
    names = [r.embedder for r in result.results]
    md = markdown(record, names) + "\n" + markdown_footer(record["provenance"]) + "\n"
    print(md, end="")
    text = json.dumps(record, indent=1, ensure_ascii=False) + "\n"
    if args.json:
        atomic_write_text(args.json, text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "probe_exp2.json", text)
        atomic_write_text(out / "probe_exp2.md", md)
    return 0


def markdown_exp1(record: dict, name: str) -> str:
    """Experiment 1's tables: the counts (the release's models, then ours), per descriptor, per instrument."""
    ref = record["reference"]["experiment1"]
    ours = record[name]
    lines = ["## Experiment 1: does cos(audio, descriptor) follow the human ratings?", "",
             f"Reference rows: {record['reference']['citation']}, on CCMusic's ratings; ours on {record['protocol']['table']}.", "",
             "| model | descriptors with r > 0 | with ρ > 0 | mean r over descriptors | instruments with r > 0 |", "|---|---|---|---|---|"]
    for m, r in ref.items():
        lines.append(f"| {m} (release) | {r['positive_descriptors']}/{r['n_descriptors']} | {r['positive_descriptors_spearman']}/{r['n_descriptors']} "
                     f"| {r['mean_descriptor_pearson']:+.3f} | – |")
    lines.append(f"| **{name}** | **{ours['positive_descriptors']}/{ours['n_descriptors']}** | **{ours['positive_descriptors_spearman']}/{ours['n_descriptors']}** "
                 f"| **{ours['mean_descriptor_pearson']:+.3f}** | **{ours['positive_instruments']}/{ours['n_instruments']}** |")
    models = list(ref)
    lines += ["", "### Per descriptor (Pearson r across instruments)", "",
              "| descriptor | " + " | ".join(f"{m} (release)" for m in models) + f" | **{name}** r | **{name}** ρ |",
              "|---" * (len(models) + 3) + "|"]
    for d in record["per_descriptor"]:
        refs = [ref[m]["descriptors"].get(d["descriptor"]) for m in models]
        lines.append(f"| {d['descriptor']} | " + " | ".join(f"{x['pearson']:+.3f}" if x else "–" for x in refs)
                     + f" | **{d['pearson']:+.3f}** | **{d['spearman']:+.3f}** |")
    lines += ["", "### Per instrument (Pearson r across descriptors)", "", "| instrument | r | ρ |", "|---|---|---|"]
    lines += [f"| {i['instrument']} | {i['pearson']:+.3f} | {i['spearman']:+.3f} |" for i in record["per_instrument"]]
    lines += [f"Note: {n}." for n in record["notes"]]
    return "\n".join(lines) + "\n"


def run_exp1(args) -> int:
    import shlex
    from pathlib import Path

    from timbrelab.errors import BadParameterError
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.probe.embedders import load_embedder
    from timbrelab.probe.experiment1 import load_ratings, run_experiment1
    from timbrelab.probe.reference import provenance as reference_provenance
    from timbrelab.provenance import markdown_footer, provenance

    embedder = load_embedder(args.embedder, **_options(args.embedder_option))
    if args.json is not None and not Path(args.json).parent.exists():
        raise BadParameterError(f"{args.json}: the folder {Path(args.json).parent} does not exist")
    table = load_ratings(args.ratings)
    result = run_experiment1(embedder, table)
    record = result.to_dict()
    if sys.argv[1:3] == ["probe", "exp1"]:
        command = " ".join(["timbrelab", *map(shlex.quote, sys.argv[1:])])
    else:
        command = " ".join(["timbrelab probe exp1 --ratings", shlex.quote(str(args.ratings)), "--embedder", shlex.quote(args.embedder),
                            *[x for o in args.embedder_option for x in ("--embedder-option", shlex.quote(o))],
                            *(["--json", shlex.quote(str(args.json))] if args.json else [])])
    record["provenance"] = provenance(command, reference_data=reference_provenance())
    md = markdown_exp1(record, result.embedder) + "\n" + markdown_footer(record["provenance"]) + "\n"
    print(md, end="")
    if args.json:
        atomic_write_text(args.json, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    return 0
