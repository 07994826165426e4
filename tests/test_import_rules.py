"""The dependency rules: gui -> core -> models; training -> core, models; never frstudio -> training;
never Qt in core or models; models never import the engine (core). Checked statically (every import
statement) and at run time."""

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")


def _imports(folder: Path):
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield path, [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, [node.module]


def test_no_qt_in_core_or_models():
    for sub in ("core", "models"):
        for path, names in _imports(REPO / "frstudio" / sub):
            assert not any(n.split(".")[0] in QT for n in names), f"{path} imports Qt"


def test_frstudio_never_imports_training():
    for path, names in _imports(REPO / "frstudio"):
        assert not any(n.split(".")[0] == "training" for n in names), f"{path} imports the training package"


def _absolute_imports(folder: Path, package: str):
    """(path, module) for every import in `folder`, relative ones resolved, `from a import b` also as `a.b`."""
    for path in folder.rglob("*.py"):
        here = [*package.split("."), *path.relative_to(folder).parent.parts]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield from ((path, a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[: len(here) - node.level + 1] if node.level else [])
                module = ".".join(p for p in (base, node.module or "") if p)
                yield path, module
                yield from ((path, f"{module}.{a.name}") for a in node.names)


def test_models_do_not_import_core():
    for path, module in _absolute_imports(REPO / "frstudio" / "models", "frstudio.models"):
        if module == "frstudio.core" or module.startswith("frstudio.core."):
            raise AssertionError(f"{path} imports the engine ({module})")


def test_models_load_without_core():
    code = (
        "import sys, importlib, frstudio.models as m;"
        "[importlib.import_module(s.module) for s in m.MODELS.values()];"
        "importlib.import_module('frstudio.models.faceid');"
        "bad = [n for n in sys.modules if n.startswith('frstudio.core')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_core_does_not_import_gui():
    for sub in ("core", "models"):
        for path, names in _imports(REPO / "frstudio" / sub):
            assert not any(n.startswith("frstudio.gui") for n in names), f"{path} imports the GUI"


def test_engine_and_cli_load_without_qt_or_training():
    code = (
        "import sys, frstudio.cli, frstudio.core.pipeline, frstudio.core.restore, frstudio.models;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'training')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
