"""Instrument classes over General-MIDI programs: 28 pitched classes, IRMAS's 11 among them.

Each :class:`Instrument` has the GM programs (0-based) that sound like it, the pitch range it is
rendered in (MIDI note numbers, a playable register of the real instrument), a family, and names a
person might use for it (for text conditioning later: "the violin", "sax", "vocals").
"""

from __future__ import annotations

from dataclasses import dataclass

#: IRMAS's 11 pitched classes (Bosch et al. 2012)
IRMAS = ("cello", "clarinet", "flute", "acoustic guitar", "electric guitar", "organ", "piano", "saxophone", "trumpet", "violin", "voice")


@dataclass(frozen=True)
class Instrument:
    name: str
    programs: tuple[int, ...]  # GM programs, 0-based
    low: int  # lowest MIDI note rendered
    high: int  # highest MIDI note rendered
    family: str
    aliases: tuple[str, ...] = ()

    @property
    def irmas(self) -> bool:
        return self.name in IRMAS

    def pitches(self, step: int = 1) -> list[int]:
        return list(range(self.low, self.high + 1, step))

    def to_dict(self) -> dict:
        return {"name": self.name, "programs": list(self.programs), "low": self.low, "high": self.high, "family": self.family, "aliases": list(self.aliases), "irmas": self.irmas}


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("piano", (0, 1), 33, 96, "keyboard", ("grand piano", "acoustic piano", "keys")),
    Instrument("electric piano", (4, 5), 36, 91, "keyboard", ("rhodes", "e-piano", "wurlitzer")),
    Instrument("harpsichord", (6,), 41, 89, "keyboard", ("clavecin",)),
    Instrument("organ", (16, 17, 19), 36, 96, "keyboard", ("church organ", "hammond", "pipe organ")),
    Instrument("accordion", (21,), 53, 89, "keyboard", ("squeezebox",)),
    Instrument("vibraphone", (11,), 53, 89, "mallet", ("vibes",)),
    Instrument("marimba", (12,), 45, 96, "mallet", ("xylophone-like",)),
    Instrument("acoustic guitar", (24, 25), 40, 81, "guitar", ("nylon guitar", "steel-string guitar", "classical guitar")),
    Instrument("electric guitar", (26, 27, 29, 30), 40, 84, "guitar", ("e-guitar", "distorted guitar", "clean guitar")),
    Instrument("banjo", (105,), 48, 81, "guitar", ()),
    Instrument("acoustic bass", (32,), 28, 55, "bass", ("upright bass", "double bass pizzicato")),
    Instrument("electric bass", (33, 34), 28, 60, "bass", ("bass guitar", "e-bass")),
    Instrument("violin", (40,), 55, 96, "strings", ("fiddle",)),
    Instrument("viola", (41,), 48, 84, "strings", ()),
    Instrument("cello", (42,), 36, 76, "strings", ("violoncello",)),
    Instrument("contrabass", (43,), 28, 60, "strings", ("double bass", "string bass")),
    Instrument("harp", (46,), 36, 96, "strings", ("concert harp",)),
    Instrument("voice", (52, 53), 48, 79, "voice", ("vocals", "singer", "choir", "vocal")),
    Instrument("trumpet", (56,), 55, 82, "brass", ("cornet",)),
    Instrument("trombone", (57,), 40, 72, "brass", ("bone",)),
    Instrument("tuba", (58,), 28, 58, "brass", ()),
    Instrument("french horn", (60,), 41, 77, "brass", ("horn",)),
    Instrument("saxophone", (64, 65, 66, 67), 44, 80, "woodwind", ("sax", "alto sax", "tenor sax")),
    Instrument("oboe", (68,), 58, 91, "woodwind", ()),
    Instrument("bassoon", (70,), 34, 72, "woodwind", ()),
    Instrument("clarinet", (71,), 50, 91, "woodwind", ()),
    Instrument("flute", (73,), 60, 96, "woodwind", ("concert flute",)),
    Instrument("pan flute", (75,), 60, 91, "woodwind", ("panpipes",)),
)

BY_NAME = {i.name: i for i in INSTRUMENTS}
FAMILIES = tuple(sorted({i.family for i in INSTRUMENTS}))


def instrument(name: str) -> Instrument:
    from timbrelab.errors import BadParameterError

    key = name.strip().lower()
    for i in INSTRUMENTS:
        if key == i.name or key in i.aliases:
            return i
    raise BadParameterError(f"unknown instrument '{name}' (known: {', '.join(BY_NAME)})")


def class_names(names=None) -> list[str]:
    """Class names in a fixed order (the taxonomy's), optionally restricted to ``names``."""
    return [i.name for i in INSTRUMENTS if names is None or i.name in names]
