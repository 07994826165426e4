"""FRR-Net at tiny widths: shapes, the mask composite, the frozen identity features, one training step."""

import pytest
import torch

from frstudio.models import frrnet

TINY = {"width": 4, "depth": 1, "downsamplings": 2, "faceid": {"widths": [4, 8, 8, 8], "blocks": 1}}


@pytest.mark.parametrize("classifier", [True, False])
def test_outputs_and_the_mask_composite(classifier):
    torch.manual_seed(0)
    net = frrnet.build({**TINY, "classifier": classifier}).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = net(x)
    assert out["image"].shape == x.shape and out["mask"].shape == (2, 1, 64, 64)
    assert 0 <= out["mask"].min() and out["mask"].max() <= 1
    torch.testing.assert_close(out["image"], out["mask"] * out["restored"] + (1 - out["mask"]) * x)
    if classifier:
        assert out["labels"].shape == (2, 3) and ((0 <= out["labels"]) & (out["labels"] <= 1)).all()
    else:
        assert "labels" not in out


def test_starts_as_the_identity_so_clean_faces_are_not_over_processed():
    net = frrnet.build(TINY).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(x)["image"], x)  # zero-initialised image head: output = input


def test_a_training_step_moves_the_network_but_not_the_frozen_features():
    torch.manual_seed(0)
    net = frrnet.build(TINY).train()
    frozen = {k: v.clone() for k, v in net.features.state_dict().items()}
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-2)
    x, y = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    out = net(x)
    loss = (out["image"] - y).abs().mean() + torch.nn.functional.binary_cross_entropy_with_logits(out["logits"], torch.ones(2, 3))
    loss.backward()
    assert net.image_head.weight.grad.abs().sum() > 0 and net.classifier.mlp[0].weight.grad.abs().sum() > 0
    opt.step()
    for k, v in net.features.state_dict().items():
        torch.testing.assert_close(v, frozen[k])
    assert not net.features.training  # BatchNorm statistics stay frozen in train mode


def test_width_and_depth_scale_the_network():
    sizes = {(w, d): sum(p.numel() for p in frrnet.build({"width": w, "depth": d, "classifier": False}).parameters()) for w, d in [(8, 1), (12, 2), (16, 3)]}
    assert sizes[(8, 1)] < sizes[(12, 2)] < sizes[(16, 3)]
