"""`timbrelab apply IN... -o OUT "description"`: descriptive words → EQ + reverb on audio files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from timbrelab.errors import BadParameterError


def register(sub) -> None:
    p = sub.add_parser(
        "apply",
        help="apply a description (\"warm, small room\") to audio files",
        description=(
            "Apply descriptive words to audio: each word drives a 40-band EQ curve or a reverb from the "
            "Audealize crowd maps (words in no map, or too thinly rated, use the trained word → EQ / reverb models). Several inputs or a "
            "folder go to an output folder."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="IN... [DESCRIPTION]", help="input file(s) or folder, then the description")
    p.add_argument("-o", "--output", required=True, help="output file (one input) or folder")
    p.add_argument("--eq-amount", type=float, default=1.0, help="EQ amount: 0 bypass, 1 crowd curve, -1 opposite; -2…2 (default 1)")
    p.add_argument("--reverb-amount", type=float, default=1.0, help="reverb amount: 0 bypass, 1 crowd setting; 0…2 (default 1)")
    p.add_argument("--eq", action="append", default=[], metavar="WORD", help="force WORD onto the EQ (repeatable)")
    p.add_argument("--reverb", action="append", default=[], metavar="WORD", help="force WORD onto the reverb (repeatable)")
    p.add_argument("--match-loudness", action="store_true", help="match the output's integrated loudness (BS.1770) to the input's")
    p.add_argument("--settings-json", metavar="FILE", help="write what was applied (words, 40 gains, reverb parameters) as JSON")
    p.add_argument("--from-settings", metavar="FILE", help="apply the settings saved by --settings-json instead of a description")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    p.add_argument("--tail", type=float, default=None, metavar="SECONDS", help="seconds added for the reverb to ring out (default: its decay time; 0 keeps the length)")
    p.add_argument("--bit-depth", choices=["16", "24", "32", "float"], help="output bit depth (default: the input's when the format allows)")
    p.add_argument("--sample-rate", type=int, help="resample the output to this rate (Hz)")
    p.add_argument("--format", help="output extension for folder outputs (default: each input's own)")
    p.add_argument("--block-size", type=int, default=65536, help="frames per processing block (memory vs speed)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


AUDIO_EXTS = {".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".mp3"}


def split_inputs_and_description(paths: list[str], need_description: bool) -> tuple[list[str], str | None]:
    """The last positional is the description unless it names an existing file/folder."""
    if len(paths) >= 2 or (need_description and len(paths) == 1):
        last = paths[-1]
        if not Path(last).exists() and Path(last).suffix.lower() not in AUDIO_EXTS:
            return paths[:-1], last
    return paths, None


def expand_inputs(items: list[str]) -> list[Path]:
    out: list[Path] = []
    for it in items:
        p = Path(it)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in AUDIO_EXTS)
            if not files:
                raise BadParameterError(f"{p}: the folder holds no audio files ({', '.join(sorted(AUDIO_EXTS))})")
            out += files
        else:
            out.append(p)
    if not out:
        raise BadParameterError("no input files given")
    return out


def run(args) -> int:
    from timbrelab.fx import EffectPlan, apply_file, plan_effects
    from timbrelab.io_utils import atomic_write_text

    forced = bool(args.eq or args.reverb or args.from_settings)
    inputs, description = split_inputs_and_description(args.paths, need_description=not forced)
    if not inputs:
        raise BadParameterError("give at least one input file before the description")
    files = expand_inputs(inputs)
    if args.from_settings:
        if description or args.eq or args.reverb:
            raise BadParameterError("--from-settings replaces the description: give one or the other")
        try:
            data = json.loads(Path(args.from_settings).read_text())
        except (OSError, ValueError) as exc:
            raise BadParameterError(f"cannot read settings JSON {args.from_settings}: {exc}") from None
        plan = EffectPlan.from_dict(data.get("plan", data) if isinstance(data, dict) else {})
    else:
        if description is None and not forced:
            raise BadParameterError("missing description: e.g. timbrelab apply in.wav -o out.wav \"warm, small room\"")
        plan = plan_effects(description, args.eq_amount, args.reverb_amount, args.eq, args.reverb)

    out = Path(args.output)
    multi = len(files) > 1 or Path(inputs[0]).is_dir()
    if multi or out.is_dir():
        if out.exists() and not out.is_dir():
            raise BadParameterError(f"{out} is a file: with several inputs, -o must be a folder")
        out.mkdir(parents=True, exist_ok=True)
        ext = ("." + args.format.lstrip(".")) if args.format else None
        targets = [out / (f.stem + (ext or f.suffix)) for f in files]
    else:
        targets = [out]

    if not args.json:
        print(f"timbrelab: {plan.description or 'settings'}")
        print(plan.summary())
    reports = []
    from tqdm import tqdm

    outer = tqdm(list(zip(files, targets)), desc="files", unit="file", disable=(args.quiet or len(files) < 2) or None)
    for src, dst in outer:
        rep = apply_file(
            src, dst, plan, match_loudness=args.match_loudness, tail_s=args.tail, bit_depth=args.bit_depth,
            sample_rate=args.sample_rate, block_frames=args.block_size, progress=False if args.quiet else None,
        )
        reports.append(rep)
        if not args.json:
            extra = "; ".join(rep.get("notes", []))
            print(f"  wrote {dst} ({rep['output_frames'] / rep['sample_rate']:.2f} s, gain {rep['gain_db']:+.2f} dB{', ' + extra if extra else ''})")
    result = {"plan": plan.to_dict(), "files": [{k: v for k, v in r.items() if k != "plan"} for r in reports]}
    if args.settings_json:
        atomic_write_text(args.settings_json, json.dumps(result, indent=1))
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
    return 0
