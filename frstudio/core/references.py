"""Reference photos: for each face to restore, a good photo of the same person (what GFRNet is guided by).

Two sources answer the same question, `best_for(descriptor) -> ReferenceMatch | None`:

* :class:`ReferencePhoto` — the one photo a user chose (`--reference good.jpg`). When it holds several faces,
  the face whose dlib descriptor is closest to the target's is used. It always answers (the user chose the
  photo), and the match says when the face looks like someone else (`different_person`), so callers warn.
* :class:`ReferenceLibrary` — a folder of good photos (`--reference-dir`, the app's library). Every face in it
  is detected and described once; the index is cached on disk (user cache folder) and a photo is re-read only
  when its modification time or size changes. It answers only for a face of the same person (descriptor
  distance under 0.6), preferring, among the closest faces, the sharpest and most frontal one; otherwise None,
  and the caller falls back to a blind model.

Descriptors are computed on the face aligned to the 128 x 128 template (as `frstudio.core.session` does), so
a descriptor of the photo being restored and one of the library compare like with like. Indexing is a
generator of `Progress` events (`frstudio.core.jobs`, one per photo) so a GUI can show it and cancel between photos.
No Qt here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from frstudio.core.align import TEMPLATE_SIZE, align_face, estimate_transform, five_points, transform_points
from frstudio.core.dlib_work import describe_in_process
from frstudio.core.detect import DetectionSettings, Face, detect_faces
from frstudio.core.errors import FRStudioError, PhotoError
from frstudio.core.files import atomic_write_bytes
from frstudio.core.identity import SAME_PERSON_DISTANCE, descriptor_distance
from frstudio.core.imageio import float_to_uint8, load_photo, to_uint8
from frstudio.core.jobs import Progress
from frstudio.core.paths import user_folder

# Computes dlib descriptors of [(RGB uint8 crop, its 68 landmarks)]: `describe_in_process`, or the `describe`
# method of `frstudio.core.dlib_work.DlibProcess`, which keeps a GUI's event loop free while dlib holds the GIL.
Describer = Callable[[Sequence[tuple[np.ndarray, np.ndarray]]], list[np.ndarray]]

INDEX_VERSION = 1
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"}
# Faces within this distance of the closest one count as equally good matches, and the sharpest, most frontal
# of them wins: two photos of one person are typically 0.3-0.5 apart in dlib's space, so 0.05 more or less says
# little about which photo is "more" that person, while a blurred or turned reference costs visibly.
TIE_DISTANCE = 0.05


def face_sharpness(crop8: np.ndarray) -> float:
    """Variance of the Laplacian of the grey aligned crop (uint8 RGB): low for blurry faces."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(crop8), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def yaw_proxy(landmarks: np.ndarray) -> float:
    """Signed head turn from 68 landmarks: the nose tip's offset from the midpoint of the jaw's ends, in units
    of face width (0 frontal, about +-0.5 in profile)."""
    landmarks = np.asarray(landmarks, np.float64)
    left, right, nose = landmarks[0], landmarks[16], landmarks[30]
    width = np.linalg.norm(right - left) or 1.0
    return float(np.dot(nose - (left + right) / 2, (right - left) / width) / width)


@dataclass
class DescribedFace:
    """One face of a reference photo, as indexed: where it is and what it looks like."""

    path: Path
    face: int  # its number in the photo (`frstudio detect` order)
    landmarks: np.ndarray  # 68 x 2, photo pixels
    descriptor: np.ndarray  # 128-d dlib descriptor of the aligned face
    sharpness: float  # face_sharpness of the aligned 128 x 128 crop
    yaw: float  # yaw_proxy: 0 is frontal

    def to_json(self) -> dict:
        return {"face": self.face, "landmarks": np.round(self.landmarks, 3).tolist(),
                "descriptor": [float(v) for v in self.descriptor], "sharpness": self.sharpness, "yaw": self.yaw}

    @classmethod
    def from_json(cls, path: Path, data: dict) -> "DescribedFace":
        return cls(path, int(data["face"]), np.asarray(data["landmarks"], np.float32),
                   np.asarray(data["descriptor"], np.float32), float(data["sharpness"]), float(data["yaw"]))


