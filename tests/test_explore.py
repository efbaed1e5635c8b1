"""The explorer (issue 14): the GMVAE, its latent operations, spectrogram → audio, the CLI, its training loop.

A tiny randomly initialised model stands in for the shipped one (``explore_toys.tiny_explorer``);
what is checked is what must hold for any weights: shapes, exact checkpoint round trips, the
interpolation and traversal formulas, resynthesis that keeps a pitch, and the CLI's files and errors.
"""

import json

import numpy as np
import pytest
import torch

from explore_toys import tiny_explorer


def tiny_config():
    from timbrelab.explore.model import GMVAEConfig

    return GMVAEConfig(channels=(4, 8, 8), decoder_channels=(8, 8, 4), hidden=32, adversary_hidden=8)


def sine(freq_hz, seconds=0.5, sr=22050, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def peak_hz(y, sr=22050):
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), n=1 << 16))
    return np.argmax(spec) * sr / (1 << 16)


# ------------------------------------------------------------------ the model


def test_gmvae_shapes_losses_and_gradients():
    from timbrelab.explore.data import FEATURES, N_FRAMES
    from timbrelab.explore.model import GMVAE

    torch.manual_seed(0)
    net = GMVAE(tiny_config()).train()
    x = torch.randn(5, FEATURES.n_mels, N_FRAMES)
    terms = net.losses(x, torch.tensor([0, 1, 2, 3, 4]), torch.tensor([0, 10, 20, 30, 40]))
    assert set(terms) >= {"reconstruction", "kl_timbre", "kl_pitch", "ce_timbre", "ce_pitch", "adv_instrument_from_pitch", "adv_pitch_from_timbre"}
    assert all(torch.isfinite(v) and v.dim() == 0 for v in terms.values())
    sum(terms.values()).backward()
    assert net.timbre_prior.means.grad is not None and float(net.timbre_prior.means.grad.abs().sum()) > 0
    net.eval()
    mu_t, lv_t, mu_p, lv_p = net.encode(x)
    assert mu_t.shape == mu_p.shape == (5, net.config.latent_dim)
    assert net.decode(mu_t, mu_p).shape == x.shape


def test_gradient_reversal_pushes_the_encoder_against_its_adversary():
    """The adversary's own weights descend its loss; the pitch encoder gets the opposite sign of that gradient."""
    from timbrelab.explore.model import _Reverse

    z = torch.randn(4, 3, requires_grad=True)
    _Reverse.apply(z).sum().backward()
    assert torch.equal(z.grad, -torch.ones_like(z))


def test_kl_to_a_component_is_zero_only_at_that_component():
    from timbrelab.explore.model import GaussianMixturePrior

    prior = GaussianMixturePrior(3, 4)
    lbl = torch.tensor([1])
    mu, lv = prior.means[lbl].detach(), prior.logvar()[lbl].detach()
    with torch.no_grad():
        assert float(prior.kl(mu, lv, lbl)) == pytest.approx(0.0, abs=1e-5)
        assert float(prior.kl(mu + 1.0, lv, lbl)) > 0.1
        ll = prior.log_likelihoods(prior.means)
    assert torch.equal(ll.argmax(-1), torch.arange(3))


def test_checkpoint_round_trip_is_exact(tmp_path):
    from timbrelab.explore.model import Explorer
    from timbrelab.ml.checkpoint import load_checkpoint, save_checkpoint

    ex = tiny_explorer()
    save_checkpoint(tmp_path / "e.safetensors", ex.to_checkpoint())
    back = Explorer.from_checkpoint(load_checkpoint(tmp_path / "e.safetensors"))
    assert back.classes == ex.classes
    zt, zp = ex.timbre_mean("violin"), ex.pitch_mean(67)
    assert np.array_equal(back.decode(zt, zp), ex.decode(zt, zp))


def test_a_checkpoint_of_another_kind_is_refused():
    from timbrelab.errors import BadParameterError
    from timbrelab.explore.model import Explorer

    ckpt = tiny_explorer().to_checkpoint()
    ckpt.kind = "separator"
    with pytest.raises(BadParameterError, match="not an explorer"):
        Explorer.from_checkpoint(ckpt)


# ------------------------------------------------------------------ latent operations


