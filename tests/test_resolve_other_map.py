"""A word asked for as the effect whose map lacks it (issue #8, "Arguments"): 'church' is a reverb word
with 424 ratings; asked for as an EQ ("--eq church", "less church", `timbrelab curve church`) it goes the
way "less boomy" goes — the word → EQ model predicts its curve, and the note says it is a reverb word —
instead of being refused as "not in the crowd maps"."""

import pytest

from timbrelab.fx import plan_effects
from timbrelab.lexicon import wordnet
from timbrelab.lexicon.maps import reverb_map
from timbrelab.lexicon.parse import parse_description
from timbrelab.lexicon.resolve import NearestWordFallback, resolve

needs_wordnet = pytest.mark.skipif(not wordnet.available(), reason="WordNet data (Debian wordnet-base) is not installed")


@needs_wordnet
def test_eq_of_a_reverb_word_is_predicted_by_the_model():
    plan = plan_effects(eq_words=["church"])
    (r,) = plan.resolutions
    assert (r.effect, r.source, r.used[0]["model"]) == ("eq", "model", "word2eq")
    assert "'church' is a reverb word (424 ratings)" in r.note and "not in the crowd maps" not in plan.summary()
    assert plan.eq is not None and plan.reverb is None and max(abs(g) for g in plan.eq.gains_db) > 1


@needs_wordnet
def test_less_church_is_the_inverted_model_eq():
    (r,) = plan_effects("less church").resolutions
    assert (r.effect, r.source, r.phrase.sign) == ("eq", "model", -1)
    assert "'church' is a reverb word" in r.note and "cannot be removed" in r.note
    assert r.settings == plan_effects(eq_words=["church"]).resolutions[0].settings  # the same curve, played inverted


def test_church_alone_is_still_the_crowd_reverb():
    (r,) = plan_effects("church").resolutions
    assert (r.effect, r.source) == ("reverb", "map")


@needs_wordnet
def test_reverb_of_an_eq_word_says_it_is_an_eq_word():
    (r,) = plan_effects(reverb_words=["toasty"]).resolutions
    assert (r.effect, r.source) == ("reverb", "model") and "'toasty' is an EQ word (2 ratings)" in r.note


def test_the_lexicon_stand_in_does_not_refuse_a_known_word_either():
    (p,) = parse_description("church")
    r = resolve(p, force_effect="eq", fallback=NearestWordFallback())
    assert r.effect == "eq" and r.source == "nearest" and "reverb word" in r.note and len(r.settings) == 40


def test_a_two_argument_fallback_is_still_accepted():
    calls = []

    def old_style(phrase, effect):
        calls.append((phrase.text, effect))
        return NearestWordFallback()(phrase, "eq", known=reverb_map().lookup("church"))

    (p,) = parse_description("church")
    assert resolve(p, force_effect="eq", fallback=old_style).effect == "eq" and calls == [("church", "eq")]


@needs_wordnet
def test_cli_curve_church(cli):
    code, out, err = cli("curve", "church")
    assert code == 0, err
    assert "reverb word" in out and "not in the crowd maps" not in out + err
    assert "dB |" in out  # the terminal plot