@dataclass
class ReferenceMatch:
    """The reference chosen for one target face."""

    path: Path
    face: int  # which face of that photo
    distance: float  # dlib descriptor distance to the target face (under 0.6: the same person)
    sharpness: float
    yaw: float
    aligned: np.ndarray = field(repr=False)  # the reference face aligned like the target, S x S x 3 float32 [0, 1]

    @property
    def different_person(self) -> bool:
        return self.distance >= SAME_PERSON_DISTANCE

    def describe(self) -> str:
        """`photo.jpg (face 1, distance 0.42)`: for summaries."""
        return f"{self.path.name} (face {self.face + 1}, distance {self.distance:.2f})"


def describe_photo_faces(pixels: np.ndarray, faces: list[Face], describe: Describer | None = None) -> list[np.ndarray]:
    """dlib descriptors of `faces` of a photo (RGB, uint8 or uint16), each computed on the face aligned to the
    128 x 128 template with its landmarks carried along: only small crops travel to a helper process.
    `describe`: a Describer (e.g. `DlibProcess().describe` in the GUI); default: in this process."""
    items = []
    for f in faces:
        matrix = estimate_transform(five_points(f.landmarks), TEMPLATE_SIZE)
        items.append((float_to_uint8(align_face(pixels, f.landmarks, TEMPLATE_SIZE).image), transform_points(f.landmarks, matrix)))
    return list((describe or describe_in_process)(items))


def _describe_photo(path: Path, detection: DetectionSettings | None, describe: Describer | None) -> list[DescribedFace]:
    photo = load_photo(path)
    faces = detect_faces(to_uint8(photo.pixels), detection)
    descriptors = describe_photo_faces(photo.pixels, faces, describe)
    out = []
    for f, d in zip(faces, descriptors):
        crop = float_to_uint8(align_face(photo.pixels, f.landmarks, TEMPLATE_SIZE).image)
        out.append(DescribedFace(Path(path), f.index, np.asarray(f.landmarks, np.float32), np.asarray(d, np.float32),
                                 face_sharpness(crop), yaw_proxy(f.landmarks)))
    return out


def rank_candidates(descriptor: np.ndarray, faces: Iterable[DescribedFace], limit: float | None = SAME_PERSON_DISTANCE,
                    tie: float = TIE_DISTANCE) -> list[tuple[DescribedFace, float]]:
    """Faces (with their distance to `descriptor`) under `limit`, best first: the faces within `tie` of the
    closest come first, ordered by quality (sharpness rank + frontality rank among them, ties to the closer);
    the rest follow by distance."""
    scored = sorted(((f, descriptor_distance(descriptor, f.descriptor)) for f in faces), key=lambda p: p[1])
    if limit is not None:
        scored = [p for p in scored if p[1] < limit]
    if not scored:
        return []
    near = [p for p in scored if p[1] <= scored[0][1] + tie]
    if len(near) > 1:
        sharp = np.argsort(np.argsort([f.sharpness for f, _ in near], kind="stable"), kind="stable")
        frontal = np.argsort(np.argsort([-abs(f.yaw) for f, _ in near], kind="stable"), kind="stable")
        quality = (sharp + frontal) / (len(near) - 1)
        order = sorted(range(len(near)), key=lambda i: (-quality[i], near[i][1]))
        near = [near[i] for i in order]
    return near + scored[len(near):]


class _CropCache:
    """Aligned reference crops by (photo, face, size): a batch of photos of one family reuses a few references,
    and each would otherwise be loaded and aligned again for every face."""

    def __init__(self, limit: int = 32):
        self._crops: dict[tuple, np.ndarray] = {}
        self._limit = limit

    def get(self, face: DescribedFace, size: int) -> np.ndarray:
        key = (str(face.path), face.face, size)
        if key not in self._crops:
            if len(self._crops) >= self._limit:
                self._crops.pop(next(iter(self._crops)))
            photo = load_photo(face.path)
            self._crops[key] = align_face(photo.pixels, face.landmarks, size).image
        return self._crops[key]


def _match(face: DescribedFace, distance: float, crops: _CropCache, size: int) -> ReferenceMatch:
    return ReferenceMatch(face.path, face.face, float(distance), face.sharpness, face.yaw, crops.get(face, size))


