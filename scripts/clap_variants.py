"""TimbreCLAP designs compared on validation only, over seeds: the record behind the recipe's choice.

    python scripts/clap_variants.py                 # both designs × seeds 0 1 2 (~30 min on one core)
    python scripts/clap_variants.py --seeds 0       # one seed each

Each design is the `timbreclap-heldout` recipe with some settings replaced; every run is trained
without experiment 2's words and scored by the recipe's validation (a word-disjoint 15 % of the
words, TimGM6mb's clips, the experiment-2-shaped sweep on validation words). No test figure is
computed here. Writes reports/timbreclap/validation_variants.{json,md}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

#: design name → (loop settings, pairs settings) replacing the recipe's
DESIGNS = {
    "base (no prior, 4 sources per map setting)": ({"word_prior": False}, {"audealize_eq_per_entry": 4, "audealize_reverb_per_entry": 4}),
    "word prior + 16 sources per map setting (the recipe)": ({"word_prior": True}, {"audealize_eq_per_entry": 16, "audealize_reverb_per_entry": 16}),
}
KEYS = ("score", "instrument_accuracy")
SWEEP_KEYS = ("positive_slope_rate", "all_source_consistency_rate", "mean_pearson_r")


def main() -> int:
    import torch

    from timbrelab.clap import train as CT
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.ml.recipes import load_recipe
    from timbrelab.provenance import markdown_footer, provenance

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default="reports/timbreclap")
    args = ap.parse_args()
    torch.set_num_threads(1)  # a script's own process: the recorded runs used one thread
    prov = provenance("python scripts/clap_variants.py --seeds " + " ".join(map(str, args.seeds)))
    t = load_recipe("timbreclap-heldout")["train"]
    excluded = CT.excluded_for(t.get("exclude", "probe"))
    results = {}
    for design, (loop, pairs) in DESIGNS.items():
        pf, corpus = CT.recipe_pairs({**t, "pairs": {**t.get("pairs", {}), **pairs}}, progress=False)
        runs = {}
        for seed in args.seeds:
            cfg = CT.CLAPTrainConfig.from_dict({**t.get("loop", {}), **loop, "seed": seed})
            _, m = CT.train(pf, corpus.rows, excluded, cfg, t.get("model", {}), False, "variant", corpus)
            v = m["validation"]
            runs[str(seed)] = {**{k: v[k] for k in KEYS}, **{k: v["sweep"][k] for k in SWEEP_KEYS}, "best_epoch": m["best_epoch"]}
            print(design, seed, json.dumps(runs[str(seed)]), flush=True)
        cols = KEYS + SWEEP_KEYS
        results[design] = {"runs": runs, "mean": {k: float(np.mean([r[k] for r in runs.values()])) for k in cols},
                           "sd": {k: float(np.std([r[k] for r in runs.values()], ddof=1)) if len(runs) > 1 else 0.0 for k in cols}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# TimbreCLAP designs on validation (held-out recipe, seeds " + ", ".join(map(str, args.seeds)) + "): mean ± sd", "",
             "| design | validation score | instrument acc | sweep pos. slope | sweep consistency | sweep Pearson r |", "|---|---|---|---|---|---|"]
    for design, r in results.items():
        lines.append(f"| {design} | " + " | ".join(f"{r['mean'][k]:.3f} ± {r['sd'][k]:.3f}" for k in KEYS + SWEEP_KEYS) + " |")
    lines += ["", markdown_footer(prov)]
    atomic_write_text(out / "validation_variants.md", "\n".join(lines) + "\n")
    atomic_write_text(out / "validation_variants.json", json.dumps({"provenance": prov, "designs": results}, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
