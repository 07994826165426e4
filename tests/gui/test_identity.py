"""The app's identity: its icon at every size the desktop asks for, and the About box's licences."""

from __future__ import annotations

import json

from PIL import Image

from frstudio import __version__
from frstudio.gui.about import about_html
from frstudio.gui.app import app_icon
from tests.conftest import REPO

ICONS = REPO / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def test_icon_files_at_the_hicolor_sizes():
    for size in SIZES:
        image = Image.open(ICONS / f"frstudio-{size}.png")
        assert image.size == (size, size) and image.mode == "RGBA"
        alpha = image.getchannel("A")
        assert alpha.getpixel((0, 0)) == 0 and alpha.getpixel((size // 2, size // 2)) == 255  # shaped, not a square
    assert (ICONS / "frstudio.ico").stat().st_size > 0 and (ICONS / "frstudio.icns").stat().st_size > 0


def test_window_icon_offers_every_size(qapp):
    sizes = {s.width() for s in app_icon().availableSizes()}
    assert set(SIZES) <= sizes


def test_about_names_version_and_every_bundled_models_licence(monkeypatch):
    monkeypatch.delenv("FRSTUDIO_WEIGHTS_DIR", raising=False)
    text = about_html(__version__)
    manifest = json.loads((REPO / "resources" / "weights" / "manifest.json").read_text())["models"]
    assert f"FR Studio {__version__}" in text and "MIT" in text
    for name in manifest:
        assert name in text
    for term in ("CelebA (non-commercial research use only)", "All-Age-Faces (no licence stated)", "public domain"):
        assert term in text
