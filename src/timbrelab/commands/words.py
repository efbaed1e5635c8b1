"""`timbrelab words` (the vocabulary with its crowd support) and `timbrelab curve WORD` (a word's EQ curve)."""

from __future__ import annotations

import json
import sys

WORDS_EXAMPLES = """\
examples:
  timbrelab words --search bright
  timbrelab words --effect reverb --json
  timbrelab words --lang es                 # the Spanish EQ words (also: Español, espanol, spanish)
  timbrelab words --lexicon                 # the engineering terms (air, presence, box, telephone …) and their sources
  timbrelab words --lexicon --search air
"""
CURVE_EXAMPLES = """\
examples:
  timbrelab curve warm
  timbrelab curve "less boomy" --png boomy.png
  timbrelab curve toasty --amount 0.5       # a thinly rated word, played from the word → EQ model
  timbrelab curve "more air"                # an engineering term, played from the lexicon
"""

def register(sub) -> None:
    p = sub.add_parser(
        "words",
        help="list the descriptive words timbrelab knows, with their crowd support",
        description=(
            "List the vocabulary of the Audealize crowd maps: each word's effect (EQ or reverb), language, "
            "number of ratings, agreement, support percentile within its map, and whether apply plays it "
            "from the map, from the engineering lexicon or from the word → EQ model (English EQ curves from fewer "
            "than 3 ratings). The engineering lexicon's terms (air, presence, box, mud, telephone …) are listed "
            "too; --lexicon shows their shapes and sources. Words in no map still work in apply through the trained models."
        ),
        epilog=WORDS_EXAMPLES,
    )
    p.add_argument("--effect", choices=["eq", "reverb"], help="only this effect's map")
    p.add_argument("--search", metavar="TEXT", help="only words containing TEXT")
    p.add_argument("--lang", default="English", help="language: English, Español or all (case/accents ignored; default English; the reverb map is English)")
    p.add_argument("--lexicon", action="store_true", help="the engineering lexicon: each term's forms, EQ shape, sources and choices")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_words)

    c = sub.add_parser(
        "curve",
        help="show a word's EQ curve (terminal plot, optional PNG)",
        description=(
            "Show the 40-band EQ curve a word plays, resolved exactly as `apply --eq WORD`: from the crowd "
            "map, from the engineering lexicon (air, presence, telephone …), or from the word → EQ model for unmapped or thinly rated words and for reverb words "
            "(the output says which), as a terminal plot and optionally a PNG with the filter's response."
        ),
        epilog=CURVE_EXAMPLES,
    )
    c.add_argument("word", help="a descriptive word, e.g. warm")
    c.add_argument("--png", metavar="FILE", help="also write the plot to FILE (.png, .svg or .pdf)")
    c.add_argument("--amount", type=float, default=1.0, help="scale the curve (default 1)")
    c.set_defaults(func=run_curve)


def run_words(args) -> int:
    from timbrelab.lexicon.resolve import MIN_CROWD_NUM
    from timbrelab.service import Service

    if args.lexicon:
        return _print_lexicon(Service().lexicon(args.search), args.json)
    rows = Service().words(args.effect or "all", args.lang, args.search)
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    if not rows:
        print("no words match" + (f" '{args.search}'" if args.search else ""))
        return 1
    print(f"{'word':24} {'effect':7} {'lang':8} {'ratings':>7} {'agreement':>9} {'support %':>9}  played from")
    for r in rows:
        if r["num"] is None:  # a lexicon form no crowd rated
            print(f"{r['word']:24} {r['effect']:7} {r['lang']:8} {'—':>7} {'—':>9} {'—':>9}  lexicon '{r['term']}': {r['shape']}")
            continue
        played = r["played_from"] + (f" '{r['term']}'" if r["played_from"] == "lexicon" else "")
        print(f"{r['word']:24} {r['effect']:7} {r['lang']:8} {r['num']:7d} {r['agreement']:9.2f} {100 * r['support_percentile']:8.0f}%  {played}")
    print(f"{len(rows)} words; 'model': a crowd EQ curve from fewer than {MIN_CROWD_NUM} ratings is played from the word2eq model; "
          "'lexicon': an engineering term (timbrelab words --lexicon)")
    return 0


def _print_lexicon(lex: dict, as_json: bool) -> int:
    if as_json:
        json.dump(lex, sys.stdout, indent=1, ensure_ascii=False)
        print()
        return 0
    if not lex["terms"]:
        print("no lexicon term matches")
        return 1
    cited = []
    for t in lex["terms"]:
        print(f"{t['term']:12} {t['shape']}")
        print(f"{'':12} forms: {', '.join(t['forms'])}")
        print(f"{'':12} sources: {', '.join(t['sources'])}" + (f" — {t['choice']}" if t["choice"] else ""))
        cited += [s for s in t["sources"] if s not in cited]
    print(f"\n{len(lex['terms'])} terms. Sources:")
    for s in cited:
        src = lex["sources"][s]
        print(f"  {s}: {src['cite']}" + (f" <{src['url']}>" if src.get("url") else ""))
    return 0


def ascii_curve(gains_db, height: int = 11) -> str:
    """A terminal plot of 40 band gains: one column per band, 0 dB marked."""
    import numpy as np

    g = np.asarray(gains_db, float)
    top = max(1.0, float(np.ceil(np.max(np.abs(g)))))
    levels = np.linspace(top, -top, height)
    half = (levels[0] - levels[1]) / 2
    lines = []
    for lv in levels:
        if abs(lv) < half:
            row = "".join("─" for _ in g)
        else:
            row = "".join("█" if (lv > 0 and x >= lv - half) or (lv < 0 and x <= lv + half) else " " for x in g)
        lines.append(f"{lv:+6.1f} dB |{row}|")
    lines.append("          20 Hz" + " " * 22 + "19.7 kHz")
    return "\n".join(lines)


def run_curve(args) -> int:
    from timbrelab.service import Service

    if args.png:
        from timbrelab.io_utils import check_output_file

        check_output_file(args.png, "--png plot", suffixes=(".png", ".svg", ".pdf"))
    plan = Service().plan(eq_words=[args.word], eq_amount=args.amount)  # resolved exactly as `apply --eq WORD`
    eq = plan.eq
    print(f"EQ curve for '{args.word}', amount {args.amount:g}:")
    print("\n".join(plan.summary().splitlines()[: len(plan.resolutions)]))
    print(ascii_curve(eq.effective_gains_db))
    if args.png:
        from timbrelab import plots
        from timbrelab.service.views import eq_view

        v = eq_view(eq)
        fig, ax = plots.subplots(figsize=(7, 3.2))
        ax.semilogx(v["freqs_hz"], v["response_db"], label="filter response (44.1 kHz)")
        ax.semilogx(v["band_hz"], v["band_gains_db"], "o", ms=3, label="band gains")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set(xlabel="frequency (Hz)", ylabel="gain (dB)", title=f"'{args.word}' EQ curve")
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
        plots.save(fig, args.png, dpi=120, bbox_inches="tight")
        print(f"wrote {args.png}")
    return 0
