"""Public-domain portraits with large, sharp faces, for benchmarks that need faces bigger than the shared data's.

The shared faces hold ~43-50 px between the eyes, so a benchmark of big faces needs other photos. These come from
the package registries, never from the repository:

- the bundled sample (`resources/samples/astronaut.jpg`, NASA, eyes 43 px apart);
- Grace Hopper (US Navy, 89 px), shipped with matplotlib (a training extra);
- four White House photographs of Barack Obama and Joe Biden (works of the US federal government; eyes 104-121 px),
  shipped as test images in the source package of `face_recognition` 1.3.0 on PyPI. That package is not installed
  (it would build dlib): its source archive is downloaded once with pip, the four photos are checked against their
  SHA-256 and kept in `cache/portraits/` (git-ignored).

A source that cannot be had (offline, matplotlib missing) is left out with a line saying so.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "resources" / "samples" / "astronaut.jpg"
CACHE = REPO / "cache" / "portraits"

REGISTRY_PACKAGE = "face_recognition==1.3.0"
REGISTRY_FOLDER = "face_recognition-1.3.0/tests/test_images/"
REGISTRY_PHOTOS = {  # name: SHA-256
    "obama.jpg": "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
    "obama2.jpg": "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
    "obama3.jpg": "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
    "biden.jpg": "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verified(folder: Path) -> list[Path]:
    """The registry photos present in `folder` with their expected content, in REGISTRY_PHOTOS' order."""
    paths = [folder / name for name in REGISTRY_PHOTOS]
    return [p for p in paths if p.is_file() and _sha256(p.read_bytes()) == REGISTRY_PHOTOS[p.name]]


def extract_registry_photos(archive: Path, folder: Path) -> list[Path]:
    """The four photos taken out of the source archive into `folder` (each written only if its hash matches)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        for name, digest in REGISTRY_PHOTOS.items():
            try:
                member = tar.extractfile(REGISTRY_FOLDER + name)
            except KeyError:
                continue
            data = member.read() if member is not None else b""
            if _sha256(data) != digest:
                print(f"portraits: {name} in {archive.name} is not the expected photo, left out")
                continue
            partial = folder / (name + ".part")
            partial.write_bytes(data)
            partial.replace(folder / name)
    return _verified(folder)


def registry_portraits(folder: Path | None = None, fetch: bool = True) -> list[Path]:
    """The White House portraits, from `folder` (CACHE), downloading the source archive once when `fetch`."""
    folder = folder or CACHE
    found = _verified(folder)
    if len(found) == len(REGISTRY_PHOTOS) or not fetch:
        return found
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", REGISTRY_PACKAGE, "--no-deps", "--no-binary", ":all:",
                   "--dest", tmp, "--quiet"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        archives = sorted(Path(tmp).glob("face_recognition-*.tar.gz"))
        if result.returncode != 0 or not archives:
            why = ((result.stderr or "").strip().splitlines() or ["no archive"])[-1]
            print(f"portraits: could not download {REGISTRY_PACKAGE} from PyPI, its portraits are left out ({why})")
            return found
        return extract_registry_photos(archives[0], folder)


def public_domain_portraits(fetch: bool = True) -> list[Path]:
    """Every portrait above that can be had, the bundled sample first."""
    portraits = [SAMPLE]
    try:
        from matplotlib import cbook

        portraits.append(Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    except (ImportError, OSError, ValueError):
        print("matplotlib not installed: the Grace Hopper portrait is left out (pip install -e '.[train]')")
    return portraits + registry_portraits(fetch=fetch)
