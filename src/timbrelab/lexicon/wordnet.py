"""Antonymy from WordNet 3.0 (Princeton), read offline from Debian's ``wordnet-base`` data files.

Distributional embeddings (GloVe, MiniLM) put antonyms side by side — "warm" is nearest to "cold" and
"chilly" — which is exactly wrong for EQ curves. WordNet says which words are opposites:
``opposites(word)`` is the set of words in the antonym clusters of the word's adjective (and noun)
senses: the direct antonym synsets and the satellites "similar to" them. Only the data files are
read (``data.adj``, ``data.noun``; the format of wndb(5WN)); no nltk, no network.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from timbrelab.errors import MissingComponentError

SEARCH_PATHS = ("/usr/share/wordnet", "/usr/share/wordnet/dict", "/usr/local/share/wordnet")


def wordnet_dir() -> Path:
    for p in ([os.environ["TIMBRELAB_WORDNET"]] if os.environ.get("TIMBRELAB_WORDNET") else []) + list(SEARCH_PATHS):
        if (Path(p) / "data.adj").exists():
            return Path(p)
    raise MissingComponentError("WordNet data is not installed (Debian package wordnet-base; scripts/setup.sh installs it)")


def available() -> bool:
    try:
        wordnet_dir()
        return True
    except MissingComponentError:
        return False


class _Synsets:
    """Synsets of one part of speech: offset → (words, antonym offsets, similar-to offsets)."""

    def __init__(self, path: Path):
        self.words: dict[int, list[str]] = {}
        self.antonyms: dict[int, set[int]] = {}
        self.similar: dict[int, set[int]] = {}
        self.index: dict[str, list[int]] = {}
        with open(path, encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):
                    continue  # licence header
                fields = line.split(" | ")[0].split()
                off, n_words = int(fields[0]), int(fields[3], 16)
                words = [fields[4 + 2 * i].lower().split("(")[0] for i in range(n_words)]
                k = 4 + 2 * n_words
                n_ptr = int(fields[k])
                ants, sims = set(), set()
                for j in range(n_ptr):
                    sym, target = fields[k + 1 + 4 * j], int(fields[k + 2 + 4 * j])
                    if sym == "!":
                        ants.add(target)
                    elif sym == "&":
                        sims.add(target)
                self.words[off], self.antonyms[off], self.similar[off] = words, ants, sims
                for w in words:
                    self.index.setdefault(w, []).append(off)

    def cluster(self, off: int) -> set[int]:
        """A head synset and its satellites (similar-to, both directions are stored in the files)."""
        return {off} | self.similar.get(off, set())

    def kin(self, word: str) -> set[str]:
        """Words sharing a sense with ``word``, or in the same head/satellite cluster."""
        out: set[str] = set()
        for off in self.index.get(word, []):
            for s in self.cluster(off):
                out.update(self.words.get(s, []))
        return out - {word}

    def opposites(self, word: str) -> set[str]:
        out: set[str] = set()
        for off in self.index.get(word, []):
            heads = {off} | self.similar.get(off, set())  # a satellite points to its head
            for h in heads:
                for a in self.antonyms.get(h, set()):
                    for s in self.cluster(a):
                        out.update(self.words.get(s, []))
        return out - {word}


@lru_cache(maxsize=None)
def _pos(name: str) -> _Synsets:
    return _Synsets(wordnet_dir() / f"data.{name}")


def _key(word: str) -> str:
    return word.strip().lower().replace(" ", "_").replace("-", "_")


@lru_cache(maxsize=None)
def opposites(word: str) -> frozenset[str]:
    """Words WordNet marks as opposite in meaning to ``word`` (adjective and noun senses), lower-case, '_' for spaces."""
    w = _key(word)
    return frozenset(_pos("adj").opposites(w) | _pos("noun").opposites(w))


@lru_cache(maxsize=None)
def kin(word: str) -> frozenset[str]:
    """Synonyms of ``word``: words sharing an adjective sense or its similar-to cluster, or a noun sense."""
    w = _key(word)
    return frozenset(_pos("adj").kin(w) | _pos("noun").kin(w))


def are_opposites(a: str, b: str) -> bool:
    a_, b_ = _key(a), _key(b)
    return b_ in opposites(a_) or a_ in opposites(b_)


def relation(a: str, b: str) -> int:
    """−1 if WordNet says ``a`` and ``b`` are opposites, +1 if synonyms (and not opposites), else 0."""
    a_, b_ = _key(a), _key(b)
    if are_opposites(a_, b_):
        return -1
    if b_ in kin(a_) or a_ in kin(b_):
        return 1
    return 0
