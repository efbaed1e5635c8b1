"""Text-queried separation: the model's plumbing, chunked files, the CLI, mixtures, the two-phase training, finetune."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from separate_toys import save_tiny, tiny_separator

SR = 22050


def _noise(seconds: float, channels: int = 1, sr: int = SR, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal((channels, int(seconds * sr)))).astype(np.float32)


def _tone(freq_hz: float, seconds: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.2 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


# ----------------------------------------------------------------------------------- the model


def test_chunking_does_not_change_the_result():
    from timbrelab.separate.stream import separate_array

    m = tiny_separator()
    x = _noise(4.0, 2)
    whole = separate_array(m, x, ["the violin", "trumpet"], chunk_s=60)
    small = separate_array(m, x, ["the violin", "trumpet"], chunk_s=0.5)
    assert whole.shape == (2, 2, x.shape[1])
    assert np.abs(whole - small).max() < 1e-5 * max(1.0, float(np.abs(whole).max()))


def test_queries_change_the_estimate_and_output_keeps_shape_and_rate():
    m = tiny_separator()
    x = _noise(1.5, 2, sr=44100)
    est = m.separate(x, 44100, ["the violin", "a tuba"])
    assert est.shape == (2, 2, x.shape[1]) and est.dtype == np.float32
    assert np.abs(est[0] - est[1]).max() > 0
    assert np.all(np.isfinite(est))


def test_checkpoint_round_trip_gives_the_same_output(tmp_path):
    from timbrelab.ml.checkpoint import load_checkpoint
    from timbrelab.separate.model import Separator

    m = tiny_separator(3)
    x = _noise(1.0)
    again = Separator.from_checkpoint(load_checkpoint(save_tiny(tmp_path / "s.safetensors", 3)))
    np.testing.assert_array_equal(m.separate(x, SR, ["violin"]), again.separate(x, SR, ["violin"]))


def test_cost_and_receptive_field_are_stated():
    from timbrelab.separate.model import SeparatorConfig

    c = SeparatorConfig()
    assert c.receptive_field_frames == 1 + 2 * 2 * (1 + 2 + 4 + 8 + 16)
    cost = tiny_separator().cost()
    assert cost["parameters"] > 0 and cost["macs_per_second"] > 0 and cost["receptive_field_s"] > 0


def test_bad_queries_are_refused():
    from timbrelab.errors import BadParameterError
    from timbrelab.separate.model import check_queries

    for bad in ([], [""], ["   "], ["x" * 201]):
        with pytest.raises(BadParameterError):
            check_queries(bad)
    assert check_queries("  the   violin ") == ["the violin"]


# ----------------------------------------------------------------------------------- files


def test_file_estimate_plus_residual_is_the_input_and_input_is_untouched(tmp_path):
    from timbrelab.separate.stream import separate_file

    x = _noise(2.3, 2, sr=44100, seed=1)
    src = tmp_path / "mix.wav"
    sf.write(src, x.T, 44100, subtype="FLOAT")
    before = src.read_bytes()
    rep = separate_file(tiny_separator(), src, ["the violin"], tmp_path / "v.wav", tmp_path / "rest.wav", chunk_s=0.7, progress=False)
    assert src.read_bytes() == before
    est, sr1 = sf.read(tmp_path / "v.wav", always_2d=True)
    rest, sr2 = sf.read(tmp_path / "rest.wav", always_2d=True)
    assert sr1 == sr2 == 44100 and est.shape == rest.shape == x.T.shape
    np.testing.assert_allclose(est + rest, x.T, atol=1e-5)
    assert rep["frames"] == x.shape[1] and rep["outputs"][0]["query"] == "the violin"
    assert not list(tmp_path.glob(".*part"))


def test_file_result_matches_the_array_path_at_the_model_rate(tmp_path):
    from timbrelab.separate.stream import separate_file

    m = tiny_separator()
    x = _noise(1.7, 1, seed=2)
    src = tmp_path / "mix.wav"
    sf.write(src, x.T, SR, subtype="FLOAT")
    separate_file(m, src, ["cello"], tmp_path / "c.wav", chunk_s=0.5, progress=False)
    got = sf.read(tmp_path / "c.wav", always_2d=True)[0].T
    np.testing.assert_allclose(got, m.separate(x, SR, ["cello"])[0], atol=1e-5)


def test_resampled_residual_is_time_aligned(tmp_path):
    """Through 44.1 → 22.05 → 44.1 kHz the estimate must stay aligned with the input: a tone that the
    model passes lines up with the input's tone (the residual is far quieter than the tone)."""
    from timbrelab.separate.stream import separate_file

    m = tiny_separator()
    with torch.no_grad():  # make the toy an all-pass: mask = sigmoid(big) = 1
        m.net.decoder[-1].weight.zero_()
        m.net.decoder[-1].bias.fill_(30.0)
    x = _tone(440.0, 2.0, 44100)[None]
    src = tmp_path / "tone.wav"
    sf.write(src, x.T, 44100, subtype="FLOAT")
    separate_file(m, src, ["piano"], tmp_path / "p.wav", tmp_path / "r.wav", progress=False)
    rest = sf.read(tmp_path / "r.wav")[0]
    core = slice(4410, -4410)  # away from the ends' filter transients
    assert np.sqrt(np.mean(rest[core] ** 2)) < 0.01 * np.sqrt(np.mean(x[0, core] ** 2))


