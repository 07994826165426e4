"""benchmarks/no_harm.py: a training run's export can be measured in place of the shipped weights."""

import json

from tests.support.benchmarks import load_benchmark


def test_a_runs_weights_replace_only_the_models_its_manifest_holds(tmp_path, monkeypatch):
    m = load_benchmark("no_harm")
    loaded = []
    monkeypatch.setattr(m, "Restorer", lambda name, directory=None: loaded.append((name, directory)) or name)
    (tmp_path / "manifest.json").write_text(json.dumps({"models": {"frrnet": {"path": "frrnet.safetensors"}}}))
    make = m.restorer_factory(tmp_path)
    assert make("frrnet") == "frrnet" and make("vq_unet") == "vq_unet"
    assert loaded == [("frrnet", tmp_path), ("vq_unet", None)]
    m.restorer_factory(None)("frrnet")
    assert loaded[-1] == ("frrnet", None)
