"""The model registry and the service layer: every shipped model loads by name, round-trips through the
one checkpoint format with identical outputs, and a service owns its models' lifetimes."""

import numpy as np
import pytest

from timbrelab import models
from timbrelab.ml.checkpoint import load_checkpoint, save_checkpoint

WORDS = ["warm", "toasty", "velvety", "church", "silky", "bright"]


def _noise():
    from timbrelab.dsp.signals import pink_noise

    return pink_noise(4.0, 22050, channels=1, seed=7), 22050


#: how to query each registered model; a model shipped without an entry here fails the test below
PROBES = {
    "word2eq": lambda m: m.predict(WORDS),
    "word2reverb": lambda m: m.predict(WORDS),
    "timbre_cnn": lambda m: np.array(list(m.classify(*_noise(), 5).probabilities.values())),
    "timbreclap": lambda m: np.concatenate([m.embed_audio(*_noise()), m.embed_text(["a warm sound", "a violin"]).ravel()]),
    "timbreclap_heldout": lambda m: np.concatenate([m.embed_audio(*_noise()), m.embed_text(["a warm sound", "a violin"]).ravel()]),
    "separator": lambda m: m.separate(*_noise(), ["the violin", "a tuba"]).ravel(),
    "explorer": lambda m: np.concatenate([m.decode(*m.interpolation_latents("piano", "violin", [0, 0.5, 1], pitch=67)).ravel(),
                                          m.encode_audio(*_noise())["z_timbre"].ravel()]),
}


def test_every_shipped_model_is_listed_and_loads():
    names = models.available()
    assert {"word2eq", "word2reverb", "timbre_cnn"} <= set(names)
    for name in names:
        e = models.info(name)
        assert e["loader"] and e["checkpoint"] in e["files"] and e["training_command"].startswith("timbrelab train ")
        assert e.get("git_commit") and e.get("recipe", {}).get("model", {}).get("name") == name
        assert models.load(name) is not None


@pytest.mark.parametrize("name", models.available())
def test_round_trip_gives_identical_outputs(name, tmp_path):
    assert name in PROBES, f"{name} is shipped but has no probe in tests/test_models.py"
    m = models.load(name)
    ckpt = m.to_checkpoint()
    save_checkpoint(tmp_path / "m.safetensors", ckpt)
    back = type(m).from_checkpoint(load_checkpoint(tmp_path / "m.safetensors"))
    a, b = PROBES[name](m), PROBES[name](back)
    assert np.array_equal(a, b), name


def test_data_is_not_a_model():
    with pytest.raises(Exception):
        models.load("text_embeddings")


def test_service_loads_on_first_use_and_holds_until_closed():
    from timbrelab.service import Service

    loads = []

    def loader(name):
        loads.append(name)
        return models.load(name)

    with Service(loader=loader) as s:
        s.plan("warm, small room")  # crowd-map words: no model needed
        assert loads == [] and s.loaded == []
        s.plan("toasty")
        s.plan("toasty, a bit velvety")
        assert loads == ["word2eq"]  # loaded once, held
        assert s.loaded == ["word2eq"]
    assert s.loaded == []


def test_two_services_share_no_state():
    from timbrelab.service import Service

    class Fixed:
        def __call__(self, phrase, effect, known=None):
            from timbrelab.lexicon.resolve import Resolution

            return Resolution(phrase=phrase, effect="eq", source="test", settings=tuple([1.0] * 40), used=[{"word": "fixed"}])

    custom, default = Service(fallback=Fixed()), Service()
    assert custom.plan("zzyzx").resolutions[0].source == "test"
    assert default.plan("toasty").resolutions[0].source == "model"  # the custom strategy did not leak
