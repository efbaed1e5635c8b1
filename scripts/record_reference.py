"""Record what the code returns today, as references for the tests of a refactor that must not change results.

``python scripts/record_reference.py words`` → ``tests/data/word_reference.json``: plans and model
predictions of the word → EQ / word → reverb path for map-thin words, new words and refused words
(``tests/test_cheap_words.py``). Recorded before the precomputed embedding table, the numpy MiniLM and
the lazy WordNet / GloVe readers existed (sentence-transformers, the whole GloVe index in a dict, the
fully parsed WordNet); recorded again when issue 15 added the engineering lexicon and reshipped the
word → EQ model (a deliberate change of results), and again when the lexicon grew to 161 forms and the
model was reshipped (2026-11-25); the commit it ran at is in the file.

``python scripts/record_reference.py classify`` → ``tests/data/classify_reference.json``: the
classification of a few short files (``tests/test_classify_stream.py``), recorded before
``classify_file`` streamed its windows.

``python scripts/record_reference.py minilm`` → ``tests/data/minilm_reference.npz``: the
all-MiniLM-L6-v2 sentence embeddings that sentence-transformers gives a few dozen texts, for the
test of timbrelab's own (numpy) MiniLM forward (``tests/test_text.py``).

``python scripts/record_reference.py mlp`` → ``tests/data/mlp_reference.npz``: the weights, best epoch and
validation history of the word → effect MLP (``word2fx.models.MLPRegressor``) on three small seeded
cases (early stopping, a PCA head, no validation), recorded from its own hand-written training loop
before it moved onto ``timbrelab.ml.train.fit`` (the test asks for bit-identical weights).

``python scripts/record_reference.py wordnet`` → ``tests/data/wordnet_reference.npz``: WordNet
relations (max_senses 5 and all senses) of the reference words against the word → EQ model's
training words, and ``opposites`` of a few words, recorded while ``lexicon.wordnet`` parsed the
whole data files.

The tests compare the code to these files (with a float tolerance). Rerunning the script after a
change only compares the code with itself: rerun it only to record a deliberate change of results.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"

NEW_WORDS = ["velvety", "silky", "glassy", "buttery", "smoky", "fizzy", "shimmering", "echoey", "lush", "toastier",
             "crunchy guitar", "glittery", "honeyed", "gritty", "cathedral-like", "spooky", "sparkly", "dreamy", "ethereal",
             "nasal", "honky", "tinny", "boxy sounding", "underwater", "cave", "huge stadium", "bathroom", "telephone",
             "vintage", "lo-fi"]
REFUSED = ["qwerty", "xyzzy", "asdfgh", "zxcvbn", "qqq", "blorp"]
MIXED = ["toasty", "Toasty", "a little toasty", "less boomy", "less cavernous", "velvety but not muddy", "toasty, big church",
         "warm", "big-church", "big church", "very velvety, small room"]


def _commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


def _plan(**kw) -> dict:
    from timbrelab.errors import TimbrelabError
    from timbrelab.fx import plan_effects

    try:
        p = plan_effects(**kw)
    except TimbrelabError as exc:
        return {"error": str(exc)}
    d = p.to_dict()
    eq = {"gains_db": d["eq"]["gains_db"], "amount": d["eq"]["amount"]} if d["eq"] else None
    return {"descriptors": d["descriptors"], "eq": eq, "reverb": d["reverb"], "notes": d["notes"]}


def thin_words() -> list[str]:
    from timbrelab.lexicon.maps import eq_map
    from timbrelab.lexicon.resolve import MIN_CROWD_NUM

    return sorted(e.word for e in eq_map().entries if e.lang == "English" and e.num < MIN_CROWD_NUM)


def record_words() -> None:
    from timbrelab.lexicon.maps import reverb_map
    from timbrelab import models

    eq_model, reverb_model = (lambda: models.load("word2eq")), (lambda: models.load("word2reverb"))

    thin = thin_words()
    thin_reverb = [w for w in thin if reverb_map().lookup(w) is not None]
    plans = {d: _plan(description=d) for d in thin + NEW_WORDS + REFUSED + MIXED}
    forced_eq = {w: _plan(eq_words=[w]) for w in thin_reverb + ["velvety", "qwerty", "cavernous", "church"]}
    forced_reverb = {w: _plan(reverb_words=[w]) for w in ["velvety", "toasty", "qwerty"]}
    words = thin + NEW_WORDS + REFUSED
    ref = {
        "commit": _commit(),
        "plans": plans,
        "forced_eq": forced_eq,
        "forced_reverb": forced_reverb,
        "eq_model": {"words": words, "gains_db": eq_model().predict(words).round(9).tolist()},
        "reverb_model": {"words": words, "settings": reverb_model().predict(words).round(9).tolist()},
    }
    out = DATA / "word_reference.json"
    out.write_text(json.dumps(ref, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(plans)} descriptions, {len(words)} words)")


def classify_clips(folder: Path) -> dict[str, Path]:
    """The short test files (written as float WAV with soundfile, so nothing but numpy decides their samples)."""
    import soundfile as sf

    from timbrelab.dsp.signals import pink_noise

    guitar = Path(__file__).resolve().parents[1] / "src" / "timbrelab" / "examples" / "guitar_em9.flac"
    g, sr = sf.read(str(guitar), dtype="float32", always_2d=True)
    g = g.T
    clips = {
        "guitar": (g, sr),
        "guitar_mono_4s": (g[:, : 4 * sr].mean(axis=0, keepdims=True), sr),
        "guitar_1s": (g[:, :sr], sr),
        "guitar_x6_stereo": (np.tile(g, (1, 6)), sr),
        "pink_10s_48k": (pink_noise(10.0, 48000, channels=2, seed=1), 48000),
    }
    paths = {}
    for name, (x, rate) in clips.items():
        p = folder / f"{name}.wav"
        sf.write(str(p), np.ascontiguousarray(x.T), rate, subtype="FLOAT")
        paths[name] = p
    return paths


def record_classify() -> None:
    import tempfile

    from timbrelab.timbre_cnn.classify import classify_file

    out = {"commit": _commit(), "clips": {}}
    with tempfile.TemporaryDirectory() as d:
        for name, p in classify_clips(Path(d)).items():
            r = classify_file(p, top=5)
            out["clips"][name] = {"probabilities": r.probabilities, "top": r.top, "timeline": r.timeline,
                                  "duration_s": r.duration_s, "windows": r.windows}
    path = DATA / "classify_reference.json"
    path.write_text(json.dumps(out, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {path} ({len(out['clips'])} clips)")


MINILM_TEXTS = ["warm", "bright", "toasty", "velvety", "qwerty", "shimmering", "big church", "big-church", "less boomy",
                "a warm sound", "crunchy guitar", "lo-fi", "Toasty", "SILKY", "cathedral-like", "español", "brillante",
                "cálido", "naïve", "über", "hello, world!", "x", "", "  spaced   out  ", "tinny telephone", "rock'n'roll",
                "3d", "10k", "🎸 guitar", "zxcvbn", "echoey", "ethereal", "honky-tonk piano", "a very very very long and winding "
                "description of a sound that is warm, bright, airy and a little bit muddy in the low end",
                " ".join(["timbre"] * 300)]


def record_minilm() -> None:
    from timbrelab.text.encoders import MiniLMEncoder

    vecs = MiniLMEncoder(backend="sentence-transformers", use_table=False).encode(MINILM_TEXTS)
    out = DATA / "minilm_reference.npz"
    np.savez_compressed(out, texts=np.array(MINILM_TEXTS), vectors=np.asarray(vecs, np.float32), commit=np.array(_commit()))
    print(f"wrote {out} ({len(MINILM_TEXTS)} texts)")


def record_wordnet() -> None:
    import json as _json

    from timbrelab import models
    from timbrelab.lexicon import wordnet
    from timbrelab.ml.checkpoint import load_checkpoint

    train = load_checkpoint(models.checkpoint_path("word2eq")).vocabulary  # the model's training words
    queries = thin_words() + NEW_WORDS + REFUSED + ["warm", "cold", "bright", "dark", "loud", "quiet", "big church", "café"]
    rel5 = np.array([[wordnet.relation(q, t, max_senses=5) for t in train] for q in queries], np.int8)
    rel_all = np.array([[wordnet.relation(q, t) for t in train] for q in queries], np.int8)
    opp_words = ["warm", "bright", "loud", "dark", "heavy", "velvety", "big", "hot"]
    opp = np.array([_json.dumps(sorted(wordnet.opposites(w))) for w in opp_words] + [_json.dumps(sorted(wordnet.opposites(w, 3))) for w in opp_words])
    out = DATA / "wordnet_reference.npz"
    np.savez_compressed(out, queries=np.array(queries), train=np.array(train), rel5=rel5, rel_all=rel_all, opp_words=np.array(opp_words),
                        opposites=opp, commit=np.array(_commit()))
    print(f"wrote {out} ({len(queries)} × {len(train)} relations)")


MLP_CASES = {  # name -> MLPConfig overrides; every case: 120 examples of 16-d inputs, 6 targets, seeded
    "early_stopping": {"hidden": (24, 12), "max_epochs": 300, "patience": 6, "lr": 0.5, "seed": 3},
    "pca_head": {"hidden": (16,), "max_epochs": 15, "patience": 40, "pca_components": 3, "seed": 1},
    "no_validation": {"hidden": (20, 10), "max_epochs": 12, "batch_size": 8, "seed": 0},
}


def mlp_case(name: str):
    """``(regressor, fit kwargs)`` of one MLP reference case (data from a fixed numpy seed)."""
    from timbrelab.word2fx.models import MLPConfig, MLPRegressor

    rng = np.random.default_rng(7)
    X = rng.normal(size=(120, 16)).astype(np.float32)
    Y = 1 / (1 + np.exp(-(X[:, :6] + 0.3 * rng.normal(size=(120, 6)))))
    w = rng.uniform(0.2, 1.0, size=120)
    kw = {"sample_weight": w}
    if name != "no_validation":
        kw.update(X_val=X[:30] + 0.1, Y_val=Y[:30])
    return MLPRegressor(MLPConfig(**{**MLP_CASES[name], "lr_decay_every": 50})), X, Y, kw


def record_mlp() -> None:
    import torch

    torch.set_num_threads(1)
    arrays = {}
    for name in MLP_CASES:
        model, X, Y, kw = mlp_case(name)
        model.fit(X, Y, **kw)
        for k, v in model.net_.state_dict().items():
            arrays[f"{name}/{k}"] = v.detach().numpy().copy()
        arrays[f"{name}/best_epoch"] = np.array(model.best_epoch_)
        arrays[f"{name}/history"] = np.array(model.history_, np.float64)
        arrays[f"{name}/predict"] = model.predict(X[:10])
    out = DATA / "mlp_reference.npz"
    np.savez_compressed(out, commit=np.array(_commit()), **arrays)
    print(f"wrote {out} ({len(MLP_CASES)} cases)")


def main(argv=None) -> int:
    what = (argv if argv is not None else sys.argv[1:]) or ["words", "classify", "minilm", "wordnet", "mlp"]
    for w in what:
        {"words": record_words, "classify": record_classify, "minilm": record_minilm, "wordnet": record_wordnet, "mlp": record_mlp}[w]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
