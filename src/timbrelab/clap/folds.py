"""TimbreCLAP trained once per SocialFX fold, for the SocialFX ranking on held-out words.

The ranking asks whether an embedder puts the word a person gave for a processed sound first among a
fold's *test* words. Both shipped TimbreCLAP models have seen those words (``timbreclap-heldout``
leaves out only experiment 2's words), so for them the ranking is not held out. :class:`FoldModels`
is: for fold k it trains the ``timbreclap-heldout`` recipe without experiment 2's words *and* without
the test words of EQ fold k (Venkatesh et al.) and of reverb fold k (the word → reverb folds), their
inflections and WordNet synonyms — then ``socialfx_rank`` scores each query with its own fold's model
(``for_fold``). The models are cached in ``cache_dir`` under a key of everything they depend on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from timbrelab.errors import BadParameterError

NAME = "timbreclap-heldout-folds"


def fold_words(fold: int) -> list[str]:
    """The test words of EQ fold ``fold`` and of reverb fold ``fold``."""
    from timbrelab.word2fx import reverb_data as RD
    from timbrelab.word2fx.data import venkatesh_folds

    eq, rv = venkatesh_folds(), RD.reverb_folds()
    if fold not in eq or fold not in rv:
        raise BadParameterError(f"there is no fold {fold} (folds: {', '.join(map(str, sorted(eq)))})")
    return sorted(set(eq[fold]) | set(rv[fold]))


def _code_hash() -> str:
    from importlib import resources

    code = hashlib.sha256()
    for pkg, files in (("timbrelab.clap", ("data.py", "model.py", "train.py")), ("timbrelab.features", ("timbre_stats.py",))):
        for f in files:
            code.update(resources.files(pkg).joinpath(f).read_bytes())
    return code.hexdigest()


class TrainedCache:
    """TimbreCLAP models a benchmark trains from a recipe — another seed, or without a fold's words —
    cached in ``cache_dir`` under a key of everything they depend on (the recipe's ``[train]``, the
    seed, the extra held-out words, the training code)."""

    def __init__(self, cache_dir, recipe: str = "timbreclap-heldout", progress: bool | None = None):
        self.cache_dir = Path(cache_dir)
        self.recipe = recipe
        self.progress = progress
        self._pairs = None
        self.seconds: dict[str, float] = {}

    def _train_section(self) -> dict:
        from timbrelab.ml.recipes import load_recipe

        return load_recipe(self.recipe)["train"]

    def key(self, seed: int, extra_words=()) -> str:
        spec = {"recipe": self._train_section(), "seed": seed, "words": sorted(extra_words), "code": _code_hash()}
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def model(self, label: str, seed: int, extra_words=()):
        """The recipe trained with ``seed`` and without ``extra_words`` too (trained now, or from the cache)."""
        from timbrelab.clap.model import TimbreCLAP
        from timbrelab.ml.checkpoint import load_checkpoint, save_checkpoint

        path = self.cache_dir / f"{label}-{self.key(seed, extra_words)}.safetensors"
        if path.exists():
            return TimbreCLAP.from_checkpoint(load_checkpoint(path))
        import time

        from timbrelab.clap.train import CLAPTrainConfig, excluded_for, recipe_pairs, train

        t = self._train_section()
        if self._pairs is None:
            self._pairs = recipe_pairs(t, self.progress)
        pf, corpus = self._pairs
        t0 = time.perf_counter()
        excluded = excluded_for(t.get("exclude", "probe"), extra_words)
        loop = {**t.get("loop", {}), "seed": seed}
        model, metrics = train(pf, corpus.rows, excluded, CLAPTrainConfig.from_dict(loop), t.get("model", {}), self.progress, label, corpus)
        model.info = {"seed": seed, "validation": metrics["validation"], "best_epoch": metrics["best_epoch"], "extra_words": len(extra_words)}
        self.seconds[label] = round(time.perf_counter() - t0, 1)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, model.to_checkpoint(label.replace("-", "_")))
        return model


class FoldModels:
    """One ``timbreclap-heldout`` per fold (module docstring). ``for_fold(effect, fold)`` → a TimbreCLAP."""

    name = NAME

    def __init__(self, cache_dir, recipe: str = "timbreclap-heldout", progress: bool | None = None, seed: int = 0):
        self.cache = TrainedCache(cache_dir, recipe, progress)
        self.seed = seed
        self._models: dict[int, object] = {}

    def for_fold(self, effect: str, fold: int):
        if fold not in self._models:
            model = self.cache.model(f"{NAME}-{fold}", self.seed, fold_words(fold))
            model.name = f"{NAME}-{fold}"
            self._models[fold] = model
        return self._models[fold]

    # the embedder protocol's two methods: a fold set is not one model
    def embed_audio(self, audio, sample_rate):
        raise BadParameterError(f"{NAME} is one model per SocialFX fold: only the SocialFX ranking can use it (for_fold)")

    def embed_text(self, texts):
        raise BadParameterError(f"{NAME} is one model per SocialFX fold: only the SocialFX ranking can use it (for_fold)")
