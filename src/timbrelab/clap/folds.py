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


class FoldModels:
    """One ``timbreclap-heldout`` per fold (module docstring). ``for_fold(effect, fold)`` → a TimbreCLAP."""

    name = NAME

    def __init__(self, cache_dir, recipe: str = "timbreclap-heldout", progress: bool | None = None):
        self.cache_dir = Path(cache_dir)
        self.recipe = recipe
        self.progress = progress
        self._models: dict[int, object] = {}
        self._pairs = None
        self.seconds: dict[int, float] = {}

    def _data(self):
        if self._pairs is None:
            from timbrelab.clap.train import recipe_pairs
            from timbrelab.ml.recipes import load_recipe

            r = load_recipe(self.recipe)
            self._train = r["train"]
            self._pairs = recipe_pairs(self._train, self.progress)
        return self._pairs

    def key(self, fold: int) -> str:
        from importlib import resources

        from timbrelab.ml.recipes import load_recipe

        t = load_recipe(self.recipe)["train"]
        code = hashlib.sha256()
        for pkg, files in (("timbrelab.clap", ("data.py", "model.py", "train.py")), ("timbrelab.features", ("timbre_stats.py",))):
            for f in files:
                code.update(resources.files(pkg).joinpath(f).read_bytes())
        spec = {"recipe": t, "fold": fold, "words": fold_words(fold), "code": code.hexdigest()}
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def for_fold(self, effect: str, fold: int):
        if fold in self._models:
            return self._models[fold]
        from timbrelab.clap.model import TimbreCLAP
        from timbrelab.ml.checkpoint import load_checkpoint, save_checkpoint

        path = self.cache_dir / f"timbreclap-fold{fold}-{self.key(fold)}.safetensors"
        if path.exists():
            model = TimbreCLAP.from_checkpoint(load_checkpoint(path))
        else:
            import time

            from timbrelab.clap.train import CLAPTrainConfig, excluded_for, train

            pf, corpus = self._data()
            t0 = time.perf_counter()
            excluded = excluded_for(self._train.get("exclude", "probe"), fold_words(fold))
            model, metrics = train(pf, corpus.rows, excluded, CLAPTrainConfig.from_dict(self._train.get("loop", {})), self._train.get("model", {}),
                                   self.progress, f"{NAME}-{fold}", corpus)
            model.info = {"fold": fold, "validation": metrics["validation"], "best_epoch": metrics["best_epoch"]}
            self.seconds[fold] = round(time.perf_counter() - t0, 1)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            save_checkpoint(path, model.to_checkpoint(f"timbreclap_fold{fold}"))
        model.name = f"{NAME}-{fold}"
        self._models[fold] = model
        return model

    # the embedder protocol's two methods: a fold set is not one model
    def embed_audio(self, audio, sample_rate):
        raise BadParameterError(f"{NAME} is one model per SocialFX fold: only the SocialFX ranking can use it (for_fold)")

    def embed_text(self, texts):
        raise BadParameterError(f"{NAME} is one model per SocialFX fold: only the SocialFX ranking can use it (for_fold)")
