"""The engineering EQ lexicon (issue 15): its data, how apply resolves its terms, and the model anchors."""

import json

import numpy as np
import pytest

from timbrelab.dsp.eq import BAND_CENTERS_HZ
from timbrelab.errors import UnknownWordError
from timbrelab.fx import plan_effects
from timbrelab.lexicon.engineering import lexicon, shape_db
from timbrelab.lexicon.parse import parse_description


def band(lo_hz, hi_hz):
    return (BAND_CENTERS_HZ >= lo_hz) & (BAND_CENTERS_HZ <= hi_hz)


def test_every_term_cites_known_sources_and_every_source_is_cited():
    lex = lexicon()
    assert len(lex) >= 30
    cited = {s for t in lex.terms for s in t.sources}
    assert cited == set(lex.sources)
    for t in lex.terms:
        assert t.sources and t.forms
        for s in t.sources:
            assert lex.sources[s]["cite"] and lex.sources[s]["says"]
        if "timbrelab" in t.sources:  # a mapping no source states says what was chosen
            assert "timbrelab choice" in t.choice, t.name


def test_the_shapes_sit_where_their_sources_put_them():
    lex = lexicon()
    air = lex.lookup("air").curve_db()
    assert np.all(air[BAND_CENTERS_HZ >= 11000] > 4.5) and np.all(np.abs(air[BAND_CENTERS_HZ <= 6000]) < 0.01)
    presence = lex.lookup("presence").curve_db()
    assert 2500 <= BAND_CENTERS_HZ[np.argmax(presence)] <= 6000 and abs(presence[band(20, 1000)]).max() < 0.01
    box = lex.lookup("boxy").curve_db()
    assert np.all(box[band(383, 537)] > 4.5) and abs(box[band(1000, 20000)]).max() < 0.01
    assert lex.lookup("thin").curve_db()[band(83, 208)].max() < -4  # thin is a bass cut
    tel = lex.lookup("telephone").curve_db()
    assert tel[band(800, 1300)].min() > -1 and tel[BAND_CENTERS_HZ <= 83].max() < -12 and tel[BAND_CENTERS_HZ >= 11000].max() < -12
    assert tel.min() >= -24
    bell = shape_db({"kind": "bell", "hz": 1000, "octaves": 2.0, "db": 6}, [1000, 2000, 500, 4000])
    assert bell[0] == pytest.approx(6) and bell[1] == pytest.approx(3, abs=0.01) and bell[2] == pytest.approx(3, abs=0.01) and bell[3] < 0.5


def test_lookup_forgives_inflection_and_case():
    lex = lexicon()
    assert lex.lookup("Boxier").name == "box"
    assert lex.lookup("low-end").name == lex.lookup("low end").name == "bass"
    assert lex.lookup("qwerty") is None


@pytest.mark.parametrize("text, term, factor", [
    ("more air", "air", 1.0), ("add some air", "air", 1.0), ("a touch of presence", "presence", 0.25),
    ("less boxy", "box", -1.0), ("cut the mud", "mud", -1.0), ("make it sound like a telephone", "telephone", 1.0),
    ("a bit more low end", "bass", 0.5), ("toppy", "top", 1.0), ("clicky", "click", 1.0), ("radio", "radio", 1.0),
    ("scooped mids", "scoop", 1.0), ("less scooped", "scoop", -1.0), ("de-essed", "de-ess", 1.0), ("walkie-talkie", "walkie-talkie", 1.0),
    # rule 7: a phrase the models would refuse, with a term inside it
    ("hi-hat sizzle", "sizzle", 1.0), ("warm up the low mids", "low mids", 1.0), ("a de-essed vocal", "de-ess", 1.0),
])
def test_engineering_phrases_play_the_lexicon(text, term, factor):
    plan = plan_effects(text)
    (r,) = plan.resolutions
    assert (r.source, r.effect, r.used[0]["term"]) == ("lexicon", "eq", term)
    assert r.phrase.factor == pytest.approx(factor)
    np.testing.assert_allclose(plan.eq.effective_gains_db, factor * lexicon().lookup(term).curve_db(), atol=1e-5)
    assert "engineering lexicon term" in plan.summary()


