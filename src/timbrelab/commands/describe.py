"""`timbrelab describe`, `timbrelab embed`, `timbrelab search`: sounds in words, with a language–audio embedder.

``describe`` names a file's instrument (the shipped timbre CNN) and the timbre words its audio embedding
is closest to; ``embed`` prints audio embeddings; ``search`` ranks the audio files of a folder by a text
query, over an index kept in timbrelab's cache (or a folder given as ``--index DIR``, made by
``timbrelab index``) and updated incrementally. The work is done by
:class:`timbrelab.service.Service` (``describe_file``, ``embed_file``, ``search``) over
:mod:`timbrelab.probe.describe` and :mod:`timbrelab.probe.search`; this module parses and prints.
"""

from __future__ import annotations

import json
import sys

DESCRIBE_EXAMPLES = """\
examples:
  timbrelab describe violin.wav                      # the instrument and the 8 closest timbre words
  timbrelab describe takes/ --top 5 --json           # every audio file of a folder, as JSON
  timbrelab describe pad.flac --embedder my_package.clap:make_embedder
"""
EMBED_EXAMPLES = """\
examples:
  timbrelab embed kick.wav snare.wav --json          # {"kick.wav": [...], "snare.wav": [...]}
  timbrelab embed takes/                             # one line per file: path, a tab, the numbers
"""
SEARCH_EXAMPLES = """\
examples:
  timbrelab search "warm mellow pad" ~/samples       # the 10 best matches; new files are embedded first
  timbrelab search "bright plucked" ~/samples --top 3 --json
  timbrelab search "dark drone" ~/samples --rebuild  # embed every file again
  timbrelab search "warm mellow pad" --index ~/samples.idx   # an index made by `timbrelab index`, as it is
"""


