"""Where the bundled resources live (source tree, installed package or a PyInstaller bundle)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def bundle_dir() -> Path | None:
    """The data folder of a frozen app (PyInstaller's sys._MEIPASS: `_internal/` next to the executable of a
    one-folder build), None when running from source or an installed package."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    return Path(frozen_root) if frozen_root else None


def resources_dir() -> Path:
    """The `resources/` folder: next to the package in a source tree, or inside a frozen bundle."""
    bundle = bundle_dir()
    if bundle is not None:
        return bundle / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def weights_dir() -> Path:
    """Bundled weights. FRSTUDIO_WEIGHTS_DIR points elsewhere for tests and for trying freshly exported weights."""
    override = os.environ.get("FRSTUDIO_WEIGHTS_DIR")
    return Path(override) if override else resources_dir() / "weights"


def sample_photo() -> Path:
    return resources_dir() / "samples" / "astronaut.jpg"


def user_folder(kind: str, name: str) -> Path:
    """`name` inside the user's "cache" or "data" folder (platformdirs); FRSTUDIO_CACHE_DIR or FRSTUDIO_DATA_DIR
    puts it elsewhere (tests)."""
    override = os.environ.get(f"FRSTUDIO_{kind.upper()}_DIR")
    if override:
        return Path(override) / name
    import platformdirs

    base = platformdirs.user_cache_dir if kind == "cache" else platformdirs.user_data_dir
    return Path(base("frstudio", appauthor=False)) / name
