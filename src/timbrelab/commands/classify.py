"""`timbrelab classify`: which instrument is playing — probabilities per file, and the top instrument over time."""

from __future__ import annotations

import json
import sys

EXAMPLES = """\
examples:
  timbrelab classify violin.wav sax.flac --top 3
  timbrelab classify takes/                       # every audio file of a folder, with a summary
  timbrelab classify long_take.wav --json         # every probability and the timeline
  timbrelab classify library/ -o labels.json --workers 2   # results in a file; rerun after Ctrl-C to resume
"""


def register(sub) -> None:
    p = sub.add_parser(
        "classify",
        help="instrument probabilities of audio files (the shipped timbre CNN)",
        description=(
            "Recognise the instrument in audio files with the shipped timbre CNN (Pons et al. 2017). "
            "The file is cut into 2.7 s windows; the clip's probabilities are the mean of the windows', and "
            "a file longer than one window also gets a timeline of the top instrument. Files and folders "
            "can be mixed; a batch goes on past files that cannot be read, names them, and exits 1 if any failed."
        ),
        epilog=EXAMPLES,
    )
    p.add_argument("paths", nargs="+", metavar="FILE", help="audio file(s) or folder(s)")
    p.add_argument("--top", type=int, default=3, help="how many instruments to show (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON (with every probability and the timeline)")
    p.add_argument("-o", "--output", metavar="FILE.json",
                   help="also write the JSON of every file to FILE.json (written when the batch ends); a manifest beside it "
                        "records each file as it finishes, so rerunning the same command after a crash or Ctrl-C classifies only the rest")
    p.add_argument("--redo", action="store_true", help="with -o: classify every file again, even those an earlier run finished")
    from timbrelab.parallel import add_executor_args

    add_executor_args(p)
    p.set_defaults(func=run)


def _print_one(path, r) -> None:
    print(f"{path} ({r.duration_s:.1f} s, {r.windows} window{'s' if r.windows != 1 else ''}):")
    if r.no_instrument:
        from timbrelab.timbre_cnn.classify import NO_INSTRUMENT_NOTE

        print(f"  {NO_INSTRUMENT_NOTE}")
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


def run(args) -> int:
    from pathlib import Path

    from timbrelab import __version__
    from timbrelab.batch import Manifest, collect_inputs, print_summary, run_batch
    from timbrelab.errors import BadParameterError
    from timbrelab.io_utils import atomic_write_text, check_output_file
    from timbrelab.models import info
    from timbrelab.parallel import ClassifyTask, executor_from_args
    from timbrelab.service import Service
    from timbrelab.timbre_cnn.classify import _check_top

    service = Service()
    _check_top(args.top, len(service.model("timbre_cnn").instrument_classes))  # a bad option fails before any file is read
    files, skipped = collect_inputs(args.paths)
    output = None
    if args.output:
        output = check_output_file(args.output, "output")
        if output.suffix.lower() != ".json":
            raise BadParameterError(f"-o {args.output}: classify writes JSON; give a name ending in .json")
        if any(output.resolve() == f.resolve() for f in files):
            raise BadParameterError(f"-o {args.output} is one of the inputs: choose another name (inputs are never overwritten)")
    if output is None and len(files) == 1 and not any(Path(p).is_dir() for p in args.paths):
        r = service.classify_file(files[0], top=args.top)  # one file: its error is the command's error
        if args.json:
            json.dump({str(files[0]): r.to_dict()}, sys.stdout, indent=1)
            print()
        else:
            _print_one(files[0], r)
        return 0

    def fail(f) -> None:
        print(f"timbrelab: error: {f.path}: {f.reason}", file=sys.stderr)

    manifest = None
    if output is not None:
        settings = {"model": info("timbre_cnn")["files"], "top": args.top, "timbrelab": __version__}
        manifest = Manifest.beside(output, "classify", settings, keep=lambda r: r.to_dict(), redo=args.redo)
    with executor_from_args(args) as ex:
        if not args.json and ex.name != "serial":
            print(f"classifying on {ex.describe()}")
        summary = run_batch(files, ClassifyTask(args.top, service), skipped, on_done=None if args.json else _print_one,
                            on_fail=fail, progress=False if args.json else None, executor=ex, manifest=manifest)
    now = {p: r.to_dict() for p, r in summary.processed}
    earlier = set(summary.already_done)
    results = {str(p): now[p] if p in now else manifest.result(p) for p in files if p in now or p in earlier}
    if output is not None:
        atomic_write_text(output, json.dumps(results, indent=1) + "\n")
        if not args.json:
            print(f"wrote {output} ({len(results)} file{'s' if len(results) != 1 else ''})")
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        print()
    print_summary(summary, len(files), stream=sys.stderr if args.json else sys.stdout)
    return summary.exit_code
