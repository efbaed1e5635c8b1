"""Split a description ("warm, small room", "a little brighter but not muddy") into descriptors.

Rules (documented in the README, tested):

- Descriptors are separated by commas, semicolons, "and", "but", "with", "&", "+" and "/".
- Negation: a descriptor starting with "less", "not", "no", "not so", "without", "fewer", or an
  engineer's verb — "cut", "reduce", "remove", "take out", "get rid of", "tame" — gets sign −1
  ("less boomy", "cut the mud" → the opposite of boomy, of mud). "more" is the plain word.
- Intensifiers multiply the amount: a touch / a tiny bit ×0.25; a little / a bit / slightly /
  somewhat / a little bit ×0.5; quite / rather ×0.75; very / really / much / more and more ×1.5;
  extremely / super-duper / really very ×2. They stack ("a little less warm" = −0.5).
- Filler words at the start are dropped: make it, put it, give it, sound(s/ing), add, boost,
  increase, some, more (of), of, in, into, like, a, an, the; "sound(ing)" at the end is dropped
  ("a warm sound" → warm, "a touch of presence" → presence ×0.25, "make it sound like a telephone"
  → telephone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from timbrelab.errors import BadParameterError

SEPARATORS = r"\s*(?:,|;|&|\+|/|\band\b|\bbut\b|\bwith\b)\s*"
NEGATIONS = ["not so", "not", "less", "no", "without", "cut", "cut the", "reduce", "reduce the", "remove", "remove the", "take out", "take out the",
             "get rid of", "get rid of the", "tame", "tame the", "fewer"]
INTENSIFIERS = {
    "a tiny bit": 0.25,
    "a touch": 0.25,
    "a little bit": 0.5,
    "a little": 0.5,
    "a bit": 0.5,
    "slightly": 0.5,
    "somewhat": 0.5,
    "quite": 0.75,
    "rather": 0.75,
    "really very": 2.0,
    "extremely": 2.0,
    "very": 1.5,
    "really": 1.5,
    "much": 1.5,
}
FILLERS = ["make it", "make the sound", "put it", "give it", "sounding", "sounds", "sound", "add", "boost", "boost the", "increase", "some",
           "more of", "of", "into", "in", "like", "an", "a", "the", "more", "it"]
MAX_DESCRIPTION_CHARS = 500


@dataclass(frozen=True)
class Phrase:
    """One descriptor of a description: ``text`` is what remains after modifiers are taken off."""

    original: str
    text: str
    sign: int = 1
    scale: float = 1.0

    @property
    def factor(self) -> float:
        return self.sign * self.scale


def _strip_prefix(t: str, options) -> tuple[str | None, str]:
    for opt in options:
        if t == opt:
            return opt, ""
        if t.startswith(opt + " "):
            return opt, t[len(opt) + 1 :].strip()
    return None, t


def parse_phrase(chunk: str) -> Phrase | None:
    original = chunk.strip()
    t = re.sub(r"\s+", " ", original.lower()).strip(" .!?\"'")
    sign, scale = 1, 1.0
    changed = True
    while changed and t:
        changed = False
        hit, t2 = _strip_prefix(t, sorted(INTENSIFIERS, key=len, reverse=True))
        if hit:
            scale *= INTENSIFIERS[hit]
            t, changed = t2, True
            continue
        hit, t2 = _strip_prefix(t, NEGATIONS)
        if hit:
            sign = -sign
            t, changed = t2, True
            continue
        hit, t2 = _strip_prefix(t, FILLERS)
        if hit and t2:
            t, changed = t2, True
    t = re.sub(r"\s+(sound|sounding|tone|one)$", "", t).strip()
    if not t:
        return None
    return Phrase(original=original, text=t, sign=sign, scale=scale)


def parse_description(description: str) -> list[Phrase]:
    """Descriptors of a free-text description, in order; raises BadParameterError if there are none."""
    if not isinstance(description, str):
        raise BadParameterError(f"a description must be text, got {type(description).__name__}")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise BadParameterError(f"the description is too long ({len(description)} characters; at most {MAX_DESCRIPTION_CHARS})")
    chunks = re.split(SEPARATORS, description.strip(), flags=re.IGNORECASE)
    phrases = [p for p in (parse_phrase(c) for c in chunks if c and c.strip()) if p is not None]
    if not phrases:
        raise BadParameterError(f"no descriptive word found in {description!r} (try e.g. \"warm, small room\")")
    return phrases
