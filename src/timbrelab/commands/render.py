"""`timbrelab render`: one note or a short phrase of an instrument, from a GM soundfont, to an audio file."""

from __future__ import annotations


EXAMPLES = """\
examples:
  timbrelab render violin -o violin.wav --pitch 69          # A4 on the test soundfont
  timbrelab render sax --phrase --seed 3 -o sax.flac        # a short, random but musical phrase
  timbrelab render cello --style vibrato --soundfont freepats -o cello.wav   # a playing style of the training corpus
  timbrelab render --list                                   # the instrument classes and soundfonts
"""

MAX_SEED = 2**32 - 1


def register(sub) -> None:
    p = sub.add_parser(
        "render",
        help="render an instrument note or phrase from a General-MIDI soundfont to a file",
        description=(
            "Render one note, or a short random but musical phrase, of an instrument class with FluidSynth "
            "from a General-MIDI soundfont (reverb and chorus off), the same renderer the models train on. "
            "A pitch outside the instrument's playable range is rendered, with a warning on stderr (the "
            "soundfont may stretch a sample far from where it was recorded). The same seed always gives "
            "the same phrase."
        ),
        epilog=EXAMPLES,
    )
    p.add_argument("instrument", nargs="?", help="instrument class, e.g. violin, 'electric guitar', sax (see --list)")
    p.add_argument("-o", "--output", help="output audio file (WAV, FLAC, OGG, AIFF, MP3)")
    p.add_argument("--soundfont", default="MuseScore_General", help="a sound source: FluidR3_GM, TimGM6mb, sf_GMbank, freepats (TiMidity++) or MuseScore_General (default; the test soundfont) — see --list")
    p.add_argument("--style", help="a playing style of the training corpus (sounds.playing): note, swell, vibrato, staccato, legato, phrase, chords, arpeggio; seeded by --seed, lasting --duration (default 3 s)")
    p.add_argument("--pitch", type=int, help="MIDI note (default: the middle of the instrument's range)")
    p.add_argument("--velocity", type=int, default=100, help="MIDI velocity 1…127 (default 100)")
    p.add_argument("--duration", type=float, default=1.5, help="seconds held (notes) or phrase length (default 1.5; phrases 4)")
    p.add_argument("--phrase", action="store_true", help="a random but musical phrase instead of one note")
    p.add_argument("--seed", type=int, default=0, help=f"phrase seed, 0 … {MAX_SEED} (default 0)")
    p.add_argument("--sample-rate", type=int, default=44100, help="Hz (default 44100)")
    p.add_argument("--list", action="store_true", help="list the instrument classes and soundfonts")
    p.set_defaults(func=run)


def run(args) -> int:
    from timbrelab.audio import write_audio
    from timbrelab.errors import BadParameterError
    from timbrelab.sounds import catalogue
    from timbrelab.sounds.phrases import make_phrase
    from timbrelab.sounds.render import Renderer
    from timbrelab.sounds.taxonomy import INSTRUMENTS, instrument

    if args.list:
        print(f"{'instrument':18} {'family':9} {'GM programs':14} {'range':9} IRMAS")
        for i in INSTRUMENTS:
            print(f"{i.name:18} {i.family:9} {','.join(str(p) for p in i.programs):14} {i.low}-{i.high:<6} {'yes' if i.irmas else ''}")
        print("sources: " + ", ".join(f"{n} ({catalogue.split_of(n)})" + ("" if n in catalogue.available() else " [not installed]") for n in catalogue.SOURCES))
        from timbrelab.sounds.playing import STYLES

        print("styles: " + ", ".join(STYLES))
        return 0
    if not args.instrument or not args.output:
        raise BadParameterError("give an instrument and -o OUTPUT (or --list)")
    import math
    import sys

    from timbrelab.audio import container_for
    from timbrelab.io_utils import check_output_file

    inst = instrument(args.instrument)
    if not math.isfinite(args.duration) or not (0.05 <= args.duration <= 60):
        raise BadParameterError(f"duration {args.duration} s is out of range (0.05 … 60)")
    pitch = args.pitch if args.pitch is not None else (inst.low + inst.high) // 2
    if not (0 <= pitch <= 127 and 1 <= args.velocity <= 127):
        raise BadParameterError("pitch must be 0…127 and velocity 1…127")
    if not (0 <= args.seed <= MAX_SEED):
        raise BadParameterError(f"seed {args.seed} is out of range (0 … {MAX_SEED})")
    if not (8000 <= args.sample_rate <= 96000):
        raise BadParameterError(f"sample rate {args.sample_rate} Hz is out of FluidSynth's range (8000 … 96000)")
    container_for(args.output)
    check_output_file(args.output, "output")
    if args.style is not None:
        from timbrelab.sounds.playing import STYLES, make_performance, styles_for

        if args.style not in STYLES:
            raise BadParameterError(f"unknown style '{args.style}' (known: {', '.join(STYLES)})")
        if args.style not in styles_for(inst):
            raise BadParameterError(f"{inst.name} does not play '{args.style}' (its styles: {', '.join(styles_for(inst))})")
        if args.phrase or args.pitch is not None:
            raise BadParameterError("--style chooses its own notes: leave out --phrase and --pitch")
    if args.phrase and args.pitch is not None:
        raise BadParameterError("--pitch is for single notes; a phrase chooses its own notes in the instrument's range (use --seed)")
    if not args.phrase and not (inst.low <= pitch <= inst.high):
        side = "below" if pitch < inst.low else "above"
        print(f"timbrelab: warning: pitch {pitch} is {side} {inst.name}'s playable range {inst.low}–{inst.high}; rendering it anyway", file=sys.stderr)
    with Renderer(args.soundfont, args.sample_rate) as r:
        program = next((p for p in inst.programs if catalogue.has_program(args.soundfont, p)), None)
        if program is None:
            raise BadParameterError(f"{args.soundfont} has no {inst.name} (GM programs {', '.join(map(str, inst.programs))})")
        if args.style is not None:
            perf = make_performance(inst, args.style, args.seed, args.duration if args.duration != 1.5 else 3.0)
            audio = r.render(program, perf)
            what = f"{args.style} ({len(perf.notes)} notes, seed {args.seed})"
        elif args.phrase:
            notes = make_phrase(inst, args.seed, args.duration if args.duration != 1.5 else 4.0)
            audio = r.render_events(program, notes)
            what = f"{len(notes)}-note phrase (seed {args.seed})"
        else:
            audio = r.render_note(program, pitch, args.velocity, args.duration)
            what = f"note {pitch} velocity {args.velocity}"
    write_audio(args.output, audio, args.sample_rate)
    print(f"wrote {args.output}: {inst.name} (GM program {program}), {what}, source {args.soundfont}, {audio.shape[1] / args.sample_rate:.2f} s")
    return 0
