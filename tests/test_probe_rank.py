"""timbrelab.eval.ranking and the probe's SocialFX ranking (timbrelab.probe.socialfx_rank).

The known answer: ``probe_toys.CrowdEQEmbedder`` embeds audio as its 40 SocialEQ band levels and
"a <word> sound" as the word's mean crowd curve, so the *change* of its audio embedding under a
contributed EQ points at the contributor's word: it must rank far above chance; the same embedder
with every text vector turned round must rank below chance.
"""

from __future__ import annotations

import numpy as np
import pytest

from probe_toys import CrowdEQEmbedder
from timbrelab.errors import BadParameterError
from timbrelab.eval.ranking import chance_mrr, rank_auc, ranking_summary, reciprocal_rank
from timbrelab.probe.experiment2 import Source
from timbrelab.probe.socialfx_rank import eq_queries, render, reverb_queries, run_socialfx_ranking

SR = 44100


# --- ranking metrics --------------------------------------------------------------------------------

def test_reciprocal_rank_and_auc():
    assert reciprocal_rank([0.9, 0.1, 0.5], 0) == 1.0 and reciprocal_rank([0.9, 0.1, 0.5], 2) == 0.5
    assert reciprocal_rank([0.9, 0.1, 0.5], 1) == pytest.approx(1 / 3)
    assert rank_auc([0.9, 0.1, 0.5], 0) == 1.0 and rank_auc([0.9, 0.1, 0.5], 1) == 0.0 and rank_auc([0.9, 0.1, 0.5], 2) == 0.5
    # ties: the expectation over a random tie-break, so all-equal scores give exactly the chance figures
    for n in (2, 5, 31):
        assert reciprocal_rank(np.zeros(n), 0) == pytest.approx(chance_mrr(n)) and rank_auc(np.zeros(n), n - 1) == 0.5
    assert reciprocal_rank([1.0, 1.0, 0.0], 1) == pytest.approx((1 + 1 / 2) / 2)


def test_chance_mrr_is_exact():
    assert chance_mrr(1) == 1.0 and chance_mrr(2) == 0.75 and chance_mrr(4) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    rng = np.random.default_rng(0)  # matches a simulation of random rankings
    sim = np.mean([1 / (1 + np.flatnonzero(rng.permutation(10) == 0)[0]) for _ in range(20000)])
    assert sim == pytest.approx(chance_mrr(10), abs=0.01)


def test_ranking_summary_and_errors():
    s = ranking_summary([[3, 2, 1], [1, 2, 3, 4]], [0, 0])
    assert s["mrr"] == pytest.approx((1 + 1 / 4) / 2) and s["auc"] == pytest.approx(0.5) and s["top1_rate"] == 0.5
    assert s["chance_mrr"] == pytest.approx((chance_mrr(3) + chance_mrr(4)) / 2) and s["queries"] == 2
    with pytest.raises(BadParameterError, match="at least two candidates"):
        reciprocal_rank([1.0], 0)
    with pytest.raises(BadParameterError, match="outside"):
        rank_auc([1.0, 2.0], 2)
    with pytest.raises(BadParameterError, match="finite"):
        rank_auc([np.nan, 2.0], 0)


# --- queries and rendering --------------------------------------------------------------------------

def test_eq_queries_are_the_held_out_words_capped_and_seeded():
    from timbrelab.word2fx import data as D

    q = eq_queries([2], max_per_word=1, seed=0)
    test_words = D.venkatesh_folds()[2]
    assert {x.word for x in q} <= set(test_words) and all(x.competitors == tuple(dict.fromkeys(test_words)) for x in q)
    assert len({x.word for x in q}) == len(q)  # ≤ 1 per word
    d = D.eq_contributions()
    assert all(d.consistency[x.contribution] > 0.7 and d.words[x.contribution] == x.word for x in q)
    assert eq_queries([2], max_per_word=1, seed=0) == q
    more = eq_queries([2], max_per_word=50)
    assert len(more) == sum(((d.words == w) & (d.consistency > 0.7)).sum() for w in set(test_words))
    with pytest.raises(BadParameterError, match="no EQ fold 9"):
        eq_queries([9])


def test_reverb_queries_keep_a_contributions_other_words_out():
    from timbrelab.word2fx import reverb_data as RD

    q = reverb_queries([1], max_words=12, max_per_word=2, seed=0)
    words = {x.word for x in q}
    assert len(words) == 12 and words <= set(RD.reverb_folds()[1])
    ex = RD.reverb_examples()
    for x in q:
        given = set(ex.words[ex.row == x.contribution].tolist())
        assert x.word in given and x.word in x.competitors and not (given - {x.word}) & set(x.competitors)


