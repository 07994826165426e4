import json

import numpy as np
import pytest

from frstudio.core.errors import ModelUnavailableError, WeightsError
from frstudio.core.restore import PassThroughRestorer, Restorer, default_model, model_statuses, read_manifest


def test_loads_verified_weights_and_restores_a_batch(tiny_weights):
    restorer = Restorer("tiny", device="cpu")
    crops = np.random.default_rng(0).random((3, 128, 128, 3), dtype=np.float32)
    out = restorer.restore(crops)
    assert len(out) == 3
    assert out[0].image.shape == (128, 128, 3) and out[0].image.dtype == np.float32
    assert 0 <= out[0].image.min() and out[0].image.max() <= 1
    assert not np.allclose(out[0].image, crops[0])  # the network did something
    assert out[0].extras["labels"].shape == (3,)  # extras (e.g. a classifier's verdict) travel per face
    verdict = out[0].verdict  # named by the model module's LABELS
    assert list(verdict) == ["noise", "blur", "relight"]
    assert verdict["blur"] == pytest.approx(float(out[0].extras["labels"][1]))
    assert out[0].mask is None  # this net predicts no mask


def test_same_output_batched_or_alone(tiny_weights):
    restorer = Restorer("tiny", device="cpu")
    crops = np.random.default_rng(1).random((2, 128, 128, 3), dtype=np.float32)
    together = restorer.restore(crops)
    alone = restorer.restore(crops[1])
    np.testing.assert_allclose(together[1].image, alone[0].image, atol=1e-5)


def test_default_model_is_the_first_with_weights(tiny_weights):
    assert default_model() == "tiny"
    statuses = {s.spec.name: s for s in model_statuses()}
    assert statuses["tiny"].available
    assert not statuses["frrnet"].present


def test_missing_entry_file_and_corruption_are_clear_errors(tiny_weights):
    with pytest.raises(WeightsError, match=r"no trained weights for Everyday restore \(frrnet\)"):
        Restorer("frrnet")
    weights = tiny_weights / "tiny.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="corrupt") as err:
        Restorer("tiny")
    assert str(weights) in str(err.value)
    weights.unlink()
    with pytest.raises(WeightsError, match="missing") as err:
        Restorer("tiny")
    assert str(weights) in str(err.value)


def test_weights_that_do_not_fit_the_network(tiny_weights):
    manifest = json.loads((tiny_weights / "manifest.json").read_text())
    manifest["models"]["tiny"]["config"] = {"width": 4}
    (tiny_weights / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="does not fit"):
        Restorer("tiny")


def test_garbage_manifest_and_unknown_model(tiny_weights):
    with pytest.raises(ModelUnavailableError, match="unknown model"):
        Restorer("nonsense")
    (tiny_weights / "manifest.json").write_text("{not json")
    with pytest.raises(WeightsError, match="manifest.json"):
        read_manifest()


def test_no_weights_means_no_default(tmp_path, monkeypatch):
    monkeypatch.setenv("FRSTUDIO_WEIGHTS_DIR", str(tmp_path))
    assert default_model() is None


def test_pass_through_returns_the_crops():
    crops = np.random.default_rng(2).random((2, 128, 128, 3), dtype=np.float32)
    out = PassThroughRestorer().restore(crops)
    np.testing.assert_array_equal(out[1].image, crops[1])


def test_every_model_module_keeps_the_contract():
    import importlib
    from dataclasses import is_dataclass

    from frstudio.models import MODELS
    from frstudio.models.contract import ModelModule, config_dict

    for name in sorted({s.module for s in MODELS.values()} | {"frstudio.models.faceid"}):
        module = importlib.import_module(name)
        assert isinstance(module, ModelModule), f"{name} lacks part of the model contract"
        assert is_dataclass(module.Config) and module.config_dict is config_dict
        # the manifest's dict makes a Config that gives the same dict back
        assert config_dict(module.Config(**module.default_config())) == module.default_config(), name
