"""training.losses: each loss against a value worked out by hand, on tiny tensors (the whole file runs in seconds)."""

import math

import pytest
import torch
from torch.nn import functional as F

torch.set_num_threads(1)  # leave the other core to whatever is training

from frstudio.core import restore  # noqa: E402
from frstudio.core.errors import WeightsError  # noqa: E402
from frstudio.models import faceid  # noqa: E402
from training import losses as L  # noqa: E402
from training.losses import augment  # noqa: E402


def close(a, b, tol=1e-6):
    a = a.detach() if isinstance(a, torch.Tensor) else a
    return abs(float(a) - float(b)) <= tol


# ---------------------------------------------------------------------------------------------------- pixel


def test_l1_l2_charbonnier_by_hand():
    pred = torch.tensor([0.0, 1.0, 3.0, -2.0])
    target = torch.tensor([0.0, 0.0, 1.0, 1.0])  # errors 0, 1, 2, -3
    assert close(L.l1(pred, target), (0 + 1 + 2 + 3) / 4)
    assert close(L.l2(pred, target), (0 + 1 + 4 + 9) / 4)
    eps = 0.5
    expected = (math.sqrt(0.25) + math.sqrt(1.25) + math.sqrt(4.25) + math.sqrt(9.25)) / 4
    assert close(L.charbonnier(pred, target, eps=eps), expected)
    assert close(L.charbonnier(target, target), 1e-3)  # eps where they agree


def test_channel_huber_quadratic_and_linear_regimes():
    target = torch.zeros(1, 2, 1, 2)
    pred = torch.tensor([[[[0.1, -0.2]], [[2.0, -4.0]]]])
    # delta 1: channel 0 is quadratic (0.005, 0.02), channel 1 linear (1 * (2 - .5), 1 * (4 - .5))
    ch0, ch1 = (0.005 + 0.02) / 2, (1.5 + 3.5) / 2
    assert close(L.channel_huber(pred, target, delta=1.0), (ch0 + ch1) / 2)
    assert close(L.channel_huber(pred, target, delta=1.0), F.huber_loss(pred, target, delta=1.0))
    # one threshold per channel: channel 1 with delta 5 is quadratic too (2, 8)
    assert close(L.channel_huber(pred, target, delta=[1.0, 5.0]), (ch0 + (2.0 + 8.0) / 2) / 2)
    with pytest.raises(ValueError):
        L.channel_huber(pred, target, delta=[1.0, 2.0, 3.0])


def test_angular_colour_loss_scaled_orthogonal_and_zero():
    rgb = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0)) + 0.1
    assert float(L.angular_colour_loss(3 * rgb, rgb)) < 2e-3  # brightness is ignored (floor sqrt(2 eps))
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1
    green = torch.zeros(1, 3, 2, 2)
    green[:, 1] = 0.5
    assert close(L.angular_colour_loss(red, green), math.pi / 2, 1e-5)
    assert close(L.angular_colour_loss(red, -red), math.pi, 2e-3)
    # a black pixel: finite value (pi/2) and finite gradients
    pred = torch.zeros(1, 3, 2, 2, requires_grad=True)
    loss = L.angular_colour_loss(pred, red)
    loss.backward()
    assert close(loss, math.pi / 2, 1e-5) and torch.isfinite(pred.grad).all()


def test_angular_colour_loss_is_the_mean_angle():
    pred = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]).view(1, 3, 1, 2)  # (1,0,0) and (1,1,0)
    target = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]).view(1, 3, 1, 2)  # (1,1,0) and (1,0,0)
    assert close(L.angular_colour_loss(pred, target), math.pi / 4, 1e-5)


def test_dice_identical_disjoint_and_half():
    a = torch.zeros(2, 1, 4, 4)
    a[:, :, :2] = 1
    b = 1 - a
    assert close(L.dice_loss(a, a), 0.0)
    assert close(L.dice_loss(a, b), 1.0)
    assert close(L.dice_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)), 0.0)  # both empty: a match
    # soft prediction 0.5 everywhere vs a half mask: intersection 4, sums 8 + 8 (plain) or 4 + 8 (squared)
    p = torch.full((1, 1, 4, 4), 0.5)
    assert close(L.dice_loss(p, a[:1], squared=False), 1 - 8 / 16)
    assert close(L.dice_loss(p, a[:1], squared=True), 1 - 8 / 12)
    # per image, then the mean: one perfect image (0) and one disjoint (1)
    assert close(L.dice_loss(torch.cat([a[:1], a[:1]]), torch.cat([a[:1], b[:1]])), 0.5)


