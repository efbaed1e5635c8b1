"""TimbreCLAP's parts: the timbre statistics, held-out words, the pair plan, the model and its training."""

from __future__ import annotations

import numpy as np
import pytest

from timbrelab.clap import data as CD
from timbrelab.errors import BadParameterError
from timbrelab.features.timbre_stats import TimbreStatsConfig, names, timbre_stats

SR = 22050


def _tone(seconds=2.0, f0=220.0, decay_s=None, seed=0, staccato=False):
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))
    if staccato:  # 0.1-s notes every 0.5 s
        x = x * ((t % 0.5) < 0.1)
    x = x + 0.001 * np.random.default_rng(seed).standard_normal(t.size)
    if decay_s:
        x = x * np.exp(-t / decay_s)
    return (0.3 * x / np.max(np.abs(x)))[None].astype(np.float32)


def test_stats_shape_names_and_level_invariance():
    x = _tone()
    v = timbre_stats(x, SR)
    assert v.shape == (TimbreStatsConfig().dim,) == (len(names()),)
    assert v.dtype == np.float32 and np.all(np.isfinite(v))
    # a gain change (−20 dB) moves nothing but the bands near the log floor (log(mel + 1e-6)), slightly
    np.testing.assert_allclose(timbre_stats(x * 0.1, SR), v, atol=0.05)
    y = _tone(decay_s=0.3)
    assert not np.allclose(timbre_stats(y[:, ::-1].copy(), SR), timbre_stats(y, SR), atol=0.05)  # a decay played backwards differs


def test_stats_hear_eq_and_reverb():
    from timbrelab.dsp.eq import GraphicEQ
    from timbrelab.dsp.reverb import Reverb, ReverbSettings

    n = TimbreStatsConfig().n_mels
    noise = (0.1 * np.random.default_rng(1).standard_normal((1, 2 * SR))).astype(np.float32)
    flat = timbre_stats(noise, SR)
    bright = timbre_stats(GraphicEQ(tuple(np.linspace(-6, 6, 40)), 1.0)(noise, SR), SR)
    tilt = lambda v: v[n - 16:n - 8].mean() - v[8:16].mean()  # noqa: E731  (upper minus lower bands, natural log)
    assert tilt(bright) > tilt(flat) + 0.5  # the tilt EQ tilted the long-term spectrum
    x = _tone(staccato=True)
    base = timbre_stats(x, SR)
    wet = timbre_stats(Reverb(ReverbSettings(0.05, 0.9, 0.0, 8000.0, 0.8, 1.0), 1.0)(x, SR, tail_s=0.0)[:, : x.shape[1]], SR)
    i_fall, g = names().index("decay_fall_0"), n // 4
    assert wet[i_fall:i_fall + g].mean() > base[i_fall:i_fall + g].mean() + 0.2  # the notes die slowly (less negative falls)
    i_active = names().index("active_fraction")
    assert wet[i_active] > base[i_active] + 0.3  # the room fills the gaps between the notes


def test_stats_refuse_bad_input():
    with pytest.raises(BadParameterError):
        timbre_stats(np.zeros((1, 0), np.float32), SR)
    with pytest.raises(BadParameterError):
        TimbreStatsConfig(n_mels=63)


def test_excluded_words_cover_inflections_phrases_and_synonyms():
    ex = CD.excluded_words(["warm", "big"], wordnet=False)
    assert CD.is_excluded("warmer", ex) and CD.is_excluded("Warm", ex) and CD.is_excluded("big church", ex)
    assert CD.is_excluded("big-church", ex) and CD.is_excluded("biggest", ex)
    assert not CD.is_excluded("cold", ex) and not CD.is_excluded("church", ex)
    assert not CD.is_excluded("warm", set())


def test_excluded_words_wordnet_synonyms():
    from timbrelab.lexicon import wordnet as WN

    if not WN.available():
        pytest.skip("WordNet data (Debian wordnet-base) is not installed")
    ex = CD.excluded_words(["warm"])
    assert CD.is_excluded("tender", ex) and not CD.is_excluded("bright", ex)


def test_plan_is_seeded_and_english_only():
    rows = [{"source": "A", "instrument": "piano", "style": "note"}, {"source": "B", "instrument": "violin", "style": "vibrato"},
            {"source": "A", "instrument": "no instrument", "style": "drums"}, {"source": "B", "instrument": "flute", "silent": True}]
    cfg = CD.PairPlanConfig(audealize_eq_per_entry=1, socialfx_eq_per_entry=0, audealize_reverb_per_entry=0, socialfx_reverb_per_entry=1)
    a, b = CD.plan(rows, None, cfg), CD.plan(rows, None, cfg)
    assert a == b and a != CD.plan(rows, None, CD.PairPlanConfig(**{**cfg.to_dict(), "seed": 1}))
    clips = [it for it in a if it["kind"] == "clip"]
    assert [it["clip"] for it in clips] == [0, 1, 2]  # the silent clip is left out
    assert "a violin sound" in clips[1]["texts"] and "drums" in clips[2]["texts"]
    proc = [it for it in a if it["kind"] != "clip"]
    assert {it["kind"] for it in proc} == {"eq", "reverb"}
    assert all(0 not in [] and all(s in (0, 1) for s in it["sources"]) for it in proc)  # never the no-instrument clip
    assert all(cfg.amount_min <= it["amount"] <= cfg.amount_max and it["words"] for it in proc)