def test_several_queries_write_one_file_each_into_a_folder(tmp_path):
    from timbrelab.separate.stream import output_paths, separate_file

    src = tmp_path / "band.wav"
    sf.write(src, _noise(1.0).T, SR)
    rep = separate_file(tiny_separator(), src, ["the sax", "the piano"], tmp_path / "stems", progress=False)
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == ["band.the-piano.wav", "band.the-sax.wav"]
    assert [o["query"] for o in rep["outputs"]] == ["the sax", "the piano"]
    assert [p.name for p in output_paths(src, ["a", "b"], tmp_path / "{query}.flac")] == ["a.flac", "b.flac"]


def test_file_errors_are_clear_and_leave_nothing(tmp_path):
    from timbrelab.errors import TimbrelabError
    from timbrelab.separate.stream import separate_file

    m = tiny_separator()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not audio")
    with pytest.raises(TimbrelabError):
        separate_file(m, bad, ["violin"], tmp_path / "o.wav", progress=False)
    good = tmp_path / "g.wav"
    sf.write(good, _noise(0.5).T, SR)
    with pytest.raises(TimbrelabError, match="input"):
        separate_file(m, good, ["violin"], good, progress=False)
    with pytest.raises(TimbrelabError):
        separate_file(m, good, ["violin"], tmp_path / "o.wav", tmp_path / "o.wav", progress=False)
    with pytest.raises(TimbrelabError):
        separate_file(m, good, ["violin"], tmp_path / "missing" / "o.wav", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.wav", "g.wav"]


def _cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "timbrelab", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_cli_separates_and_fails_with_one_line(tmp_path):
    ckpt = save_tiny(tmp_path / "tiny.safetensors")
    src = tmp_path / "mix.flac"
    sf.write(src, _noise(1.0, 2).T, SR)
    r = _cli("separate", str(src), "the violin", "-o", str(tmp_path / "v.wav"), "--residual", str(tmp_path / "r.wav"), "--model", str(ckpt), "-q")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "v.wav").exists() and (tmp_path / "r.wav").exists() and "the violin" in r.stdout
    r = _cli("separate", str(tmp_path / "nope.wav"), "violin", "-o", str(tmp_path / "x.wav"), "--model", str(ckpt))
    assert r.returncode != 0 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _cli("separate", str(src), "violin", "-o", str(tmp_path / "x.wav"), "--model", str(tmp_path / "no.safetensors"))
    assert r.returncode != 0 and "Traceback" not in r.stderr


# ----------------------------------------------------------------------------------- mixtures