def test_total_variation_of_a_ramp():
    ramp = torch.arange(5.0).mul(0.5).view(1, 1, 1, 5).expand(2, 2, 3, 5)  # +0.5 per column, constant down
    assert close(L.total_variation(ramp, mode="l1"), 0.5)
    assert close(L.total_variation(ramp, mode="l2"), 0.25)
    assert close(L.total_variation(ramp.transpose(2, 3), mode="l2"), 0.25)
    assert close(L.total_variation(torch.ones(1, 2, 4, 4)), 0.0)
    with pytest.raises(ValueError):
        L.total_variation(ramp, mode="huber")


# ----------------------------------------------------------------------------------------------------- flow


def test_pixels_unit_round_trip_and_conventions():
    size = (8, 16)  # H, W
    px = torch.tensor([[0.0, 0.0], [15.0, 7.0], [7.5, 3.5], [-0.5, -0.5]])
    u = L.pixels_to_unit(px, size)  # align_corners=False: pixel centres at (2x + 1) / W - 1
    assert torch.allclose(u[0], torch.tensor([-1 + 1 / 16, -1 + 1 / 8]))
    assert torch.allclose(u[1], torch.tensor([1 - 1 / 16, 1 - 1 / 8]))
    assert torch.allclose(u[2], torch.zeros(2))  # the image centre
    assert torch.allclose(u[3], torch.tensor([-1.0, -1.0]))  # the outer corner
    ua = L.pixels_to_unit(px, size, align_corners=True)  # border pixel centres at -1 and +1
    assert torch.allclose(ua[0], torch.tensor([-1.0, -1.0])) and torch.allclose(ua[1], torch.tensor([1.0, 1.0]))
    for ac in (False, True):
        assert torch.allclose(L.unit_to_pixels(L.pixels_to_unit(px, size, ac), size, ac), px, atol=1e-6)
    assert torch.allclose(L.pixels_to_unit(px[:3], 16), L.pixels_to_unit(px[:3], (16, 16)))


@pytest.mark.parametrize("align_corners", [False, True])
def test_identity_flow_matches_grid_sample(align_corners):
    img = torch.rand(2, 3, 6, 5, generator=torch.Generator().manual_seed(1))
    flow = L.identity_flow(2, 6, 5, align_corners=align_corners)
    assert flow.shape == (2, 2, 6, 5)
    assert torch.allclose(L.warp(img, flow, align_corners=align_corners), img, atol=1e-5)
    # the same grid as affine_grid's identity
    theta = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    grid = F.affine_grid(theta, (2, 3, 6, 5), align_corners=align_corners)
    assert torch.allclose(flow.permute(0, 2, 3, 1), grid, atol=1e-6)


def test_flow_landmark_loss_identity_and_constant_shift():
    gen = torch.Generator().manual_seed(2)
    size = 32
    lm = torch.rand(2, 68, 2, generator=gen) * (size - 1)  # inside the pixel centres' hull
    flow = L.identity_flow(2, size, size)
    assert close(L.flow_landmark_loss(flow, lm, lm, size), 0.0, 1e-9)
    # a flow that samples (0.1, -0.2) further in unit coordinates: 68 * (0.1^2 + 0.2^2) per image
    shifted = flow + torch.tensor([0.1, -0.2]).view(1, 2, 1, 1)
    assert close(L.flow_landmark_loss(shifted, lm, lm, size), 68 * 0.05, 1e-5)
    assert close(L.flow_landmark_loss(shifted, lm, lm, size, reduction="mean"), 0.05 / 2, 1e-6)
    # ... which is zero when the reference's landmarks are where that flow points: 1.6 px right, 3.2 px up
    ref = lm + torch.tensor([0.1 * size / 2, -0.2 * size / 2])
    assert close(L.flow_landmark_loss(shifted, lm, ref, size), 0.0, 1e-9)
    # the flow may be at another resolution: the unit coordinates mean the same place (an 8 x 8 flow's pixel
    # centres cover fine pixels 1.5 .. 29.5; outside them the border padding would take over)
    inner = 2 + lm * 27 / (size - 1)
    assert close(L.flow_landmark_loss(L.identity_flow(2, 8, 8), inner, inner, size), 0.0, 1e-9)


