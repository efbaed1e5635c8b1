"""timbrelab studio's page in a real browser: headless system Chromium driven by Selenium, against the
real server (``StudioServer``, uvicorn in a background thread).

One browser and one server for the module (its language–audio embedder: the toy of
tests/describe_toys.py). Apply on an uploaded file (players, plots, summary, downloads, the result's
audio fetched back), Classify on the bundled example (bars), a description the crowd maps cannot
resolve (the server's one line in the error box), the Words tab, Describe & search (words of an
uploaded sound, a folder searched and a result played; a missing embedder's one line on a second
server), Separate on the example (the tiny separator of tests/separate_toys.py: players, downloads and
spectrograms), the /docs page made from /openapi.json, and that nothing in the static files points at
another host.

Skipped only when Selenium, Chromium or chromedriver is not installed. Selenium Manager is never run
(the driver's path is given), so nothing is downloaded. ``TIMBRELAB_STUDIO_SCREENSHOT=PATH`` also saves
the Apply tab's screenshot there (docs/studio.png for the README).
"""

import os
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
selenium = pytest.importorskip("selenium", reason="selenium is not installed")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

STATIC = Path(__file__).resolve().parents[1] / "src" / "timbrelab" / "studio" / "static"
WAIT_S = 60


def _browser_paths():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return chromium, driver


TOY = "describe_toys:band_embedder"


def toy_loader(name):
    """The registry's models, but the tiny separator of tests/separate_toys.py for "separator" and the tiny
    explorer of tests/explore_toys.py for "explorer"."""
    if name == "separator":
        from separate_toys import tiny_separator

        return tiny_separator()
    if name == "explorer":
        from explore_toys import tiny_explorer

        return tiny_explorer()
    from timbrelab.models import load

    return load(name)


@pytest.fixture(scope="module")
def server():
    from timbrelab.service import Service
    from timbrelab.studio.app import StudioServer

    with StudioServer(port=0, service=Service(embedder=TOY, loader=toy_loader)) as s:
        yield s