class _FakeSet:
    def __init__(self, sr: int = SR):
        self.sample_rate = sr
        self.rows, self.audio = [], []
        rng = np.random.default_rng(0)
        for k, name in enumerate(["violin", "trumpet", "piano", "cello"]):
            for j in range(3):
                self.rows.append({"source": "A" if j < 2 else "B", "instrument": name, "program": 0, "style": "note"})
                self.audio.append(_tone(220.0 * (k + 1) * (1 + 0.01 * j), 3.0) + 0.01 * rng.standard_normal(3 * SR).astype(np.float32))
        self.rows.append({"source": "A", "instrument": "no instrument", "style": "drums"})
        self.audio.append(0.1 * rng.standard_normal(3 * SR).astype(np.float32))
        self.rows.append({"source": "A", "instrument": "violin", "style": "note", "augment": {"applied": ["accompaniment"]}})
        self.audio.append(np.zeros(3 * SR, np.float32))


def test_mixtures_are_repeatable_and_their_targets_follow_the_query():
    from timbrelab.separate.data import MixConfig, MixtureSampler

    s = MixtureSampler([_FakeSet()], MixConfig(absent_probability=0.3, family_probability=0.2, background_probability=0.0))
    assert s.classes == ["cello", "piano", "trumpet", "violin"]
    assert all(len(v) == 3 for v in s.by_class.values())  # the accompanied copy is not a source
    a, b = s.batch(5, 1, [0, 1, 2]), s.batch(5, 1, [2, 1, 0])
    np.testing.assert_array_equal(a[0]["mixture"], b[2]["mixture"])
    kinds = set()
    for e in s.batch(0, 0, range(60)):
        kinds.add(e["kind"])
        assert e["mixture"].shape == e["target"].shape == (int(2.0 * SR),)
        if e["kind"] == "absent":
            assert not e["target"].any()
        else:
            assert np.sum(e["target"] ** 2) > 0
            assert np.sum(e["target"] ** 2) < np.sum(e["mixture"] ** 2) * 1.5 + 1e-9
    assert kinds == {"absent", "family", "instrument"}


def test_mixture_sources_are_chosen_by_keep():
    from timbrelab.separate.data import MixtureSampler

    s = MixtureSampler([_FakeSet()], keep=lambda d, r: r["source"] == "A")
    assert all(len(v) == 2 for v in s.by_class.values())


# ----------------------------------------------------------------------------------- training


def _toy_draw(epoch, idx):
    out = []
    for i in idx:
        rng = np.random.default_rng([epoch, i])
        a, b = _tone(rng.uniform(200, 400), 0.5), _tone(rng.uniform(2000, 3000), 0.5)
        q = "the low one" if i % 2 else "the high one"
        out.append({"mixture": a + b, "target": a if i % 2 else b, "query": q})
    return out


def test_two_phases_freeze_then_train_the_query_network_and_resume_exactly(tmp_path):
    from timbrelab.separate.train import PhaseConfig, SeparatorTrainConfig, fit_standardizer, two_phase_fit

    cfg = SeparatorTrainConfig(batch_size=4, epoch_examples=8, phase1=PhaseConfig(epochs=2, warmup_steps=1, patience=None),
                               phase2=PhaseConfig(epochs=1, lr=1e-3, query_lr=1e-3, warmup_steps=1, patience=None))
    val = _toy_draw(99, range(4))

    def run(state_dir, stop_after_phase1=False):
        m = tiny_separator(1)
        fit_standardizer(m.net, _toy_draw(0, range(8)))
        q0 = {k: v.clone() for k, v in m.net.query.state_dict().items()}
        if stop_after_phase1:
            c1 = SeparatorTrainConfig(**{**cfg.to_dict(), "phase2": {"epochs": 0}})
            two_phase_fit(m.net, _toy_draw, val, c1, False, state_dir)
            q1 = m.net.query.state_dict()
            assert all(torch.equal(q0[k], q1[k]) for k in q0)  # phase 1: the query network is frozen
            m = tiny_separator(1)
            fit_standardizer(m.net, _toy_draw(0, range(8)))
        metrics = two_phase_fit(m.net, _toy_draw, val, cfg, False, state_dir)
        q2 = m.net.query.state_dict()
        assert any(not torch.equal(q0[k], q2[k]) for k in q0 if q0[k].is_floating_point())  # phase 2 trains it
        assert metrics["phase1"]["query"] == "frozen" and metrics["phase2"]["query"] == "trained"
        return m.net.state_dict()

    straight = run(tmp_path / "a")
    resumed = run(tmp_path / "b", stop_after_phase1=True)
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_finetune_end_to_end_on_a_folder(tmp_path):
    root = tmp_path / "takes"
    for i in range(3):
        d = root / f"take-{i}"
        d.mkdir(parents=True)
        low, high = _tone(300 + 20 * i, 1.0), _tone(2500 + 100 * i, 1.0)
        sf.write(d / "mixture.wav", low + high, SR)
        sf.write(d / "target.flac", low, SR)
        (d / "query.txt").write_text("the low tone\n")
    base = save_tiny(tmp_path / "base.safetensors")
    out = tmp_path / "tuned"
    args = ("finetune-separator", str(root), "-o", str(out), "--model", str(base), "--epochs", "1", "1", "--epoch-examples", "4", "-q")
    r = _cli(*args)
    assert r.returncode == 0, r.stderr
    assert (out / "separator.safetensors").exists() and (out / "run.json").exists()
    assert "phase1" in r.stdout and "phase2" in r.stdout
    r2 = _cli(*args)  # resumes from the finished phases: same model
    assert r2.returncode == 0, r2.stderr
    r3 = _cli("separate", str(root / "take-0" / "mixture.wav"), "the low tone", "-o", str(tmp_path / "low.wav"), "--model", str(out / "separator.safetensors"), "-q")
    assert r3.returncode == 0, r3.stderr
    bad = tmp_path / "bad"
    (bad / "x").mkdir(parents=True)
    r4 = _cli("finetune-separator", str(bad), "-o", str(tmp_path / "t2"), "--model", str(base))
    assert r4.returncode != 0 and "Traceback" not in r4.stderr and "query.txt" in r4.stderr


