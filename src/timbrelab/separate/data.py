"""Mixtures made on the fly from the corpus, with the query that names the target.

:class:`MixtureSampler` draws, for example ``i`` of epoch ``e`` under seed ``s`` (so a run is
repeatable and a resumed run draws the same examples), a mixture of 2–4 sources of *different*
instrument classes (``MixConfig.source_counts`` / ``source_probabilities``), each a random crop of a
corpus clip at a random level (``gain_db`` around a common reference RMS: ±10 dB as AudioSep), and
sometimes a "no instrument" background (drum patterns, GM effects, noise; ``background_probability``,
never a target). The query names one source — the instrument's name, an alias, an article form
("the violin", "a fiddle") — or, with ``family_probability``, a family ("the brass": the target is
every source of that family), or, with ``absent_probability``, an instrument that is not in the
mixture (the target is silence: the model learns to return near silence for what is not there).
Finally the mixture gets an overall gain (``level_db``) so the model sees many levels.

Sources are the corpus's dry clips plus its augmented copies without accompaniment or added noise
(those would put a second sound inside the "target"): crowd EQ, crowd reverb, gain, band limits and
the lossy codec — the real-audio augmentations of the corpus.

``query_texts(name)`` lists the phrasings of an instrument; ``family_texts(family)`` a family's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from timbrelab.errors import BadParameterError

NO_INSTRUMENT = "no instrument"
BACKGROUND_STYLES = ("drums", "effect", "noise")
#: augmentations that add a second sound to a clip: such copies are never separation sources
IMPURE = ("accompaniment", "noise")
FAMILY_WORDS = {"keyboard": "keyboards", "mallet": "mallets", "guitar": "guitars", "bass": "bass", "strings": "strings",
                "voice": "vocals", "brass": "brass", "woodwind": "woodwinds", "percussion": "percussion"}


@dataclass(frozen=True)
class MixConfig:
    crop_s: float = 2.0
    source_counts: tuple = (2, 3, 4)
    source_probabilities: tuple = (0.5, 0.3, 0.2)
    gain_db: float = 10.0  # each source at ±gain_db around the reference RMS
    reference_rms: float = 0.05
    level_db: tuple = (-18.0, 6.0)  # the mixture's overall gain
    background_probability: float = 0.2
    family_probability: float = 0.1
    absent_probability: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "source_counts", tuple(int(n) for n in self.source_counts))
        object.__setattr__(self, "source_probabilities", tuple(float(p) for p in self.source_probabilities))
        object.__setattr__(self, "level_db", tuple(float(v) for v in self.level_db))
        if len(self.source_counts) != len(self.source_probabilities) or min(self.source_counts) < 1:
            raise BadParameterError("mixtures: one probability per source count, counts ≥ 1")
        if abs(sum(self.source_probabilities) - 1) > 1e-6:
            raise BadParameterError("mixtures: source-count probabilities must sum to 1")

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "MixConfig":
        from timbrelab.configs import config_from_dict

        return config_from_dict(cls, d, "mixtures")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def query_texts(name: str) -> tuple[str, ...]:
    """Ways to ask for an instrument: its name, article forms, its aliases."""
    from timbrelab.sounds.taxonomy import instrument

    inst = instrument(name)
    out = [name, f"the {name}", f"{_article(name)} {name}"]
    for a in inst.aliases:
        out += [a, f"the {a}"]
    return tuple(dict.fromkeys(out))


def family_texts(family: str) -> tuple[str, ...]:
    w = FAMILY_WORDS.get(family, family)
    return tuple(dict.fromkeys([f"the {w}", w, f"the {family}"]))


def _pure(row: dict) -> bool:
    aug = row.get("augment")
    return aug is None or not any(a in IMPURE for a in aug.get("applied", ()))


class MixtureSampler:
    """Mixtures from clips of one or more built corpus sets (``sounds.corpus.ShardedDataset``)."""

    def __init__(self, datasets, config: MixConfig | None = None, keep=None):
        """``keep(dataset_index, row) -> bool`` chooses the clips (default: all)."""
        self.config = config or MixConfig()
        self.datasets = list(datasets)
        rates = {d.sample_rate for d in self.datasets}
        if len(rates) != 1:
            raise BadParameterError(f"mixtures: every set must have one sample rate, got {sorted(rates)}")
        self.sample_rate = rates.pop()
        self.crop = int(round(self.config.crop_s * self.sample_rate))
        self.by_class: dict[str, list[tuple[int, int]]] = {}
        self.background: list[tuple[int, int]] = []
        for d, ds in enumerate(self.datasets):
            for i, r in enumerate(ds.rows):
                if (keep is not None and not keep(d, r)) or not _pure(r) or r.get("silent"):
                    continue
                if r["instrument"] == NO_INSTRUMENT:
                    if r.get("style") in BACKGROUND_STYLES:
                        self.background.append((d, i))
                else:
                    self.by_class.setdefault(r["instrument"], []).append((d, i))
        self.classes = sorted(self.by_class)
        if len(self.classes) < 2:
            raise BadParameterError("mixtures need clips of at least two instrument classes")

    def _crop(self, ref: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        d, i = ref
        clip = np.asarray(self.datasets[d].audio[i], np.float32)
        if clip.shape[0] <= self.crop:
            return np.pad(clip, (0, self.crop - clip.shape[0]))
        start = int(rng.integers(0, clip.shape[0] - self.crop + 1))
        return clip[start : start + self.crop]

    def _active(self, ref, rng, tries: int = 4) -> np.ndarray:
        """A crop with sound in it (a few redraws of the offset; a silent clip gives a silent crop)."""
        for _ in range(tries):
            y = self._crop(ref, rng)
            if np.sqrt(np.mean(y * y)) > 1e-4:
                return y
        return y

    def draw(self, rng: np.random.Generator) -> dict:
        """One example: ``mixture``, ``target`` (float32 ``(samples,)``), ``query``, ``instruments``, ``kind``."""
        from timbrelab.sounds.taxonomy import instrument

        c = self.config
        n = int(rng.choice(c.source_counts, p=c.source_probabilities))
        n = min(n, len(self.classes))
        names = [self.classes[j] for j in rng.choice(len(self.classes), size=n, replace=False)]
        sources = []
        for name in names:
            pool = self.by_class[name]
            y = self._active(pool[int(rng.integers(len(pool)))], rng)
            rms = float(np.sqrt(np.mean(y * y)))
            g = c.reference_rms * 10 ** (rng.uniform(-c.gain_db, c.gain_db) / 20) / max(rms, 1e-4)
            sources.append((y * g).astype(np.float32))
        mix = np.sum(sources, axis=0)
        if self.background and rng.random() < c.background_probability:
            bg = self._active(self.background[int(rng.integers(len(self.background)))], rng)
            rms = float(np.sqrt(np.mean(bg * bg)))
            mix = mix + bg * (c.reference_rms * 10 ** (rng.uniform(-c.gain_db, 0) / 20) / max(rms, 1e-4))
        u = rng.random()
        absent = [k for k in self.classes if k not in names]
        if u < c.absent_probability and absent:
            name = absent[int(rng.integers(len(absent)))]
            texts, target, kind = query_texts(name), np.zeros_like(mix), "absent"
        elif u < c.absent_probability + c.family_probability:
            fam = instrument(names[int(rng.integers(n))]).family
            texts = family_texts(fam)
            target = np.sum([s for s, k in zip(sources, names) if instrument(k).family == fam], axis=0)
            kind = "family"
        else:
            j = int(rng.integers(n))
            texts, target, kind = query_texts(names[j]), sources[j], "instrument"
        query = texts[int(rng.integers(len(texts)))]
        level = 10 ** (rng.uniform(*c.level_db) / 20)
        return {"mixture": (mix * level).astype(np.float32), "target": (target * level).astype(np.float32), "query": query,
                "instruments": names, "kind": kind}

    def batch(self, seed: int, epoch: int, indices) -> list[dict]:
        """The examples ``indices`` of ``epoch`` (each from its own generator: order-independent)."""
        return [self.draw(np.random.default_rng([int(seed), int(epoch), int(i)])) for i in indices]

    def all_query_texts(self) -> list[str]:
        from timbrelab.sounds.taxonomy import instrument

        out = [t for k in self.classes for t in query_texts(k)]
        out += [t for f in sorted({instrument(k).family for k in self.classes}) for t in family_texts(f)]
        return list(dict.fromkeys(out))
