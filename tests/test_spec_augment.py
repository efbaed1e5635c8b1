"""SpecAugment masks (features.spec_augment): seeded, bounded, filled with the given band values, off by default;
and in training (train_on_clips) an empty config trains exactly as before, masks change the run."""

import numpy as np
import pytest
import torch

from timbrelab.errors import BadParameterError
from timbrelab.features.spec_augment import SpecAugmentConfig, spec_augment


def maps(n=6, bands=20, frames=30):
    return torch.arange(n * bands * frames, dtype=torch.float32).reshape(n, bands, frames) + 1000.0


def test_masks_are_seeded_bounded_and_filled_with_the_band_values():
    x, fill = maps(), torch.arange(20, dtype=torch.float32) * -1.0
    cfg = SpecAugmentConfig(freq_masks=2, max_bands=5, time_masks=1, max_frames=7)
    a = spec_augment(x, np.random.default_rng(3), cfg, fill)
    b = spec_augment(x, np.random.default_rng(3), cfg, fill)
    c = spec_augment(x, np.random.default_rng(4), cfg, fill)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(x, maps())  # the input is not modified
    masked = a != x
    # a masked cell holds its band's fill value; an unmasked one is untouched
    bands = torch.arange(20)[None, :, None].expand_as(a)
    assert torch.equal(a[masked], fill[bands[masked]])
    for i in range(len(x)):
        full_bands = masked[i].all(dim=1).sum().item()  # bands masked over every frame: the band masks
        full_frames = masked[i].all(dim=0).sum().item()
        assert full_bands <= 2 * 5 and full_frames <= 7
        assert masked[i].sum() == full_bands * 30 + full_frames * 20 - full_bands * full_frames  # masks are whole bands and whole frame spans
    assert masked.any()


def test_four_dimensional_maps_and_an_inactive_config():
    x, fill = maps()[:, None], torch.zeros(20)
    y = spec_augment(x, np.random.default_rng(0), SpecAugmentConfig(freq_masks=1, max_bands=20), fill)
    assert y.shape == x.shape and (y == 0).any()
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert spec_augment(x, rng, SpecAugmentConfig(), fill) is x and rng.bit_generator.state == state  # off: nothing drawn
    assert not SpecAugmentConfig(freq_masks=2).active  # a count without a width masks nothing


@pytest.mark.parametrize("bad", [{"freq_masks": -1}, {"max_bands": 1.5}, {"time_masks": True}, {"width": 3}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(BadParameterError):
        SpecAugmentConfig.from_dict(bad)
    with pytest.raises(BadParameterError):
        spec_augment(maps(), np.random.default_rng(0), SpecAugmentConfig(1, 2), torch.zeros(3))


def test_training_without_masks_is_unchanged_and_masks_change_it():
    from test_timbre_cnn_train import tiny_clip_maps

    from timbrelab.timbre_cnn.models import TimbreCNNConfig
    from timbrelab.timbre_cnn.train import TrainConfig, train_on_clips

    maps_, val = tiny_clip_maps(), tiny_clip_maps(seed=1, n_clips=6).windows()
    mc = TimbreCNNConfig("small-rect", 3, width=4)
    kw = dict(max_epochs=2, patience=None, batch_size=4, epoch_clips=12, seed=2)
    plain = train_on_clips(mc, maps_, val, TrainConfig(**kw), progress=False)
    again = train_on_clips(mc, maps_, val, TrainConfig(**kw, spec_augment={}), progress=False)
    masked = train_on_clips(mc, maps_, val, TrainConfig(**kw, spec_augment={"freq_masks": 2, "max_bands": 30}), progress=False)
    assert [h["train_loss"] for h in plain.history] == [h["train_loss"] for h in again.history]
    assert [h["train_loss"] for h in plain.history] != [h["train_loss"] for h in masked.history]


def test_cosine_schedule_and_bf16_train_and_bad_values_are_refused():
    from test_timbre_cnn_train import tiny_clip_maps

    from timbrelab.timbre_cnn.models import TimbreCNNConfig
    from timbrelab.timbre_cnn.train import TrainConfig, train_on_clips

    maps_, val = tiny_clip_maps(), tiny_clip_maps(seed=1, n_clips=6).windows()
    mc = TimbreCNNConfig("small-rect", 3, width=4)
    kw = dict(max_epochs=2, patience=None, batch_size=4, epoch_clips=12, seed=2)
    plain = train_on_clips(mc, maps_, val, TrainConfig(**kw), progress=False)
    for opt in ({"lr_schedule": "cosine"}, {"precision": "bf16"}):
        r = train_on_clips(mc, maps_, val, TrainConfig(**kw, **opt), progress=False)
        assert r.history[0]["train_loss"] != plain.history[0]["train_loss"] or r.history[1]["train_loss"] != plain.history[1]["train_loss"]
        assert all(np.isfinite(h["train_loss"]) for h in r.history)
        assert all(v.dtype != torch.bfloat16 for v in r.model.state_dict().values())  # the weights stay fp32
    for bad in ({"lr_schedule": "linear"}, {"precision": "fp16"}):
        with pytest.raises(BadParameterError):
            TrainConfig(**bad)