def _toy_pairs(n_clip=120, n_proc=240, seed=0):
    """Pair features with a known structure: stats = instrument one-hot + a 'brightness' channel that an
    EQ item moves by its word's sign ('bright' +, 'dark' −, 'shiny' +, 'dull' −)."""
    from timbrelab.clap.data import PairFeatures

    rng = np.random.default_rng(seed)
    dim = 8
    insts = ["piano", "violin", "flute"]
    words = {"bright": 1.0, "dark": -1.0, "shiny": 1.0, "dull": -1.0, "brilliant": 1.0, "muffled": -1.0}
    items, X, Xo, rows = [], [], [], []
    for i in range(n_clip):
        k = i % 3
        rows.append({"source": "A" if i % 4 else "B", "instrument": insts[k], "style": "note"})
        v = rng.normal(0, 0.1, dim)
        v[k] += 1.0
        items.append({"kind": "clip", "set": "corpus", "clip": i, "source": rows[-1]["source"], "label": f"inst:{insts[k]}",
                      "texts": list(CD.captions(rows[-1]))})
        X.append(v)
        Xo.append(np.full(dim, np.nan))
    wl = list(words)
    for j in range(n_proc):
        w = wl[j % len(wl)]
        o = rng.normal(0, 0.1, dim)
        o[j % 3] += 1.0
        p = o.copy()
        p[5] += words[w] * rng.uniform(0.5, 1.0)
        items.append({"kind": "eq", "words": [w], "sources": [j % 3]})
        X.append(p)
        Xo.append(o)
    return PairFeatures(items, np.array(X, np.float32), np.array(Xo, np.float32), {"n_mels": 64}), rows


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_training_learns_directions_and_holds_out_words(tmp_path):
    from timbrelab.clap.model import TimbreCLAP
    from timbrelab.clap.train import CLAPTrainConfig, train
    from timbrelab.ml.checkpoint import load_checkpoint, save_checkpoint

    pf, rows = _toy_pairs()
    cfg = CLAPTrainConfig(max_epochs=25, patience=25, batch_size=64, val_word_fraction=0.34, val_source="B", seed=0)
    ex = CD.excluded_words(["brilliant"], wordnet=False)
    model, m = train(pf, rows, ex, cfg, {"dim": 16, "audio_hidden": [32], "text_hidden": [32], "dropout": 0.0}, progress=False)
    assert m["items"]["dropped_for_excluded_words"] == 40 and m["words"]["excluded_data_words"] == 1
    assert m["validation"]["instrument_accuracy"] > 0.6  # chance is 1/28 among the taxonomy's classes
    # the change an EQ makes points at the right word more than at its opposite, on held-out validation words too
    t = model.embed_text(["a bright sound", "a dark sound"])
    e_o = model.embed_stats(pf.X_orig[n_clip_plus(0)][None])[0]
    e_p = model.embed_stats(pf.X[n_clip_plus(0)][None])[0]  # a 'bright' item
    assert (e_p - e_o) @ t[0] > (e_p - e_o) @ t[1]
    # deterministic for a seed
    model2, _ = train(pf, rows, ex, cfg, {"dim": 16, "audio_hidden": [32], "text_hidden": [32], "dropout": 0.0}, progress=False)
    np.testing.assert_array_equal(model.embed_stats(pf.X[:5]), model2.embed_stats(pf.X[:5]))
    # checkpoint round trip: the same embeddings
    path = save_checkpoint(tmp_path / "m.safetensors", model.to_checkpoint("toy"))
    back = TimbreCLAP.from_checkpoint(load_checkpoint(path))
    np.testing.assert_array_equal(back.embed_stats(pf.X[:5]), model.embed_stats(pf.X[:5]))
    np.testing.assert_allclose(back.audio_center, model.audio_center)


def n_clip_plus(j: int) -> int:
    return 120 + j


def test_embedder_protocol_on_audio():
    import torch

    from timbrelab.clap.model import TimbreCLAP, TimbreCLAPNet
    from timbrelab.probe.embedders import check_embedding

    torch.manual_seed(0)
    net = TimbreCLAPNet({"dim": 8, "audio_hidden": [16], "text_hidden": [16]})
    m = TimbreCLAP(net, TimbreStatsConfig())
    a = m.embed_audio(_tone(), SR)
    check_embedding(a, 8)
    assert np.allclose(np.linalg.norm(a), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a, m.embed_audio(_tone(), SR))  # deterministic
    assert m.embed_audio(np.repeat(_tone(), 2, 0), SR).shape == (8,)  # stereo in


def test_builtin_embedders_are_registered():
    from timbrelab.probe.embedders import BUILTIN_EMBEDDERS

    assert {"timbreclap", "timbreclap-heldout"} <= set(BUILTIN_EMBEDDERS)


def test_word_prior_recalls_neighbours_not_itself():
    import torch

    from timbrelab.clap.model import TimbreCLAPNet

    net = TimbreCLAPNet({"text_dim": 4, "stats_dim": 3, "dim": 4, "audio_hidden": [], "text_hidden": [], "prior_eq_words": 3,
                         "prior_eq_dim": 2, "prior_reverb_words": 0, "prior_top_k": 2, "prior_temperature": 0.01})
    eye = torch.eye(4)
    net.eq_keys.copy_(eye[:3])
    net.eq_values.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
    near0 = torch.nn.functional.normalize(eye[0] + 0.3 * eye[1], dim=0)[None]
    np.testing.assert_allclose(net._recall(near0, net.eq_keys, net.eq_values).numpy(), [[1.0, 0.0]], atol=1e-6)  # its nearest word's setting
    own = net._recall(eye[:1], net.eq_keys, net.eq_values).numpy()  # the word itself is skipped: its two neighbours, equally near
    np.testing.assert_allclose(own, [[-0.5, 0.0]], atol=1e-6)
    assert net.text_features(near0).shape == (1, 4 + 2)
