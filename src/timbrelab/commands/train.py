"""`timbrelab train NAME -o RUN_DIR` and `timbrelab ship RUN_DIR`: one shape for every model."""

from __future__ import annotations

import json
import shlex
import sys

TRAIN_EXAMPLES = """\
examples:
  timbrelab train word2eq -o runs/word2eq                   # the shipped recipe
  timbrelab train timbre-cnn -o runs/cnn-seed1 --set train.seed=1
  timbrelab train --list                                    # the recipes
"""
SHIP_EXAMPLES = """\
examples:
  timbrelab ship runs/word2eq                 # copy into the package, record the manifest entry
  timbrelab ship runs/cnn-seed1
"""


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from its recipe into a run folder (never into the package)",
        description=(
            "Train one of timbrelab's models from its recipe (timbrelab/recipes/NAME.toml, or --recipe FILE) "
            "and write the checkpoint and run.json (the resolved recipe, metrics, data, the command, git "
            "commit and versions) into a run folder. `timbrelab ship RUN_DIR` then puts it into the package; "
            "training alone never changes what timbrelab ships."
        ),
        epilog=TRAIN_EXAMPLES,
    )
    p.add_argument("name", nargs="?", help="the model to train (see --list)")
    p.add_argument("-o", "--output", help="run folder (default runs/NAME)")
    p.add_argument("--recipe", metavar="FILE", help="a recipe file instead of the shipped one")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe value, e.g. train.seed=1 (repeatable)")
    p.add_argument("--list", action="store_true", help="list the recipes")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)

    s = sub.add_parser(
        "ship",
        help="put a trained run into the package, with its manifest entry",
        description=(
            "Copy a training run's checkpoint into timbrelab's weights and record its manifest entry: the "
            "file hash, loader, training command, resolved recipe, data, metrics, software versions and git "
            "commit. The checkpoint is loaded once first, so a broken run is refused before anything changes."
        ),
        epilog=SHIP_EXAMPLES,
    )
    s.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by timbrelab train")
    s.set_defaults(func=run_ship)


def run_train(args) -> int:
    from pathlib import Path

    from timbrelab.errors import BadParameterError
    from timbrelab.ml import recipes
    from timbrelab.ml.registry import loader, write_run

    if args.list:
        for n in recipes.names():
            r = recipes.load_recipe(n)
            print(f"{n:18} {r['data']['description'][:90]}")
        return 0
    if not args.name and not args.recipe:
        raise BadParameterError("give a model name (see timbrelab train --list) or --recipe FILE")
    recipe = recipes.load_recipe(args.name, args.recipe, args.set)
    name = recipe["model"]["name"]
    out = Path(args.output or Path("runs") / name)
    if out.exists() and any(out.iterdir()):
        raise BadParameterError(f"{out} exists and is not empty: choose a new run folder")
    from timbrelab.io_utils import check_writable_dir

    existing = out
    while not existing.exists() and existing != existing.parent:  # the run folder and its parents are created
        existing = existing.parent
    check_writable_dir(existing, "run")
    command = "timbrelab " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["train"] else f"timbrelab train {name}"
    from timbrelab.provenance import provenance

    prov = provenance(command)  # read before training: the git state of the code that trains
    trained = loader(recipe["model"]["trainer"])(recipe, progress=False if args.quiet else None)
    write_run(out, name, trained.checkpoint, recipe["model"]["loader"], recipe, trained.metrics, recipe["data"]["description"], command, prov)
    print(f"wrote {out}/{name}.safetensors and {out}/run.json")
    print(json.dumps(trained.metrics, indent=1, default=str))
    print(f"ship it with: timbrelab ship {out}")
    return 0


def run_ship(args) -> int:
    from timbrelab.ml.registry import ship

    entry = ship(args.run_dir)
    print(f"shipped {entry['checkpoint']} (sha256 {entry['files'][entry['checkpoint']][:12]}…) with its manifest entry")
    return 0
