"""TimbreCLAP's training pairs: sounds the project can make, with the words people use for them.

Three kinds of item, planned once from a seed (:func:`plan`) and turned into timbre statistics
(``features.timbre_stats``) by a resumable, cached build (:func:`pair_features`):

- **clip** — a clip of the timbre-CNN corpus (``sounds.corpus``: FluidR3_GM, TimGM6mb, sf_GMbank,
  freepats; the clean render and its augmented copy), captioned with its instrument in several
  phrasings (name, aliases, family, playing style; :func:`captions`). Label ``inst:<name>``.
- **eq** — a clean corpus clip (or a mixture of two) through a crowd EQ curve: an Audealize EQ map
  entry or one person's SocialFX EQ contribution, played as Audealize plays it (min–max normalised
  to ±``lexicon.maps.AUDEALIZE_EQ_RANGE_DB``) at a random amount; the text is the word the crowd or
  the person gave (``"a <word> sound"``). Label ``word:<word>``.
- **reverb** — the same with a crowd reverb: an Audealize reverb map entry or a SocialFX reverb
  contribution (``sounds.augment.reverb_pool``), at a random wet amount, the tail cut at the clip's
  end as in experiment 2.

Every processed item keeps the statistics of its unprocessed source too (``X_orig``), so training
can ask the *change* an effect makes to point at the word (the directional term).

Only English words; the probe's sources (the bundled guitar, the piano of experiment 2) are never
used: the sources are corpus clips only. Words are held out by :func:`excluded_words`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

import numpy as np

from timbrelab.errors import BadParameterError

FEATURES_NAMESPACE = "clap-features"
FORMAT = 1
SHARD_ITEMS = 1000

STYLE_PHRASES = {
    "note": ("a single note", "one note"), "staccato": ("short staccato notes", "staccato"),
    "legato": ("a legato line", "smooth legato notes"), "phrase": ("a melodic phrase", "a melody"),
    "vibrato": ("a note with vibrato", "vibrato"), "swell": ("a swelling note", "a crescendo"),
    "chords": ("chords", "playing chords"), "arpeggio": ("an arpeggio", "broken chords"),
}
NONE_CAPTIONS = {
    "drums": ("drums", "a drum beat", "percussion"), "effect": ("a sound effect", "a noise effect"),
    "noise": ("noise", "hiss and noise"), "silence": ("silence", "near silence"),
}


@dataclass(frozen=True)
class PairPlanConfig:
    """What :func:`plan` makes (JSON-able; part of the feature cache's key)."""

    seed: int = 0
    audealize_eq_per_entry: int = 4  # sources per Audealize EQ map entry
    socialfx_eq_per_entry: int = 5  # sources per SocialFX EQ contribution
    audealize_reverb_per_entry: int = 4
    socialfx_reverb_per_entry: int = 1
    amount_min: float = 0.25
    amount_max: float = 1.0
    mixture_fraction: float = 0.2  # processed sources that are two instruments mixed
    use_augmented_clips: bool = True  # caption items from the augmented copies as well as the clean renders

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PairPlanConfig":
        from timbrelab.configs import config_from_dict

        return config_from_dict(cls, d, "TimbreCLAP pairs")


# ----------------------------------------------------------------------------------------- words


def word_text(word: str) -> str:
    """A crowd word in the form it is embedded: lower case, hyphens and underscores as spaces."""
    from timbrelab.word2fx.data import word_key

    return word_key(word).replace("_", " ")


def _forms(word: str) -> set[str]:
    from timbrelab.lexicon.maps import inflection_candidates

    w = word_text(word)
    return {word_text(f) for f in inflection_candidates(w.replace(" ", "-"))} | {w}


def excluded_words(words, wordnet: bool = True) -> set[str]:
    """The forms a held-out model must never see for ``words``: each word, its inflections' base forms
    (``lexicon.maps.inflection_candidates``) and, with ``wordnet``, the lemmas of its WordNet synsets
    (synonyms: ``lexicon.wordnet.lemmas``)."""
    out: set[str] = set()
    for w in words:
        out |= _forms(w)
        if wordnet:
            from timbrelab.lexicon import wordnet as WN

            if WN.available():
                out |= {word_text(x) for x in WN.lemmas(word_text(w))}
    return out


def is_excluded(word: str, excluded: set[str]) -> bool:
    """True if the word, one of its inflection base forms, or one of its words (in a phrase: "big
    church") is excluded."""
    if not excluded:
        return False
    w = word_text(word)
    if _forms(w) & excluded:
        return True
    return any(_forms(t) & excluded for t in re.split(r"\s+", w) if t)


# ----------------------------------------------------------------------------------------- plan


def captions(row: dict) -> tuple[str, ...]:
    """Phrasings of a corpus clip's instrument (and playing style) for the text tower."""
    from timbrelab.sounds.taxonomy import instrument

    name = row["instrument"]
    if name == "no instrument":
        return NONE_CAPTIONS.get(row.get("style"), ("no instrument",))
    inst = instrument(name)
    art = "an" if name[0] in "aeiou" else "a"
    out = [f"{art} {name} sound", name, f"the sound of {art} {name}", f"{art} {inst.family} instrument", f"{inst.family}"]
    out += [f"{'an' if a[0] in 'aeiou' else 'a'} {a}" for a in inst.aliases]
    out += [f"{name}, {p}" for p in STYLE_PHRASES.get(row.get("style"), ())]
    return tuple(dict.fromkeys(out))


def _english(meta: tuple) -> np.ndarray:
    return np.array([m.get("lang", "English") == "English" and bool(m["word"].strip()) for m in meta])


def plan(corpus_rows: list, augmented_rows: list | None, config: PairPlanConfig | None = None) -> list[dict]:
    """The items (module docstring) as JSON-able dicts, in a fixed order for a seed.

    ``corpus_rows``: the clean corpus's rows (index = clip), ``augmented_rows``: its augmented set's
    rows (each has ``base``), or None."""
    from timbrelab.lexicon.maps import AUDEALIZE_EQ_RANGE_DB
    from timbrelab.sounds.augment import eq_pool, reverb_pool

    c = config or PairPlanConfig()
    rng = np.random.default_rng(c.seed)
    items: list[dict] = []
    for i, r in enumerate(corpus_rows):
        if not r.get("silent"):
            items.append({"kind": "clip", "set": "corpus", "clip": i, "source": r["source"], "label": f"inst:{r['instrument']}",
                          "texts": list(captions(r))})
    if c.use_augmented_clips and augmented_rows is not None:
        for i, r in enumerate(augmented_rows):
            if not r.get("silent"):
                base = corpus_rows[r["base"]]
                items.append({"kind": "clip", "set": "augmented", "clip": i, "source": base["source"], "label": f"inst:{base['instrument']}",
                              "texts": list(captions(base))})
    sources = [i for i, r in enumerate(corpus_rows) if not r.get("silent") and r["instrument"] != "no instrument"]
    if not sources:
        raise BadParameterError("the corpus has no instrument clips to process")

    def source() -> list[int]:
        a = int(sources[rng.integers(len(sources))])
        if rng.random() < c.mixture_fraction:
            for _ in range(20):
                b = int(sources[rng.integers(len(sources))])
                if corpus_rows[b]["instrument"] != corpus_rows[a]["instrument"]:
                    return [a, b]
        return [a]

    def amount() -> float:
        return round(float(c.amount_min + (c.amount_max - c.amount_min) * rng.random()), 4)

    for effect, pool, per in (("eq", "audealize", c.audealize_eq_per_entry), ("eq", "socialfx", c.socialfx_eq_per_entry),
                              ("reverb", "audealize", c.audealize_reverb_per_entry), ("reverb", "socialfx", c.socialfx_reverb_per_entry)):
        meta, _ = (eq_pool if effect == "eq" else reverb_pool)(pool)
        for k in np.flatnonzero(_english(meta)):
            words = list(dict.fromkeys(word_text(w) for w in meta[k]["word"].split(",") if w.strip()))
            for _ in range(per):
                item = {"kind": effect, "pool": pool, "index": int(k), "sources": source(), "amount": amount(), "words": words}
                if len(item["sources"]) == 2:
                    item["mix_db"] = round(float(-6.0 * rng.random()), 2)
                if effect == "eq":
                    item["range_db"] = AUDEALIZE_EQ_RANGE_DB
                items.append(item)
    return items


# ----------------------------------------------------------------------------------- rendering


def source_audio(item: dict, corpus) -> np.ndarray:
    """The unprocessed source of a processed item: a corpus clip, or two mixed (float32 ``(1, samples)``)."""
    x = np.asarray(corpus.clip(item["sources"][0]), np.float32).reshape(1, -1)
    if len(item["sources"]) == 2:
        y = np.asarray(corpus.clip(item["sources"][1]), np.float32).reshape(1, -1)
        ra, rb = float(np.sqrt(np.mean(x**2))), float(np.sqrt(np.mean(y**2)))
        if rb > 0 and ra > 0:
            x = x + y * (ra / rb) * 10 ** (item["mix_db"] / 20)
        peak = float(np.max(np.abs(x)))
        if peak > 0.99:
            x = x * (0.99 / peak)
    return x.astype(np.float32)


def effect_of(item: dict):
    """timbrelab's effect that processes an eq / reverb item."""
    from timbrelab.dsp.eq import GraphicEQ
    from timbrelab.dsp.reverb import Reverb, ReverbSettings
    from timbrelab.sounds.augment import eq_pool, reverb_pool

    if item["kind"] == "eq":
        shape = eq_pool(item["pool"])[1][item["index"]]
        return GraphicEQ(tuple(shape * item["range_db"]), item["amount"])
    if item["kind"] == "reverb":
        return Reverb(ReverbSettings.from_list(reverb_pool(item["pool"])[1][item["index"]]), item["amount"])
    raise BadParameterError(f"not a processed item: {item['kind']}")


def process(item: dict, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    fx = effect_of(item)
    y = fx(audio, sample_rate, tail_s=0.0) if item["kind"] == "reverb" else fx(audio, sample_rate)
    y = np.ascontiguousarray(y[:, : audio.shape[1]], np.float32)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return y / peak * 0.99 if peak > 0.99 else y


@dataclass
class PairFeatures:
    """The planned items and their statistics: ``X`` (items, dim) of the clip / processed audio,
    ``X_orig`` (items, dim) of a processed item's source (NaN rows for clips)."""

    items: list
    X: np.ndarray
    X_orig: np.ndarray
    stats_config: dict
    key: str = ""

    @property
    def processed(self) -> np.ndarray:
        return np.array([it["kind"] != "clip" for it in self.items])


def pair_features(corpus, augmented, plan_config: PairPlanConfig | None = None, stats_config=None, progress: bool | None = None) -> PairFeatures:
    """Plan the items and compute their statistics, cached in the ``clap-features`` namespace (keyed by
    the corpus and augmented sets' keys, the plan and the front end); the build is resumable — shards of
    ``SHARD_ITEMS`` items are kept as they finish, so an interrupted build goes on where it stopped."""
    from timbrelab.data.cache import Cache
    from timbrelab.features.timbre_stats import TimbreStatsConfig

    pc = plan_config or PairPlanConfig()
    sc = stats_config or TimbreStatsConfig()
    spec = {"format": FORMAT, "corpus": corpus.manifest["key"], "augmented": augmented.manifest["key"] if augmented is not None else None,
            "plan": pc.to_dict(), "stats": sc.to_dict()}
    items = plan(corpus.rows, augmented.rows if augmented is not None else None, pc)

    def build(folder):
        _build_shards(items, corpus, augmented, sc, folder, progress)
        return {"items": len(items)}

    entry = Cache(FEATURES_NAMESPACE).get(spec, "timbreclap-pairs", build, resumable=True)
    X = np.concatenate([np.load(entry.path(f"shard{s:04d}.npz"))["X"] for s in range(_n_shards(len(items)))])
    Xo = np.concatenate([np.load(entry.path(f"shard{s:04d}.npz"))["X_orig"] for s in range(_n_shards(len(items)))])
    return PairFeatures(items, X, Xo, sc.to_dict(), entry.key)


def _n_shards(n: int) -> int:
    return (n + SHARD_ITEMS - 1) // SHARD_ITEMS


def _build_shards(items, corpus, augmented, sc, folder, progress) -> None:
    import os

    from tqdm import tqdm

    from timbrelab.features.timbre_stats import timbre_stats

    n_shards = _n_shards(len(items))
    todo = [s for s in range(n_shards) if not (folder / f"shard{s:04d}.npz").exists()]
    bar = tqdm(total=len(items), desc="TimbreCLAP pairs", unit="item", disable=(progress is False) or None,
               initial=(n_shards - len(todo)) * SHARD_ITEMS if todo else len(items))
    sr = corpus.sample_rate
    for s in todo:
        chunk = items[s * SHARD_ITEMS:(s + 1) * SHARD_ITEMS]
        X = np.zeros((len(chunk), sc.dim), np.float32)
        Xo = np.full((len(chunk), sc.dim), np.nan, np.float32)
        for j, it in enumerate(chunk):
            if it["kind"] == "clip":
                ds = corpus if it["set"] == "corpus" else augmented
                X[j] = timbre_stats(np.asarray(ds.clip(it["clip"]), np.float32).reshape(1, -1), sr, sc)
            else:
                x = source_audio(it, corpus)
                Xo[j] = timbre_stats(x, sr, sc)
                X[j] = timbre_stats(process(it, x, sr), sr, sc)
            bar.update(1)
        tmp = folder / f"shard{s:04d}.tmp"
        with open(tmp, "wb") as f:
            np.savez(f, X=X, X_orig=Xo)
        os.replace(tmp, folder / f"shard{s:04d}.npz")
    bar.close()
    (folder / "items.json").write_text(json.dumps(items), encoding="utf-8")
