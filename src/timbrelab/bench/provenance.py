"""The ``provenance`` block of every bench report, written by one function: :func:`report_provenance`.

The block itself is shared ground (:mod:`timbrelab.provenance`: training runs record it too); this
module adds what only a bench knows — the command line that ran it — and puts ``git_commit`` and
``git_dirty`` at the top of the block, where a reader (and ``tests/test_bench_provenance.py``) looks::

    {"command": "timbrelab bench fx --minutes 1", "git_commit": "3e0c272…", "git_dirty": False,
     "date_utc": …, "git": {…}, "python": "3.11.7", "platform": …, "machine": {"cpus": 2, …},
     "packages": {"timbrelab": …, "numpy": …, "torch": …, …}}

The other names of :mod:`timbrelab.provenance` stay importable from here.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from timbrelab.provenance import DEFAULT_PACKAGES, command_line, git_state, markdown_footer, memory_gb, package_versions, provenance  # noqa: F401


def report_provenance(bench: str, args: argparse.Namespace | None = None, argv: list[str] | None = None, packages=(), **extra) -> dict:
    """Provenance of a run of ``timbrelab bench BENCH``: the shared block, the command, ``git_commit``/``git_dirty``.

    The command is ``argv`` (the bench's own options) when given; else the process's command line when
    it is ``timbrelab bench BENCH …``; else, for a bench called in-process (``cli.main([...])``, tests),
    the command rebuilt from the parsed ``args``: every option that differs from its default, so running
    it gives the same run. ``packages`` are reported beside timbrelab, numpy and torch; ``extra`` is merged in.
    """
    if argv is None and sys.argv[1:3] != ["bench", bench] and args is not None:
        argv = options_of(bench, args)
    p = provenance(command_line(bench, argv), packages=tuple(dict.fromkeys((*DEFAULT_PACKAGES, *packages))), **extra)
    git = p.get("git") or {}
    head = {"command": p.pop("command"), "git_commit": p.pop("git_commit", git.get("commit")), "git_dirty": p.pop("git_dirty", git.get("dirty"))}
    return {**head, **p, "recipe": resolved_recipe(bench, args)}


#: benches that measure a shipped model: its recipe is dumped into the report beside the bench's options
MODEL_RECIPES = {"word2eq": "word2eq", "word2reverb": "word2reverb", "timbre-cnn": "timbre-cnn", "timbre-cnn-ablation": "timbre-cnn", "explore": "explorer"}


def resolved_recipe(bench: str, args: argparse.Namespace | None) -> dict:
    """What the run was configured with, as data: the bench's options (every one, defaults included)
    and, for a bench of a shipped model, that model's recipe (``timbrelab/recipes/``)."""
    import json

    options = {}
    for k, v in sorted(vars(args).items() if args is not None else ()):
        if k in ("func", "command", "bench") or callable(v):
            continue
        try:
            json.dumps(v)
        except TypeError:
            v = str(v)
        options[k] = v
    out = {"bench": bench, "options": options}
    if bench in MODEL_RECIPES:
        from timbrelab.ml.recipes import load_recipe

        out["model_recipe"] = load_recipe(MODEL_RECIPES[bench])
    return out


def options_of(bench: str, args: argparse.Namespace) -> list[str]:
    """The options of ``timbrelab bench BENCH`` that give ``args``: those that differ from their defaults."""
    module = importlib.import_module("timbrelab.bench." + bench.replace("-", "_"))
    sub = argparse.ArgumentParser().add_subparsers()
    module.register(sub)
    out: list[str] = []
    for action in sub.choices[bench]._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction) or not hasattr(args, action.dest):
            continue
        value = getattr(args, action.dest)
        if value == action.default:
            continue
        flag = max(action.option_strings, key=len)
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            out.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for v in value:
                out += [flag, shlex.quote(str(v))]
        elif isinstance(value, (list, tuple)):
            out += [flag, *(shlex.quote(str(v)) for v in value)]
        else:
            out += [flag, shlex.quote(str(value))]
    return out


def write_report(out_dir, name: str, result: dict, md: str, plot=None) -> list:
    """Write a bench's ``bench_<name>.json`` and ``.md`` atomically, and ``.png`` with ``plot(result, path)``
    when given; print the markdown and where the files went. Returns the paths written."""
    import json
    from pathlib import Path

    from timbrelab.io_utils import atomic_write_text

    out_dir = Path(out_dir)
    paths = [out_dir / f"bench_{name}.json", out_dir / f"bench_{name}.md"]
    atomic_write_text(paths[0], json.dumps(result, indent=1) + "\n")
    atomic_write_text(paths[1], md)
    if plot is not None:
        paths.append(out_dir / f"bench_{name}.png")
        plot(result, paths[-1])
    print(md)
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return paths
