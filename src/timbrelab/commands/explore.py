"""`timbrelab explore interpolate | traverse | encode`: play the GMVAE's timbre/pitch space."""

from __future__ import annotations

import json
import sys

EXAMPLES = """\
examples:
  timbrelab explore interpolate --source piano --target saxophone --pitch 60 --alpha 0 0.25 0.5 0.75 1 -o piano2sax/
  timbrelab explore interpolate --source my_note.wav --target violin -o out/      # your note: encoded, its pitch kept
  timbrelab explore traverse --instrument piano --pitch 60 --dim 1 --values -2 -1 0 1 2 -o dims/
  timbrelab explore encode my_note.wav                                            # nearest instruments, the pitch it reads

Notes are half a second at 22,050 Hz, MIDI 28 … 96. --method picks how spectrograms become audio:
griffin-lim (the paper's; all of the sound, pitch included, comes from the decoded spectrogram) or
harmonic (additive resynthesis at the pitch the pitch latent reads: no phase smear, no noise).
"""

INTERPOLATE_EXAMPLES = """\
examples:
  timbrelab explore interpolate --source piano --target saxophone --pitch 60 -o piano2sax/
  timbrelab explore interpolate --source flute --target trumpet --pitch 72 --alpha 0 0.1 0.2 0.3 --method harmonic -o f2t/
  timbrelab explore interpolate --source my_note.wav --target violin -o out/
"""
TRAVERSE_EXAMPLES = """\
examples:
  timbrelab explore traverse --instrument piano --pitch 60 --dim 1 -o dims/
  timbrelab explore traverse --instrument cello --pitch 48 --dim 5 --values -3 0 3 --json -o dims/
"""
ENCODE_EXAMPLES = """\
examples:
  timbrelab explore encode my_note.wav
  timbrelab explore encode my_note.wav --top 5 --json
"""