def test_what_the_crowd_rated_well_keeps_its_crowd_curve():
    (r,) = plan_effects("warm").resolutions
    assert r.source == "map"
    (r,) = plan_effects("muddy").resolutions  # in both crowd maps and an engineering term: the crowd's EQ curve
    assert (r.source, r.effect) == ("map", "eq")
    (r,) = plan_effects("boomy").resolutions  # only the reverb map has it: to an engineer it is EQ
    assert (r.source, r.effect) == ("lexicon", "eq") and "--reverb" in r.note
    (r,) = plan_effects(reverb_words=["boomy"]).resolutions
    assert (r.source, r.effect) == ("map", "reverb")


def test_a_term_inside_a_phrase_is_found_only_where_the_phrase_would_be_refused():
    lex = lexicon()
    assert lex.find_in("hi-hat sizzle")[0].name == "sizzle" and lex.find_in("warm up the low mids")[1] == "low mids"
    assert lex.find_in("qwerty asdf") is None and lex.find_in("air") is None  # the whole text is not "inside"
    with pytest.raises(UnknownWordError):
        plan_effects("qwerty asdf")
    with pytest.raises(UnknownWordError, match="band limit"):
        plan_effects("less walkie-talkie chatter")  # found inside, but a band limit cannot be removed
    (r,) = plan_effects("brighter").resolutions  # a known word: untouched
    assert r.source != "lexicon"
    (r,) = plan_effects("hi-hat sizzle").resolutions
    assert "in a phrase the models do not know" in r.note
    with pytest.raises(UnknownWordError):
        plan_effects(reverb_words=["hi-hat sizzle"])  # asked for as reverb: the EQ term does not stand in


def test_no_engineering_term_is_refused_and_nonsense_still_is():
    for t in lexicon().terms:
        for f in t.forms:
            assert plan_effects(eq_words=[f]).resolutions[0].source in ("lexicon", "map"), f
    with pytest.raises(UnknownWordError):
        plan_effects("qwerty")
    with pytest.raises(UnknownWordError, match="band limit"):
        plan_effects("less telephone")


def test_parse_keeps_the_old_phrases():
    assert [(p.text, p.factor) for p in parse_description("a little brighter but not muddy")] == [("brighter", 0.5), ("muddy", -1.0)]
    assert [(p.text, p.factor) for p in parse_description("a warm sound, small room")] == [("warm", 1.0), ("small room", 1.0)]


def test_telephone_on_real_audio_removes_lows_and_highs(cli, pink_wav, tmp_path):
    from scipy.signal import welch

    from timbrelab.audio import read_audio

    out = tmp_path / "phone.wav"
    code, _, err = cli("apply", pink_wav, "-o", out, "make it sound like a telephone", "-q")
    assert code == 0, err
    x, sr = read_audio(pink_wav)
    y, _ = read_audio(out)
    f, px = welch(x[0], sr, nperseg=8192)
    _, py = welch(y[0, : x.shape[1]], sr, nperseg=8192)
    gain = 10 * np.log10(py / px)
    ref = np.median(gain[(f > 800) & (f < 1500)])  # the clip guard or loudness may move the whole level
    assert np.median(gain[(f > 40) & (f < 80)]) - ref < -12
    assert np.median(gain[(f > 10000) & (f < 16000)]) - ref < -12
    assert abs(np.median(gain[(f > 600) & (f < 2000)]) - ref) < 1.5


def test_words_lists_the_lexicon(cli):
    code, out, _ = cli("words", "--lexicon", "--json")
    assert code == 0
    lex = json.loads(out)
    air = next(t for t in lex["terms"] if t["term"] == "air")
    assert "airiness" in air["forms"] and air["citations"] and air["sources"][0] in lex["sources"]
    code, out, _ = cli("words", "--search", "presence")
    assert code == 0 and "lexicon 'presence'" in out
    from timbrelab.service import Service

    rows = Service().words()
    keys = [(r["word"].lower(), r["effect"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert {"air", "telephone", "low end"} <= {r["word"] for r in rows if r["played_from"] == "lexicon"}


def test_lexicon_anchors_are_standardised_and_leave_out_excluded_words():
    from timbrelab.word2fx.eq_task import lexicon_anchors

    words, curves = lexicon_anchors(exclude={"air", "boxy"}, scale=0.8)
    assert "air" not in words and "boxy" not in words and "airiness" in words
    assert curves.shape == (len(words), 40)
    np.testing.assert_allclose(curves.std(axis=1), 0.8, rtol=1e-9)
    np.testing.assert_allclose(curves.mean(axis=1), 0.0, atol=1e-9)
