"""The SocialEQ / SocialFX EQ contributions and the Venkatesh et al. (2022) folds, as the package ships them.

``eq_contributions()`` gives every English contribution: its lower-cased word, stimulus, consistency
and 40 gains in dB. ``eq_targets(gains_db)`` is the paper's target scaling: clip to ±4 dB, map to
0…1; ``TARGET_RANGE_DB`` converts an error on that scale back to dB. ``venkatesh_folds()`` are the
four folds of held-out test words; ``fold_split`` applies the paper's protocol to one of them.
``word_key`` is the form a data word is embedded in (shared with word → reverb).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from timbrelab.lexicon.maps import normalize

CLIP_DB = 4.0
TARGET_RANGE_DB = 2 * CLIP_DB  # a 0…1 target spans 8 dB
TEST_MIN_CONSISTENCY = 0.7


def _data_text(name: str) -> str:
    return resources.files("timbrelab.lexicon").joinpath("data", name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class EQContributions:
    """English SocialEQ contributions, one row each."""

    words: np.ndarray  # (n,) str, lower-cased
    audio_id: np.ndarray  # (n,) int
    consistency: np.ndarray  # (n,) float 0…1
    gains_db: np.ndarray  # (n, 40)

    def __len__(self) -> int:
        return len(self.words)

    def subset(self, mask) -> "EQContributions":
        return EQContributions(self.words[mask], self.audio_id[mask], self.consistency[mask], self.gains_db[mask])

    @property
    def vocabulary(self) -> list[str]:
        return sorted(set(self.words.tolist()))


@lru_cache(maxsize=None)
def eq_contributions() -> EQContributions:
    """All English contributions (918 rows, 388 words), descriptors lower-cased as the paper does."""
    rows = [r for r in csv.DictReader(_data_text("socialfx_eq_contributions.csv").splitlines()) if r["language"] == "English"]
    bands = [k for k in rows[0] if k.startswith("RSC_")]
    return EQContributions(
        words=np.array([r["descriptor"].strip().lower() for r in rows]),
        audio_id=np.array([int(r["audio_id"]) for r in rows]),
        consistency=np.array([float(r["ratings_consistency"]) for r in rows]),
        gains_db=np.array([[float(r[b]) for b in bands] for r in rows]),
    )


def eq_targets(gains_db) -> np.ndarray:
    """The paper's targets: gains clipped to ±4 dB, then mapped to 0…1."""
    return (np.clip(np.asarray(gains_db, np.float64), -CLIP_DB, CLIP_DB) + CLIP_DB) / TARGET_RANGE_DB


def targets_to_db(targets) -> np.ndarray:
    return np.asarray(targets, np.float64) * TARGET_RANGE_DB - CLIP_DB


@lru_cache(maxsize=None)
def venkatesh_folds() -> dict[int, tuple[str, ...]]:
    """The four folds of held-out test words (Venkatesh et al. 2022, Table 1), lower-cased."""
    raw = json.loads(_data_text("socialfx_folds.json"))["folds"]
    return {int(k): tuple(w.strip().lower() for w in v) for k, v in sorted(raw.items())}


@dataclass(frozen=True)
class FoldSplit:
    fold: int
    train: EQContributions  # every contribution whose word is not a test word (all consistencies)
    test: EQContributions  # the test words' contributions with consistency > 0.7
    test_words: tuple[str, ...]


def fold_split(fold: int, data: EQContributions | None = None) -> FoldSplit:
    data = data or eq_contributions()
    test_words = venkatesh_folds()[fold]
    is_test = np.isin(data.words, test_words)
    test = data.subset(is_test & (data.consistency > TEST_MIN_CONSISTENCY))
    return FoldSplit(fold, data.subset(~is_test), test, test_words)


def word_key(word: str) -> str:
    """The form used to embed a data word: hyphens and underscores as spaces ('big-church' → 'big church')."""
    return normalize(word).replace("-", " ")
