"""The vocabulary whose text embeddings ship precomputed with the word → EQ / word → reverb models.

A word the crowd maps know, or a word the models were trained on, should cost no model loading at
all. ``vocabulary()`` lists every text the apply path may embed for such a word:

- every English crowd-map word (EQ and reverb maps), as typed (``big-church``) and with spaces
  (``big church``, the form the nearest-word rule and ``word_key`` embed);
- every training word of the word → EQ model (the SocialEQ English contributions) and of the
  word → reverb model (SocialFX words with enough support), in ``word_key`` form.

``build()`` embeds them with the very encoders the apply path uses (``lexicon.encoders``, table
disabled) and writes ``timbrelab/weights/text_embeddings.npz`` with its manifest entry (hash, the
command, the encoders' package versions). A table built from other package versions is ignored at
run time, so a stale table costs speed, never correctness.

Rebuild: ``python -m timbrelab.word2fx.vocabulary --build`` (a few seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

BUILD_COMMAND = "python -m timbrelab.word2fx.vocabulary --build"
ENCODERS = ("minilm", "glove")


def vocabulary() -> list[str]:
    """Sorted texts: crowd-map words (both forms) and the models' training words (``word_key`` form)."""
    from timbrelab.lexicon.maps import eq_map, reverb_map
    from timbrelab.word2fx.data import eq_contributions, word_key
    from timbrelab.word2fx.reverb import eligible_words

    texts: set[str] = set()
    for m in (eq_map(), reverb_map()):
        for e in m.entries:
            if e.lang == "English":
                texts |= {e.word, e.word.lower(), e.word.replace("-", " "), word_key(e.word)}
    texts |= {word_key(w) for w in eq_contributions().vocabulary}
    texts |= {word_key(w) for w in eligible_words()}
    return sorted(t for t in texts if t)


def build() -> dict:
    """Embed ``vocabulary()`` with each encoder, write the table into the package, record it in the manifest."""
    from timbrelab import weights
    from timbrelab.lexicon.encoders import EMBEDDING_TABLE, EMBEDDING_TABLE_FILE, ENCODERS as ENCODER_CLASSES, EmbeddingTable, source_versions

    t0 = time.perf_counter()
    texts = vocabulary()
    vectors = {name: ENCODER_CLASSES[name](use_table=False).encode(texts) for name in ENCODERS}
    meta = {"sources": source_versions(), "encoders": list(ENCODERS), "n_texts": len(texts)}
    EmbeddingTable(texts, vectors, meta).save(weights.weights_dir() / EMBEDDING_TABLE_FILE)
    return weights.register(
        EMBEDDING_TABLE, [EMBEDDING_TABLE_FILE], BUILD_COMMAND,
        "English words of lexicon/data audealize EQ and reverb maps (as typed and with spaces), the word2eq training words "
        "(SocialEQ English contributions) and the word2reverb training words (SocialFX, >= 5 occurrences), in word_key form",
        {"n_texts": len(texts), "build_seconds": round(time.perf_counter() - t0, 2)},
        {"kind": "precomputed text embeddings (not a trained model): rows of lexicon.encoders, L2-normalised float32",
         "encoders": {"minilm": "all-MiniLM-L6-v2, numpy forward (timbrelab.lexicon.minilm)", "glove": "GloVe 6B 50-d, mean of word vectors"},
         "sources": meta["sources"]},
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m timbrelab.word2fx.vocabulary", description=__doc__.splitlines()[0])
    ap.add_argument("--build", action="store_true", help="embed the vocabulary and write text_embeddings.npz + its manifest entry")
    ap.add_argument("--list", action="store_true", help="print the vocabulary")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(vocabulary()))
        return 0
    if not args.build:
        ap.print_help()
        return 2
    print(json.dumps(build(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
