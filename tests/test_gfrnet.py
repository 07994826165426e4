"""GFRNet at tiny widths on CPU: shapes, the identity warp at zero output, the ablation variants, one training
step with finite gradients, and the fp16 safetensors round trip through the app's Restorer."""

import json

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from frstudio.models import MODELS, gfrnet
from tests.conftest import file_digest

TINY = {"width": 4, "max_width": 8, "depth": 3, "warp_width": 4, "warp_max_width": 8}


def _net(**overrides):
    torch.manual_seed(0)
    return gfrnet.build({**TINY, **overrides})


def test_spec_and_default_size_fit_the_cpu_budget():
    spec = MODELS["gfrnet"]
    assert spec.takes_reference and spec.input_size == spec.output_size == 128
    net = gfrnet.build(gfrnet.default_config())
    params = sum(p.numel() for p in net.parameters())
    assert params * 2 < 20 * 2**20  # fp16 bytes under the 20 MiB limit of shipped weights


@torch.no_grad()
def test_shapes_and_extras():
    net = _net().eval()
    x, ref = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    out = net(x, ref)
    assert out["image"].shape == (2, 3, 64, 64) and out["warped"].shape == (2, 3, 64, 64)
    assert out["flow"].shape == (2, 2, 64, 64)
    assert float(out["image"].min()) >= 0 and float(out["image"].max()) <= 1
    assert set(net(x, None)) == {"image"}  # the no-reference path


def test_untrained_warp_is_the_identity_and_leaves_the_reference_unchanged():
    net = _net().eval()
    x, ref = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    out = net(x, ref)
    torch.testing.assert_close(out["flow"], gfrnet.identity_grid(1, 32, 32))
    torch.testing.assert_close(out["warped"], ref)
    # and the zero-initialised RecNet head starts as the identity on the degraded input
    torch.testing.assert_close(out["image"], x)


def test_identity_grid_matches_the_training_flow_convention():
    from training.losses import identity_flow

    torch.testing.assert_close(gfrnet.identity_grid(2, 5, 7), identity_flow(2, 5, 7))


def test_warp_follows_the_flow():
    """A flow one pixel to the right of the identity samples each output pixel from its right-hand
    neighbour: output(x) = reference(x + 1)."""
    ref = torch.arange(16.0).view(1, 1, 4, 4).expand(1, 3, 4, 4).contiguous()
    flow = gfrnet.identity_grid(1, 4, 4).clone()
    flow[:, 0] += 2 / 4  # one pixel in unit coordinates
    warped = gfrnet.warp(ref, flow)
    torch.testing.assert_close(warped[0, 0, :, :3], ref[0, 0, :, 1:])
    assert torch.all(warped[0, 0, :, 3] == 0)  # sampled outside the reference: zeros


def test_ablation_variants():
    x, ref = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    no_warp = _net(warp=False).eval()
    assert no_warp.warpnet is None
    out = no_warp(x, ref)
    assert "flow" not in out and torch.equal(out["warped"], ref)
    no_guide = _net(warp=False, use_reference=False).eval()
    assert set(no_guide(x, ref)) == {"image"}
    assert sum(p.numel() for p in no_guide.parameters()) < sum(p.numel() for p in _net().parameters())
    with pytest.raises(ValueError):
        gfrnet.build({**TINY, "use_reference": False})  # warp=True needs a reference


def test_one_step_trains_both_subnetworks_with_finite_gradients():
    net = _net().train()
    x, ref, target = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    out = net(x, ref)
    # the zero-initialised heads pass gradient to their weights first; a loss on the flow reaches the WarpNet
    loss = F.mse_loss(out["image"], target) + (out["flow"] - 0.1).pow(2).mean()
    loss.backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert all(g is None or torch.isfinite(g).all() for g in grads.values())
    assert grads["recnet.head.weight"].abs().sum() > 0 and grads["warpnet.head.weight"].abs().sum() > 0
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    before = float(loss.detach())
    for _ in range(5):
        opt.step()
        opt.zero_grad()
        out = net(x, ref)
        loss = F.mse_loss(out["image"], target) + (out["flow"] - 0.1).pow(2).mean()
        loss.backward()
    assert float(loss.detach()) < before


def test_fp16_safetensors_round_trip_through_the_restorer(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    from frstudio.core.restore import Restorer

    net = _net().eval()
    with torch.no_grad():  # move the zero-initialised heads so the round trip checks something
        net.recnet.head.weight.normal_(0, 0.05)
        net.warpnet.head.weight.normal_(0, 0.01)
    path = tmp_path / "gfrnet.safetensors"
    save_file({k: v.half().contiguous() if v.is_floating_point() else v for k, v in net.state_dict().items()}, str(path))
    manifest = {"models": {"gfrnet": {"file": path.name, "sha256": file_digest(path), "config": TINY, "metrics": {}}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("FRSTUDIO_WEIGHTS_DIR", str(tmp_path))
    restorer = Restorer("gfrnet", device="cpu", precision="fp32")
    rng = np.random.default_rng(0)
    crops, ref = rng.random((2, 128, 128, 3), dtype=np.float32), rng.random((128, 128, 3), dtype=np.float32)
    got = restorer.restore(crops, ref)
    with torch.no_grad():
        t = torch.from_numpy(crops).permute(0, 3, 1, 2)
        expected = net(t, torch.from_numpy(ref).permute(2, 0, 1)[None].expand(2, 3, 128, 128))
    np.testing.assert_allclose(np.stack([r.image for r in got]), expected["image"].permute(0, 2, 3, 1).numpy(), atol=1e-2)
    assert got[0].extras["warped"].shape == (3, 128, 128) and got[0].extras["flow"].shape == (2, 128, 128)
    # a reference per crop, and the no-reference path (the network allows it)
    assert len(restorer.restore(crops, np.stack([ref, ref]))) == 2
    assert "warped" not in restorer.restore(crops, None)[0].extras