def test_flow_landmark_loss_convention_agrees_with_warp():
    """A zero-loss flow carries a reference's bright dot onto the target's landmark."""
    size = 16
    ref_img = torch.zeros(1, 1, size, size)
    ref_img[0, 0, 4, 10] = 1.0  # (x, y) = (10, 4)
    lm_ref, lm_tgt = torch.tensor([[[10.0, 4.0]]]), torch.tensor([[[6.0, 9.0]]])
    shift = L.pixels_to_unit(lm_ref, size) - L.pixels_to_unit(lm_tgt, size)  # 1 x 1 x 2
    flow = L.identity_flow(1, size, size) + shift.view(1, 2, 1, 1)
    assert close(L.flow_landmark_loss(flow, lm_tgt, lm_ref, size), 0.0, 1e-9)
    warped = L.warp(ref_img, flow)
    assert close(warped[0, 0, 9, 6], 1.0, 1e-5)


def test_flow_landmark_loss_gradient_and_shape_check():
    flow = L.identity_flow(1, 8, 8).requires_grad_(True)
    lm = torch.tensor([[[3.0, 3.0]]])
    L.flow_landmark_loss(flow, lm, lm + 1, 8).backward()
    assert flow.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        L.flow_landmark_loss(flow.detach().permute(0, 2, 3, 1), lm, lm, 8)


# ---------------------------------------------------------------------------------------------- adversarial


def test_gan_losses_at_known_logits():
    zero = torch.zeros(4)
    ln2 = math.log(2)
    assert close(L.ns_d_loss(zero, zero), 2 * ln2)
    assert close(L.ns_g_loss(zero), ln2)
    big = torch.full((3,), 30.0)
    assert close(L.ns_d_loss(big, -big), 0.0, 1e-9) and close(L.ns_g_loss(-big), 30.0, 1e-5)
    # label smoothing 0.9 at logit 0: still ln 2 (cross-entropy of any target with p = 1/2)
    assert close(L.ns_d_loss(zero, zero, real_label=0.9), 2 * ln2)
    x = torch.tensor([2.0])
    smoothed_real = 0.9 * math.log1p(math.exp(-2)) + 0.1 * math.log1p(math.exp(2))
    assert close(L.ns_d_loss(x, -x, real_label=0.9), smoothed_real + math.log1p(math.exp(-2)))
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert close(L.hinge_d_loss(real, fake), (0 + 0.5) / 2 + (0 + 1) / 2)
    assert close(L.hinge_g_loss(fake), 1.0)
    assert close(L.wgan_d_loss(real, fake), -1.0 - 1.25)
    assert close(L.wgan_g_loss(fake), 1.0)


def _linear_d(weight: torch.Tensor):
    return lambda x: (x * weight).flatten(1).sum(dim=1)


def test_gradient_penalty_zero_for_unit_gradient_and_known_otherwise():
    gen = torch.Generator().manual_seed(3)
    real, fake = torch.rand(2, 3, 4, 4, generator=gen), torch.rand(2, 3, 4, 4, generator=gen)
    unit = torch.ones(3, 4, 4) / math.sqrt(48)  # ||grad D|| = 1 everywhere
    assert close(L.gradient_penalty(_linear_d(unit), real, fake), 0.0, 1e-10)
    assert close(L.gradient_penalty(_linear_d(3 * unit), real, fake), 4.0, 1e-5)  # (3 - 1)^2
    # a quadratic critic D(x) = sum x^2 / 2 has gradient x_hat: the penalty follows the mixing weight
    zeros, twos = torch.zeros(1, 1, 1, 1), torch.full((1, 1, 1, 1), 2.0)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = float(torch.rand((1, 1, 1, 1), generator=g1))
    gp = L.gradient_penalty(lambda x: (x * x).sum() / 2, twos, zeros, generator=g2)
    assert close(gp, (2 * a - 1) ** 2, 1e-5)


