"""`timbrelab classify`: which instrument is playing — probabilities per file, and the top instrument over time."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("classify", help="instrument probabilities of audio files (the shipped timbre CNN)")
    p.add_argument("paths", nargs="+", metavar="FILE", help="audio file(s)")
    p.add_argument("--top", type=int, default=3, help="how many instruments to show (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON (with every probability and the timeline)")
    p.set_defaults(func=run)


def run(args) -> int:
    from timbrelab.timbre_cnn.classify import classify_file

    results = {}
    for path in args.paths:
        results[path] = classify_file(path, top=args.top)
    if args.json:
        json.dump({p: r.to_dict() for p, r in results.items()}, sys.stdout, indent=1)
        print()
        return 0
    for path, r in results.items():
        print(f"{path} ({r.duration_s:.1f} s, {r.windows} window{'s' if r.windows != 1 else ''}):")
        for name, p in r.top:
            print(f"  {name:18} {p:6.1%}  {'█' * int(round(30 * p))}")
        if r.timeline:
            print("  over time:")
            runs = []
            for seg in r.timeline:  # merge consecutive windows with the same top instrument
                if runs and runs[-1]["instrument"] == seg["instrument"] and abs(runs[-1]["end_s"] - seg["start_s"]) < 3.0:
                    runs[-1]["end_s"] = seg["end_s"]
                else:
                    runs.append(dict(seg))
            for seg in runs:
                print(f"    {seg['start_s']:7.1f} – {seg['end_s']:7.1f} s  {seg['instrument']}")
    return 0
