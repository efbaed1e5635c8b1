"""`timbrelab demo`: the main job on the bundled example clip."""

from __future__ import annotations


EXAMPLES = """\
examples:
  timbrelab demo                                            # ./timbrelab-demo/index.html
  timbrelab demo -o demo2 --descriptor "less muddy" --descriptor church --amount 0.5 --amount 1
  timbrelab demo --input my_take.wav -o my-demo
"""


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="apply a handful of descriptors at 0.3/0.6/1.0 to a bundled clip; write audio + report",
        description=(
            "The main job on a bundled CC0 guitar clip (or your own file): each descriptor is applied at "
            "each amount, and the folder gets the audio (FLAC), a PNG per descriptor (average spectrum "
            "before/after, their difference, the EQ curve or reverb decay), index.html with players and "
            "demo.json with every setting. The folder appears only when complete; an earlier demo folder "
            "of the same name is replaced, any other non-empty folder is refused."
        ),
        epilog=EXAMPLES,
    )
    p.add_argument("-o", "--output", default="timbrelab-demo", help="output folder (default ./timbrelab-demo)")
    p.add_argument("--descriptor", action="append", metavar="TEXT", help="descriptor(s) to render (repeatable; default a built-in set)")
    p.add_argument("--amount", action="append", type=float, metavar="A", help="amount(s) (repeatable; default 0.3, 0.6, 1.0)")
    p.add_argument("--input", help="use this audio file instead of the bundled clip")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from timbrelab.demo import run_demo
    from timbrelab.lexicon.resolve import used_summary

    rec = run_demo(args.output, args.descriptor, args.amount, args.input, progress=False if args.quiet else None)
    out = Path(args.output)
    for d in rec["descriptors"]:
        how = "; ".join(f"{r['effect'].upper()} via {r['source']} ({used_summary(r['used'])})" for r in d["plan"]["descriptors"])
        print(f"  {d['description']:14} → {how}")
    n = sum(len(d["renders"]) for d in rec["descriptors"])
    print(f"wrote {n} renders + original, {len(rec['descriptors'])} plots, {out / 'index.html'} and {out / 'demo.json'}")
    return 0