class ReferencePhoto:
    """The faces of one reference photo the user chose. `best_for` always answers with its closest face (the
    user said this is the person), flagged `different_person` when the descriptors disagree."""

    def __init__(self, path: Path | str, detection: DetectionSettings | None = None, describe: Describer | None = None):
        self.path = Path(path)
        self._detection, self._describe = detection, describe
        self._faces: list[DescribedFace] | None = None
        self._crops = _CropCache()

    @property
    def faces(self) -> list[DescribedFace]:
        if self._faces is None:
            faces = _describe_photo(self.path, self._detection, self._describe)
            if not faces:
                raise PhotoError(f"{self.path.name}: no face found in the reference photo")
            self._faces = faces
        return self._faces

    def best_for(self, descriptor: np.ndarray, size: int = TEMPLATE_SIZE) -> ReferenceMatch:
        face, distance = rank_candidates(descriptor, self.faces, limit=None)[0]
        return _match(face, distance, self._crops, size)


@dataclass
class IndexSummary:
    photos: int = 0
    faces: int = 0
    reused: int = 0  # photos whose faces came from the on-disk index
    failed: list[str] = field(default_factory=list)  # "name: why" for photos that could not be read


def default_index_dir() -> Path:
    """Where library indexes are kept: FRSTUDIO_CACHE_DIR (tests), else the user cache folder."""
    return user_folder("cache", "references")