def _embedder_args(p) -> None:
    from timbrelab.service import DEFAULT_EMBEDDER

    p.add_argument("--embedder", default=DEFAULT_EMBEDDER, metavar="SPEC",
                   help=f"the language–audio embedder: a built-in name (default {DEFAULT_EMBEDDER}), an installed entry point "
                        "of the group timbrelab.embedders, or package.module:factory")
    p.add_argument("--embedder-option", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to the embedder's factory (repeatable), e.g. checkpoint=FILE")


def register(sub) -> None:
    d = sub.add_parser(
        "describe",
        help="a sound in words: its instrument and the timbre words closest to it",
        description=(
            "Describe audio files: the instrument (top-1 of the shipped timbre CNN, as `timbrelab classify`, or "
            "\"no instrument\") and the timbre words whose text embedding is closest to the file's audio embedding. "
            "The words are the English words of the EQ and reverb crowd maps (`timbrelab words`), each embedded as "
            "\"a <word> sound\"; a score is the cosine of the two embeddings (the audio embedding centred on the "
            "embedder's mean training sound when it has one). Files and folders can be mixed; a batch goes on past "
            "files that cannot be read, names them, and exits 1 if any failed."
        ),
        epilog=DESCRIBE_EXAMPLES,
    )
    d.add_argument("paths", nargs="+", metavar="FILE", help="audio file(s) or folder(s)")
    d.add_argument("--top", type=int, default=8, help="how many words to show (default 8)")
    d.add_argument("--json", action="store_true", help="print JSON: a list of {path, instrument, probability, words: [{word, score}]}")
    _embedder_args(d)
    d.set_defaults(func=run_describe)

    e = sub.add_parser(
        "embed",
        help="audio embeddings of files (the language–audio embedder)",
        description=(
            "Print the audio embedding of each file, as the embedder gives it: one line per file (the path, a tab, "
            "the numbers separated by spaces), or with --json one object {path: [numbers]}. Files and folders can be "
            "mixed; a batch goes on past files that cannot be read, names them and prints its summary on stderr "
            "(stdout holds only embeddings), and exits 1 if any failed."
        ),
        epilog=EMBED_EXAMPLES,
    )
    e.add_argument("paths", nargs="+", metavar="FILE", help="audio file(s) or folder(s)")
    e.add_argument("--json", action="store_true", help="print JSON: {path: [numbers]}")
    _embedder_args(e)
    e.set_defaults(func=run_embed)

    s = sub.add_parser(
        "search",
        help="find the sounds of a folder that match words",
        usage="%(prog)s QUERY [QUERY ...] [FOLDER] [--index DIR] [options]",
        description=(
            "Rank the audio files under FOLDER (recursively; hidden files and folders left out) by the cosine of their "
            "audio embedding with the text embedding of QUERY, as typed. The embeddings are kept in an index in "
            "timbrelab's cache ($TIMBRELAB_CACHE or ~/.cache/timbrelab, under search/), one per embedder and folder, "
            "or in the folder given as --index DIR: each search embeds only new and changed files (size or modification "
            "time) and drops files that are gone, and says how many it embedded and reused. With --index DIR and no "
            "FOLDER, the index made by `timbrelab index FOLDER --index DIR` is searched as it is: no file is read, nothing "
            "is embedded (fast, for a whole sample library); with --index, a last word that names an existing folder is "
            "taken as FOLDER. Files that cannot be read are named on stderr and left out (the exit status is then 1); the "
            "folder itself is never written to."
        ),
        epilog=SEARCH_EXAMPLES,
    )
    s.add_argument("paths", nargs="+", metavar="QUERY",
                   help="the words to search for (quoted or not), then FOLDER, the folder to search (with its sub-folders)")
    s.add_argument("--index", metavar="DIR", default=None,
                   help="the index folder (made by `timbrelab index`): alone, search it as it is; with FOLDER, update it from FOLDER first")
    s.add_argument("--top", type=int, default=10, help="how many files to list (default 10)")
    s.add_argument("--json", action="store_true", help="print JSON: the ranking, and what the index update did")
    s.add_argument("--rebuild", action="store_true", help="embed every file again instead of reusing the index")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _embedder_args(s)
    from timbrelab.parallel import add_executor_args

    add_executor_args(s)
    s.set_defaults(func=run_search)


def _service(args):
    from timbrelab.commands.probe import _options
    from timbrelab.service import Service

    return Service(embedder=args.embedder, embedder_options=_options(args.embedder_option))


def _batch(args, work, print_one, to_json, data: bool = False) -> int:
    """Run ``work`` on the inputs as ``classify`` does: one file → its error is the command's; a batch goes
    on past failures, names them on stderr and ends with a summary; ``--json`` prints ``to_json(pairs)``.
    ``data``: stdout is data even without --json (``embed``), so the summary goes to stderr."""
    from pathlib import Path

    from timbrelab.batch import collect_inputs, print_summary, run_batch

    files, skipped = collect_inputs(args.paths)
    if len(files) == 1 and not any(Path(p).is_dir() for p in args.paths):
        r = work(files[0])
        if args.json:
            json.dump(to_json([(files[0], r)]), sys.stdout, indent=1)
            print()
        else:
            print_one(files[0], r)
        return 0

    def fail(f) -> None:
        print(f"timbrelab: error: {f.path}: {f.reason}", file=sys.stderr)

    summary = run_batch(files, work, skipped, on_done=None if args.json else print_one, on_fail=fail,
                        progress=False if args.json else None)
    if args.json:
        json.dump(to_json(summary.processed), sys.stdout, indent=1)
        print()
    print_summary(summary, len(files), stream=sys.stderr if args.json or data else sys.stdout)
    return summary.exit_code


# --------------------------------------------------------------------------------------------- describe


def _print_description(path, d) -> None:
    from timbrelab.timbre_cnn.classify import NO_INSTRUMENT_NOTE

    print(f"{path}:")
    print(f"  instrument: {NO_INSTRUMENT_NOTE}" if d.no_instrument else f"  instrument: {d.instrument} ({d.probability:.1%})")
    best = max((s for _, s in d.words), default=0.0)
    width = max((len(w) for w, _ in d.words), default=0)
    for w, s in d.words:
        bar = "█" * int(round(24 * s / best)) if best > 0 and s > 0 else ""
        print(f"  {w:{width}}  {s:+.3f}  {bar}")


def run_describe(args) -> int:
    service = _service(args)
    service.word_scorer().check_top(args.top)  # the embedder loads, and a bad option fails, before any file is read
    return _batch(args, lambda f: service.describe_file(f, top=args.top), _print_description,
                  lambda pairs: [d.to_dict() for _, d in pairs])


# --------------------------------------------------------------------------------------------- embed


def _numbers(vec) -> list[float]:
    """Float32 precision, as short as it prints (7 significant digits)."""
    return [float(f"{float(x):.7g}") for x in vec]


def run_embed(args) -> int:
    service = _service(args)
    service.embedder()  # fails, in one line, before any file is read

    def print_one(path, vec) -> None:
        print(f"{path}\t{' '.join(f'{x:.7g}' for x in _numbers(vec))}")

    return _batch(args, service.embed_file, print_one, lambda pairs: {str(p): _numbers(v) for p, v in pairs}, data=True)


# --------------------------------------------------------------------------------------------- search


def split_query(args) -> tuple[str, str | None]:
    """``(query, FOLDER or None)`` from ``search``'s positionals: the last word is FOLDER, except with
    ``--index`` where it is FOLDER only when it names an existing folder (and is not the only word)."""
    from pathlib import Path

    from timbrelab.errors import BadParameterError

    words = [str(w) for w in args.paths]
    if args.index is None:
        if len(words) < 2:
            raise BadParameterError("search needs the words and the FOLDER to search, e.g. timbrelab search \"warm pad\" ~/samples "
                                    "(or --index DIR: an index made by `timbrelab index`)")
        return " ".join(words[:-1]).strip(), words[-1]
    if len(words) >= 2 and Path(words[-1]).expanduser().is_dir():
        return " ".join(words[:-1]).strip(), words[-1]
    return " ".join(words).strip(), None


def run_search(args) -> int:
    from timbrelab.parallel import executor_from_args
    from timbrelab.probe.search import check_top

    query, folder = split_query(args)
    check_top(args.top)
    service = _service(args)

    def fail(f) -> None:
        again = " (unchanged since the last try)" if f.cached else ""
        print(f"timbrelab: error: {_join(folder, f.path) if folder is not None else f.path}: {f.reason}{again}", file=sys.stderr)

    with executor_from_args(args) as ex:
        r = service.search(query, folder, top=args.top, rebuild=args.rebuild, progress=False if args.quiet else None,
                           on_fail=fail, index_dir=args.index, executor=ex)
    u = r.update
    where = folder if folder is not None else str(r.folder)
    if args.json:
        json.dump(r.to_dict(shown_folder=where), sys.stdout, indent=1)
        print()
    else:
        for note in u.notes:
            print(f"note: {note}")
        print(f"{u.line()} (index: {u.index.path})")
        if r.results:
            print(f"best matches for \"{query}\" ({r.embedder}):")
            for i, (p, s) in enumerate(r.results, 1):
                print(f"  {i:3d}  {s:+.3f}  {_join(where, p)}")
        else:
            print("no file could be embedded: nothing to rank" if u.updated else "the index holds no embedded file: nothing to rank")
    if args.json:
        print(f"{u.line()} (index: {u.index.path})", file=sys.stderr)
    return 1 if u.failed or not r.results else 0


def _join(folder: str, rel: str) -> str:
    from pathlib import Path

    return str(Path(folder) / rel)
