"""The `timbrelab` command: a thin shell over the Python API.

Each sub-command lives in its own module under ``timbrelab.commands`` with ``register(subparsers)``;
benchmarks live under ``timbrelab.bench`` and register under ``timbrelab bench``. Errors from the
TimbrelabError family become one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: top-level sub-command modules (each has register(subparsers))
COMMAND_MODULES = [
    "timbrelab.commands.apply",
    "timbrelab.commands.words",
    "timbrelab.commands.demo",
    "timbrelab.commands.render",
    "timbrelab.commands.classify",
]
#: benchmark modules (each has register(bench_subparsers))
BENCH_MODULES = [
    "timbrelab.bench.fx",
    "timbrelab.bench.word2eq",
    "timbrelab.bench.word2reverb",
    "timbrelab.bench.timbre_cnn",
]


def build_parser() -> argparse.ArgumentParser:
    from timbrelab import __version__

    parser = argparse.ArgumentParser(
        prog="timbrelab",
        description="Language-driven musical timbre: describe a sound in words, hear it.",
    )
    parser.add_argument("--version", action="version", version=f"timbrelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    bench = sub.add_parser("bench", help="run a benchmark (writes JSON, a markdown table and plots)")
    bench_sub = bench.add_subparsers(dest="bench", metavar="BENCHMARK")
    bench_sub.required = True
    for name in BENCH_MODULES:
        importlib.import_module(name).register(bench_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from timbrelab.errors import TimbrelabError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # positionals after options ("apply in.wav -o out.wav warm") land in `extra`: give them back to
    # commands that take a variable list of positionals
    if extra and hasattr(args, "paths") and not any(e.startswith("-") and len(e) > 1 for e in extra):
        args.paths = list(args.paths) + extra
    elif extra:
        parser.error("unrecognized arguments: " + " ".join(extra))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TimbrelabError as exc:
        print(f"timbrelab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("timbrelab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except MemoryError:
        print("timbrelab: error: out of memory (try a shorter file or a smaller --block-size)", file=sys.stderr)
        return 3
    except Exception as exc:  # a bug of ours: still one line, with a hint for the report
        if os.environ.get("TIMBRELAB_DEBUG"):
            raise
        print(f"timbrelab: internal error: {type(exc).__name__}: {exc} (set TIMBRELAB_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
