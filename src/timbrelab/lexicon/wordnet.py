"""Antonymy from WordNet 3.0 (Princeton), read offline from Debian's ``wordnet-base`` data files.

Distributional embeddings (GloVe, MiniLM) put antonyms side by side — "warm" is nearest to "cold" and
"chilly" — which is exactly wrong for EQ curves. WordNet says which words are opposites:
``opposites(word)`` is the set of words in the antonym clusters of the word's adjective (and noun)
senses: the direct antonym synsets and the satellites "similar to" them. Only the data files are
read (``data.adj``, ``data.noun``, ``index.adj``, ``index.noun``; the format of wndb(5WN)), on demand —
a synset by seeking to its byte offset, a word by binary search in the sorted index — so a lookup
costs milliseconds, not the ~1 s and ~200 MB of parsing the files whole; no nltk, no network.
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
    """Synsets of one part of speech, read on demand from ``data.POS`` and ``index.POS``.

    Nothing is parsed up front (the whole of ``data.noun`` is 15 MB: parsing it took ~1 s and ~200 MB).
    A synset's offset is its byte offset in ``data.POS`` (wndb(5WN)), so one seek reads it; the
    index files are sorted, so a word's senses are found by binary search. Each synset read gives
    (words, antonym offsets, similar-to offsets); an offset that does not start a synset of this file
    reads as absent.
    """

    def __init__(self, path: Path, index_path: Path | None = None):
        self._data = _map(path)
        self._index = _map(index_path) if index_path is not None and index_path.exists() else None
        self._synsets: dict[int, tuple[list[str], set[int], set[int]] | None] = {}
        self._senses: dict[str, list[int]] = {}

    def synset(self, off: int) -> tuple[list[str], set[int], set[int]] | None:
        if off not in self._synsets:
            self._synsets[off] = self._read_synset(off)
        return self._synsets[off]

    def _read_synset(self, off: int):
        d = self._data
        if not (0 <= off < len(d)) or (off > 0 and d[off - 1 : off] != b"\n"):
            return None  # not the start of a line
        end = d.find(b"\n", off)
        line = d[off : end if end >= 0 else len(d)].decode("latin-1")
        fields = line.split(" | ")[0].split()
        if line.startswith(" ") or not fields or not fields[0].isdigit() or int(fields[0]) != off:
            return None  # a licence header line, or not this synset
        try:
            return self._parse(fields)
        except (IndexError, ValueError):
            return None

    @staticmethod
    def _parse(fields: list[str]):
        n_words = int(fields[3], 16)
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
        return words, ants, sims

    def words_of(self, off: int) -> list[str]:
        s = self.synset(off)
        return s[0] if s else []

    def antonyms(self, off: int) -> set[int]:
        s = self.synset(off)
        return s[1] if s else set()

    def similar(self, off: int) -> set[int]:
        s = self.synset(off)
        return s[2] if s else set()

    def _index_line(self, word: str) -> str | None:
        """The line of ``index.POS`` for ``word`` (binary search over the sorted file), or None."""
        try:
            key = word.encode("latin-1")
        except UnicodeEncodeError:
            return None
        if not key or b" " in key or b"\n" in key:
            return None
        m = self._index
        lo, hi = 0, len(m)
        while lo < hi:
            mid = (lo + hi) // 2
            start = m.rfind(b"\n", lo, mid) + 1 or lo  # the start of the line holding byte `mid`
            end = m.find(b"\n", start)
            end = len(m) if end < 0 else end + 1
            line = m[start:end]
            head = line.split(b" ", 1)[0]
            if line.startswith(b"  ") or head < key:  # licence header lines sort first
                lo = end
            elif head > key:
                hi = start
            else:
                return line.decode("latin-1")
        return None

    def senses(self, word: str, max_senses: int | None = None) -> list[int]:
        if word not in self._senses:
            offs: list[int] = []
            line = self._index_line(word) if self._index is not None else None
            if line is not None:  # senses in order of frequency (wndb(5WN))
                fields = line.split()
                n_synsets, n_ptr = int(fields[2]), int(fields[3])
                offs = [int(x) for x in fields[6 + n_ptr : 6 + n_ptr + n_synsets]]
            self._senses[word] = offs
        return self._senses[word][:max_senses]

    def cluster(self, off: int) -> set[int]:
        """A synset with its head (if a satellite) and all of that head's satellites."""
        heads = {off} | self.similar(off)
        return set().union(*({h} | self.similar(h) for h in heads))

    def opposite_synsets(self, word: str, max_senses: int | None = None) -> set[int]:
        """Synsets in the antonym clusters of the word's first ``max_senses`` senses."""
        out: set[int] = set()
        for off in self.senses(word, max_senses):
            for h in {off} | self.similar(off):
                for a in self.antonyms(h):
                    out |= self.cluster(a)
        return out

    def kin_synsets(self, word: str, max_senses: int | None = None) -> set[int]:
        return set().union(*(self.cluster(off) for off in self.senses(word, max_senses))) if self.senses(word, max_senses) else set()


def _map(path: Path):
    """A read-only memory map of a whole file (bytes-like: find, rfind, slicing)."""
    import mmap

    with open(path, "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


@lru_cache(maxsize=None)
def _pos(name: str) -> _Synsets:
    return _Synsets(wordnet_dir() / f"data.{name}", wordnet_dir() / f"index.{name}")


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
            out.update(_pos(pos).words_of(off))
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


def lemmas(word: str, max_senses: int | None = None) -> set[str]:
    """The words of ``word``'s own adjective and noun senses (its WordNet synonyms, itself included),
    lower-case, '_' for spaces; empty for a word WordNet does not know."""
    out: set[str] = set()
    for pos, (senses, _, _) in _sets(word, max_senses).items():
        for off in senses:
            out.update(_pos(pos).words_of(off))
    return out
