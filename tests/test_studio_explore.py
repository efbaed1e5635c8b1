"""The studio's Explore tab, its API: ``GET /api/explore/info``, ``POST /api/explore/interpolate`` and
``POST /api/explore/traverse`` (JSON in, JSON out) with the tiny explorer of tests/explore_toys.py in
place of the shipped one.

Info lists the explorer's classes with their pitch ranges; an answer's note plays (a half-second WAV at
22,050 Hz, finite, not silent) and carries its 128 × 44 log-mel; different α (or values) give different
notes; each bad input is 400 with one line and leaves no job folder; the endpoints are documented and
the tab listed.
"""

import io

import numpy as np
import pytest

pytest.importorskip("fastapi")

from explore_toys import tiny_explorer  # noqa: E402

HOST = "http://127.0.0.1:8765"
INTERP = {"source": "piano", "target": "saxophone", "pitch": 60, "alpha": 0.5}
TRAV = {"instrument": "violin", "pitch": 67, "dim": 3, "value": 1.5}


def make_client(loader=None):
    from fastapi.testclient import TestClient

    from timbrelab.service import Service
    from timbrelab.studio.app import StudioSettings, create_app

    def tiny(name):
        if name != "explorer":
            raise AssertionError(f"the Explore tab loaded the model {name!r}")
        return tiny_explorer()

    app = create_app(StudioSettings(), service=Service(loader=loader or tiny))
    return TestClient(app, base_url=HOST), app


@pytest.fixture(scope="module")
def client():
    c, app = make_client()
    with c:
        yield c
    assert not app.state.store.root.exists(), "the temporary folder outlived the app"


def wav(data: bytes):
    import soundfile as sf

    x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return x.T, sr