def test_interpolation_moves_timbre_by_alpha_of_the_mean_difference_and_keeps_pitch():
    ex = tiny_explorer()
    zt, zp = ex.interpolation_latents("piano", "sax", [0, 0.5, 1], pitch=60)
    d = ex.timbre_mean("saxophone") - ex.timbre_mean("piano")
    np.testing.assert_allclose(zt[0], ex.timbre_mean("piano"), atol=1e-6)
    np.testing.assert_allclose(zt[1], ex.timbre_mean("piano") + 0.5 * d, atol=1e-6)
    np.testing.assert_allclose(zt[2], ex.timbre_mean("saxophone"), atol=1e-6)
    assert np.array_equal(zp, np.repeat(ex.pitch_mean(60)[None], 3, axis=0))
    z0 = np.full(ex.net.config.latent_dim, 0.3, np.float32)  # an encoded note: moved by the same difference
    zt2, _ = ex.interpolation_latents("piano", "sax", [1], z_timbre=z0, z_pitch=zp[0])
    np.testing.assert_allclose(zt2[0], z0 + d, atol=1e-6)


def test_traversal_moves_only_one_dimension_in_prior_sigmas():
    ex = tiny_explorer()
    zt, zp = ex.traversal_latents("violin", 70, 2, [-2, 0, 1])
    mu = ex.timbre_mean("violin")
    sd = float(np.exp(0.5 * ex.net.timbre_prior.logvar()[ex.instrument_index("violin"), 2].item()))
    np.testing.assert_allclose(zt[:, 2], mu[2] + np.array([-2, 0, 1]) * sd, atol=1e-5)
    others = np.delete(zt, 2, axis=1)
    assert np.array_equal(others, np.repeat(np.delete(mu, 2)[None], 3, axis=0))
    assert np.array_equal(zp[0], ex.pitch_mean(70))


@pytest.mark.parametrize("call, message", [
    (lambda ex: ex.instrument_index("kazoo"), "unknown instrument"),
    (lambda ex: ex.pitch_index(20), "outside the explorer's range"),
    (lambda ex: ex.traversal_latents("piano", 60, 16, [1]), "out of range"),
])
def test_bad_names_pitches_and_dimensions_are_one_clear_error(call, message):
    from timbrelab.errors import BadParameterError

    with pytest.raises(BadParameterError, match=message):
        call(tiny_explorer())


def test_encoding_a_note_reads_the_same_frames_wherever_the_silence_before_it_ends():
    ex = tiny_explorer()
    note = sine(440.0) * np.exp(-np.linspace(0, 4, 11025)).astype(np.float32)
    a = ex.encode_audio(note[None], 22050)
    b = ex.encode_audio(np.concatenate([np.zeros(256 * 7, np.float32), note])[None], 22050)
    np.testing.assert_allclose(a["z_timbre"], b["z_timbre"], atol=1e-4)
    r = ex.nearest(a, top=3)
    assert len(r["instruments"]) == 3 and 28 <= r["pitch_midi"] <= 96


# ------------------------------------------------------------------ spectrogram → audio


def test_mel_inversion_reproduces_the_mel_spectrogram():
    from timbrelab.explore.data import FEATURES, log_mels
    from timbrelab.features.logmel import mel_filterbank, mel_to_magnitude

    x = sine(330.0) + 0.3 * sine(990.0) + 0.01 * np.random.default_rng(0).standard_normal(11025).astype(np.float32)
    lm = log_mels(x[None])[0]
    mag = mel_to_magnitude(lm, FEATURES)
    assert mag.shape == (FEATURES.n_fft // 2 + 1, lm.shape[1]) and mag.min() >= 0
    mel = mel_filterbank(FEATURES) @ mag
    target = np.exp(lm) - FEATURES.log_offset
    assert np.linalg.norm(mel - target) / np.linalg.norm(target) < 0.05


def test_griffin_lim_recovers_a_tone_from_its_magnitudes():
    from timbrelab.features.stft import STFTConfig, griffin_lim, stft

    c = STFTConfig(1024, 256)
    x = torch.from_numpy(sine(440.0) + 0.5 * sine(880.0))
    mag = stft(x, c).abs()
    y = griffin_lim(mag, c, n_iter=48, length=len(x))
    assert y.shape == x.shape
    err = float((stft(y, c).abs() - mag).norm() / mag.norm())  # spectral convergence
    assert err < 0.15
    assert abs(peak_hz(y.numpy()) - 440.0) < 3.0


@pytest.mark.parametrize("method", ["griffin-lim", "harmonic"])
def test_resynthesis_keeps_the_pitch_of_a_note(method):
    from timbrelab.explore.data import log_mels
    from timbrelab.explore.synth import render

    f0 = 261.63  # MIDI 60
    x = sum((0.5 / k) * sine(f0 * k) for k in range(1, 6))
    y = render(log_mels(x[None])[0], method, 60)
    assert y.shape == (1, 11025) and np.isfinite(y).all()
    assert np.abs(y).max() == pytest.approx(10 ** (-1 / 20), rel=1e-3)  # −1 dBFS
    assert abs(1200 * np.log2(peak_hz(y[0]) / f0)) < 25


def test_harmonic_resynthesis_places_harmonics_at_multiples_of_f0():
    from timbrelab.explore.data import log_mels
    from timbrelab.explore.synth import harmonic_audio

    f0 = 220.0
    x = sine(f0) + 0.5 * sine(2 * f0)
    y = harmonic_audio(log_mels(x[None])[0], f0)[0]
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), n=1 << 16))
    hz = np.arange(len(spec)) * 22050 / (1 << 16)
    band = lambda f: spec[(hz > f - 20) & (hz < f + 20)].max()  # noqa: E731
    assert band(f0) > 10 * band(1.5 * f0)  # energy at the harmonics, not between them
    assert band(f0) > band(2 * f0) > band(3 * f0) / 1.0


