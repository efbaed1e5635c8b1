"""The `timbrelab` command: a thin shell over the Python API.

Each sub-command lives in its own module under ``timbrelab.commands`` with ``register(subparsers)``;
benchmarks live under ``timbrelab.bench`` and register under ``timbrelab bench``. Errors from the
TimbrelabError family become one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys

#: top-level sub-command modules (each has register(subparsers))
COMMAND_MODULES = [
    "timbrelab.commands.apply",
    "timbrelab.commands.words",
    "timbrelab.commands.demo",
    "timbrelab.commands.render",
    "timbrelab.commands.classify",
    "timbrelab.commands.train",
    "timbrelab.commands.studio",
    "timbrelab.commands.probe",
    "timbrelab.commands.describe",
    "timbrelab.commands.index",
    "timbrelab.commands.separate",
    "timbrelab.commands.explore",
]
#: benchmark modules (each has register(bench_subparsers))
BENCH_MODULES = [
    "timbrelab.bench.fx",
    "timbrelab.bench.word2eq",
    "timbrelab.bench.word2reverb",
    "timbrelab.bench.timbre_cnn",
    "timbrelab.bench.separate",
    "timbrelab.bench.timbre_cnn_ablation",
    "timbrelab.bench.speed",
    "timbrelab.bench.probe",
    "timbrelab.bench.explore",
    "timbrelab.bench.scale",
]


class UsageError(Exception):
    """A command line that cannot be parsed (unknown option, non-numeric value ...)."""


class Parser(argparse.ArgumentParser):
    """argparse with the project's error style: one line naming the command, never a usage block.

    Sub-command parsers inherit this class (``add_subparsers`` uses the parent's class) and get
    examples in their ``--help`` from ``epilog`` shown verbatim.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):  # argparse prints usage + exits 2; we raise and print one line in main
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    from timbrelab import __version__

    parser = Parser(
        prog="timbrelab",
        description="Language-driven musical timbre: describe a sound in words, hear it.",
        epilog=(
            "examples:\n"
            "  timbrelab demo                                        # the main job on a bundled clip\n"
            "  timbrelab apply guitar.wav -o out.wav \"warm, small room\"\n"
            "  timbrelab words --search bright\n"
            "  timbrelab studio                                      # the web page, in the browser\n"
            "\nrun `timbrelab COMMAND --help` for a command's options and examples"
        ),
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


class Terminated(KeyboardInterrupt):
    """SIGTERM/SIGHUP arrived: unwinds like Ctrl-C, so every ``finally`` removes its temporary files."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):
    raise Terminated(signum)


def _install_signal_handlers() -> dict:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` (main thread only); returns the old handlers."""
    import threading

    old = {}
    if threading.current_thread() is not threading.main_thread():
        return old
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                old[sig] = signal.signal(sig, _on_signal)
            except (OSError, ValueError):
                pass
    return old


def _os_error_line(exc: OSError) -> str:
    """One line for an operating-system error (read-only folder, disk full, name too long ...)."""
    what = exc.strerror or str(exc)
    name = exc.filename
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what += " (is the folder read-only?)"
    elif exc.errno == errno.ENOSPC:
        what += " (the disk is full)"
    return f"{name}: {what}" if name else what


def main(argv: list[str] | None = None) -> int:
    from timbrelab.errors import TimbrelabError

    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        # positionals after options ("apply in.wav -o out.wav warm") land in `extra`: give them back to
        # commands that take a variable list of positionals
        if extra and hasattr(args, "paths") and not any(e.startswith("-") and len(e) > 1 for e in extra):
            args.paths = list(args.paths) + extra
        elif extra:
            opts = [e for e in extra if e.startswith("-") and len(e) > 1] or extra
            prog = " ".join(["timbrelab"] + [v for v in (getattr(args, "command", None), getattr(args, "bench", None)) if v])
            raise UsageError(f"{prog}: error: unrecognized argument{'s' if len(opts) > 1 else ''}: {' '.join(opts)} (see {prog} --help)")
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    old_handlers = _install_signal_handlers()
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except TimbrelabError as exc:
        print(f"timbrelab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated as exc:
        print(f"timbrelab: stopped by {signal.Signals(exc.signum).name}; temporary files removed, nothing written", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("timbrelab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except MemoryError:
        print("timbrelab: error: out of memory (try a shorter file or a smaller --block-size)", file=sys.stderr)
        return 3
    except OSError as exc:  # the operating system refused: read-only folder, full disk, name too long ...
        print(f"timbrelab: error: {_os_error_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug of ours: still one line, with a hint for the report
        if os.environ.get("TIMBRELAB_DEBUG"):
            raise
        print(f"timbrelab: internal error: {type(exc).__name__}: {exc} (set TIMBRELAB_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