def played(client, answer):
    """The answer's note as the browser gets it: (audio (channels, samples), rate)."""
    r = client.get(answer["audio"]["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF"
    return wav(r.content)


def check_note(client, answer):
    x, sr = played(client, answer)
    assert sr == 22050 == answer["audio"]["sample_rate"]
    assert x.shape == (1, 11025) and answer["audio"]["duration_s"] == 0.5
    assert np.isfinite(x).all() and np.sqrt(np.mean(x ** 2)) > 1e-3
    assert answer["audio"]["peak"] == pytest.approx(np.abs(x).max(), abs=1e-3)
    lm = answer["logmel"]
    v = np.array(lm["values"])
    assert v.shape == (128, 44) == (lm["bands"], lm["frames"]) and np.isfinite(v).all()
    assert v.min() == pytest.approx(lm["min"], abs=0.011) and v.max() == pytest.approx(lm["max"], abs=0.011)
    assert np.array_equal(v, np.round(v, 2)) and v.std() > 0.1
    assert 0 <= answer["elapsed_s"] < 30
    return x, v


def test_info_lists_the_classes_with_their_ranges(client):
    from timbrelab.sounds.taxonomy import class_names, instrument

    j = client.get("/api/explore/info").json()
    assert [c["name"] for c in j["classes"]] == class_names()
    for c in j["classes"]:
        i = instrument(c["name"])
        assert (c["low"], c["high"], c["family"]) == (max(i.low, 28), min(i.high, 96), i.family)
    assert (j["pitch_min"], j["pitch_max"], j["latent_dim"]) == (28, 96, 16)
    assert j["methods"] == ["griffin-lim", "harmonic"] and j["default_method"] == "griffin-lim"
    assert j["alpha"] == {"min": 0.0, "max": 1.0, "strip": [0.0, 0.25, 0.5, 0.75, 1.0]}
    assert (j["value"]["min"], j["value"]["max"]) == (-3.0, 3.0)
    assert (j["sample_rate"], j["bands"], j["frames"], j["note_s"]) == (22050, 128, 44, 0.5)
    assert j["model"]["parameters"] == tiny_explorer().cost()["parameters"]


def test_an_interpolated_note_plays_and_carries_its_logmel(client):
    from timbrelab.explore import play

    r = client.post("/api/explore/interpolate", json=INTERP)
    assert r.status_code == 200, r.text
    j = r.json()
    assert (j["kind"], j["source"], j["target"], j["pitch_midi"], j["alpha"], j["method"]) == (
        "interpolation", "piano", "saxophone", 60, 0.5, "griffin-lim")
    assert j["title"] == "piano \u2192 saxophone at MIDI 60" and j["label"] == "alpha=0.5" and "strip" not in j
    x, v = check_note(client, j)
    # the note the CLI's code makes, to the 16-bit file's and the rounding's precision
    ns = play.interpolate(tiny_explorer(), "piano", "saxophone", [0.5], pitch=60)
    np.testing.assert_allclose(v, ns.notes[0].logmel, atol=0.006)
    np.testing.assert_allclose(x, ns.notes[0].audio, atol=1e-4)
    dl = client.get(j["audio"]["download_url"])
    assert dl.headers["content-disposition"].startswith("attachment") and j["audio"]["name"] in dl.headers["content-disposition"]
    assert j["audio"]["name"] == "piano-saxophone-at-midi-60_alpha0.5.wav"


def test_different_alphas_give_different_notes_and_the_strip_is_the_row(client):
    answers = {a: client.post("/api/explore/interpolate", json={**INTERP, "alpha": a, "strip": a == 0}).json() for a in (0, 0.25, 1)}
    notes = {a: check_note(client, j) for a, j in answers.items()}
    for a, b in ((0, 0.25), (0.25, 1), (0, 1)):
        assert np.abs(notes[a][0] - notes[b][0]).max() > 0.05, (a, b)
        assert np.abs(notes[a][1] - notes[b][1]).max() > 0.05, (a, b)
    strip = answers[0]["strip"]
    assert [s["alpha"] for s in strip] == [0.0, 0.25, 0.5, 0.75, 1.0]
    for a in (0, 0.25, 1):  # each tile is the note of its α
        tile = next(np.array(s["logmel"]) for s in strip if s["alpha"] == a)
        assert tile.shape == (128, 44)
        np.testing.assert_allclose(tile, notes[a][1], atol=0.011)
    assert "strip" not in answers[1]


def test_aliases_text_numbers_and_the_harmonic_method(client):
    r = client.post("/api/explore/interpolate", json={"source": "grand piano", "target": "sax", "pitch": "60", "alpha": "0.5", "method": "harmonic"})
    assert r.status_code == 200, r.text
    j = r.json()
    assert (j["source"], j["target"], j["method"], j["pitch_midi"]) == ("piano", "saxophone", "harmonic", 60)
    check_note(client, j)
    gl = client.post("/api/explore/interpolate", json=INTERP).json()
    assert np.array_equal(np.array(j["logmel"]["values"]), np.array(gl["logmel"]["values"]))  # the same spectrogram, another synthesis
    assert np.abs(played(client, j)[0] - played(client, gl)[0]).max() > 0.05


def test_traverse_moves_one_dimension(client):
    r = client.post("/api/explore/traverse", json={**TRAV, "strip": True})
    assert r.status_code == 200, r.text
    j = r.json()
    assert (j["kind"], j["instrument"], j["dim"], j["value"], j["pitch_midi"], j["label"]) == ("traversal", "violin", 3, 1.5, 67, "dim3=+1.5")
    x, v = check_note(client, j)
    assert [s["value"] for s in j["strip"]] == [-3.0, -1.5, 0.0, 1.5, 3.0]
    np.testing.assert_allclose(np.array(j["strip"][3]["logmel"]), v, atol=0.011)
    other = client.post("/api/explore/traverse", json={**TRAV, "value": -3}).json()
    y, w = check_note(client, other)
    assert np.abs(x - y).max() > 0.05 and np.abs(v - w).max() > 0.05
    assert other["audio"]["name"] == "violin-timbre-dimension-3-midi-67_dim3-3.wav"


BAD_INTERP = [
    ({**INTERP, "source": "kazoo"}, "unknown instrument 'kazoo'"),
    ({**INTERP, "target": ""}, "give the target instrument (field 'target')"),
    ({k: v for k, v in INTERP.items() if k != "source"}, "give the source instrument (field 'source')"),
    ({**INTERP, "pitch": 100}, "pitch 100 is outside the explorer's range (MIDI 28 \u2026 96)"),
    ({**INTERP, "pitch": 27}, "pitch 27 is outside the explorer's range"),
    ({**INTERP, "pitch": 60.5}, "pitch: invalid whole number '60.5'"),
    ({**INTERP, "pitch": "C4"}, "pitch: invalid whole number 'C4'"),
    ({k: v for k, v in INTERP.items() if k != "pitch"}, "give pitch (a whole number)"),
    ({**INTERP, "alpha": "half"}, "alpha: invalid number 'half'"),
    ({**INTERP, "alpha": [0.5]}, "alpha: invalid number '[0.5]'"),
    ({**INTERP, "alpha": True}, "alpha: invalid number 'true'"),
    ({**INTERP, "alpha": 1.5}, "alpha must be a number from 0 to 1, got 1.5"),
    ({k: v for k, v in INTERP.items() if k != "alpha"}, "give alpha (a number from 0 to 1)"),
    ({**INTERP, "method": "wavenet"}, "unknown resynthesis method 'wavenet' (known: griffin-lim, harmonic)"),
    ({**INTERP, "method": 3}, "method: invalid text '3'"),
]


@pytest.mark.parametrize("body,message", BAD_INTERP, ids=[m[:30] for _, m in BAD_INTERP])
def test_bad_interpolations_are_400_with_one_line(client, body, message):
    before = set(client.app.state.store.root.iterdir())
    r = client.post("/api/explore/interpolate", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert message in err and "\n" not in err
    assert set(client.app.state.store.root.iterdir()) == before  # no job folder for a refusal


BAD_TRAV = [
    ({**TRAV, "instrument": "kazoo"}, "unknown instrument 'kazoo'"),
    ({**TRAV, "dim": 16}, "timbre dimension 16 is out of range (0 \u2026 15)"),
    ({**TRAV, "dim": -1}, "timbre dimension -1 is out of range"),
    ({**TRAV, "dim": "x"}, "dim: invalid whole number 'x'"),
    ({**TRAV, "value": 3.5}, "value must be a number from -3 to 3, got 3.5"),
    ({**TRAV, "value": None}, "give value (a number from -3 to 3)"),
    ({**TRAV, "pitch": 200}, "pitch 200 is outside the explorer's range"),
    ({**TRAV, "method": "vocoder"}, "unknown resynthesis method 'vocoder'"),
]


@pytest.mark.parametrize("body,message", BAD_TRAV, ids=[m[:30] for _, m in BAD_TRAV])
def test_bad_traversals_are_400_with_one_line(client, body, message):
    r = client.post("/api/explore/traverse", json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"] and "\n" not in r.json()["error"]


@pytest.mark.parametrize("content,ctype,message", [
    (b'{"source": "piano", "target": "flute", "pitch": 60, "alpha": NaN}', "application/json", "alpha must be a number from 0 to 1, got NaN"),
    (b'{"source": "piano", "target": "flute", "pitch": 60, "alpha": Infinity}', "application/json", "alpha must be a number from 0 to 1"),
    (b'{"source": "pia', "application/json", "the body is not valid JSON"),
    (b'[1, 2]', "application/json", "the JSON body must be an object"),
    (b"source=piano&target=flute&pitch=60&alpha=0.5", "application/x-www-form-urlencoded", "send the request as application/json"),
    (b'{"x": "' + b"a" * 20000 + b'"}', "application/json", "the JSON body is too long"),
])
def test_bodies_that_are_not_a_json_object_are_400_with_one_line(client, content, ctype, message):
    r = client.post("/api/explore/interpolate", content=content, headers={"content-type": ctype})
    assert r.status_code == 400, r.text
    assert message in r.json()["error"] and "\n" not in r.json()["error"]


def test_a_missing_explorer_is_one_line():
    from timbrelab.errors import MissingComponentError

    def missing(name):
        raise MissingComponentError(f"no trained weights for '{name}' in this installation (see timbrelab/weights/manifest.json)")

    c, app = make_client(loader=missing)
    with c:
        for method, path, body in (("get", "/api/explore/info", None), ("post", "/api/explore/interpolate", INTERP),
                                   ("post", "/api/explore/traverse", TRAV)):
            r = c.get(path) if method == "get" else c.post(path, json=body)
            assert r.status_code == 400 and r.json()["error"].startswith("no trained weights for 'explorer'") and "\n" not in r.json()["error"]
        assert list(app.state.store.root.iterdir()) == []


def test_the_endpoints_are_documented_and_the_tab_listed(client):
    spec = client.get("/openapi.json").json()
    assert "pitch ranges" in spec["paths"]["/api/explore/info"]["get"]["summary"]
    for path, fields in (("/api/explore/interpolate", {"source", "target", "pitch", "alpha", "method", "strip"}),
                         ("/api/explore/traverse", {"instrument", "pitch", "dim", "value", "method", "strip"})):
        op = spec["paths"][path]["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert set(schema["properties"]) == fields and "method" not in schema["required"]
        assert schema["properties"]["method"]["enum"] == ["griffin-lim", "harmonic"]
        assert schema["properties"]["pitch"]["minimum"] == 28 and schema["properties"]["pitch"]["maximum"] == 96
        assert "log-mel" in op["responses"]["200"]["description"]
    assert spec["paths"]["/api/explore/interpolate"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["alpha"]["maximum"] == 1
    assert "explore" in client.get("/api/info").json()["tabs"]
    page = client.get("/").text
    for id_ in ("tab-explore", "panel-explore", "explore-method", "explore-source", "explore-target", "explore-pitch", "explore-alpha",
                "explore-interp-spec", "explore-interp-player", "explore-instrument", "explore-dim", "explore-value", "explore-trav-spec",
                "explore-trav-player", "explore-interp-error", "explore-trav-error", "explore-model-error"):
        assert f'id="{id_}"' in page, id_
