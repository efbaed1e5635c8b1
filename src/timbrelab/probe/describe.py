"""A sound in words, through a language–audio embedder: the timbre words its audio embedding is closest to.

The vocabulary (:func:`describe_vocabulary`) is the English words of the Audealize EQ and reverb crowd
maps (``lexicon.maps``), de-duplicated (a word in both maps counts once), each embedded as the prompt
"a <word> sound" with hyphens as spaces (:func:`~timbrelab.probe.reference.prompt_for`: "a big church
sound", "an echo sound") — the prompt form of the probe's experiment 2.

A :class:`WordScorer` embeds the vocabulary's prompts once (rows L2-normalised) and scores an audio
embedding ``a`` against every word: ``score = cos(a', t)`` where ``a' = a`` or, when the embedder has
an ``audio_center`` (the mean audio embedding of its training sounds, shape ``(d,)``), the centred
``a' = normalize(a - audio_center)``. Centring removes the direction every sound shares, so words that
every sound is close to ("a sound", "a music sound") do not win for every file.

Optional embedder attributes read here (``getattr`` with a default, never required):

- ``fingerprint: str`` — a stable id of the weights (:func:`embedder_fingerprint`; default ``name``),
  for cache keys (the search index of :mod:`timbrelab.probe.search`);
- ``audio_center: np.ndarray (d,)`` — see above.

Scores are cosines, in −1 … 1; ranks matter more than values (they are not probabilities and differ in
scale between embedders).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from timbrelab.errors import BadParameterError

#: prompts embedded per ``embed_text`` call (bounds the embedder's batch)
TEXT_BATCH = 128


def describe_vocabulary() -> list[tuple[str, str]]:
    """``[(word, prompt)]``: the English words of the EQ and reverb crowd maps, sorted, de-duplicated,
    with the prompt each is embedded as ("big-church" → "a big church sound")."""
    from timbrelab.lexicon.maps import eq_map, reverb_map
    from timbrelab.probe.reference import prompt_for

    out, seen = [], set()
    for word in sorted(set(eq_map().words("English")) | set(reverb_map().words("English"))):
        prompt = prompt_for(word.replace("-", " ").replace("_", " "))
        if prompt not in seen:  # two spellings of one prompt count once
            seen.add(prompt)
            out.append((word, prompt))
    return out


def embedder_fingerprint(embedder) -> str:
    """The embedder's ``fingerprint`` (a stable id of its weights) or, without one, its ``name``."""
    fp = getattr(embedder, "fingerprint", None)
    return str(fp) if isinstance(fp, str) and fp.strip() else str(embedder.name)


def unit(x) -> np.ndarray:
    """``x`` (``(d,)`` or ``(n, d)``) with each row scaled to length 1 (float64; an all-zero row stays zero)."""
    a = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(a, axis=-1, keepdims=True)
    return np.divide(a, n, out=np.zeros_like(a), where=n > 0)


def embed_texts(embedder, texts: list[str], batch: int = TEXT_BATCH) -> np.ndarray:
    """``embedder.embed_text`` over ``texts`` in batches of ``batch``, checked: float64 ``(n, d)``."""
    from timbrelab.probe.embedders import check_embedding

    rows = []
    for i in range(0, len(texts), batch):
        chunk = list(texts[i : i + batch])
        t = check_embedding(embedder.embed_text(chunk), what=f"{embedder.name}'s text embedding")
        if t.ndim != 2 or t.shape[0] != len(chunk):
            raise BadParameterError(f"{embedder.name}'s embed_text gave shape {t.shape} for {len(chunk)} texts; it must give (n, d)")
        if rows and t.shape[1] != rows[0].shape[1]:
            raise BadParameterError(f"{embedder.name}'s text embeddings change dimension ({rows[0].shape[1]} then {t.shape[1]})")
        rows.append(t)
    return np.concatenate(rows) if rows else np.zeros((0, 0))