def register(sub) -> None:
    import argparse

    p = sub.add_parser(
        "explore",
        help="walk between instruments in a timbre/pitch latent space (GMVAE): interpolate, traverse, encode",
        description=(
            "timbrelab's Gaussian-mixture VAE (Luo, Agres & Herremans 2019) has separate timbre and pitch latents, "
            "one mixture component per instrument. interpolate moves a note's timbre a fraction α of the way from "
            "the source instrument to the target (z + α(μ_target − μ_source)) and keeps its pitch; traverse moves one "
            "timbre dimension; encode reads a note. Each set is written as one audio file per note plus a PNG of the "
            "spectrograms."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ps = p.add_subparsers(dest="explore_command", metavar="ACTION")

    def common(q, outputs: bool = True):
        q.add_argument("--model", metavar="CHECKPOINT", help="an explorer checkpoint (default: the shipped one)")
        q.add_argument("--json", action="store_true", help="print the report as JSON")
        if outputs:
            q.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
            q.add_argument("--method", choices=("griffin-lim", "harmonic"), default=None, help="spectrogram → audio (default griffin-lim)")
            q.add_argument("--format", default="wav", help="audio format of the notes (wav, flac, …; default wav)")

    i = ps.add_parser("interpolate", help="one note per α from the source instrument (or a note file) to the target",
                      description=("Timbre interpolation: a note's timbre latent moved a fraction α of the way from the source "
                                   "instrument's mixture mean towards the target's (z + α(μ_target − μ_source)), its pitch latent kept; "
                                   "one audio file per α and a PNG of the spectrograms."),
                      epilog=INTERPOLATE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("--source", required=True, help="an instrument name, or an audio file of one note")
    i.add_argument("--target", required=True, help="an instrument name")
    i.add_argument("--pitch", type=int, help="MIDI pitch (with an instrument source; a note file keeps its own)")
    i.add_argument("--alpha", type=float, nargs="+", default=[0, 0.25, 0.5, 0.75, 1], help="fractions of the way (default 0 0.25 0.5 0.75 1)")
    common(i)
    i.set_defaults(func=run_interpolate)

    t = ps.add_parser("traverse", help="one note per value of one timbre dimension",
                      description=("Latent traversal: an instrument's timbre mean at a pitch with one timbre dimension moved by each "
                                   "value, in multiples of the instrument's prior standard deviation; one audio file per value and a PNG."),
                      epilog=TRAVERSE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--instrument", required=True)
    t.add_argument("--pitch", type=int, required=True, help="MIDI pitch")
    t.add_argument("--dim", type=int, required=True, help="timbre dimension, 0 … 15")
    t.add_argument("--values", type=float, nargs="+", default=[-2, -1, 0, 1, 2], help="offsets in the instrument's prior σ (default -2 -1 0 1 2)")
    common(t)
    t.set_defaults(func=run_traverse)

    e = ps.add_parser("encode", help="the instruments nearest a note in the timbre space, and its pitch",
                      description=("Read one note (its first half second after the onset): the instruments whose mixture components "
                                   "are nearest its timbre latent, with their posterior probabilities, and the MIDI pitch its pitch latent reads."),
                      epilog=ENCODE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("note", metavar="NOTE", help="an audio file of one note (its first half second after the onset is read)")
    e.add_argument("--top", type=int, default=3)
    common(e, outputs=False)
    e.set_defaults(func=run_encode)
    p.set_defaults(func=lambda args: _need_action())


def _need_action() -> int:
    from timbrelab.errors import BadParameterError

    raise BadParameterError("explore: say what to do: interpolate, traverse or encode (see timbrelab explore --help)")


def _report(result: dict, as_json: bool) -> int:
    if as_json:
        json.dump(result, sys.stdout, indent=1)
        print()
        return 0
    print(result["title"] + f"  ({result['method']})")
    for f in result["files"]:
        print(f"  {f}")
    print(f"  {result['figure']}  (spectrograms)")
    return 0


def _stem(*parts) -> str:
    from timbrelab.separate.stream import slug

    return "_".join(slug(str(p)) for p in parts)


def run_interpolate(args) -> int:
    from pathlib import Path

    from timbrelab.explore.play import write_set
    from timbrelab.service import Service
    from timbrelab.sounds.taxonomy import instrument
    from timbrelab.errors import BadParameterError

    svc = Service()
    is_file = Path(args.source).suffix != "" and Path(args.source).exists()
    if not is_file:
        try:
            instrument(args.source)
        except BadParameterError:
            if Path(args.source).suffix:
                raise BadParameterError(f"{args.source}: no such file") from None
            raise
        if args.pitch is None:
            raise BadParameterError("explore interpolate: give --pitch (MIDI) with an instrument source")
        ns = svc.explore_interpolate(args.source, args.target, args.alpha, args.pitch, method=args.method, model_path=args.model)
        stem = _stem(ns.info["source"], ns.info["target"], ns.pitch_midi)
    else:
        ns = svc.explore_interpolate(None, args.target, args.alpha, source_path=args.source, method=args.method, model_path=args.model)
        stem = _stem(Path(args.source).stem, ns.info["target"])
    return _report(write_set(ns, args.output, stem, args.format), args.json)


def run_traverse(args) -> int:
    from timbrelab.explore.play import write_set
    from timbrelab.service import Service

    ns = Service().explore_traverse(args.instrument, args.pitch, args.dim, args.values, method=args.method, model_path=args.model)
    return _report(write_set(ns, args.output, _stem(ns.info["instrument"], ns.pitch_midi, f"dim{args.dim}"), args.format), args.json)


def run_encode(args) -> int:
    from timbrelab.service import Service

    r = Service().explore_encode_file(args.note, args.top, model_path=args.model)
    if args.json:
        json.dump(r, sys.stdout, indent=1)
        print()
        return 0
    print(f"pitch (pitch latent): MIDI {r['pitch_midi']}")
    for x in r["instruments"]:
        print(f"  {x['instrument']:18} {100 * x['probability']:5.1f} %")
    return 0
