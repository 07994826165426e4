"""MMRB codec + StyleGAN2 prior: the MMRB's split / cross-concatenated branches and residual, the codec's
per-scale features feeding the generator's noise branches by concatenation, and the size limits of the issue."""

import pytest
import torch

from frstudio.models import mmrb_stylegan
from frstudio.models.mmrb_stylegan import MMRB, RESOLUTIONS, Config

SMALL = {"channels": [8, 8, 8, 8, 4, 4], "noise_channels": [4, 4, 4, 4, 2, 2], "style": 8, "latent": 8,
         "mapping_layers": 2, "enc_channels": [4, 4, 4, 4, 4, 4]}


def _net(**changes):
    torch.manual_seed(0)
    return mmrb_stylegan.build({**SMALL, **changes}).eval()


def test_restores_128_crops_and_the_decoder_gives_one_rgb_image_per_scale():
    net = _net()
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        out, pyramid = net(x, return_pyramid=True)
        feats, z = net.codec(x)
    assert out.shape == (2, 3, 128, 128) and torch.isfinite(out).all()
    assert [p.shape[-1] for p in pyramid] == list(RESOLUTIONS) and all(p.shape[1] == 3 for p in pyramid)
    assert [(f.shape[1], f.shape[-1]) for f in feats] == list(zip(SMALL["noise_channels"], RESOLUTIONS))
    assert z.shape == (2, SMALL["latent"])


def test_noise_branches_are_concatenated_and_carry_the_codec_features():
    net = _net()
    block = net.generator.blocks[-1]
    assert block.conv.weight.shape[1] == SMALL["channels"][-1] + SMALL["noise_channels"][-1]  # eq. 3: concat
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        feats, z = net.codec(x)
        w = net.generator.mapping(z)
        base = net.generator.synthesis(w, feats)
        changed = [f.clone() for f in feats]
        changed[-1][:, :, 60:68, 60:68] += 3.0  # the 128 px features of a small patch
        moved = net.generator.synthesis(w, changed)
    diff = (moved - base).abs().sum(dim=1)[0]
    assert diff[60:68, 60:68].mean() > 10 * max(float(diff[:20, :20].mean()), 1e-6)  # local, as noise is


def test_unconditional_samples_and_truncation_toward_the_mean_style():
    g = _net().generator
    with torch.no_grad():  # styles start neutral (a plain convolution): give them an effect
        for name, p in g.named_parameters():
            if "affine.weight" in name:
                p.normal_(0, 0.5)
    z = torch.randn(3, SMALL["latent"], generator=torch.Generator().manual_seed(0))
    noise = [n[:1].repeat(3, 1, 1, 1) for n in g.random_noise(1, generator=torch.Generator().manual_seed(1))]
    with torch.no_grad():
        g.w_avg.copy_(g.mapping(torch.randn(64, SMALL["latent"])).mean(0))
        a, b = g(z, noise), g(z, noise, truncation=0.0)
    assert a.shape == (3, 3, 128, 128)
    assert torch.allclose(b[0], b[1], atol=1e-5) and not torch.allclose(a[0], a[1], atol=1e-3)  # psi 0, same noise: one face


def test_mmrb_splits_cross_concatenates_and_adds_the_input():
    torch.manual_seed(0)
    block = MMRB(8).eval()
    assert block.a3.in_channels == 4 and block.a5.kernel_size == (5, 5) and block.b3.in_channels == 8
    assert block.fuse.kernel_size == (1, 1) and block.fuse.in_channels == 16 and block.fuse.out_channels == 8
    x = torch.randn(1, 8, 16, 16)
    with torch.no_grad():
        torch.nn.init.zeros_(block.fuse.weight), torch.nn.init.zeros_(block.fuse.bias)
        assert torch.equal(block(x), x)  # the residual path (eq. 10)
    x.requires_grad_(True)
    torch.manual_seed(0)
    block = MMRB(8)
    block(x)[:, :4].sum().backward()  # the first half of the output depends on both halves of the input
    assert x.grad[:, :4].abs().sum() > 0 and x.grad[:, 4:].abs().sum() > 0


def test_encoder_has_more_mmrbs_than_the_decoder_by_default():
    c = Config()
    assert c.enc_mmrb == c.dec_mmrb + 1
    net = mmrb_stylegan.build(c)
    assert all(len(stage) == 1 for stage in net.codec.encoder) and all(len(stage) == 0 for stage in net.codec.decoder)


def test_default_size_is_within_the_issue_limits():
    net = mmrb_stylegan.build({})
    params = sum(p.numel() for p in net.parameters())
    assert params <= 25e6 and params * 2 / 2**20 <= 20  # fp16 bytes


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="one per resolution"):
        Config(channels=(8, 8))
    with pytest.raises(ValueError, match="even"):
        Config(enc_channels=(3, 4, 4, 4, 4, 4))