def test_cli_example_flag_uses_the_bundled_duet(tmp_path):
    ckpt = save_tiny(tmp_path / "tiny.safetensors")
    r = _cli("separate", "--example", "the violin", "the trumpet", "-o", str(tmp_path / "stems"), "--model", str(ckpt), "--json")
    assert r.returncode == 0, r.stderr
    import json

    rep = json.loads(r.stdout)
    assert rep["input"].endswith("duet_violin_trumpet.flac") and rep["sample_rate"] == 44100 and rep["channels"] == 2
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == ["duet_violin_trumpet.the-trumpet.wav", "duet_violin_trumpet.the-violin.wav"]
    r = _cli("separate", "mix.wav", "--model", str(ckpt), "-o", str(tmp_path / "x.wav"))
    assert r.returncode != 0 and "Traceback" not in r.stderr


def test_a_long_file_is_separated_in_bounded_pieces(tmp_path):
    """100 s at 44.1 kHz: the model never sees more than one chunk plus its context, and the input
    blocks waiting for their estimate (for the residual) stay few, whatever the file's length."""
    from timbrelab.separate import stream
    from timbrelab.separate.stream import chunk_samples, context_samples, separate_file

    m = tiny_separator()
    seconds, sr = 100, 44100
    src = tmp_path / "long.wav"
    sf.write(src, np.tile(_noise(1.0, 2, sr=sr), (1, seconds)).T, sr, subtype="PCM_16")
    seen = []
    real = m.masks

    def spy(mono, queries):
        seen.append(len(mono))
        return real(mono, queries)

    m.masks = spy
    held = []
    real_take = stream.deque

    class CountingDeque(real_take):
        def append(self, x):
            super().append(x)
            held.append(sum(b.shape[1] for b in self))

    stream.deque = CountingDeque
    try:
        separate_file(m, src, ["violin"], tmp_path / "v.wav", tmp_path / "r.wav", chunk_s=5.0, progress=False)
    finally:
        stream.deque = real_take
    c = m.net.config
    assert max(seen) <= chunk_samples(c, 5.0) + 2 * context_samples(c)
    assert len(seen) >= seconds * c.sample_rate // chunk_samples(c, 5.0)
    assert max(held) <= 2 * (5.0 + 2 * context_samples(c) / c.sample_rate) * sr + (1 << 16)
    assert sf.info(tmp_path / "v.wav").frames == sf.info(tmp_path / "r.wav").frames == seconds * sr
