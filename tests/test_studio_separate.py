"""The studio's Separate tab, its API: ``POST /api/separate`` (an uploaded mix or the bundled example, and
one description) with the tiny separator of tests/separate_toys.py in place of the shipped one.

An answer's files play (WAV), download as attachments and add up to the mix; the spectrograms are
PNGs; an empty query, an undecodable upload, no audio at all and a missing separator are 400 with one
line, and no job folder is left behind; the endpoint is documented and the tab listed.
"""

import io

import numpy as np
import pytest

pytest.importorskip("fastapi")

from separate_toys import tiny_separator  # noqa: E402

HOST = "http://127.0.0.1:8765"


def make_client(loader=None):
    from fastapi.testclient import TestClient

    from timbrelab.service import Service
    from timbrelab.studio.app import StudioSettings, create_app

    def tiny(name):
        if name != "separator":
            raise AssertionError(f"the Separate tab loaded the model {name!r}")
        return tiny_separator()

    app = create_app(StudioSettings(), service=Service(loader=loader or tiny))
    return TestClient(app, base_url=HOST), app


@pytest.fixture
def client():
    c, app = make_client()
    with c:
        yield c
    assert not app.state.store.root.exists(), "the temporary folder outlived the app"


def example():
    from timbrelab.demo import separation_example_path

    return separation_example_path()


def wav(data: bytes):
    import soundfile as sf

    x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return x.T, sr


def test_separate_the_example_gives_playable_estimate_and_residual_and_spectrograms(client):
    from timbrelab.audio import read_audio

    r = client.post("/api/separate", data={"example": "true", "query": "  the   violin "})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["query"] == "the violin" and j["input"]["url"] == "/api/example" and j["input"]["name"] == example().name
    assert j["estimate"]["name"] == f"{example().stem}.the-violin.wav" and j["residual"]["name"] == f"{example().stem}.the-violin.residual.wav"
    assert j["model_sample_rate"] == 22050 and j["model_band_hz"] == 11025
    assert "below 11 kHz" in j["note"] and "residual" in j["note"]
    assert j["notes"] == []  # no warning: the estimate is not near silence

    mix, sr = read_audio(example())
    parts = {}
    for key in ("estimate", "residual"):
        f = j[key]
        assert -80 < f["rms_db"] < 0
        audio = client.get(f["url"])
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav" and audio.content[:4] == b"RIFF"
        dl = client.get(f["download_url"])
        assert dl.headers["content-disposition"].startswith("attachment") and f["name"] in dl.headers["content-disposition"]
        assert dl.content == audio.content
        parts[key], got_sr = wav(audio.content)
        assert got_sr == sr and parts[key].shape == mix.shape
    # estimate + residual = the mix (to the 16-bit files' precision); the reported levels are the files'
    np.testing.assert_allclose(parts["estimate"] + parts["residual"], mix, atol=2e-4)
    for key in ("estimate", "residual"):
        level = 10 * np.log10(np.mean(parts[key].astype(np.float64) ** 2))
        assert abs(level - j[key]["rms_db"]) < 0.05, key
    assert j["estimate"]["peak"] == pytest.approx(np.abs(parts["estimate"]).max(), abs=1e-3)

    sp = j["spectrograms"]
    assert sp["excerpt_s"] == pytest.approx(mix.shape[1] / sr, abs=1e-3)
    for key in ("mixture", "estimate"):
        png = client.get(sp[key]["url"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(png.content) > 5000
    assert sp["estimate"]["title"] == "estimate: \u201cthe violin\u201d"


def test_an_upload_keeps_its_name_and_an_unplayable_one_gets_a_preview(client, tmp_path):
    from timbrelab.audio import read_audio, write_audio

    x, sr = read_audio(example())
    aiff = tmp_path / "my duet.aiff"
    write_audio(aiff, x[:, : sr * 2], sr, bit_depth="16")
    r = client.post("/api/separate", files={"file": ("my duet.aiff", aiff.read_bytes(), "audio/aiff")}, data={"query": "vocals"})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["input"]["name"] == "my duet.aiff" and j["estimate"]["name"] == "my duet.vocals.wav"
    assert client.get(j["input"]["url"]).content[:4] == b"fLaC"  # the browser's preview of the AIFF
    est, got_sr = wav(client.get(j["estimate"]["url"]).content)
    assert got_sr == sr and est.shape == (2, sr * 2)
    assert str(tmp_path) not in r.text


@pytest.mark.parametrize("fields", [{"example": "true", "query": ""}, {"example": "true", "query": "  \t "}, {"example": "true"}])
def test_an_empty_query_is_400_with_one_line(fields):
    c, app = make_client()
    with c:
        r = c.post("/api/separate", data=fields)
        assert r.status_code == 400
        err = r.json()["error"]
        assert "give at least one non-empty description of what to extract" in err and "\n" not in err
        assert list(app.state.store.root.iterdir()) == []  # the job folder went with the refusal


def test_bad_uploads_are_400_with_the_clis_one_line(client, tmp_path):
    r = client.post("/api/separate", files={"file": ("notes.wav", b"these are my notes, not audio", "audio/wav")}, data={"query": "the violin"})
    assert r.status_code == 400
    assert r.json()["error"] == "notes.wav: not a decodable audio file (format not recognised)"
    for fields, message in (({"query": "the violin"}, "give an audio file (form field 'file') or example=true"),
                            ({"example": "true", "query": "x" * 201}, "a description is at most 200 characters")):
        r = client.post("/api/separate", data=fields)
        assert r.status_code == 400 and message in r.json()["error"] and "\n" not in r.json()["error"], r.text
    r = client.post("/api/separate", content=b'{"query": "the violin"}', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "multipart/form-data" in r.json()["error"]


def test_a_missing_separator_is_one_line_and_leaves_nothing():
    from timbrelab.errors import MissingComponentError

    def missing(name):
        raise MissingComponentError(f"no trained weights for '{name}' in this installation (see timbrelab/weights/manifest.json)")

    c, app = make_client(loader=missing)
    with c:
        r = c.post("/api/separate", data={"example": "true", "query": "the violin"})
        assert r.status_code == 400 and r.json()["error"].startswith("no trained weights for 'separator'") and "\n" not in r.json()["error"]
        assert list(app.state.store.root.iterdir()) == []


def test_the_endpoint_is_documented_and_the_tab_listed(client):
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/separate"]["post"]
    assert "description" in op["summary"] and "residual" in op["summary"]
    fields = op["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"file", "example", "query"} <= set(fields) and "the violin" in fields["query"]["description"]
    assert "separate" in client.get("/api/info").json()["tabs"]
    page = client.get("/").text
    for id_ in ("tab-separate", "panel-separate", "separate-query", "separate-submit", "separate-estimate", "separate-residual",
                "separate-spec-mixture", "separate-spec-estimate", "separate-error"):
        assert f'id="{id_}"' in page, id_
    for q in ("the violin", "the trumpet", "the piano", "vocals", "the brass"):
        assert f'data-query="{q}"' in page