def test_gradient_penalty_trains_the_discriminator():
    d = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 1))
    real, fake = torch.rand(2, 3, 2, 2), torch.rand(2, 3, 2, 2, requires_grad=True)
    L.gradient_penalty(d, real, fake).backward()
    assert d[1].weight.grad is not None and d[1].weight.grad.abs().sum() > 0
    assert fake.grad is None  # the fake batch is detached


def test_r1_penalty_of_a_linear_discriminator():
    w = torch.tensor([1.0, -2.0, 2.0]).view(1, 3, 1, 1)
    real = torch.rand(2, 3, 1, 1).requires_grad_(True)
    assert close(L.r1_penalty(_linear_d(w)(real), real), 9.0, 1e-6)  # ||w||^2
    with pytest.raises(ValueError):
        x = torch.rand(2, 3, 1, 1)
        L.r1_penalty(_linear_d(w)(x), x)


def test_feature_matching_is_l1_with_real_detached():
    real = [torch.zeros(1, 2, 2, 2, requires_grad=True), torch.ones(1, 4, requires_grad=True)]
    fake = [torch.full((1, 2, 2, 2), 0.5, requires_grad=True), torch.full((1, 4), 3.0, requires_grad=True)]
    loss = L.feature_matching(real, fake)
    assert close(loss, 0.5 + 2.0)
    loss.backward()
    assert real[0].grad is None and fake[0].grad is not None
    with pytest.raises(ValueError):
        L.feature_matching(real, fake[:1])


# ----------------------------------------------------------------------------------------------- DiffAugment


