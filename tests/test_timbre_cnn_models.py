"""Timbre CNN architectures (shapes, sizes, initialisation, training steps); the front end's own tests
are in tests/test_features.py."""

import json

import numpy as np
import pytest
import torch

from timbrelab.errors import BadParameterError
from timbrelab.features.standardize import Standardizer
from timbrelab.timbre_cnn.models import (
    ARCHITECTURES,
    TimbreCNNConfig,
    build_model,
    count_parameters,
    paper_configs,
    parameters_of,
)


def with_random_head(model):
    """The output layer starts at zero (logits all 0); give it weights so outputs depend on the input."""
    torch.nn.init.normal_(model.output_layer.weight, std=0.1)
    return model


@pytest.fixture(scope="module")
def configs11():
    return paper_configs(11)


def test_standardizer_statistics_ship_with_the_model_weights():
    torch.manual_seed(0)
    model = with_random_head(build_model(TimbreCNNConfig("dieleman", 5, width=8))).eval()
    feats = 3 + 2 * torch.randn(6, 1, 96, 128)
    model.standardizer.fit(feats)
    state = model.state_dict()
    assert {"standardizer.mean", "standardizer.std", "standardizer.n_values"} <= set(state)
    torch.manual_seed(1)
    fresh = build_model(model.config.to_dict()).eval()
    fresh.load_state_dict(state)
    assert fresh.standardizer.fitted
    torch.testing.assert_close(fresh(feats), model(feats))
    assert not torch.allclose(Standardizer(96)(feats), model.standardizer(feats))


# ---------------------------------------------------------------------------------------- models


def test_every_architecture_maps_a_batch_to_logits(configs11):
    assert {c.arch for c in configs11.values()} == set(ARCHITECTURES)
    x = torch.randn(2, 1, 96, 128)
    for name, config in configs11.items():
        torch.manual_seed(0)
        model = with_random_head(build_model(config)).eval()
        with torch.no_grad():
            out = model(x)
        assert out.shape == (2, 11), name
        assert torch.isfinite(out).all(), name
        assert not torch.allclose(out[0], out[1]), name
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, 0]), out)  # (batch, n_mels, frames) is accepted too
        assert torch.equal(build_model(config)(x), torch.zeros(2, 11))  # the output layer starts at zero


def test_parameter_counts_near_the_paper_and_budgets_matched(configs11):
    single = parameters_of(configs11["single-layer"])
    multi = parameters_of(configs11["multi-layer"])
    assert abs(single - 62_000) <= 0.25 * 62_000, single
    assert abs(multi - 743_000) <= 0.25 * 743_000, multi
    assert (single, multi) == (61_867, 840_619)  # the counts models.py documents
    assert parameters_of(TimbreCNNConfig("multi-layer", 11, first_pool=(24, 32))) == 742_315
    for arch in ("small-rect", "dieleman"):
        assert abs(parameters_of(configs11[f"{arch}-1x"]) / multi - 1) < 0.05, arch
        two = parameters_of(configs11[f"{arch}-2x"])
        assert 2 * multi <= two <= 2.1 * multi, arch
    torch.manual_seed(0)
    assert count_parameters(build_model(configs11["single-layer"])) == single  # meta count == real count


def test_init_is_deterministic_given_the_seed():
    config = TimbreCNNConfig("multi-layer", 11)
    torch.manual_seed(7)
    a = build_model(config).state_dict()
    torch.manual_seed(7)
    b = build_model(config).state_dict()
    torch.manual_seed(8)
    c = build_model(config).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["body.conv2.0.weight"], c["body.conv2.0.weight"])


def test_three_training_steps_reduce_the_loss():
    # The single-layer on 32-frame windows (cheap); Adam at 1e-4, the rate it needs (see models.py).
    torch.manual_seed(0)
    model = build_model(TimbreCNNConfig("single-layer", 4, frames=32, dropout=0.0)).train()
    x = torch.randn(8, 1, 96, 32)
    y = torch.arange(8) % 4
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    losses = []
    for _ in range(4):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[0] == pytest.approx(np.log(4), abs=1e-5)  # zero output layer
    assert losses[1] < losses[0] and losses[2] < losses[1] and losses[3] < losses[0] - 0.05, losses


# ------------------------------------------------------------------------------------ bad inputs


def test_config_round_trip_through_json():
    m = TimbreCNNConfig("small-rect", 20, width=12, first_pool=(24, 32))
    assert TimbreCNNConfig.from_dict(json.loads(json.dumps(m.to_dict()))) == m


def test_bad_settings_and_shapes_raise_project_errors():
    with pytest.raises(BadParameterError):
        TimbreCNNConfig("resnet")
    with pytest.raises(BadParameterError):
        TimbreCNNConfig("single-layer", n_mels=64)  # the 80-bin filters need 80 bands
    with pytest.raises(BadParameterError):
        TimbreCNNConfig("multi-layer", dropout=1.0)
    model = build_model(TimbreCNNConfig("small-rect", 3, width=4))
    with pytest.raises(BadParameterError):
        model(torch.zeros(2, 1, 96, 100))  # not a 128-frame window
    with pytest.raises(BadParameterError):
        model(torch.zeros(2, 2, 96, 128))
