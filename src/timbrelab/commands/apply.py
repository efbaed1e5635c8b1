"""`timbrelab apply IN... -o OUT "description"`: descriptive words → EQ + reverb on audio files.

How the positionals are read (the README states the same rule):

- The **description is the last positional** (and, unquoted, the words before it that are not
  inputs: ``apply guitar.wav -o out.wav small room`` means "small room"). It is a description even
  when a file or folder of that name exists here (``mkdir warm`` does not change what ``warm`` means).
- The **inputs are the leading positionals** that name an existing file or folder or end in an audio
  extension; the first positional is always an input. With ``--eq``/``--reverb``/``--from-settings``
  a description is optional, so every leading input-like positional is an input.
- Quote a description whose words are also names of files or folders here.

What ``-o`` is follows from the inputs, never from the description: one input file → ``-o`` is the
output file (or, if ``-o`` is an existing folder, the file goes into it under the input's name, as
``cp`` does); several inputs or a folder → ``-o`` is a folder (created if missing).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from timbrelab.errors import BadParameterError

EXAMPLES = """\
examples:
  timbrelab apply guitar.wav -o warm.wav "warm"
  timbrelab apply vocals.flac -o out.flac "a little brighter but not muddy, in a big church" --reverb-amount 0.6
  timbrelab apply takes/ -o processed/ "less boomy" --format flac      # a folder → a folder, with a summary
  timbrelab apply library/ -o warm/ "warm" --workers 2                 # 2 processes (or --ray); rerun to resume
  timbrelab apply in.wav -o out.wav --eq warm --reverb "small room" --settings-json what.json
