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

    def __init__(self, path: Path, index_path: Path | None = None):
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
        if index_path is not None and index_path.exists():  # senses in order of frequency (wndb(5WN))
            with open(index_path, encoding="latin-1") as f:
                for line in f:
                    if line.startswith("  "):
                        continue
                    fields = line.split()
                    n_synsets, n_ptr = int(fields[2]), int(fields[3])
                    self.index[fields[0]] = [int(x) for x in fields[6 + n_ptr : 6 + n_ptr + n_synsets]]

    def cluster(self, off: int) -> set[int]:
        """A synset with its head (if a satellite) and all of that head's satellites."""
        heads = {off} | self.similar.get(off, set())
        return set().union(*({h} | self.similar.get(h, set()) for h in heads))

    def senses(self, word: str, max_senses: int | None = None) -> list[int]:
        return self.index.get(word, [])[:max_senses]

    def opposite_synsets(self, word: str, max_senses: int | None = None) -> set[int]:
        """Synsets in the antonym clusters of the word's first ``max_senses`` senses."""
        out: set[int] = set()
        for off in self.senses(word, max_senses):
            for h in {off} | self.similar.get(off, set()):
                for a in self.antonyms.get(h, set()):
                    out |= self.cluster(a)
        return out

    def kin_synsets(self, word: str, max_senses: int | None = None) -> set[int]:
        return set().union(*(self.cluster(off) for off in self.senses(word, max_senses))) if self.senses(word, max_senses) else set()


@lru_cache(maxsize=None)
def _pos(name: str) -> _Synsets:
    return _Synsets(wordnet_dir() / f"data.{name}", wordnet_dir() / f"index.{name}")


def _key(word: str) -> str:
    return word.strip().lower().replace(" ", "_").replace("-", "_")


def _key(word: str) -> str:
    return word.strip().lower().replace(" ", "_").replace("-", "_")


@lru_cache(maxsize=None)
def _sets(word: str, max_senses: int | None) -> dict[str, tuple[frozenset, frozenset, frozenset]]:
    """Per part of speech: (the word's senses, their antonym-cluster synsets, their kin synsets)."""
    w = _key(word)
    return {
        pos: (frozenset(_pos(pos).senses(w, max_senses)), frozenset(_pos(pos).opposite_synsets(w, max_senses)), frozenset(_pos(pos).kin_synsets(w, max_senses)))
        for pos in ("adj", "noun")
    }


def opposites(word: str, max_senses: int | None = None) -> set[str]:
    """Words one of whose senses lies in an antonym cluster of one of ``word``'s first ``max_senses``
    senses (most frequent first; None = all), lower-case, '_' for spaces."""
    out: set[str] = set()
    for pos, (_, opp, _) in _sets(word, max_senses).items():
        for off in opp:
            out.update(_pos(pos).words.get(off, []))
    return out - {_key(word)}


def relation(a: str, b: str, max_senses: int | None = None) -> int:
    """−1 if one of the first ``max_senses`` senses of ``a`` and of ``b`` are antonyms (or in antonym
    clusters), +1 if two such senses share a cluster (synonyms), else 0."""
    sa, sb = _sets(a, max_senses), _sets(b, max_senses)
    if any(sa[p][0] & sb[p][1] or sb[p][0] & sa[p][1] for p in sa):
        return -1
    if any(sa[p][2] & sb[p][0] for p in sa):
        return 1
    return 0


def are_opposites(a: str, b: str, max_senses: int | None = None) -> bool:
    return relation(a, b, max_senses) == -1
