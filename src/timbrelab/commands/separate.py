"""`timbrelab separate` (pull named instruments out of a mix) and `timbrelab finetune-separator`."""

from __future__ import annotations

import json
import shlex
import sys

SEPARATE_EXAMPLES = """\
examples:
  timbrelab separate --example "the violin" -o violin.wav                # the bundled violin + trumpet duet
  timbrelab separate duet.wav "the violin" -o violin.wav --residual rest.wav
  timbrelab separate band.flac "the sax" "the piano" -o stems/        # one file per query: stems/band.the-sax.wav …
  timbrelab separate band.flac "vocals" "bass" -o "out/{query}.flac"
  timbrelab separate take.wav "the fiddle" -o fiddle.wav --model runs/my-finetune/separator.safetensors

What works: an instrument's name ("violin", "the trumpet"), its aliases ("fiddle", "sax", "vocals",
"keys"), a family ("the brass", "the strings", "the woodwinds", "the keyboards"). The estimate holds
what the model hears below 11 kHz; everything else stays in the residual (estimate + residual = mix).
Negation ("everything but the drums") is not supported: ask for the drums' residual instead.
"""

FINETUNE_EXAMPLES = """\
examples:
  timbrelab finetune-separator my_takes/ -o runs/my-separator       # then: separate … --model runs/my-separator/separator.safetensors
  timbrelab finetune-separator my_takes/ -o runs/my-separator --epochs 8 4

DATA_DIR holds one folder per example: mixture.<audio>, target.<audio> (same length) and query.txt
(one line: "the violin"). Every fifth example is held out for validation. Rerunning the same command
resumes from the last finished epoch (state in OUT/state/).
"""


def register(sub) -> None:
    p = sub.add_parser(
        "separate",
        help="extract instruments named in words from a mix (text-queried separation)",
        description=(
            "Extract what a description names (\"the violin\", \"sax\", \"the brass\") from an audio file with "
            "timbrelab's text-queried separator. Any readable format in, the output's extension picks the format. "
            "Files of any length are processed in chunks with constant memory and no seams; inputs are never "
            "modified and every output is written atomically."
        ),
        epilog=SEPARATE_EXAMPLES,
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter,
    )
    p.add_argument("args", nargs="+", metavar="MIX QUERY", help="the mixture (an audio file), then what to extract, in words (several: one output each)")
    p.add_argument("--example", action="store_true", help="use the bundled violin + trumpet duet as the mixture (then every argument is a query)")
    p.add_argument("-o", "--output", required=True, help="output file (one query), or a folder / a name with {query} (several)")
    p.add_argument("--residual", metavar="FILE", help="also write the mix minus every extracted part")
    p.add_argument("--model", metavar="CHECKPOINT", help="a separator checkpoint (default: the shipped one), e.g. from finetune-separator")
    p.add_argument("--chunk-s", type=float, default=20.0, help="seconds per processing chunk (memory, not results; default 20)")
    p.add_argument("--bit-depth", help="output bit depth (16, 24, 32f, …; default: the input's if the format holds it)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_separate)

    f = sub.add_parser(
        "finetune-separator",
        help="fine-tune the separator on your own (mixture, target, text) examples",
        description=(
            "Seed 002's transfer learning on your own material: the two-phase recipe (query network frozen, "
            "then unfrozen) on a folder of (mixture, target, text) examples, with checkpoints and resume. "
            "Writes a separator that `timbrelab separate --model` uses."
        ),
        epilog=FINETUNE_EXAMPLES,
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter,
    )
    f.add_argument("data_dir", metavar="DATA_DIR", help="a folder of example folders (see below)")
    f.add_argument("-o", "--output", required=True, help="run folder for the tuned model (reused to resume)")
    f.add_argument("--model", metavar="CHECKPOINT", help="the separator to start from (default: the shipped one)")
    f.add_argument("--epochs", type=int, nargs=2, default=(4, 2), metavar=("PHASE1", "PHASE2"), help="epochs per phase (default 4 2)")
    f.add_argument("--epoch-examples", type=int, default=256, help="random crops per epoch (default 256)")
    f.add_argument("--crop-s", type=float, default=2.0, help="crop length in seconds (default 2)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=run_finetune)


def run_separate(args) -> int:
    from timbrelab.errors import BadParameterError
    from timbrelab.service import Service

    if args.example:
        from timbrelab.demo import separation_example_path

        mix, queries = separation_example_path(), args.args
    elif len(args.args) < 2:
        raise BadParameterError("separate: give the mixture and at least one description, e.g. timbrelab separate mix.wav \"the violin\" -o violin.wav")
    else:
        mix, queries = args.args[0], args.args[1:]
    report = Service().separate_file(mix, queries, args.output, args.residual, args.model, chunk_s=args.chunk_s,
                                     bit_depth=args.bit_depth, progress=False if (args.quiet or args.json) else None)
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
        return 0
    for o in report["outputs"]:
        quiet = "  (near silence: is it in the mix?)" if o["rms_db"] < -60 else ""
        print(f"{o['query']!r:24} → {o['path']}  ({o['rms_db']:.1f} dB RMS){quiet}")
    if report["residual"]:
        print(f"{'residual':24} → {report['residual']}")
    return 0


def run_finetune(args) -> int:
    from timbrelab.errors import BadParameterError
    from timbrelab.separate.finetune import finetune

    if min(args.epochs) < 0 or max(args.epochs) < 1 or not (1 <= args.epoch_examples <= 1_000_000):
        raise BadParameterError("finetune-separator: epochs ≥ 0 per phase (at least one epoch in all) and 1 … 1,000,000 examples per epoch")
    command = "timbrelab " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["finetune-separator"] else "timbrelab finetune-separator"
    m = finetune(args.data_dir, args.output, args.model, tuple(args.epochs), args.epoch_examples, args.crop_s, seed=args.seed,
                 progress=False if args.quiet else None, command=command)
    for phase in ("phase1", "phase2"):
        if phase in m:
            print(f"{phase} (query network {m[phase]['query']}): validation SDRi {m[phase]['validation_sdri_db']:.2f} dB at epoch {m[phase]['best_epoch']}")
    print(f"validation SDRi before tuning: {m['validation_sdri_db_start']:.2f} dB")
    print(f"wrote {args.output}/separator.safetensors — use it with: timbrelab separate MIX QUERY -o OUT --model {args.output}/separator.safetensors")
    return 0