"""


def register(sub) -> None:
    p = sub.add_parser(
        "apply",
        help="apply a description (\"warm, small room\") to audio files",
        description=(
            "Apply descriptive words to audio. Each word drives a 40-band EQ curve or a reverb from the "
            "Audealize crowd maps; words in no map, or too thinly rated, use the trained word → EQ / "
            "word → reverb models, and the output says which. The description is the last argument "
            "(quote it; unquoted words after the inputs are joined). One input file gives one output "
            "file; several inputs or a folder give an output folder, and a batch goes on past files that "
            "fail, then prints a summary (exit 1 if any failed). Inputs are never modified; outputs appear "
            "only when complete."
        ),
        epilog=EXAMPLES,
    )
    p.add_argument("paths", nargs="+", metavar="IN... [DESCRIPTION]", help="input file(s) or folder, then the description")
    p.add_argument("-o", "--output", required=True, help="output file (one input file) or folder (several inputs, or a folder)")
    p.add_argument("--eq-amount", type=float, default=None, help="EQ amount: 0 bypass, 1 crowd curve, -1 opposite; -2…2 (default 1; with --from-settings, replaces the saved amount)")
    p.add_argument("--reverb-amount", type=float, default=None, help="reverb amount: 0 bypass, 1 crowd setting; 0…2 (default 1; with --from-settings, replaces the saved amount)")
    p.add_argument("--eq", action="append", default=[], metavar="WORD", help="force WORD onto the EQ (repeatable)")
    p.add_argument("--reverb", action="append", default=[], metavar="WORD", help="force WORD onto the reverb (repeatable)")
    p.add_argument("--match-loudness", action="store_true", help="match the output's integrated loudness (BS.1770) to the input's")
    p.add_argument("--settings-json", metavar="FILE", help="write what was applied (words, 40 gains, reverb parameters) as JSON")
    p.add_argument("--from-settings", metavar="FILE", help="apply the settings saved by --settings-json instead of a description")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    p.add_argument("--tail", type=float, default=None, metavar="SECONDS", help="seconds added for the reverb to ring out (default: its decay time; 0 keeps the length)")
    p.add_argument("--bit-depth", choices=["16", "24", "32", "float"], help="output bit depth (default: the input's when the format allows)")
    p.add_argument("--sample-rate", type=int, metavar="HZ", help="resample the output to this rate (1000 … 384000 Hz)")
    p.add_argument("--format", help="output type for folder outputs, e.g. flac (default: each input's own)")
    p.add_argument("--block-size", type=int, default=65536, help="frames per processing block (memory vs speed)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--redo", action="store_true",
                   help="into a folder: process every file again, even those the folder's manifest says an earlier run of the same command finished")
    from timbrelab.parallel import add_executor_args

    add_executor_args(p)
    p.set_defaults(func=run)


def looks_like_input(text: str) -> bool:
    """An existing file or folder, or a name with an audio extension (a missing take.wav is a bad input,
    not a description)."""
    from timbrelab.audio import INPUT_EXTS
    from timbrelab.io_utils import path_exists

    if len(text.encode("utf-8", "surrogateescape")) > 4096:
        return False
    return path_exists(text) or Path(text).suffix.lower() in INPUT_EXTS


def split_inputs_and_description(paths: list[str], need_description: bool) -> tuple[list[str], str | None]:
    """``(inputs, description)`` by the rule in the module docstring."""
    paths = list(paths)
    if not paths:
        return [], None
    last_is_description = need_description and len(paths) >= 2
    candidates = paths[:-1] if last_is_description else paths
    n = 1
    while n < len(candidates) and looks_like_input(candidates[n]):
        n += 1
    inputs, rest = paths[:n], paths[n:]
    return inputs, (" ".join(rest) if rest else None)


def _with_amounts(plan, eq_amount, reverb_amount):
    """A loaded plan with the amounts given on the command line (honoured, and said in the plan's notes)."""
    from timbrelab.dsp.eq import GraphicEQ
    from timbrelab.dsp.reverb import Reverb

    if eq_amount is not None:
        if plan.eq is None:
            raise BadParameterError("--eq-amount: the settings JSON has no EQ to scale")
        plan.eq = GraphicEQ(plan.eq.gains_db, eq_amount)
        plan.notes.append(f"EQ amount set to {eq_amount:g} (--eq-amount)")
    if reverb_amount is not None:
        if plan.reverb is None:
            raise BadParameterError("--reverb-amount: the settings JSON has no reverb to scale")
        plan.reverb = Reverb(plan.reverb.settings, reverb_amount)
        plan.notes.append(f"reverb amount set to {reverb_amount:g} (--reverb-amount)")
    return plan


def run(args) -> int:
    from timbrelab import audio as aio
    from timbrelab.batch import collect_inputs, output_names, print_summary, run_batch
    from timbrelab.fx import EffectPlan, settings_record
    from timbrelab.parallel import ApplyTask, SerialExecutor, executor_from_args
    from timbrelab.service import Service

    service = Service()
    from timbrelab.io_utils import atomic_write_text, check_output_file, check_writable_dir, path_exists

    forced = bool(args.eq or args.reverb or args.from_settings)
    inputs, description = split_inputs_and_description(args.paths, need_description=not forced)
    if not inputs:
        raise BadParameterError("give at least one input file before the description")

    # 1. the plan (every word resolved, every amount checked) before any file is touched
    if args.from_settings:
        if description or args.eq or args.reverb:
            raise BadParameterError("--from-settings replaces the description: give one or the other")
        try:
            data = json.loads(Path(args.from_settings).read_text())
        except (OSError, ValueError) as exc:
            raise BadParameterError(f"cannot read settings JSON {args.from_settings}: {exc}") from None
        plan = EffectPlan.from_dict(data.get("plan", data) if isinstance(data, dict) else {})
        plan = _with_amounts(plan, args.eq_amount, args.reverb_amount)
    else:
        if description is None and not forced:
            raise BadParameterError("missing description: e.g. timbrelab apply in.wav -o out.wav \"warm, small room\"")
        plan = service.plan(description, 1.0 if args.eq_amount is None else args.eq_amount,
                            1.0 if args.reverb_amount is None else args.reverb_amount, args.eq, args.reverb)
    if args.sample_rate is not None:
        aio.check_sample_rate(args.sample_rate)
    if args.tail is not None:
        from timbrelab.fx import resolve_tail_s

        resolve_tail_s(plan, args.tail)
    if not (1 <= args.block_size <= 1 << 24):
        raise BadParameterError(f"block size {args.block_size} is out of range (1 … {1 << 24} frames)")

    # 2. inputs and outputs, all validated before processing
    files, skipped = collect_inputs(inputs)
    out = Path(args.output)
    ext = ("." + args.format.lower().lstrip(".")) if args.format else None
    if ext is not None:
        aio.container_for(Path("x" + ext))
    to_folder = len(files) > 1 or any(Path(i).is_dir() for i in inputs)
    if to_folder:
        if path_exists(out) and not out.is_dir():
            raise BadParameterError(f"{out} is a file: with several inputs or a folder, -o must be a folder")
        if not path_exists(out) and out.suffix.lower() in aio.FORMATS:
            raise BadParameterError(f"several inputs go to a folder, but -o {out} looks like a file name: give a folder (e.g. -o processed/)")
        check_writable_dir(out.parent if not path_exists(out) else out, "output")
        targets = output_names(files, out, ext)
    else:
        target = out / (files[0].stem + (ext or files[0].suffix)) if path_exists(out) and out.is_dir() else out
        if ext is not None and target.suffix.lower() != ext:
            raise BadParameterError(f"--format {args.format} is for folder outputs; for one file the output's name sets its type ({target.name})")
        aio.container_for(target)
        check_output_file(target, "output")
        targets = [target]
    unwritable = [f for f, t in zip(files, targets) if t.suffix.lower() not in aio.FORMATS]
    if unwritable:
        kinds = sorted({t.suffix.lower() for t in targets if t.suffix.lower() not in aio.FORMATS})
        raise BadParameterError(
            f"timbrelab reads but cannot write {', '.join(kinds)} ({unwritable[0]}{' and more' if len(unwritable) > 1 else ''}): "
            f"give --format (one of {', '.join(sorted(e.lstrip('.') for e in aio.FORMATS))})"
        )
    if args.settings_json:
        sj = check_output_file(args.settings_json, "--settings-json file")
        from timbrelab.fx import same_file

        if any(same_file(sj, p) for p in [*files, *targets]):
            raise BadParameterError(f"--settings-json {sj} is one of the audio files: choose another name")

    executor = executor_from_args(args) if to_folder else SerialExecutor()  # Ray started (or refused) before any file is touched

    # 3. process
    if not args.json:
        print(f"timbrelab: {plan.description or 'settings'}")
        print(plan.summary())
    created = False
    if to_folder and not out.exists():
        out.mkdir()
        created = True
    target_of = dict(zip(files, targets))
    existed = {t for t in targets if path_exists(t)}

    options = dict(match_loudness=args.match_loudness, tail_s=args.tail, bit_depth=args.bit_depth,
                   sample_rate=args.sample_rate, block_frames=args.block_size)
    # a progress bar per file only in this process (workers' bars would garble the terminal)
    work = ApplyTask(plan, target_of, {**options, "progress": False if (args.quiet or executor.name != "serial") else None})

    def done(src: Path, rep: dict) -> None:
        if not args.json:
            extra = "; ".join(rep.get("notes", []))
            dst = target_of[src]
            print(f"  wrote {dst}{' (replaced the existing file)' if dst in existed else ''} "
                  f"({rep['output_frames'] / rep['sample_rate']:.2f} s, gain {rep['gain_db']:+.2f} dB{', ' + extra if extra else ''})")

    def fail(f) -> None:
        print(f"timbrelab: error: {f.path}: {f.reason}", file=sys.stderr)

    if not to_folder:  # one file: its error is the command's error (one line, exit 2)
        rep = work(files[0])
        done(files[0], rep)
        reports, summary = [rep], None
    else:
        from timbrelab import __version__
        from timbrelab.batch import Manifest

        settings = {"plan": plan.to_dict(), "options": options, "timbrelab": __version__}
        manifest = Manifest.in_folder(out, "apply", settings, target_of.__getitem__, redo=args.redo)
        with executor as ex:
            if not args.json and ex.name != "serial":
                print(f"  on {ex.describe()}")
            summary = run_batch(files, work, skipped, on_done=done, on_fail=fail, progress=False if args.quiet else None,
                                executor=ex, manifest=manifest)
        reports = [r for _, r in summary.processed]
        if created and not summary.processed and not any(out.iterdir()):
            out.rmdir()  # nothing was written: leave nothing
    result = settings_record(plan, reports)
    if summary is not None:
        result["batch"] = summary.to_dict()
    if args.settings_json and reports:
        atomic_write_text(args.settings_json, json.dumps(result, indent=1))
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
    if summary is not None:
        print_summary(summary, len(files), stream=sys.stderr if args.json else sys.stdout)
        return summary.exit_code
    return 0