@pytest.fixture(scope="module")
def driver():
    chromium, chromedriver = _browser_paths()
    if not chromium or not chromedriver:
        pytest.skip("the system Chromium and chromedriver are not installed (apt install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                "--disable-gpu", "--no-first-run", "--disable-extensions", "--mute-audio"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    try:
        yield d
    finally:
        d.quit()


def wait(driver, condition, message, timeout=WAIT_S):
    """Wait for ``condition(driver)``; a visible error box on the page ends the wait early with its text."""

    def check(d):
        for box in d.find_elements(By.CSS_SELECTOR, '.error[role="alert"]'):
            if box.is_displayed() and box.text.strip():
                raise AssertionError(f"{message}: the page shows an error: {box.text}")
        return condition(d)

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(check)
    except TimeoutException:
        raise AssertionError(f"{message} (not within {timeout} s)") from None


def visible_errors(driver):
    return [b.text for b in driver.find_elements(By.CSS_SELECTOR, '.error[role="alert"]') if b.is_displayed()]


def js_errors(driver):
    """The page's JavaScript errors (console SEVERE entries other than failed requests, which the page shows)."""
    try:
        logs = driver.get_log("browser")
    except WebDriverException:
        return []
    return [e["message"] for e in logs if e.get("level") == "SEVERE" and "Failed to load resource" not in e["message"]]


def open_page(driver, server, tab="apply"):
    driver.get("about:blank")  # a fresh page even when only the #tab differs
    driver.get(f"{server.url}/#{tab}")
    # /api/info has answered once the version is in the header
    wait(driver, lambda d: d.find_element(By.ID, "version").text.startswith("v"), "the page did not load /api/info")


def absolute(server, href):
    return href if href.startswith("http") else server.url + href


def test_static_files_are_offline():
    names = sorted(p.name for p in STATIC.iterdir() if p.is_file())
    assert {"index.html", "studio.css", "studio.js", "api.html"} <= set(names)
    for name in names:
        text = (STATIC / name).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, f"{name} names another host"
        assert not re.search(r"""(src|href)\s*=\s*["']//""", text), f"{name} loads something protocol-relative"


def test_apply_an_uploaded_file_shows_players_plots_and_downloads(driver, server, tmp_path):
    from timbrelab.demo import example_path

    t0 = time.monotonic()
    open_page(driver, server)
    # the sliders take their ranges from /api/info
    eq = driver.find_element(By.ID, "apply-eq-amount")
    assert (float(eq.get_attribute("min")), float(eq.get_attribute("max")), float(eq.get_attribute("value"))) == (-2, 2, 1)
    assert float(driver.find_element(By.ID, "apply-reverb-amount").get_attribute("min")) == 0
    assert not driver.find_element(By.ID, "apply-result").is_displayed()

    driver.find_element(By.ID, "apply-file").send_keys(str(example_path()))
    driver.find_element(By.ID, "apply-description").send_keys("warm")
    submit = driver.find_element(By.ID, "apply-submit")
    submit.click()
    after = wait(driver, lambda d: d.find_element(By.ID, "apply-after").get_attribute("src") or False, "no result audio")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#apply-spectrum-plot svg path.series"), "no spectrum plot")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#apply-eq-plot svg path.series"), "no EQ plot")
    assert driver.find_element(By.ID, "apply-result").is_displayed()
    assert submit.is_enabled(), "the Apply button stays disabled after the answer"
    assert "/api/files/" in after

    # the players: before is the uploaded file, after the result
    before = driver.find_element(By.ID, "apply-before").get_attribute("src")
    assert "/api/files/" in before and before != after
    summary = driver.find_element(By.ID, "apply-summary").text
    assert "warm" in summary and "EQ" in summary
    assert not visible_errors(driver)

    # the plots have their axes: log-frequency ticks and a legend
    spectrum = driver.find_element(By.CSS_SELECTOR, "#apply-spectrum-plot svg").get_attribute("innerHTML")
    for label in ("100 Hz", "1 kHz", "10 kHz", "before", "after", "frequency"):
        assert label in spectrum
    assert "band gains" in driver.find_element(By.CSS_SELECTOR, "#apply-eq-plot svg").get_attribute("innerHTML")

    # the downloads
    audio_href = driver.find_element(By.ID, "apply-download").get_attribute("href")
    settings_href = driver.find_element(By.ID, "apply-download-settings").get_attribute("href")
    for href in (audio_href, settings_href):
        assert href.startswith("/api/files/") or href.startswith(server.url + "/api/files/"), href
    assert "--from-settings" in driver.find_element(By.ID, "apply-result").text

    png = tmp_path / "studio-apply.png"
    driver.execute_script("window.scrollTo(0, 0)")
    assert driver.save_screenshot(str(png)) and png.stat().st_size > 10_000
    if os.environ.get("TIMBRELAB_STUDIO_SCREENSHOT"):
        target = Path(os.environ["TIMBRELAB_STUDIO_SCREENSHOT"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, target)

    # the A/B toggle switches the active player
    driver.find_element(By.ID, "apply-ab").click()
    assert "active" in driver.find_element(By.CSS_SELECTOR, '.player[data-side="before"]').get_attribute("class")

    # the result's audio, fetched as the browser would
    for href in (after, audio_href):
        with urllib.request.urlopen(absolute(server, href), timeout=30) as r:
            data = r.read()
        assert len(data) > 1000 and data[:4] == b"fLaC"
    with urllib.request.urlopen(absolute(server, settings_href), timeout=30) as r:
        assert b"{" in r.read(64)
    assert not js_errors(driver)
    print(f"apply in the browser: {time.monotonic() - t0:.1f} s")


def test_classify_shows_bars_a_timeline_and_the_no_instrument_note(driver, server, tmp_path):
    open_page(driver, server, tab="apply")
    driver.find_element(By.ID, "tab-classify").click()
    assert driver.find_element(By.ID, "tab-classify").get_attribute("aria-selected") == "true"
    assert not driver.find_element(By.ID, "panel-apply").is_displayed()
    driver.find_element(By.ID, "classify-use-example").click()
    driver.find_element(By.ID, "classify-submit").click()
    bars = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#classify-result .bars li"), "no classification bars")
    assert len(bars) == 5
    first = bars[0].text
    assert "%" in first and re.search(r"\d+\.\d %", first)
    widths = [b.find_element(By.CSS_SELECTOR, ".fill").get_attribute("style") for b in bars]
    assert all("width" in w for w in widths)
    # the example is ~10 s: four windows, drawn as a timeline with a legend
    segments = driver.find_elements(By.CSS_SELECTOR, "#classify-timeline .seg")
    assert len(segments) >= 2 and driver.find_elements(By.CSS_SELECTOR, "#classify-legend li")
    assert not visible_errors(driver)

    # silence: no bars, the answer's note instead
    import numpy as np

    from timbrelab.audio import write_audio

    silence = tmp_path / "silence.wav"
    write_audio(silence, np.zeros((2, 3 * 22050), np.float32), 22050, bit_depth="16")
    driver.find_element(By.ID, "classify-file").send_keys(str(silence))
    assert not driver.find_element(By.ID, "classify-use-example").is_selected()
    driver.find_element(By.ID, "classify-submit").click()
    note = driver.find_element(By.ID, "classify-note")
    wait(driver, lambda d: note.is_displayed() and "silence.wav" in d.find_element(By.ID, "classify-name").text, "no note for silence")
    assert "no instrument" in note.text
    assert not driver.find_elements(By.CSS_SELECTOR, "#classify-bars li")
    assert not js_errors(driver)


def test_an_unresolvable_word_shows_the_servers_one_line(driver, server):
    open_page(driver, server)
    driver.find_element(By.ID, "apply-use-example").click()
    driver.find_element(By.ID, "apply-description").send_keys("qzxv")
    driver.find_element(By.ID, "apply-submit").click()
    box = driver.find_element(By.ID, "apply-error")
    WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(lambda d: box.is_displayed() and box.text.strip())
    text = box.text.strip()
    assert box.get_attribute("role") == "alert" and "error" in box.get_attribute("class").split()
    assert "'qzxv' is not in the crowd maps" in text
    assert "\n" not in text and "Traceback" not in text
    assert driver.find_element(By.ID, "apply-submit").is_enabled()
    assert not driver.find_element(By.ID, "apply-result").is_displayed()

    # nothing chosen at all: the page says so without asking the server
    open_page(driver, server)
    driver.find_element(By.ID, "apply-description").send_keys("warm")
    driver.find_element(By.ID, "apply-submit").click()
    assert "bundled example" in driver.find_element(By.ID, "apply-error").text
    assert not js_errors(driver)


def test_words_tab_lists_filters_and_shows_a_word(driver, server):
    open_page(driver, server, tab="words")
    rows = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#words-body tr"), "no words listed")
    assert len(rows) > 300
    langs = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#words-lang option")]
    assert "English" in langs and len(langs) >= 3

    search = driver.find_element(By.ID, "words-search")
    search.send_keys("church")
    wait(driver, lambda d: 0 < len(d.find_elements(By.CSS_SELECTOR, "#words-body tr")) < 20, "the search did not filter")
    row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#words-body tr")
               if r.get_attribute("data-word") == "church" and r.get_attribute("data-effect") == "reverb")
    row.click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#words-decay-plot svg path.series"), "no reverb decay plot")
    assert "church" in driver.find_element(By.ID, "words-summary").text
    assert "RT60" in driver.find_element(By.ID, "words-reverb-params").text

    driver.find_element(By.ID, "words-audition").click()
    wait(driver, lambda d: d.find_element(By.ID, "words-after").get_attribute("src") or False, "the audition gave no audio")
    assert driver.find_element(By.ID, "words-players").is_displayed()
    assert not visible_errors(driver)
    assert not js_errors(driver)


def test_describe_and_search_tab(driver, server, tmp_path, monkeypatch):
    import describe_toys

    monkeypatch.setenv("TIMBRELAB_CACHE", str(tmp_path / "cache"))
    lib = tmp_path / "library"
    sounds = describe_toys.write_sounds(lib / "pads")
    describe_toys.write_sounds(lib / "keys")
    open_page(driver, server, tab="describe")
    assert driver.find_element(By.ID, "tab-describe").get_attribute("aria-selected") == "true"
    wait(driver, lambda d: "toy-bands" in d.find_element(By.ID, "describe-embedder").text, "the embedder line did not load")
    assert "8 dimensions, 553 words" in driver.find_element(By.ID, "describe-embedder").text

    # describe an uploaded sound: the instrument, then the words as bars, best first
    driver.find_element(By.ID, "describe-file").send_keys(str(sounds["bright"]))
    top = driver.find_element(By.ID, "describe-top")
    top.clear()
    top.send_keys("4")
    driver.find_element(By.ID, "describe-submit").click()
    bars = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#describe-words li"), "no words for the sound")
    words = [b.get_attribute("data-word") for b in bars]
    assert len(words) == 4 and set(words) <= {"bright", "tinny", "crisp", "shrill", "thin"}, words
    assert bars[0].find_element(By.CSS_SELECTOR, ".fill").get_attribute("style").replace(" ", "") == "width:100%;"  # the best word fills its bar
    assert driver.find_element(By.ID, "describe-instrument").text.startswith("instrument: ")
    assert "/api/files/" in driver.find_element(By.ID, "describe-player").get_attribute("src")

    # search the folder: ranked rows, a play button that plays a copy of the file
    driver.find_element(By.ID, "search-query").send_keys("bright")
    driver.find_element(By.ID, "search-folder").send_keys(str(lib))
    driver.find_element(By.ID, "search-submit").click()
    rows = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-body tr"), "no search results")
    assert [r.get_attribute("data-path") for r in rows[:2]] == ["keys/bright.wav", "pads/bright.wav"] and len(rows) == 6
    assert driver.find_element(By.ID, "search-summary").text.startswith("6 audio files: 6 embedded, 0 reused")
    play = rows[1].find_element(By.CSS_SELECTOR, "button.play")
    play.click()
    player = driver.find_element(By.ID, "search-player")
    wait(driver, lambda d: player.get_attribute("src").endswith(play.get_attribute("data-url")), "the play button did not load the file")
    with urllib.request.urlopen(absolute(server, play.get_attribute("data-url")), timeout=30) as r:
        assert r.read() == sounds["bright"].read_bytes()

    # again: the index is reused
    driver.find_element(By.ID, "search-submit").click()
    wait(driver, lambda d: "0 embedded, 6 reused" in d.find_element(By.ID, "search-summary").text, "the index was not reused")
    assert not visible_errors(driver)
    assert not js_errors(driver)


def test_describe_tab_shows_a_missing_embedder_in_one_line(driver, monkeypatch):
    from timbrelab.probe import embedders
    from timbrelab.studio.app import StudioServer

    monkeypatch.delitem(embedders.BUILTIN_EMBEDDERS, "timbreclap", raising=False)  # as before TimbreCLAP ships
    monkeypatch.setattr(embedders, "_entry_points", lambda: [])
    with StudioServer(port=0) as bare:  # the default embedder
        open_page(driver, bare, tab="apply")
        driver.find_element(By.ID, "tab-describe").click()
        box = driver.find_element(By.ID, "describe-embedder-error")
        WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(lambda d: box.is_displayed() and box.text.strip())
        text = box.text.strip()
        assert "'timbreclap' is not installed" in text and "\n" not in text and "Traceback" not in text
        assert not driver.find_element(By.ID, "describe-submit").is_enabled()
        assert not driver.find_element(By.ID, "search-submit").is_enabled()
        driver.find_element(By.ID, "tab-words").click()  # the rest of the page works
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#words-body tr"), "the Words tab broke")
        assert not js_errors(driver)


def test_separate_tab_plays_the_estimate_and_the_residual(driver, server):
    open_page(driver, server, tab="apply")
    driver.find_element(By.ID, "tab-separate").click()
    assert driver.find_element(By.ID, "tab-separate").get_attribute("aria-selected") == "true"
    assert not driver.find_element(By.ID, "separate-result").is_displayed()
    assert "below 11 kHz" in driver.find_element(By.ID, "separate-form").text

    # nothing typed: the page says so without asking the server
    driver.find_element(By.ID, "separate-use-example").click()
    driver.find_element(By.ID, "separate-submit").click()
    assert "type what to extract" in driver.find_element(By.ID, "separate-error").text

    # a suggestion fills the box; then a typed query, run on the example
    driver.find_element(By.CSS_SELECTOR, '#separate-suggestions button[data-query="the trumpet"]').click()
    query = driver.find_element(By.ID, "separate-query")
    assert query.get_attribute("value") == "the trumpet"
    query.clear()
    query.send_keys("the violin")
    driver.find_element(By.ID, "separate-submit").click()
    estimate = wait(driver, lambda d: d.find_element(By.ID, "separate-estimate").get_attribute("src") or False, "no estimate player")
    residual = driver.find_element(By.ID, "separate-residual").get_attribute("src")
    assert "/api/files/" in estimate and "/api/files/" in residual and estimate != residual
    assert driver.find_element(By.ID, "separate-mix").get_attribute("src").endswith("/api/example")
    assert driver.find_element(By.ID, "separate-result").is_displayed()
    assert driver.find_element(By.ID, "separate-submit").is_enabled()
    assert "\u201cthe violin\u201d" in driver.find_element(By.ID, "separate-names").text
    assert "dB RMS" in driver.find_element(By.ID, "separate-estimate-tag").text
    assert "dB RMS" in driver.find_element(By.ID, "separate-residual-tag").text

    # the spectrograms are drawn: both images loaded
    for key in ("mixture", "estimate"):
        wait(driver, lambda d: d.execute_script(f"const i = document.getElementById('separate-spec-{key}'); "
                                                "return i.complete && i.naturalWidth > 100;"), f"no {key} spectrogram")

    # the downloads and the players' audio, fetched as the browser would
    for key, src in (("estimate", estimate), ("residual", residual)):
        href = driver.find_element(By.ID, f"separate-download-{key}").get_attribute("href")
        assert "download=1" in href
        for u in (src, href):
            with urllib.request.urlopen(absolute(server, u), timeout=30) as r:
                data = r.read()
            assert len(data) > 1000 and data[:4] == b"RIFF"
    assert not visible_errors(driver)
    assert not js_errors(driver)


def canvas_drawn(driver, id_):
    """Whether the canvas holds a 44 × 128 picture of many colours (a drawn log-mel, not a blank)."""
    return driver.execute_script(
        "const c = document.getElementById(arguments[0]); if (c.width !== 44 || c.height !== 128) return false;"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const seen = new Set();"
        "for (let i = 0; i < d.length; i += 4 * 7) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);"
        "return seen.size > 20;", id_)


def player_loaded(driver, id_):
    """The player's source has been fetched and decoded: its duration is the note's half second."""
    return driver.execute_script("const a = document.getElementById(arguments[0]); "
                                 "return a.readyState >= 1 && Math.abs(a.duration - 0.5) < 0.01;", id_)


def note_shown(driver, panel, label, old_src):
    """The panel's canvas shows the note ``label`` and its player has a new, playable source."""
    canvas = driver.find_element(By.ID, f"explore-{panel}-spec")
    src = driver.find_element(By.ID, f"explore-{panel}-player").get_attribute("src") or ""
    return (canvas.get_attribute("data-label") == label and "/api/files/" in src and src != old_src
            and canvas_drawn(driver, f"explore-{panel}-spec") and player_loaded(driver, f"explore-{panel}-player"))


def test_explore_tab_plays_a_new_note_when_a_slider_moves(driver, server):
    open_page(driver, server, tab="apply")
    driver.find_element(By.ID, "tab-explore").click()
    assert driver.find_element(By.ID, "tab-explore").get_attribute("aria-selected") == "true"

    # /api/explore/info fills the controls; both panels play their first note (α = 0.5, value 0)
    wait(driver, lambda d: note_shown(d, "interp", "alpha=0.5", ""), "no first interpolated note")
    wait(driver, lambda d: note_shown(d, "trav", "dim0=+0", ""), "no first traversal note")
    assert "16-dimensional timbre latent" in driver.find_element(By.ID, "explore-model").text
    assert Select(driver.find_element(By.ID, "explore-source")).first_selected_option.text == "piano"
    assert Select(driver.find_element(By.ID, "explore-target")).first_selected_option.text == "saxophone"
    assert len(Select(driver.find_element(By.ID, "explore-dim")).options) == 16
    # the pitch slider is limited to the register both instruments play (piano 33 … 96, saxophone 44 … 80)
    pitch = driver.find_element(By.ID, "explore-pitch")
    assert (pitch.get_attribute("min"), pitch.get_attribute("max")) == ("44", "80")
    assert "both play MIDI 44 … 80" in driver.find_element(By.ID, "explore-pitch-hint").text
    assert driver.find_element(By.ID, "explore-pitch-value").text == "60 · C4"
    # the row of α = 0 … 1, the current one pressed
    tiles = driver.find_elements(By.CSS_SELECTOR, "#explore-interp-strip button.tile")
    assert [t.get_attribute("data-value") for t in tiles] == ["0", "0.25", "0.5", "0.75", "1"]
    assert [t.get_attribute("aria-pressed") for t in tiles] == ["false", "false", "true", "false", "false"]

    # move the α slider (the keyboard's End: α = 1): a new note, drawn and playable
    src = driver.find_element(By.ID, "explore-interp-player").get_attribute("src")
    driver.find_element(By.ID, "explore-alpha").send_keys(Keys.END)
    assert driver.find_element(By.ID, "explore-alpha-value").text == "1.00"
    wait(driver, lambda d: note_shown(d, "interp", "alpha=1", src), "the α slider did not play a new note")
    assert "piano → saxophone at MIDI 60 · α = 1.00 · griffin-lim" == driver.find_element(By.ID, "explore-interp-caption").text
    assert driver.find_elements(By.CSS_SELECTOR, "#explore-interp-strip button.tile")[4].get_attribute("aria-pressed") == "true"
    assert "made in" in driver.find_element(By.ID, "explore-interp-status").text
    # a tile of the row sets α; a few quick key presses end on the last one's note
    src = driver.find_element(By.ID, "explore-interp-player").get_attribute("src")
    driver.find_elements(By.CSS_SELECTOR, "#explore-interp-strip button.tile")[1].click()
    wait(driver, lambda d: note_shown(d, "interp", "alpha=0.25", src), "the α = 0.25 tile did not play its note")
    src = driver.find_element(By.ID, "explore-interp-player").get_attribute("src")
    driver.find_element(By.ID, "explore-alpha").send_keys(Keys.ARROW_RIGHT * 5)
    wait(driver, lambda d: note_shown(d, "interp", "alpha=0.3", src), "quick moves did not end on the last α")

    # the traversal's value slider, on another dimension, with the harmonic resynthesis
    Select(driver.find_element(By.ID, "explore-method")).select_by_value("harmonic")
    Select(driver.find_element(By.ID, "explore-dim")).select_by_value("2")
    src = driver.find_element(By.ID, "explore-trav-player").get_attribute("src")
    driver.find_element(By.ID, "explore-value").send_keys(Keys.HOME)
    wait(driver, lambda d: note_shown(d, "trav", "dim2=-3", src), "the value slider did not play a new note")
    assert driver.find_element(By.ID, "explore-trav-caption").text.endswith("harmonic")
    assert "violin plays MIDI 55 … 96" in driver.find_element(By.ID, "explore-trav-pitch-hint").text
    wait(driver, lambda d: d.find_element(By.ID, "explore-interp-caption").text.endswith("harmonic"), "the method did not reach the interpolation")

    # the audio, fetched as the browser would
    with urllib.request.urlopen(absolute(server, driver.find_element(By.ID, "explore-trav-player").get_attribute("src")), timeout=30) as r:
        assert r.read()[:4] == b"RIFF"
    assert not visible_errors(driver)
    assert not js_errors(driver)


def test_docs_page_lists_every_path_from_openapi(driver, server):
    import json

    with urllib.request.urlopen(server.url + "/openapi.json", timeout=30) as r:
        spec = json.load(r)
    driver.get(server.url + "/docs")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#docs-paths section.op"), "the API page listed nothing")
    text = driver.find_element(By.ID, "docs-paths").text
    for path, item in spec["paths"].items():
        assert path in text
    for field in ("eq_amount", "reverb_amount", "match_loudness", "eq_word", "reverb_word", "description", "top"):
        assert field in text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#docs-paths section.op")) == sum(
        len([m for m in item if m in ("get", "post", "put", "delete", "patch")]) for item in spec["paths"].values())
    assert not visible_errors(driver)
    assert not js_errors(driver)
