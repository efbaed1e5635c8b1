import numpy as np
import pytest

from timbrelab.errors import BadParameterError, UnknownWordError
from timbrelab.lexicon.maps import eq_map, inflection_candidates, normalize, played_curve_db, reverb_map
from timbrelab.lexicon.parse import parse_description
from timbrelab.lexicon.resolve import resolve


def test_maps_loaded_from_package():
    assert len(eq_map()) == 394 and len(eq_map().words("English")) == 294 and len(eq_map().words("Español")) == 100
    assert len(reverb_map()) == 369


@pytest.mark.parametrize("text,word", [
    ("Warmer", "warm"), ("BRIGHTEST", "bright"), ("big church", "big-church"), ("Big_Church", "big-church"),
    ("muddier", "muddy"), ("boomier", "boomy"), ("  small   room ", "small-room"),
])
def test_forgiving_lookup(text, word):
    e = eq_map().lookup(text) or reverb_map().lookup(text)
    assert e is not None and e.word == word


def test_normalize_and_candidates():
    assert normalize(" Big  Church ") == "big-church"
    assert "big" in inflection_candidates("bigger") and "wide" in inflection_candidates("wider")


def test_played_curve_follows_audealize_scaling():
    g = played_curve_db(eq_map().get("warm").settings)
    assert np.isclose(g.max(), 5.0) and np.isclose(g.min(), -5.0)
    assert np.all(played_curve_db(np.ones(40)) == 0)


def test_phrase_rules():
    ps = parse_description("a little brighter but not muddy, very airy; less boomy and in a small room")
    got = [(p.text, p.sign, p.scale) for p in ps]
    assert got == [("brighter", 1, 0.5), ("muddy", -1, 1.0), ("airy", 1, 1.5), ("boomy", -1, 1.0), ("small room", 1, 1.0)]
    assert parse_description("a little less warm")[0].factor == -0.5
    assert parse_description("a warm sound")[0].text == "warm"
    with pytest.raises(BadParameterError):
        parse_description(" , ; ")
    with pytest.raises(BadParameterError):
        parse_description(42)


def test_effect_rules():
    (warm,) = parse_description("warm")
    assert resolve(warm).effect == "eq"  # in both maps, better supported as EQ
    (room,) = parse_description("small room")
    assert resolve(room).effect == "reverb" and resolve(room).source == "map"
    (big,) = parse_description("big")
    assert resolve(big).effect == "reverb"  # in both, better supported as reverb
    (less_muddy,) = parse_description("less muddy")
    assert resolve(less_muddy).effect == "eq"
    assert resolve(warm, force_effect="reverb").effect == "reverb"


def test_unknown_word_fallback_and_refusal():
    (p,) = parse_description("like a cathedral at night")
    r = resolve(p)
    assert r.source == "nearest" and r.effect == "reverb"
    assert r.used[0]["word"] == "cathedral" and r.used[0]["similarity"] > 0.5
    assert abs(sum(u["weight"] for u in r.used) - 1) < 0.01
    (q,) = parse_description("qwerty zxcv")
    with pytest.raises(UnknownWordError, match="no mapped word is close enough"):
        resolve(q)


def test_spanish_eq_words_are_found():
    e = eq_map().lookup("Brillante")
    assert e is not None and e.lang == "Español" and len(e.settings) == 40
    (p,) = parse_description("brillante")
    assert resolve(p).effect == "eq"
