"""Import a script of benchmarks/ (a folder of scripts, not a package) as a module, for its tests."""

import importlib.util
from pathlib import Path


def load_benchmark(name: str):
    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
