"""Write the four word-disjoint folds of the SocialFX reverb words (deterministic; rerunnable).

    .venv/bin/python scripts/make_reverb_folds.py [--check]

Writes ``src/timbrelab/lexicon/data/socialfx_reverb_folds.json`` from
``timbrelab.word2fx.reverb_data.folds_document()`` (the rule is in its "protocol" field: eligible words
with >= 5 occurrences, a fixed-seed shuffle, round-robin into 4 folds). ``--check`` only compares the
committed file with a fresh computation and exits 1 if they differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from timbrelab.word2fx.reverb_data import FOLDS_FILE, folds_document

TARGET = Path(__file__).resolve().parents[1] / "src" / "timbrelab" / "lexicon" / "data" / FOLDS_FILE


def main(argv: list[str]) -> int:
    text = json.dumps(folds_document(), indent=1, ensure_ascii=False) + "\n"
    if "--check" in argv:
        same = TARGET.exists() and TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET}: {'up to date' if same else 'DIFFERS from a fresh computation'}")
        return 0 if same else 1
    TARGET.write_text(text, encoding="utf-8")
    doc = json.loads(text)
    print(f"wrote {TARGET}: {doc['n_words']} words, fold sizes {[len(v) for v in doc['folds'].values()]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