def test_render_uses_the_contributed_settings():
    from timbrelab.dsp.eq import GraphicEQ

    x = (0.1 * np.random.default_rng(3).standard_normal((2, SR // 2))).astype(np.float32)
    q = eq_queries([1], max_per_word=1)[0]
    y = render(q, x, SR)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, GraphicEQ(q.settings)(x, SR), atol=1e-6)
    r = reverb_queries([1], max_words=2, max_per_word=1)[0]
    yr = render(r, x, SR)
    assert yr.shape == x.shape and not np.allclose(yr, x)


# --- the ranking --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def noise_source():
    return [Source("noise", (0.1 * np.random.default_rng(1).standard_normal((1, SR // 2))).astype(np.float32), SR, "white noise", "-")]


@pytest.fixture(scope="module")
def eq_run(noise_source):
    return run_socialfx_ranking([CrowdEQEmbedder(), CrowdEQEmbedder("opposed", -1.0)], sources=noise_source, effects=["eq"],
                                eq_folds=[2], max_per_word=1, progress=False)


def test_known_answer_ranks_far_above_chance(eq_run):
    aligned, opposed = eq_run.results["crowd-eq"]["eq"], eq_run.results["opposed"]["eq"]
    chance = aligned["change"]["chance_mrr"]
    assert chance == pytest.approx(chance_mrr(31))  # every query ranks the fold's 31 test words
    assert aligned["change"]["mrr"] > 3 * chance and aligned["change"]["auc"] > 0.85
    assert aligned["delta"]["auc"] > 0.75
    assert opposed["change"]["mrr"] < chance and opposed["change"]["auc"] < 0.2
    ref = eq_run.reference["eq"]
    assert 0 < ref["mrr"] <= 1 and ref["queries"] == aligned["change"]["queries"] and set(ref["per_fold"]) == {"2"}


def test_record_layout(eq_run):
    import json

    rec = json.loads(json.dumps(eq_run.to_dict()))
    assert set(rec["crowd-eq"]["eq"]) == {"processed", "delta", "change"}
    q = rec["per_query"][0]
    assert {"effect", "fold", "word", "contribution", "candidates", "rank", "text_reference_rank"} <= set(q)
    assert 1 <= q["rank"]["crowd-eq"]["change"] <= q["candidates"]
    p = rec["protocol"]
    assert p["max_per_word"] == 1 and p["eq_folds"] == [2] and p["clips_rendered"] == p["queries"]["eq"]


def test_reverb_ranking_runs_with_the_text_reference(noise_source):
    run = run_socialfx_ranking(CrowdEQEmbedder(), sources=noise_source, effects=["reverb"], reverb_folds=[1],
                               max_reverb_words=5, max_per_word=1, progress=False)
    s = run.results["crowd-eq"]["reverb"]["delta"]
    assert s["queries"] == 5 and 0 <= s["auc"] <= 1 and run.reference["reverb"]["queries"] == 5


def test_bad_arguments_are_one_line(noise_source):
    with pytest.raises(BadParameterError, match="unknown effect"):
        run_socialfx_ranking(CrowdEQEmbedder(), sources=noise_source, effects=["chorus"])
    with pytest.raises(BadParameterError, match="share a name"):
        run_socialfx_ranking([CrowdEQEmbedder(), CrowdEQEmbedder()], sources=noise_source)


class _PerFold:
    """A fold set: fold 1 → the known-answer toy, fold 2 → the same toy turned round."""

    name = "per-fold"

    def __init__(self):
        self.models = {1: CrowdEQEmbedder("fold1"), 2: CrowdEQEmbedder("fold2", -1.0)}
        self.asked = []

    def for_fold(self, effect, fold):
        self.asked.append((effect, fold))
        return self.models[fold]

    def embed_audio(self, audio, sample_rate):
        raise AssertionError("a fold set is only used through for_fold")

    def embed_text(self, texts):
        raise AssertionError("a fold set is only used through for_fold")


def test_a_fold_set_scores_each_query_with_its_own_folds_model(noise_source):
    emb = _PerFold()
    run = run_socialfx_ranking(emb, sources=noise_source, effects=["eq"], eq_folds=[1, 2], max_per_word=1, text_reference=False,
                               progress=False)
    assert {f for _, f in emb.asked} == {1, 2}
    per_fold = run.results["per-fold"]["eq"]["change"]["per_fold"]
    assert per_fold["1"]["mrr"] > 2 * per_fold["1"]["chance_mrr"]  # the right model for fold 1
    assert per_fold["2"]["mrr"] < per_fold["2"]["chance_mrr"]  # the turned-round one for fold 2
