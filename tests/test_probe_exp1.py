"""Experiment 1 (timbrelab.probe.experiment1, `timbrelab probe exp1`) on a table the tests make.

Known answer: each "instrument" is a 200 Hz + 5 kHz pair of sines whose high share of the power is
``h``; the toy embedder's audio vector is (high share, low share) and its text vectors point at
high ("bright", "sharp") or low ("dark", "mellow"). The ratings are an increasing function of the
similarity the design implies, so every correlation is positive; reversed ratings make every one negative.
"""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from timbrelab.errors import AudioFileError, BadParameterError
from timbrelab.probe.experiment1 import load_ratings, run_experiment1

SR = 22050
SHARES = {"flute": 0.9, "oboe": 0.6, "horn": 0.3, "tuba": 0.1}
TEXT = {"bright": [1.0, 0.0], "sharp": [1.0, 0.2], "dark": [0.0, 1.0], "mellow": [0.2, 1.0]}


class SplitEmbedder:
    name = "split"

    def embed_audio(self, audio, sample_rate):
        x = np.asarray(audio, np.float64).mean(axis=0)
        p = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(x.size, 1 / sample_rate)
        hi, lo = p[f >= 1000].sum(), p[f < 1000].sum()
        return np.array([hi, lo]) / (hi + lo)

    def embed_text(self, texts):
        return np.array([TEXT[t] for t in texts])


def _cos(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def make_table(tmp_path, reverse=False, name="ratings.csv"):
    from timbrelab.audio import write_audio

    (tmp_path / "audio").mkdir(exist_ok=True)
    t = np.arange(SR // 2) / SR
    lines = ["instrument,audio," + ",".join(TEXT)]
    for inst, h in SHARES.items():
        x = np.sqrt(2 * h) * np.sin(2 * np.pi * 5000 * t) + np.sqrt(2 * (1 - h)) * np.sin(2 * np.pi * 200 * t)
        write_audio(tmp_path / "audio" / f"{inst}.wav", (0.3 * x[None]).astype(np.float32), SR)
        ratings = [1 + 6 * _cos([h, 1 - h], v) ** 2 for v in TEXT.values()]  # increasing in the similarity
        if reverse:
            ratings = [8 - r for r in ratings]
        lines.append(f"{inst},audio/{inst}.wav," + ",".join(f"{r:.4f}" for r in ratings))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_loader_reads_the_layout(tmp_path):
    table = load_ratings(make_table(tmp_path))
    assert table.instruments == tuple(SHARES) and table.descriptors == tuple(TEXT) and table.ratings.shape == (4, 4)
    assert table.audio_paths[0] == tmp_path / "audio" / "flute.wav"


def test_known_answer_all_positive_and_reversed_all_negative(tmp_path):
    r = run_experiment1(SplitEmbedder(), load_ratings(make_table(tmp_path)))
    s = r.summary()
    assert (s["positive_descriptors"], s["n_descriptors"], s["positive_instruments"], s["n_instruments"]) == (4, 4, 4, 4)
    assert s["mean_descriptor_pearson"] > 0.95 and s["mean_descriptor_spearman"] == pytest.approx(1.0)
    assert r.similarities[0, 0] == pytest.approx(_cos([0.9, 0.1], [1, 0]), abs=1e-3)  # flute vs "bright"
    rev = run_experiment1(SplitEmbedder(), load_ratings(make_table(tmp_path, reverse=True, name="rev.csv"))).summary()
    assert rev["positive_descriptors"] == 0 and rev["positive_instruments"] == 0
    assert rev["mean_descriptor_pearson"] == pytest.approx(-s["mean_descriptor_pearson"])


def test_constant_ratings_count_as_zero(tmp_path):
    path = make_table(tmp_path)
    rows = path.read_text().splitlines()
    rows = [rows[0]] + [",".join(r.split(",")[:2] + ["5"] + r.split(",")[3:]) for r in rows[1:]]  # "bright" = 5 everywhere
    path.write_text("\n".join(rows) + "\n")
    r = run_experiment1(SplitEmbedder(), load_ratings(path))
    bright = r.per_descriptor[0]
    assert bright["constant"] and bright["pearson"] == 0.0 and r.summary()["positive_descriptors"] == 3
    assert any("constant" in n for n in r.notes)


@pytest.mark.parametrize("edit, error, message", [
    (lambda s: s.replace("instrument,audio", "name,audio", 1), BadParameterError, "lacks the column"),
    (lambda s: s.replace("audio/oboe.wav,", "audio/oboe.wav,x", 1),
     BadParameterError, "not a number"),
    (lambda s: s.replace("audio/horn.wav", "audio/missing.wav"), AudioFileError, "missing.wav of 'horn' does not exist"),
    (lambda s: "\n".join(s.splitlines()[:3]) + "\n", BadParameterError, "needs at least 3"),
    (lambda s: s.replace("tuba,", "flute,"), BadParameterError, "appears twice"),
    (lambda s: s.replace(",5000", "") + "x,y\n", BadParameterError, "cells for"),
    (lambda s: "", BadParameterError, "is empty"),
])
def test_malformed_tables_give_one_line(tmp_path, edit, error, message):
    path = make_table(tmp_path)
    path.write_text(edit(path.read_text()))
    with pytest.raises(error, match=message) as exc:
        load_ratings(path)
    assert "\n" not in str(exc.value)


def test_missing_table(tmp_path):
    with pytest.raises(BadParameterError, match="does not exist"):
        load_ratings(tmp_path / "nope.csv")


def test_reference_counts_come_from_the_release():
    from timbrelab.probe.experiment1 import reference_summary
    from timbrelab.probe.reference import experiment1_reference

    ref = reference_summary()
    assert set(ref) == {"LAION-CLAP", "MSCLAP", "MuQ-MuLan", "OpenFLAM"} and all(r["n_descriptors"] == 16 for r in ref.values())
    rows = [r for r in experiment1_reference() if r["model"] == "MSCLAP"]
    assert ref["MSCLAP"]["positive_descriptors"] == sum(r["pearson"] > 0 for r in rows)


def test_cli_exp1(cli, monkeypatch, tmp_path):
    mod = types.ModuleType("toy_probe_exp1")
    mod.SplitEmbedder = SplitEmbedder
    monkeypatch.setitem(sys.modules, "toy_probe_exp1", mod)
    table = make_table(tmp_path)
    code, out, err = cli("probe", "exp1", "--ratings", table, "--embedder", "toy_probe_exp1:SplitEmbedder", "--json", tmp_path / "e1.json")
    assert code == 0, err
    assert "| LAION-CLAP (release) |" in out and "| **split** | **4/4** |" in out and "| bright |" in out
    rec = json.loads((tmp_path / "e1.json").read_text())
    assert rec["split"]["positive_instruments"] == 4 and rec["provenance"]["command"].startswith("timbrelab probe exp1 --ratings")
    code, out, err = cli("probe", "exp1", "--ratings", tmp_path / "none.csv", "--embedder", "toy_probe_exp1:SplitEmbedder")
    assert code != 0 and err.count("\n") == 1 and "does not exist" in err
