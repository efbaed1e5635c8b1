"""`timbrelab index FOLDER`: build or update the search index of a folder, for `timbrelab search`.

The index (:mod:`timbrelab.probe.search`: rows in SQLite, vectors in a usearch HNSW graph) lives in
timbrelab's cache, where ``timbrelab search QUERY FOLDER`` finds it, or in the folder given as
``--index DIR``, which ``timbrelab search QUERY --index DIR`` then searches as it is, without reading the
library. Only new and changed files are embedded, files that are gone are dropped, and the work is
saved as it goes, so an interrupted first run of a large library resumes where it stopped. As a batch
(``apply``'s rule): a file that cannot be read is named on stderr and left out, the rest goes on, and
the exit status is 1 if any file failed. ``--workers N`` / ``--ray`` embed on worker processes or Ray
(:mod:`timbrelab.parallel`); the index is written by this process only.
"""

from __future__ import annotations

import json
import sys

EXAMPLES = """\
examples:
  timbrelab index ~/samples                              # the index search uses (in timbrelab's cache)
  timbrelab index ~/samples --index ~/samples.idx --workers 4   # then: timbrelab search "warm pad" --index ~/samples.idx
  timbrelab index ~/samples --index ~/samples.idx --rebuild  # embed every file again
"""


def register(sub) -> None:
    from timbrelab.commands.describe import _embedder_args
    from timbrelab.parallel import add_executor_args

    p = sub.add_parser(
        "index",
        help="build or update the search index of a folder of sounds (for timbrelab search)",
        description=(
            "Embed the audio files under FOLDER (recursively; hidden files and folders left out) with the language–audio "
            "embedder and keep them in a search index: in timbrelab's cache ($TIMBRELAB_CACHE or ~/.cache/timbrelab, under "
            "search/), where `timbrelab search QUERY FOLDER` finds it, or in --index DIR, which `timbrelab search QUERY "
            "--index DIR` searches as it is, without reading the folder. Only new and changed files (size or modification "
            "time) are embedded; files that are gone are dropped; the work is saved as it goes (every 256 files or 60 s), "
            "so running the command again after Ctrl-C or a crash embeds only the rest. Files that cannot be read are named "
            "on stderr and left out, and the exit status is then 1; the folder itself is never written to."
        ),
        epilog=EXAMPLES,
    )
    p.add_argument("folder", metavar="FOLDER", help="the folder to index (with its sub-folders)")
    p.add_argument("--index", metavar="DIR", default=None,
                   help="keep the index in this folder (created if needed; a folder holding other things is refused) "
                        "instead of timbrelab's cache")
    p.add_argument("--rebuild", action="store_true", help="embed every file again instead of reusing the index")
    p.add_argument("--json", action="store_true", help="print JSON: what the update did (files, embedded, reused, dropped, failed)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _embedder_args(p)
    add_executor_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from timbrelab.commands.describe import _service
    from timbrelab.parallel import executor_from_args

    service = _service(args)

    def fail(f) -> None:
        again = " (unchanged since the last try)" if f.cached else ""
        print(f"timbrelab: error: {Path(args.folder) / f.path}: {f.reason}{again}", file=sys.stderr)

    with executor_from_args(args) as ex:
        if not args.json and ex.name != "serial":
            print(f"embedding on {ex.describe()}")
        u = service.index(args.folder, index_dir=args.index, rebuild=args.rebuild, progress=False if args.quiet else None,
                          on_fail=fail, executor=ex)
    line = f"{u.line()} (index: {u.index.path})"
    if args.json:
        json.dump(u.to_dict(shown_folder=args.folder), sys.stdout, indent=1)
        print()
        print(line, file=sys.stderr)
    else:
        for note in u.notes:
            print(f"note: {note}")
        print(line)
    return 1 if u.failed else 0