# ------------------------------------------------------------------ note sets and files


def test_interpolate_and_traverse_write_one_file_per_note_and_a_figure(tmp_path):
    from timbrelab.audio import read_audio
    from timbrelab.explore import play

    ex = tiny_explorer()
    ns = play.interpolate(ex, "piano", "saxophone", [0, 0.5, 1], pitch=60)
    assert [n.label for n in ns.notes] == ["alpha=0", "alpha=0.5", "alpha=1"]
    assert not np.array_equal(ns.notes[0].audio, ns.notes[2].audio)
    r = play.write_set(ns, tmp_path, "p2s")
    assert len(r["files"]) == 3 and r["figure"].endswith("p2s.png")
    y, sr = read_audio(r["files"][1])
    assert sr == 22050 and y.shape[1] == 11025
    t = play.traverse(ex, "piano", 60, 1, [-1, 1], method="harmonic")
    assert [n.label for n in t.notes] == ["dim1=-1", "dim1=+1"]


def test_too_many_or_non_finite_alphas_are_refused():
    from timbrelab.errors import BadParameterError
    from timbrelab.explore import play

    ex = tiny_explorer()
    with pytest.raises(BadParameterError, match="at most"):
        play.interpolate(ex, "piano", "violin", list(np.linspace(0, 1, 100)), pitch=60)
    with pytest.raises(BadParameterError, match="finite"):
        play.interpolate(ex, "piano", "violin", [float("nan")], pitch=60)
    with pytest.raises(BadParameterError, match="method"):
        play.interpolate(ex, "piano", "violin", [0.5], pitch=60, method="wavenet")


def test_the_note_set_respects_what_each_source_has():
    """freepats has no viola (program 41): its notes are skipped, never rendered with a stand-in."""
    from timbrelab.explore.data import note_spec

    rows = note_spec("train").items()
    assert not any(r["soundfont"] == "freepats" and r["instrument"] == "viola" for r in rows)
    assert any(r["soundfont"] == "FluidR3_GM" and r["instrument"] == "viola" for r in rows)
    assert all(r["soundfont"] != "MuseScore_General" for r in rows)
    assert {r["soundfont"] for r in note_spec("test").items()} == {"MuseScore_General"}


def test_linear_probe_reads_separable_classes_and_not_noise():
    from timbrelab.eval.classification import linear_probe_accuracy

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    x = rng.standard_normal((400, 8)) + 5.0 * np.eye(8)[y]
    assert linear_probe_accuracy(x[:300], y[:300], x[300:], y[300:], 4) > 0.95
    noise = rng.standard_normal((400, 8))
    assert linear_probe_accuracy(noise[:300], y[:300], noise[300:], y[300:], 4) < 0.45


# ------------------------------------------------------------------ training


def _toy_notes(n=48, seed=0):
    from timbrelab.explore.data import FEATURES, N_FRAMES, NoteFeatures
    from timbrelab.sounds.taxonomy import class_names

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, FEATURES.n_mels, N_FRAMES)).astype(np.float32)
    yi, yp = rng.integers(0, 28, n), rng.integers(0, 69, n)
    return NoteFeatures(X, yi, yp, [{"i": i} for i in range(n)], tuple(class_names()))