class ReferenceLibrary:
    """A folder of good photos, searchable by face descriptor.

    >>> library = ReferenceLibrary("~/Pictures/portraits")
    >>> match = library.best_for(descriptor)          # indexes the folder on first use
    >>> match.path, match.distance, match.aligned     # or None: nobody in the folder looks like this face

    `index()` is the same indexing as a generator of `Progress` events (one per photo) for a GUI. The index lives
    in `index_dir` (default: the user cache folder), one JSON file per library folder; a photo is described
    again only when its modification time or size changed, and photos that left the folder leave the index.
    """

    def __init__(self, folder: Path | str, detection: DetectionSettings | None = None, describe: Describer | None = None,
                 index_dir: Path | None = None, recursive: bool = False):
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise PhotoError(f"{self.folder}: the reference folder does not exist")
        self._detection, self._describe, self._recursive = detection, describe, recursive
        key = hashlib.sha256(str(self.folder.resolve()).encode()).hexdigest()[:16]
        self.index_path = (index_dir or default_index_dir()) / f"{key}.json"
        self._faces: list[DescribedFace] | None = None
        self._crops = _CropCache()
        self.summary = IndexSummary()

    # ---- indexing -----------------------------------------------------------------------------------------

    def photos(self) -> list[Path]:
        pattern = self.folder.rglob("*") if self._recursive else self.folder.glob("*")
        return sorted(p for p in pattern if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))

    def _read_index(self) -> dict:
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
            return {}  # an index from another version describes faces differently: start again
        files = data.get("files", {})
        return files if isinstance(files, dict) else {}

    def _write_index(self, files: dict) -> None:
        try:
            self.index_path.parent.mkdir(parents=True, exist_ok=True)
            data = {"version": INDEX_VERSION, "folder": str(self.folder.resolve()), "files": files}
            atomic_write_bytes(self.index_path, json.dumps(data).encode("utf-8"))
        except (OSError, FRStudioError):
            pass  # a read-only cache only costs the next run the indexing again

    def index(self, cancel: Callable[[], bool] | None = None) -> Generator[Progress, None, IndexSummary]:
        """(Re)index the folder, yielding a `Progress` per photo; returns an `IndexSummary`.
        `cancel()` returning True stops between photos; what was indexed so far is kept."""
        known = self._read_index()
        files: dict[str, dict] = {}
        faces: list[DescribedFace] = []
        summary = IndexSummary()
        photos = self.photos()
        for i, path in enumerate(photos):
            if cancel is not None and cancel():
                break
            yield Progress("index", i / max(len(photos), 1), i, len(photos), path, f"reference photos: {i}/{len(photos)}")
            name = path.relative_to(self.folder).as_posix()
            stat = path.stat()
            entry = known.get(name)
            if entry and entry.get("mtime_ns") == stat.st_mtime_ns and entry.get("size") == stat.st_size:
                summary.reused += 1
            else:
                entry = {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size, "faces": []}
                try:
                    entry["faces"] = [f.to_json() for f in _describe_photo(path, self._detection, self._describe)]
                except FRStudioError as exc:  # unreadable: remembered, so it is not retried until it changes
                    entry["error"] = str(exc)
            if entry.get("error"):
                summary.failed.append(f"{path.name}: {entry['error']}")
            files[name] = entry
            faces.extend(DescribedFace.from_json(path, f) for f in entry.get("faces", []))
        summary.photos, summary.faces = len(files), len(faces)
        self._write_index(files)
        self._faces, self.summary = faces, summary
        yield Progress("index", 1.0, len(photos), len(photos), None, f"reference photos: {summary.photos}, faces: {summary.faces}")
        return summary

    @property
    def faces(self) -> list[DescribedFace]:
        """Every indexed face (indexes the folder first if that has not happened yet)."""
        if self._faces is None:
            for _ in self.index():
                pass
        return self._faces or []

    # ---- matching -----------------------------------------------------------------------------------------

    def candidates(self, descriptor: np.ndarray) -> list[tuple[DescribedFace, float]]:
        """Faces of the same person (distance under 0.6) with their distances, best first (see `best_for`)."""
        return rank_candidates(descriptor, self.faces)

    def sole_person(self) -> list[DescribedFace]:
        """Every face of the folder, best first, when they are all one person (each within dlib's same-person
        distance of the face most like the others); else []. For a face too damaged to be recognised: the
        person asked for it with this folder, and only a folder of one person answers without a guess."""
        faces = self.faces
        if not faces:
            return []
        descriptors = np.asarray([f.descriptor for f in faces], np.float64)
        squares = (descriptors**2).sum(axis=1)  # |a - b|^2 = |a|^2 + |b|^2 - 2ab: n x n, never n x n x 128
        distances = np.sqrt(np.maximum(squares[:, None] + squares[None] - 2 * descriptors @ descriptors.T, 0))
        centre = int(np.argmin(distances.mean(axis=1)))
        if distances[centre].max() >= SAME_PERSON_DISTANCE:
            return []
        return [f for f, _ in rank_candidates(faces[centre].descriptor, faces, limit=None)]

    def best_for(self, descriptor: np.ndarray, size: int = TEMPLATE_SIZE) -> ReferenceMatch | None:
        """The best reference for a face with this descriptor: among the library's faces under 0.6, those
        within 0.05 of the closest, the sharpest and most frontal; None when nobody in it looks like this face."""
        found = self.candidates(descriptor)
        if not found:
            return None
        face, distance = found[0]
        return _match(face, distance, self._crops, size)

    def aligned(self, face: DescribedFace, size: int = TEMPLATE_SIZE) -> np.ndarray:
        """`face` of the library aligned to the template at `size` px (S x S x 3 float32 [0, 1]), cached."""
        return self._crops.get(face, size)

    def best_match(self, descriptor: np.ndarray) -> tuple[Path, float] | None:
        """(photo, distance) of `best_for`, without aligning it: what `PhotoSession.match_references` takes."""
        found = self.candidates(descriptor)
        return (found[0][0].path, found[0][1]) if found else None


@dataclass
class FaceReferences:
    """Which reference each face of a photo gets (see `match_faces`)."""

    matches: dict[int, ReferenceMatch] = field(default_factory=dict)  # face index -> its reference
    unmatched: list[int] = field(default_factory=list)  # faces the source has nobody for
    warnings: list[str] = field(default_factory=list)  # one line per face whose reference looks like someone else


def match_faces(pixels: np.ndarray, faces: list[Face], source: ReferencePhoto | ReferenceLibrary, size: int = TEMPLATE_SIZE,
                describe: Describer | None = None) -> FaceReferences:
    """The best reference of `source` for each face of a photo (RGB pixels), by dlib descriptor."""
    found = FaceReferences()
    for face, descriptor in zip(faces, describe_photo_faces(pixels, faces, describe)):
        match = source.best_for(descriptor, size)
        if match is None:
            found.unmatched.append(face.index)
            continue
        found.matches[face.index] = match
        if match.different_person:
            found.warnings.append(f"face {face.index + 1}: the reference {match.describe()} does not look like it (the same "
                                  f"person is under {SAME_PERSON_DISTANCE}): a different person, or a face too damaged to "
                                  "recognise; restoring with it as asked")
    return found
