"""The dependency rules: gui -> core -> models; training -> core, models; never frstudio -> training;
never Qt in core or models. Checked statically (every import statement) and at run time."""

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
