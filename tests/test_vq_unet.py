"""The stochastic VQ U-Net: skip count, quantisation onto codebook rows, linear gated fusion, latent-gated noise
and seeds that reproduce a face whatever the batch."""

import pytest
import torch

from frstudio.models import vq_unet
from frstudio.models.quantize import Codebook
from frstudio.models.vq_unet import Config, LinearGatedFusion

SMALL = {"widths": [4, 8, 8, 8, 8], "codes": 16, "latent": 8, "style": 8}


def _net(**changes):
    torch.manual_seed(0)
    return vq_unet.build({**SMALL, **changes}).eval()


def test_skips_are_kept_from_the_lowest_resolution_up():
    assert Config(skips=0).kept() == () and Config(skips=2).kept() == (16, 32) and Config(skips=4).kept() == (16, 32, 64, 128)
    net = _net(skips=3)
    assert set(net.codebooks) == set(net.fusions) == set(net.skip_noise) == {"16", "32", "64"}
    assert net.codebooks["32"].dim == 8 and net.codebooks["64"].dim == 8
    with pytest.raises(ValueError):
        Config(skips=5)


def test_switches_remove_their_parts():
    net = _net(quantize=False, lgf=False, noise=False)
    assert not net.codebooks and not net.fusions and not net.skip_noise
    assert all(block.noise1 is None for block in net.decoder)


def test_output_shape_and_features_for_the_commitment_loss():
    net = _net(skips=2)
    x = torch.rand(3, 3, 128, 128)
    image, quantized = net(x, seed=0, return_features=True)
    assert image.shape == (3, 3, 128, 128) and set(quantized) == {16, 32}
    p, codes = quantized[32]
    assert p.shape == codes.shape == (3, 8, 32, 32)
    # every quantised vector is a row of the codebook
    rows = net.codebooks["32"].embed
    flat = codes.permute(0, 2, 3, 1).reshape(-1, 8)
    assert torch.cdist(flat, rows).min(dim=1).values.max() < 1e-5


def test_quantisation_replaces_features_by_their_nearest_code_straight_through():
    book = Codebook(3, 2)
    book.init_codes(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 5.0]]))
    z = torch.tensor([[0.9, 0.2], [0.1, 3.0]]).T.reshape(1, 2, 1, 2).requires_grad_()
    q, codes, idx = book(z)
    assert idx.tolist() == [[[1, 2]]]
    torch.testing.assert_close(q.detach(), codes)
    q.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))  # the gradient passes through unchanged


def test_lgf_window_and_gate():
    assert LinearGatedFusion(16).r == 1 and LinearGatedFusion(32).r == 1
    assert LinearGatedFusion(64).r == 2 and LinearGatedFusion(128).r == 4 and LinearGatedFusion(128).side == 32
    fusion = LinearGatedFusion(64)
    p, q = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(fusion(p, q), q + 0.5 * p)  # W = 0 at the start: s = sigmoid(0) everywhere
    with torch.no_grad():
        fusion.linear.bias.fill_(-30.0)  # gate shut: the decoder's features only
    torch.testing.assert_close(fusion(p, q), q)


def test_a_seed_gives_one_face_whatever_the_batch():
    net = _net()
    x = torch.rand(3, 3, 128, 128)
    with torch.no_grad():
        alone = net(x[1:2], seed=7)
        batch = net(x, seed=7)
        per_face = net(x, seed=[1, 7, 2])
        other = net(x[1:2], seed=8)
    torch.testing.assert_close(batch[1:2], alone)
    torch.testing.assert_close(per_face[1:2], alone)
    assert (other - alone).abs().max() > 1e-4  # a different seed, a different face
    with pytest.raises(ValueError):
        net(x, seed=[1, 2])


def test_the_latent_gates_the_noise():
    net = _net()
    x = torch.rand(2, 3, 128, 128)
    for module in net.modules():
        if isinstance(module, vq_unet.GatedNoise):
            torch.nn.init.constant_(module.gate.bias, -40.0)  # sigmoid(Az) = 0: no noise gets through
    with torch.no_grad():
        torch.testing.assert_close(net(x, seed=1), net(x, seed=2))


def test_noise_off_is_deterministic_and_residual_starts_near_the_input():
    net = _net(noise=False)
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(net(x, seed=1), net(x, seed=2))
        assert not torch.equal(net(x), x)