def embed_audio_file(embedder, path) -> np.ndarray:
    """The embedder's audio embedding of a whole file (read as it is: the embedder resamples and
    down-mixes as it needs), checked: float64 ``(d,)``. AudioFileError for a file that is not audio."""
    from timbrelab.audio import read_audio
    from timbrelab.probe.embedders import check_embedding

    audio, sr = read_audio(path)
    a = check_embedding(embedder.embed_audio(audio, sr), what=f"{embedder.name}'s audio embedding of {Path(path).name}")
    if a.ndim != 1:
        raise BadParameterError(f"{embedder.name}'s embed_audio gave shape {a.shape}; it must give (d,)")
    return a


class WordScorer:
    """The vocabulary's text embeddings, made once, and the scores of audio embeddings against them.

    ``vocabulary``: ``[(word, prompt)]`` (default :func:`describe_vocabulary`).
    """

    def __init__(self, embedder, vocabulary: list[tuple[str, str]] | None = None):
        self.embedder = embedder
        self.vocabulary = list(vocabulary if vocabulary is not None else describe_vocabulary())
        if not self.vocabulary:
            raise BadParameterError("the describe vocabulary is empty")
        self.words = [w for w, _ in self.vocabulary]
        self.text = unit(embed_texts(embedder, [p for _, p in self.vocabulary]))  # (n, d), rows of length 1
        center = getattr(embedder, "audio_center", None)
        self.center = None
        if center is not None:
            c = np.asarray(center, dtype=np.float64).ravel()
            if c.shape != (self.dim,) or not np.all(np.isfinite(c)):
                raise BadParameterError(f"{embedder.name}'s audio_center has shape {c.shape}; its embeddings have dimension {self.dim}")
            self.center = c

    @property
    def dim(self) -> int:
        return int(self.text.shape[1])

    def check_top(self, top) -> int:
        """``--top`` is a whole number from 1 to the vocabulary's size."""
        n = len(self.words)
        if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= n:
            raise BadParameterError(f"--top must be a whole number from 1 to {n} (the words of the EQ and reverb maps)")
        return int(top)

    def audio_direction(self, audio_embedding) -> np.ndarray:
        """The audio embedding as scored: centred on ``audio_center`` when the embedder has one, length 1."""
        a = np.asarray(audio_embedding, dtype=np.float64).ravel()
        if a.shape != (self.dim,):
            raise BadParameterError(f"{self.embedder.name}'s audio embedding has dimension {a.size}, its text embeddings {self.dim}: "
                                    "audio and text must share one space")
        return unit(a - self.center if self.center is not None else a)

    def scores(self, audio_embedding) -> np.ndarray:
        """Cosine of the (centred) audio embedding with every word's prompt, in vocabulary order."""
        return self.text @ self.audio_direction(audio_embedding)

    def top(self, audio_embedding, top: int = 8) -> list[tuple[str, float]]:
        """The ``top`` words, best first (ties by word)."""
        s = self.scores(audio_embedding)
        order = sorted(range(len(s)), key=lambda i: (-s[i], self.words[i]))[: self.check_top(top)]
        return [(self.words[i], float(s[i])) for i in order]


@dataclass
class Description:
    """What ``timbrelab describe`` says of one sound: the instrument (top-1 of the timbre CNN, or
    "no instrument") and the top timbre words with their scores."""

    path: str
    instrument: str
    probability: float
    no_instrument: bool = False
    words: list = field(default_factory=list)  # [(word, score)], best first
    embedder: str = ""

    def to_dict(self) -> dict:
        from timbrelab.timbre_cnn.classify import NO_INSTRUMENT_NOTE

        d = {"path": self.path, "instrument": self.instrument, "probability": round(float(self.probability), 4),
             "no_instrument": self.no_instrument, "words": [{"word": w, "score": round(float(s), 4)} for w, s in self.words],
             "embedder": self.embedder}
        if self.no_instrument:
            d["note"] = NO_INSTRUMENT_NOTE
        return d
