"""The app's settings: a typed, versioned dataclass stored as JSON in the user's config folder (platformdirs).

Loading never fails: a missing, unreadable or foreign file gives the defaults, and a value of the wrong type
falls back to its default, so a hand-edited or older file cannot stop the app from starting.
FRSTUDIO_CONFIG_DIR puts the file elsewhere (the tests point it at a temporary folder, never the user's).
Qt-free on purpose: QSettings would hide the schema in string keys.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from frstudio.core.errors import FRStudioError
from frstudio.core.files import atomic_write_bytes
from frstudio.core.scratches import DEFAULT_MODE, DEFAULT_STRENGTH, MODES
from frstudio.core.variants import MAX_VARIANTS

log = logging.getLogger(__name__)

SETTINGS_VERSION = 4  # 2: find_small_faces; 3: variants; 4: scratch removal
MAX_RECENT = 10


@dataclass
class ExportPrefs:
    folder: str = ""  # "" = next to the original
    suffix: str = "_restored"
    format: str = ""  # "" = the original's format
    quality: int = 95
    keep_metadata: bool = True
    comparison: bool = False


@dataclass
class Settings:
    version: int = SETTINGS_VERSION
    window_width: int = 1280
    window_height: int = 820
    maximized: bool = False
    last_folder: str = ""
    recent_files: list[str] = field(default_factory=list)
    model: str = "auto"
    strength: float = 1.0
    export: ExportPrefs = field(default_factory=ExportPrefs)
    batch_output: str = ""  # "" = next to each photo
    batch_copy_no_faces: bool = False  # a batch photo without faces: an unchanged copy, or nothing written
    # Edit > Find Small Faces: detect (the open photo and batches) with detect.SMALL_FACES_MIN_EYE_DISTANCE.
    find_small_faces: bool = False
    # restorations per face by a stochastic model (the VQ U-Net), most faithful first (frstudio.core.variants)
    variants: int = 1
    # Remove scratches (frstudio.core.scratches): "off", "auto" or "on", and its strength, for the open photo and
    # the next ones opened (the detector runs on a newly opened photo only when it is not off). Batches have their
    # own choice, shown in the batch panel, so changing one never reprocesses what the other is working on.
    scratches: str = DEFAULT_MODE
    scratch_strength: float = DEFAULT_STRENGTH
    batch_scratches: str = DEFAULT_MODE
    batch_scratch_strength: float = DEFAULT_STRENGTH
    # An unfinished batch: its inputs, kept until it ends so the next start can resume it (finished outputs
    # are skipped by the engine, so resuming is running it again).
    pending_batch: list[str] = field(default_factory=list)

    def add_recent(self, path: Path) -> None:
        text = str(Path(path).resolve())
        self.recent_files = [text] + [p for p in self.recent_files if p != text][: MAX_RECENT - 1]
        self.last_folder = str(Path(text).parent)


def settings_path() -> Path:
    override = os.environ.get("FRSTUDIO_CONFIG_DIR")
    if override:
        return Path(override) / "settings.json"
    import platformdirs

    return Path(platformdirs.user_config_dir("FR Studio", appauthor=False)) / "settings.json"


def _typed(cls, data: dict):
    """An instance of dataclass `cls` from `data`, keeping only values whose type matches the default's."""
    defaults = cls()
    values = {}
    for f in fields(cls):
        default = getattr(defaults, f.name)
        value = data.get(f.name, default)
        if hasattr(default, "__dataclass_fields__"):
            value = _typed(type(default), value if isinstance(value, dict) else {})
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif isinstance(default, list):
            value = [v for v in value if isinstance(v, str)] if isinstance(value, list) else default
        elif type(value) is not type(default):
            value = default
        values[f.name] = value
    return cls(**values)


def migrate(data: dict) -> dict:
    """Bring an older file's dict up to SETTINGS_VERSION, one version at a time."""
    data = dict(data)
    if data["version"] < 2:  # 1 -> 2: find_small_faces, off (detection as version 1 did it)
        data["find_small_faces"] = False
    if data["version"] < 3:  # 2 -> 3: variants, one (restoration as version 2 did it)
        data["variants"] = 1
    if data["version"] < 4:  # 3 -> 4: scratch removal, off (photos as version 3 left them)
        data["scratches"] = data["batch_scratches"] = DEFAULT_MODE
    return data


def load_settings(path: Path | None = None) -> Settings:
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("settings file %s unreadable (%s); using defaults", path, exc)
        return Settings()
    if not isinstance(data, dict) or not isinstance(data.get("version"), int) or data["version"] > SETTINGS_VERSION:
        return Settings()  # a newer app's file: do not guess its meaning
    settings = _typed(Settings, migrate(data))
    settings.version = SETTINGS_VERSION
    settings.strength = min(1.0, max(0.0, settings.strength))
    settings.variants = min(MAX_VARIANTS, max(1, settings.variants))
    for name in ("scratches", "batch_scratches"):
        if getattr(settings, name) not in MODES:
            setattr(settings, name, DEFAULT_MODE)
    settings.scratch_strength = min(1.0, max(0.0, settings.scratch_strength))
    settings.batch_scratch_strength = min(1.0, max(0.0, settings.batch_scratch_strength))
    return settings


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a settings file."""
    path = path or settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps(asdict(settings), indent=2).encode("utf-8"))
    except (OSError, FRStudioError) as exc:  # settings are a convenience: never let them stop the app
        log.warning("cannot save settings to %s: %s", path, exc)
