"""The vocabulary whose text embeddings ship precomputed with the word → EQ / word → reverb models.

A word the crowd maps know, or a word the models were trained on, should cost no model loading at
all. ``vocabulary()`` lists every text the apply path may embed for such a word:

- every English crowd-map word (EQ and reverb maps), as typed (``big-church``) and with spaces
  (``big church``, the form the nearest-word rule and ``word_key`` embed);
- every training word of the word → EQ model (the SocialEQ English contributions) and of the
  word → reverb model (SocialFX words with enough support), in ``word_key`` form.

``train_recipe`` (the trainer of ``recipes/text_embeddings.toml``) embeds them with the very
encoders the apply path uses (:class:`timbrelab.text.table.EmbeddingTable`; the table itself and its
lookup live in :mod:`timbrelab.text.table`). Build and ship::

    timbrelab train text_embeddings -o runs/text_embeddings && timbrelab ship runs/text_embeddings

A table computed from other versions of the encoders' packages is ignored at run time, so a stale
table costs speed, never correctness.
"""

from __future__ import annotations

import time


def vocabulary() -> list[str]:
    """Sorted texts: crowd-map words (both forms) and the models' training words (``word_key`` form);
    and the prompts "a <word> sound" of the English map words and experiment 2's words, the texts the
    language–audio embedders of ``describe`` and the probe embed (``probe.describe``, ``probe.experiment2``)."""
    from timbrelab.lexicon.maps import eq_map, reverb_map
    from timbrelab.probe.reference import experiment2_config, prompt_for
    from timbrelab.word2fx.data import eq_contributions, word_key
    from timbrelab.word2fx.reverb_data import eligible_words

    texts: set[str] = set()
    for m in (eq_map(), reverb_map()):
        for e in m.entries:
            if e.lang == "English":
                texts |= {e.word, e.word.lower(), e.word.replace("-", " "), word_key(e.word)}
    texts |= {word_key(w) for w in eq_contributions().vocabulary}
    texts |= {word_key(w) for w in eligible_words()}
    words = {e.word for m in (eq_map(), reverb_map()) for e in m.entries if e.lang == "English"}
    words |= {w for ws in experiment2_config().descriptors.values() for w in ws}
    texts |= {prompt_for(w.replace("-", " ").replace("_", " ")) for w in words}
    return sorted(t for t in texts if t)


def train_recipe(recipe: dict, progress=None):
    """Embed ``vocabulary()`` with each encoder of ``[train] encoders``: the table as a checkpoint, and its metrics."""
    from timbrelab.ml.recipes import Trained
    from timbrelab.text.table import EmbeddingTable

    t0 = time.perf_counter()
    encoders = list(recipe.get("train", {}).get("encoders", ["minilm", "glove"]))
    table = EmbeddingTable.build(vocabulary(), encoders)
    metrics = {"n_texts": len(table.texts), "encoders": encoders, "sources": table.sources, "build_seconds": round(time.perf_counter() - t0, 2)}
    return Trained(table.to_checkpoint(recipe["model"]["name"]), metrics)
