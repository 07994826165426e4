"""The progressive generator (seed 003): both objectives, every step's resolution, the input skip."""

import pytest
import torch

from frstudio.models import MODELS, progressive

SMALL = {"widths": [8, 8, 4, 4], "blocks": [1, 1, 1], "encoder_width": 4, "encoder_channels": 16}


@pytest.mark.parametrize("objective,size", [("16", 16), ("128", 128)])
def test_each_step_doubles_the_resolution(objective, size):
    net = progressive.build({"objective": objective, **SMALL}).eval()
    x = torch.rand(2, 3, size, size)
    with torch.no_grad():
        assert [tuple(net(x, k).shape) for k in (1, 2, 3)] == [(2, 3, 32, 32), (2, 3, 64, 64), (2, 3, 128, 128)]
        assert torch.equal(net(x), net(x, 3))  # the app runs the whole generator
    assert (net.encoder is not None) == (objective == "128")


def test_the_input_skip_starts_from_the_resized_input():
    """With its RGB head at zero the generator returns its input resized: it learns a correction."""
    net = progressive.build({"objective": "128", **SMALL}).eval()
    with torch.no_grad():
        for step in net.steps:
            step.to_rgb.weight.zero_()
            step.to_rgb.bias.zero_()
        x = torch.rand(1, 3, 128, 128)
        torch.testing.assert_close(net(x), x)
        no_skip = progressive.build({"objective": "128", "input_skip": False, **SMALL}).eval()
        no_skip.load_state_dict(net.state_dict())
        assert float(no_skip(x).abs().max()) == 0


def test_config_is_checked_and_round_trips():
    with pytest.raises(ValueError, match="objective"):
        progressive.Config(objective="64")
    with pytest.raises(ValueError, match="widths"):
        progressive.Config(widths=(8, 8))
    assert progressive.Config(objective=16).objective == "16"  # as a command line or JSON may give it
    cfg = progressive.Config(objective="128", **SMALL)
    assert progressive.Config(**progressive.config_dict(cfg)) == cfg


def test_shipped_sizes_fit_the_model_table_and_the_weight_budget():
    for name, objective in (("progressive_16", "16"), ("progressive_128", "128")):
        spec, cfg = MODELS[name], progressive.Config(objective=objective)
        assert spec.module == "frstudio.models.progressive" and spec.input_size == cfg.input_size and spec.output_size == 128
        params = sum(p.numel() for p in progressive.build(cfg).parameters())
        assert params * 2 < 20 * 2**20  # fp16 bytes under the 20 MiB limit