def test_diff_augment_shape_gradient_and_reproducibility():
    x = torch.rand(3, 3, 16, 16, requires_grad=True)
    y = L.diff_augment(x, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    a = L.diff_augment(x, "color,translation,cutout", generator=torch.Generator().manual_seed(7))
    b = L.diff_augment(x, "color,translation,cutout", generator=torch.Generator().manual_seed(7))
    c = L.diff_augment(x, "color,translation,cutout", generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # the same draw on two batches (real and fake): equal seeds give equal shifts
    real = L.diff_augment(x, "translation", generator=torch.Generator().manual_seed(9))
    fake = L.diff_augment(2 * x, "translation", generator=torch.Generator().manual_seed(9))
    assert torch.allclose(fake, 2 * real)
    assert L.diff_augment(x, "") is x
    with pytest.raises(ValueError):
        L.diff_augment(x, "rotation")


def test_shift_zero_pads():
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4).expand(2, 2, 4, 4)
    out = augment.shift(x, dx=torch.tensor([1, 0]), dy=torch.tensor([0, -2]))
    # image 0: content moves one pixel right, the left column is zero
    assert torch.equal(out[0, :, :, 0], torch.zeros(2, 4)) and torch.equal(out[0, :, :, 1:], x[0, :, :, :3])
    # image 1: content moves two rows up, the bottom two rows are zero
    assert torch.equal(out[1, :, 2:], torch.zeros(2, 2, 4)) and torch.equal(out[1, :, :2], x[1, :, 2:])


def test_translation_keeps_a_shifted_block_of_ones():
    ones = torch.ones(8, 1, 16, 16)
    out = L.diff_augment(ones, "translation", generator=torch.Generator().manual_seed(1))
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    for img in out[:, 0]:
        rows, cols = int(img.any(dim=1).sum()), int(img.any(dim=0).sum())
        assert rows >= 16 - 2 and cols >= 16 - 2  # at most 1/8 of 16 = 2 pixels shifted
        assert int(img.sum()) == rows * cols  # one solid rectangle, zeros around it
    assert (out == 0).any()  # some image was shifted


def test_colour_transforms_by_hand():
    x = torch.tensor([0.2, 0.4, 0.9]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    g = torch.Generator().manual_seed(4)
    u = float(torch.rand((1, 1, 1, 1), generator=torch.Generator().manual_seed(4)))
    assert torch.allclose(augment.brightness(x, g), x + u - 0.5)
    g = torch.Generator().manual_seed(4)
    grey = x.mean(dim=1, keepdim=True)
    assert torch.allclose(augment.saturation(x, g), (x - grey) * 2 * u + grey)


# ------------------------------------------------------------------------------------------------ perceptual


@pytest.fixture(scope="module")
def tiny_faceid():
    torch.manual_seed(0)
    return faceid.build({"widths": [4, 8, 8, 8], "blocks": 1})


def test_gram_matrix_by_hand():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # C = 2, H = 1, W = 2
    assert torch.allclose(L.gram_matrix(f), torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4)


@pytest.mark.parametrize("mode", ["cosine", "squared", "l1"])
def test_identity_feature_loss_zero_for_identical_and_gradients(tiny_faceid, mode):
    loss_fn = L.IdentityFeatureLoss(tiny_faceid, identity_mode=mode)
    gen = torch.Generator().manual_seed(6)
    target = torch.rand(2, 3, 32, 32, generator=gen)
    same = loss_fn(target.clone(), target)
    assert all(close(v, 0.0, 1e-6) for v in same.values())
    pred = torch.rand(2, 3, 32, 32, generator=gen).requires_grad_(True)
    terms = loss_fn(pred, target)
    assert all(float(v.detach()) > 0 for v in terms.values())
    sum(terms.values()).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in tiny_faceid.parameters())
    # the separate methods agree with forward
    with torch.no_grad():
        assert close(loss_fn.perceptual(pred, target), terms["perceptual"], 1e-6)
        assert close(loss_fn.style(pred, target), terms["style"], 1e-9)
        assert close(loss_fn.identity(pred, target), terms["identity"], 1e-6)


def test_feature_l1_and_identity_agree_with_the_feature_loss_and_reach_only_the_prediction(tiny_faceid):
    tiny_faceid.eval().requires_grad_(False)
    gen = torch.Generator().manual_seed(7)
    target = torch.rand(2, 3, 32, 32, generator=gen)
    per, identity = L.feature_l1_and_identity(tiny_faceid, target.clone(), target)
    assert close(per, 0.0, 1e-6) and close(identity, 0.0, 1e-9)
    pred = torch.rand(2, 3, 32, 32, generator=gen).requires_grad_(True)
    per, identity = L.feature_l1_and_identity(tiny_faceid, pred, target)
    with torch.no_grad():  # the squared embedding distance, as IdentityFeatureLoss's "squared" mode measures it
        assert close(identity, L.IdentityFeatureLoss(tiny_faceid, identity_mode="squared").identity(pred, target), 1e-5)
        assert close(per, L.feature_l1(tiny_faceid, pred, target), 1e-6)
    identity.backward()
    assert pred.grad.abs().sum() > 0 and all(p.grad is None for p in tiny_faceid.parameters())


def test_identity_feature_loss_stage_weights_and_frozen_batchnorm(tiny_faceid):
    gen = torch.Generator().manual_seed(8)
    pred, target = torch.rand(1, 3, 32, 32, generator=gen), torch.rand(1, 3, 32, 32, generator=gen)
    fp, ft = tiny_faceid.features(pred), tiny_faceid.features(target)
    only_second = L.IdentityFeatureLoss(tiny_faceid, perceptual_weights=[0, 2, 0, 0], style_weights=[0, 0, 0, 3])
    assert close(only_second.perceptual(pred, target), 2 * F.mse_loss(fp[1], ft[1]), 1e-6)
    expected_style = 3 * F.mse_loss(L.gram_matrix(fp[3]), L.gram_matrix(ft[3]))
    assert close(only_second.style(pred, target), expected_style, 1e-9)
    only_second.train()
    assert only_second.training and not tiny_faceid.training
    with pytest.raises(ValueError):
        L.IdentityFeatureLoss(tiny_faceid, perceptual_weights=[1, 1]).perceptual(pred, target)


def test_identity_feature_loss_shipped(monkeypatch, tiny_faceid):
    def missing(device="cpu"):
        raise WeightsError("the identity network is not installed")

    monkeypatch.setattr(restore, "load_identity_network", missing)
    with pytest.raises(WeightsError):
        L.IdentityFeatureLoss.shipped("cpu")
    monkeypatch.setattr(restore, "load_identity_network", lambda device="cpu": tiny_faceid)
    loss_fn = L.IdentityFeatureLoss.shipped("cpu", identity_mode="squared")
    assert loss_fn.network is tiny_faceid and loss_fn.identity_mode == "squared"


# ------------------------------------------------------------------------------------------------------- VQ


def _codebook(codes, **kwargs):
    cb = L.EMACodebook(codes.shape[0], codes.shape[1], **kwargs)
    cb.init_codes(codes)
    return cb


def test_codebook_quantises_to_rows_with_straight_through_and_commitment_loss():
    torch.manual_seed(0)
    cb = L.EMACodebook(8, 4, beta=0.25).eval()
    z = torch.randn(2, 4, 3, 5, requires_grad=True)
    q, loss, idx = cb(z)
    assert q.shape == z.shape and idx.shape == (2, 3, 5) and idx.dtype == torch.int64
    rows = q.detach().permute(0, 2, 3, 1).reshape(-1, 4)
    assert torch.allclose(rows, cb.embed[idx.reshape(-1)], atol=1e-6)
    dists = torch.cdist(z.detach().permute(0, 2, 3, 1).reshape(-1, 4), cb.embed)
    assert torch.equal(idx.reshape(-1), dists.argmin(dim=1))
    assert close(loss, 0.25 * F.mse_loss(z.detach(), q.detach()), 1e-6)
    assert torch.allclose(cb.lookup(idx), q.detach(), atol=1e-6)
    (q * torch.arange(5.0)).sum().backward()  # straight through: dq/dz is the identity ...
    assert torch.allclose(z.grad, torch.arange(5.0).expand(2, 4, 3, 5))
    z.grad = None
    cb(z)[1].backward()  # ... and the commitment loss pulls z towards its code
    assert torch.allclose(z.grad, 0.25 * 2 * (z.detach() - q.detach()) / z.numel(), atol=1e-7)


def test_codebook_ema_update_by_hand():
    codes = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    z = torch.tensor([[1.0, 3.0], [1.0, 3.0]]).view(1, 2, 1, 2)  # vectors (1, 1) and (3, 3): both code 0
    cb = _codebook(codes, decay=0.5, eps=0.0).train()
    q, _, idx = cb(z)
    assert idx.tolist() == [[[0, 0]]] and torch.equal(q, torch.zeros(1, 2, 1, 2))  # outputs use the old codes
    # n = (0.5 + 0.5 * 2, 0.5), m_0 = 0.5 * 0 + 0.5 * (4, 4) = (2, 2): e_0 = (2, 2) / 1.5; code 1 untouched
    assert torch.allclose(cb.cluster_size, torch.tensor([1.5, 0.5]))
    assert torch.allclose(cb.embed, torch.tensor([[4 / 3, 4 / 3], [10.0, 10.0]]))
    # Laplace smoothing: n~_0 = (1.5 + eps) / (2 + 2 eps) * 2
    cb = _codebook(codes, decay=0.5, eps=0.1).train()
    cb(z)
    assert torch.allclose(cb.embed[0], torch.full((2,), 2 / (1.6 / 2.2 * 2)))
    # eval mode, or update=False, leaves the codebook alone; ema_update takes other (HQ) features
    cb = _codebook(codes, decay=0.5, eps=0.0).eval()
    cb(z)
    assert torch.equal(cb.embed, codes)
    cb.train()
    cb(z, update=False)
    assert torch.equal(cb.embed, codes)
    cb.ema_update(torch.tensor([[9.0, 9.0], [11.0, 11.0]]))  # both code 1: m_1 = (5, 5) + (10, 10)
    assert torch.allclose(cb.embed, torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    assert torch.allclose(cb.cluster_size, torch.tensor([0.5, 1.5]))


def test_codebook_restarts_dead_codes():
    codes = torch.tensor([[0.0, 0.0], [100.0, 100.0]])
    cb = _codebook(codes, decay=0.5, eps=0.0, dead_threshold=0.6).train()
    z = torch.tensor([[1.0, 3.0], [1.0, 3.0]]).view(1, 2, 1, 2)
    cb(z, generator=torch.Generator().manual_seed(0))  # code 1's size falls to 0.5 < 0.6: restarted
    assert cb.cluster_size[1] == 1.0
    assert any(torch.equal(cb.embed[1], v) for v in (torch.tensor([1.0, 1.0]), torch.tensor([3.0, 3.0])))
    with pytest.raises(ValueError):
        cb(torch.zeros(1, 3, 2, 2))