def test_an_interrupted_training_resumes_to_the_same_weights(tmp_path):
    from timbrelab.explore.model import GMVAE
    from timbrelab.explore.train import ExplorerTrainConfig, fit_explorer

    train, val = _toy_notes(48, 0), _toy_notes(16, 1)
    cfg = ExplorerTrainConfig(epochs=2, patience=5, batch_size=16)

    def fresh():
        torch.manual_seed(0)
        return GMVAE(tiny_config())

    straight = fresh()
    fit_explorer(straight, train, val, cfg, progress=False, state_dir=tmp_path / "a")
    half = fresh()
    fit_explorer(half, train, val, ExplorerTrainConfig(epochs=1, patience=5, batch_size=16), progress=False, state_dir=tmp_path / "b")
    resumed = fresh()
    m = fit_explorer(resumed, train, val, cfg, progress=False, state_dir=tmp_path / "b")
    assert len(m["history"]) == 2 and len(m["history_terms"]) == 2
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


# ------------------------------------------------------------------ the CLI


@pytest.fixture
def toy_checkpoint(tmp_path):
    from timbrelab.ml.checkpoint import save_checkpoint

    path = tmp_path / "toy_explorer.safetensors"
    save_checkpoint(path, tiny_explorer().to_checkpoint())
    return path


def test_cli_interpolate_writes_files_per_alpha_and_json(tmp_path, toy_checkpoint, capsys):
    from timbrelab.cli import main

    out = tmp_path / "out"
    code = main(["explore", "interpolate", "--source", "piano", "--target", "sax", "--pitch", "60", "--alpha", "0", "0.5", "1",
                 "-o", str(out), "--model", str(toy_checkpoint), "--json"])
    assert code == 0
    r = json.loads(capsys.readouterr().out)
    assert r["source"] == "piano" and r["target"] == "saxophone" and len(r["files"]) == 3
    assert sorted(p.name for p in out.iterdir()) == ["piano_saxophone_60.png", "piano_saxophone_60_alpha=0.5.wav", "piano_saxophone_60_alpha=0.wav",
                                                      "piano_saxophone_60_alpha=1.wav"]


def test_cli_interpolate_from_a_note_file_and_encode_it(tmp_path, toy_checkpoint, capsys):
    from timbrelab.audio import write_audio
    from timbrelab.cli import main

    note = tmp_path / "my note.wav"
    write_audio(note, sine(440.0)[None], 22050)
    before = note.read_bytes()
    assert main(["explore", "interpolate", "--source", str(note), "--target", "violin", "-o", str(tmp_path / "o"), "--model", str(toy_checkpoint)]) == 0
    capsys.readouterr()
    assert main(["explore", "encode", str(note), "--model", str(toy_checkpoint), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert len(r["instruments"]) == 3 and 28 <= r["pitch_midi"] <= 96
    assert note.read_bytes() == before  # inputs are never modified
    assert len(list((tmp_path / "o").glob("*.wav"))) == 5


@pytest.mark.parametrize("argv, message", [
    (["explore", "interpolate", "--source", "kazoo", "--target", "violin", "--pitch", "60", "-o", "X"], "unknown instrument"),
    (["explore", "interpolate", "--source", "piano", "--target", "violin", "-o", "X"], "--pitch"),
    (["explore", "interpolate", "--source", "piano", "--target", "violin", "--pitch", "120", "-o", "X"], "outside"),
    (["explore", "interpolate", "--source", "missing.wav", "--target", "violin", "-o", "X"], "no such file"),
    (["explore", "traverse", "--instrument", "piano", "--pitch", "60", "--dim", "99", "-o", "X"], "out of range"),
    (["explore", "encode", "missing.wav"], "missing.wav"),
    (["explore"], "interpolate, traverse or encode"),
])
def test_cli_bad_input_is_one_line_and_a_non_zero_exit(tmp_path, toy_checkpoint, capsys, monkeypatch, argv, message):
    from timbrelab.cli import main

    monkeypatch.chdir(tmp_path)
    argv = argv + (["--model", str(toy_checkpoint)] if len(argv) > 1 else [])
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "X").exists() or not any((tmp_path / "X").iterdir())
