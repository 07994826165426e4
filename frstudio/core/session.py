"""One photo being worked on in the desktop app: its faces, what the user chose for each, and the results.

A `PhotoSession` sits on top of the pipeline's public functions (detect, restore_faces, compose, save) and adds
what an interactive editor needs and a batch run does not:

- per-face choices (included, model or "auto", strength, reference photo), changed one at a time;
- a cache of restored crops keyed by what determines them (the face's landmarks, the model, the reference),
  so restoring again after a change recomputes only the faces that changed, and a strength change only
  recomposes the photo;
- what the app can tell about each face: its size, the classifier's verdict, how far restoration moved its
  identity (dlib descriptor distance, input crop -> restored crop), and its sharpness in the photo against the
  input's (so a softer result is said, not called "fine").

Long steps are generators yielding `Progress` events (`frstudio.core.jobs`), so a GUI worker can run them off
its event loop and cancel between faces. What changed is told to the callbacks in `observers` (a `Change` each),
so a window refreshes what a change touched instead of re-reading the session after every action. No Qt here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from frstudio.core.align import TEMPLATE_SIZE, align_face, estimate_transform, five_points, transform_points
from frstudio.core.detect import DetectionSettings, Face
from frstudio.core.dlib_work import DlibInProcess
from frstudio.core.errors import Cancelled, FRStudioError, PhotoError
from frstudio.core.identity import SAME_PERSON_DISTANCE, descriptor_distance
from frstudio.core.imageio import Photo, float_to_uint8, load_photo, save_image, save_photo, to_uint8
from frstudio.core.jobs import CancelToken, Progress, relay
from frstudio.core.pipeline import (
    SUFFIX_FORMAT,
    RestoreOptions,
    RestorerCache,
    comparison_image,
    compose,
    output_path_for,
    restore_faces,
)
from frstudio.core.personal import PersonalModel, PersonalStore, person_photos, personal_restorer, tunable, tune
from frstudio.core.references import ReferenceMatch, ReferencePhoto
from frstudio.core.quality import sharpness_ratio
from frstudio.core.relight import photo_relight
from frstudio.core.restore import get_spec, model_statuses, verdict_words
from frstudio.core.routing import auto_model, auto_strength, looks_clean, trusted_guided
from frstudio.core.colour import restore_faded
from frstudio.core.scratches import ScratchResult, ScratchSettings, damage_probability, feature_guard, marks, repair_as_chosen

AUTO = "auto"
# Identity drift worth a warning. dlib calls two faces the same person below 0.6; between two *different photos*
# of the same person the median distance is 0.45 (measured on 2,020 same-identity pairs of the CelebA test split,
# cache/faces128 descriptors). A restoration that moves a face as far as a different photo of that person would
# has changed how the person looks, even if dlib would still say "same person".
DRIFT_WARNING = 0.45
MIN_MANUAL_BOX = 12  # px: dlib's landmark fit needs a face of at least this size


class OutputExistsError(PhotoError):
    """The export's file name is taken; the caller may ask the user and export again with overwrite=True."""

    def __init__(self, path: Path):
        super().__init__(f"{path.name} already exists in {path.parent}")
        self.path = path


@dataclass(frozen=True)
class Change:
    """What changed in a session, as its observers are told.

    what: "choices" (the choices of `indices`), "faces" (faces added or removed by hand: `indices`), "detected"
    (the faces found anew, all renumbered), "restored" (results computed for `indices`), "reference" (the
    reference photo of `indices` matched), "variants" (restorations per face changed), "scratches" (the
    repaired photo under the faces changed: scratch removal's mode, strength or marks painted by hand).
    """

    what: str
    indices: tuple[int, ...] = ()

    @property
    def choices(self) -> bool:
        """Whether what the user chose changed (faces included, and the photo's repaired scratches under the
        faces): the composed photo must be made again."""
        return self.what in ("choices", "faces", "scratches")


@dataclass
class FaceChoice:
    included: bool = True
    model: str = AUTO
    strength: float = 1.0  # 0 = original, 1 = fully restored
    reference: Path | None = None  # a good photo of the same person, for models that take one
    variant: int | None = None  # a stochastic model's variant (its seed) picked by the user; None: the most faithful


@dataclass
class FaceInfo:
    """What the app knows about one face, for display."""

    index: int
    eye_distance: float
    manual: bool = False
    restored: bool = False
    model: str = ""  # the model that made the current result
    labels: dict[str, float] = field(default_factory=dict)  # classifier probabilities, when the model has one
    drift: float | None = None
    reference: ReferenceMatch | None = None
    message: str = ""  # why the face kept its original, when it did
    variants: list = field(default_factory=list)  # frstudio.core.variants.Variant, most faithful first
    variant: int | None = None  # the seed of the variant in use, when there are variants
    sharpness: float | None = None  # the restored face's sharpness in the photo over the input's (full strength)
    kept_clean: bool = False  # Auto kept it as it was: its model's classifier found nothing to restore
    profile: bool = False  # turned too far for the 68 landmarks: aligned by its eyes, nose and mouth only
    personal: PersonalModel | None = None  # a model learned from this person's photos ("Learn this person")
    personal_used: bool = False  # the current result is that model's (it measured better than the default)
    # False: the face was too damaged to be recognised, and its folder, holding one person, was taken as theirs
    personal_recognised: bool = True
    likeness: tuple[float, float] | None = None  # then: mean dlib distance to the person's photos, input and result

    @property
    def verdict(self) -> list[str]:
        return verdict_words(self.labels)

    @property
    def drifted(self) -> bool:
        """Moved far from the input face, and not towards the person's own photos (a learned model's aim)."""
        closer = self.likeness is not None and self.likeness[1] < self.likeness[0]
        return self.drift is not None and self.drift > DRIFT_WARNING and not closer


@dataclass
class ExportSettings:
    folder: Path | None = None  # None: next to the original
    suffix: str = "_restored"
    format: str | None = None  # None: the original's format
    quality: int = 95
    keep_metadata: bool = True
    comparison: bool = False  # also write <name>_compare.jpg, before | after


class ReferenceLibrary(Protocol):
    """A folder of reference photos searchable by face descriptor (frstudio.core.references.ReferenceLibrary)."""

    def best_match(self, descriptor: np.ndarray) -> tuple[Path, float] | None: ...


@dataclass(frozen=True)
class DamageStroke:
    """Marks painted by hand: `patch` (h x w bool) placed at (x, y) in the photo; `add` marks them as damage,
    otherwise as not damage."""

    x: int
    y: int
    patch: np.ndarray = field(repr=False)
    add: bool


@dataclass
class _Result:
    aligned: object  # AlignedFace
    restored: object  # RestoredFace
    model: str
    labels: dict[str, float]
    drift: float | None = None
    variants: list = field(default_factory=list)  # frstudio.core.variants.Variant, most faithful first
    sharpness: float | None = None  # in the photo, over the input's (quality.sharpness_ratio), at full strength
    learned: PersonalModel | None = None  # the model learned for this person that made it, if one did
    likeness: tuple[float, float] | None = None  # with `learned`: (input, result) mean distance to its photos

    def chosen(self, seed: int | None) -> tuple[object, float | None]:
        """(RestoredFace, identity drift) of the variant with this seed; the most faithful for None (or a seed
        this result does not have)."""
        for variant in self.variants:
            if variant.seed == seed:
                return variant.restored, variant.distance
        return self.restored, self.drift


class PhotoSession:
    def __init__(
        self,
        photo: Photo,
        restorers: RestorerCache | None = None,
        dlib: DlibInProcess | None = None,  # DlibProcess in the app: dlib's GIL-holding calls off its process
        detection: DetectionSettings | None = None,
        match_tone: bool | None = None,  # None: the pipeline's auto (a relit face's new light, on the whole photo)
    ):
        # `original` is the photo as it was opened (the "before"); `photo` is what faces are restored from and
        # blended into: the same photo, or a copy with its colours restored and/or its scratches repaired.
        self.original = self.photo = photo
        self.scratches = ScratchSettings()
        self.faded_colours = False  # restore a faded print's levels and white balance (frstudio.core.colour)
        self._colours_restored: np.ndarray | None = None
        self.scratch_result: ScratchResult | None = None
        self.strokes: list[DamageStroke] = []
        self._damage_prob: np.ndarray | None = None
        self._pixels_version = 0  # bumped whenever `photo`'s pixels change: results depend on them
        self.restorers = restorers or RestorerCache()
        self.dlib = dlib or DlibInProcess()
        self.detection = detection or DetectionSettings()
        self.match_tone = match_tone
        self.defaults = FaceChoice()  # given to faces found from now on
        # Called with a Change after each change, on the thread that made it: the long steps (detect, restore,
        # reference_match) run on a GUI's worker thread, so a GUI passes their calls on to its own thread.
        self.observers: list[Callable[[Change], None]] = []
        self._variants = 1
        self.faces: list[Face] = []
        self.choices: dict[int, FaceChoice] = {}
        statuses = [s for s in model_statuses() if s.available]
        self.available = [s.spec for s in statuses]
        self.guided = trusted_guided(statuses)  # the guided models Auto may use (routing.reference_helps)
        self._weights_sha = {s.spec.name: s.entry.get("sha256") for s in statuses}
        self._rgb8: np.ndarray | None = None
        self._results: dict[tuple, _Result] = {}
        self._failures: dict[int, str] = {}
        self._descriptors: dict[tuple, np.ndarray] = {}
        self._reference_photos: dict[tuple, ReferencePhoto] = {}
        self._matches: dict[tuple, ReferenceMatch] = {}  # (face index, reference path): the last match found
        self._personal: dict[tuple, PersonalModel] = {}  # face key -> the model learned from its person's photos
        self._taken_as_asked: set[tuple] = set()  # face keys learned from a folder they were not recognised in
        self.learned = PersonalStore()  # people learned before, in any photo: Auto restores their faces with it

    @classmethod
    def open(cls, path: str | Path, **kwargs) -> PhotoSession:
        return cls(load_photo(path), **kwargs)

    def _changed(self, what: str, indices: Sequence[int] = ()) -> None:
        change = Change(what, tuple(indices))
        for observer in list(self.observers):
            observer(change)

    @property
    def variants(self) -> int:
        """Restorations per face by a stochastic model, ranked by identity (frstudio.core.variants)."""
        return self._variants

    @variants.setter
    def variants(self, count: int) -> None:
        self._variants = count
        self._changed("variants")

    @property
    def rgb8(self) -> np.ndarray:
        if self._rgb8 is None:
            self._rgb8 = to_uint8(self.photo.pixels)
        return self._rgb8

    # ---- faces -------------------------------------------------------------------------------------

    def detect(self) -> Generator[Progress, None, list[Face]]:
        """Find the faces (faces drawn by hand are kept, numbered after the detected ones)."""
        yield Progress("detect", 0.0, path=self.photo.path)
        found = self.dlib.detect(self.rgb8, self.detection)
        manual = [f for f in self.faces if f.detector == "manual"]
        old_index = {self._face_key(f): f.index for f in self.faces}
        old_choices = dict(self.choices)
        self.faces, self.choices, renumbered = [], {}, {}
        for face in found + manual:
            before = old_index.get(self._face_key(face))  # same landmarks as before: keep what the user chose
            face.index = len(self.faces)
            self.faces.append(face)
            self.choices[face.index] = old_choices[before] if before is not None else replace(self.defaults)
            if before is not None:
                renumbered[before] = face.index
        # per-face messages and reference matches are kept by face number: follow the faces that stayed, drop the rest
        self._failures = {renumbered[i]: m for i, m in self._failures.items() if i in renumbered}
        self._matches = {(renumbered[i], path): m for (i, path), m in self._matches.items() if i in renumbered}
        self._changed("detected", [f.index for f in self.faces])
        yield Progress("detect", 1.0, faces=len(self.faces), path=self.photo.path)
        return self.faces

    def face(self, index: int) -> Face:
        for face in self.faces:
            if face.index == index:
                return face
        raise KeyError(index)

    def add_face(self, box: Sequence[float]) -> Face:
        """A face the detector missed, from a box the user drew: landmarks are fitted inside it."""
        h, w = self.rgb8.shape[:2]
        x0, y0, x1, y1 = (float(v) for v in box)
        x0, x1 = sorted((max(0.0, min(x0, w)), max(0.0, min(x1, w))))
        y0, y1 = sorted((max(0.0, min(y0, h)), max(0.0, min(y1, h))))
        if min(x1 - x0, y1 - y0) < MIN_MANUAL_BOX:
            raise PhotoError(f"draw a box of at least {MIN_MANUAL_BOX} pixels around the face")
        index = max((f.index for f in self.faces), default=-1) + 1
        # Only the region around the box goes to dlib (it may be in another process: no 50 MP copies).
        pad = 0.5 * max(x1 - x0, y1 - y0)
        rx, ry = int(max(0, x0 - pad)), int(max(0, y0 - pad))
        roi = np.ascontiguousarray(self.rgb8[ry : int(min(h, y1 + pad)), rx : int(min(w, x1 + pad))])
        face = self.dlib.manual_face(roi, (x0 - rx, y0 - ry, x1 - rx, y1 - ry), index)
        face.box = (x0, y0, x1, y1)
        face.landmarks = face.landmarks + np.array([rx, ry], np.float32)
        self.faces.append(face)
        self.choices[index] = replace(self.defaults)
        self._changed("faces", [index])
        return face

    def remove_face(self, index: int) -> None:
        """Forget a face (undoing "add face"); the others keep their numbers."""
        self.faces = [f for f in self.faces if f.index != index]
        self.choices.pop(index, None)
        self._failures.pop(index, None)
        self._changed("faces", [index])

    def restore_face(self, face: Face, choice: FaceChoice) -> None:
        """Put back a face removed by `remove_face` (redo)."""
        self.faces.append(face)
        self.faces.sort(key=lambda f: f.index)
        self.choices[face.index] = choice
        self._changed("faces", [face.index])

    # ---- choices and what they resolve to ------------------------------------------------------------

    def set_choice(self, index: int, **changes) -> None:
        self.choices[index] = replace(self.choices[index], **changes)
        self._changed("choices", [index])

    def set_choices(self, indices: Sequence[int], **changes) -> None:
        """Change the choices of the faces `indices` (those the session still has), telling observers once."""
        indices = [i for i in indices if i in self.choices]
        for i in indices:
            self.choices[i] = replace(self.choices[i], **changes)
        self._changed("choices", indices)

    def model_for(self, index: int, choice: FaceChoice | None = None) -> str | None:
        choice = choice or self.choices[index]
        if choice.model != AUTO:
            return choice.model
        return auto_model(self.face(index).eye_distance, choice.reference is not None, self.available, self.guided)

    def _face_key(self, face: Face) -> tuple:
        # by landmarks, not by number: a face found again (renumbered) keeps its restored crop and descriptor
        return (hashlib.sha1(np.ascontiguousarray(face.landmarks, np.float32).tobytes()).hexdigest(),)

    def _result_key(self, face: Face, choice: FaceChoice | None = None) -> tuple | None:
        choice = choice or self.choices[face.index]
        model = self.model_for(face.index, choice)
        if model is None:
            return None
        reference = choice.reference
        ref_key = None
        if reference is not None and get_spec(model).takes_reference:
            ref_key = (str(reference), reference.stat().st_mtime_ns if reference.exists() else 0)
        count = self.variants if model != "passthrough" and get_spec(model).stochastic else 1
        return (*self._face_key(face), self._pixels_version, model, ref_key, count, self._personal_key(face, model))

    def _personal_key(self, face: Face, model: str) -> str | None:
        """The key of the model learned for this face's person, when it restores this face: learned from `model`
        and measured better than it (PersonalModel.helps)."""
        learned = self._personal.get(self._face_key(face))
        return learned.key if learned is not None and learned.base == model and learned.helps else None

    def _current(self, face: Face) -> _Result | None:
        key = self._result_key(face)
        return self._results.get(key) if key else None

    def stale_faces(self) -> list[int]:
        """Included faces whose current choices have no result yet: what "Restore" would compute."""
        return [f.index for f in self.faces if self.choices[f.index].included and self._current(f) is None]

    # ---- restoring -----------------------------------------------------------------------------------

    def restore(self, cancel: CancelToken | None = None) -> Generator[Progress, None, list[int]]:
        """Restore the included faces that have no current result; returns the indices that failed (they keep
        their original pixels and have a message in `info()`)."""
        # A snapshot of the choices: the user may change them while this runs on a worker thread; results are
        # filed under the choices they were computed for, and a later run picks up the changes.
        choices = dict(self.choices)
        self._find_learned([f for f in list(self.faces) if choices[f.index].included and choices[f.index].model == AUTO])
        todo = [f for f in list(self.faces) if choices[f.index].included and self._result_key(f, choices[f.index]) not in self._results]
        groups: dict[tuple, list[Face]] = {}
        for face in todo:
            key = self._result_key(face, choices[face.index])
            groups.setdefault(key[-4:] if key else (None, None, 1, None), []).append(face)
        total, finished, failed = len(todo), 0, []
        yield Progress("restore", 0.0, 0, total, self.photo.path)
        for (model, _, count, personal), faces in groups.items():
            if cancel:
                cancel.raise_if_cancelled()
            try:
                reports = yield from self._restore_group(model, faces, choices, finished, total, cancel, count, personal)
            except Cancelled:
                raise
            except FRStudioError as exc:  # a model that cannot load fails its faces, not the session
                reports = {f.index: str(exc) for f in faces}
            for face in faces:
                message = reports.get(face.index)
                if message:
                    self._failures[face.index] = message
                    failed.append(face.index)
                else:
                    self._failures.pop(face.index, None)
            finished += len(faces)
        self._changed("restored", [f.index for f in todo])
        yield Progress("done", 1.0, finished, total, self.photo.path)
        return failed

    def _restore_group(self, model: str | None, faces: list[Face], choices: dict, finished: int, total: int, cancel,
                       variants: int = 1, personal: str | None = None) -> Generator[Progress, None, dict[int, str]]:
        """Restore faces sharing a model and reference (`variants` times each for a stochastic model), with the
        model learned for their person when `personal` names one; returns {index: message} for faces that failed."""
        if model is None:
            return {f.index: "no model with bundled weights can restore this face" for f in faces}
        spec = get_spec(model)
        reference = None
        if spec.takes_reference:
            path = choices[faces[0].index].reference
            if path is None:
                return {f.index: f"the model '{spec.title}' needs a reference photo of this person: choose one, or pick another model" for f in faces}
            reference = self.reference_match(faces[0].index, path, spec.input_size).aligned
        restorer = self.restorers.get(model)
        if personal is not None:
            restorer = personal_restorer(restorer, self._personal[self._face_key(faces[0])])
        job = restore_faces(self.photo, faces, restorer, reference, cancel, variants, self.dlib.describe)
        done, reports = yield from relay(
            job, lambda p: Progress("restore", (finished + p.face) / max(total, 1), finished + p.face, total, self.photo.path))
        by_index = {f.index: f for f in faces}
        new = []
        for index, (aligned, restored) in done.items():
            result = _Result(aligned, restored, model, dict(getattr(restored, "verdict", {}) or {}), variants=restored.extras.get("variants", []),
                             learned=getattr(restorer, "personal", None))
            self._results[self._result_key(by_index[index], choices[index])] = result
            if result.variants:  # ranking measured each variant against the input already (same 128 px view)
                result.drift = result.variants[0].distance
            else:
                new.append((by_index[index], result))
        yield Progress("identity", (finished + len(faces)) / max(total, 1), finished + len(faces), total, self.photo.path)
        self._measure_drift(new)
        self._measure_sharpness([(by_index[i], self._results[self._result_key(by_index[i], choices[i])]) for i in done])
        return {r.index: r.message or "the model could not restore this face" for r in reports if not r.restored}

    def _aligned128(self, face: Face) -> tuple[np.ndarray, np.ndarray]:
        """The face aligned at the template's 128 px (uint8) and its landmarks in that crop: the one view of a
        face that every identity comparison uses, whatever size the model works at."""
        matrix = estimate_transform(five_points(face.landmarks), TEMPLATE_SIZE)
        crop = align_face(self.photo.pixels, face.landmarks, TEMPLATE_SIZE).image
        return float_to_uint8(crop), transform_points(face.landmarks, matrix)

    def input_descriptor(self, face: Face) -> np.ndarray:
        key = self._face_key(face)
        if key not in self._descriptors:
            self._descriptors[key] = self.dlib.describe([self._aligned128(face)])[0]
        return self._descriptors[key]

    def _measure_sharpness(self, new: list[tuple[Face, _Result]]) -> None:
        """Each new result's sharpness in the photo over the input's, blended at full strength with the photo's
        own tone (a relight's brightness is not detail)."""
        if not new:
            return
        restored = {face.index: (result.aligned, result.restored) for face, result in new}
        after = compose(self.photo, [face for face, _ in new], restored, 1.0, match_tone=True)
        for face, result in new:
            result.sharpness = sharpness_ratio(self.photo.pixels, after, face.landmarks)

    def _measure_drift(self, new: list[tuple[Face, _Result]]) -> None:
        if not new:
            return
        items, need_input = [], set()
        for face, result in new:
            crop, landmarks = self._aligned128(face)
            if self._face_key(face) not in self._descriptors:
                need_input.add(face.index)
                items.append((crop, landmarks))
            out = result.restored.image
            items.append((float_to_uint8(out), landmarks * (out.shape[0] / TEMPLATE_SIZE)))
        descriptors = iter(self.dlib.describe(items))  # one call: one round trip to a descriptor process
        for face, result in new:
            if face.index in need_input:
                self._descriptors[self._face_key(face)] = next(descriptors)
            before, after = self._descriptors[self._face_key(face)], next(descriptors)
            result.drift = descriptor_distance(before, after)
            if result.learned is not None and result.learned.descriptors:  # a learned model moves towards its photos
                photos = np.asarray(result.learned.descriptors, np.float64)
                result.likeness = tuple(float(np.linalg.norm(photos - d, axis=1).mean()) for d in (before, after))

    # ---- scratches, cracks and dust across the photo -----------------------------------------------------

    @property
    def damage_found(self) -> bool:
        """Whether the detector has run on this photo (its result is kept: strength and painting reuse it)."""
        return self._damage_prob is not None

    def find_damage(self, cancel: CancelToken | None = None) -> Generator[Progress, None, ScratchResult | None]:
        """Run the scratch and dust detector over the photo (once; tiles, cancellable), then repair as the
        current settings say (`apply_scratches`)."""
        if self._damage_prob is None:
            network, bf16 = self.restorers.damage_network()

            def tile_done(done: int, total: int) -> None:
                if cancel:
                    cancel.raise_if_cancelled()

            yield Progress("scratches", 0.0, path=self.original.path)
            self._damage_prob = damage_probability(self.original.pixels, network, bf16=bf16, progress=tile_done)
        return (yield from self.apply_scratches())

    def damage_mask(self) -> np.ndarray | None:
        """H x W bool: the pixels taken for scratches and dust at the current strength, but for specks wholly
        inside the eyes and mouths of the faces found (`scratches.marks`: the face models see to those), with what
        was painted by hand; None before the detector has run and nothing was painted."""
        if self._damage_prob is None and not self.strokes:
            return None
        shape = self.original.pixels.shape
        prob = self._damage_prob if self._damage_prob is not None else np.zeros(shape[:2], np.float32)
        add, erase = self._painted()
        return marks(prob, self.scratches.strength, add, erase, feature_guard(shape, [f.landmarks for f in self.faces]))

    def _painted(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        if not self.strokes:
            return None, None
        add = np.zeros(self.original.pixels.shape[:2], bool)
        erase = np.zeros_like(add)
        for stroke in self.strokes:  # in order: a later stroke wins where it overlaps an earlier one
            ph, pw = stroke.patch.shape
            region = (slice(stroke.y, stroke.y + ph), slice(stroke.x, stroke.x + pw))
            (add if stroke.add else erase)[region] |= stroke.patch
            (erase if stroke.add else add)[region] &= ~stroke.patch
        return add, erase

    def _base_pixels(self) -> np.ndarray:
        """The original's pixels, or with `faded_colours` its colours restored (computed once)."""
        if not self.faded_colours:
            return self.original.pixels
        if self._colours_restored is None:
            self._colours_restored = restore_faded(self.original.pixels)
        return self._colours_restored

    def apply_scratches(self) -> Generator[Progress, None, ScratchResult | None]:
        """Make `photo` the original (its colours restored with `faded_colours`) with its marks repaired as
        `scratches` (mode, strength) and the painted strokes say; with mode "off" and no colours restored, the
        original itself. Faces restored from other pixels are redone."""
        yield Progress("scratches", 0.5, path=self.original.path)
        base = self._base_pixels()
        mask = self.damage_mask()
        if self.scratches.mode == "off" or mask is None:
            result = None
            pixels = base
        else:
            fill, bf16 = self.restorers.fill_network()
            result = repair_as_chosen(base, mask, self.scratches.mode, self._damage_prob, painted=bool(self.strokes),
                                      fill=fill, bf16=bf16)
            pixels = result.pixels
        self.scratch_result = result
        if pixels is not self.photo.pixels:
            self.photo = self.original if pixels is self.original.pixels else replace(self.original, pixels=pixels)
            self._rgb8 = None
            self._descriptors.clear()
            self._pixels_version += 1
        self._changed("scratches")
        yield Progress("scratches", 1.0, path=self.original.path)
        return result

    def set_scratches(self, mode: str | None = None, strength: float | None = None) -> None:
        """Change scratch removal's settings; `apply_scratches` (or `find_damage`, the first time) makes them so."""
        self.scratches = ScratchSettings(mode or self.scratches.mode, self.scratches.strength if strength is None else strength)

    def paint_damage(self, stroke: DamageStroke) -> None:
        """Add a stroke painted by hand (undone by `unpaint_damage`); `apply_scratches` repairs it."""
        self.strokes.append(stroke)

    def unpaint_damage(self, stroke: DamageStroke) -> None:
        self.strokes = [s for s in self.strokes if s is not stroke]

    # ---- references ----------------------------------------------------------------------------------

    def reference_match(self, index: int, path: Path | None = None, size: int = TEMPLATE_SIZE) -> ReferenceMatch:
        """The face of the reference photo that looks most like face `index` (aligned at `size`), and how close."""
        path = Path(path or self.choices[index].reference)
        stamp = path.stat().st_mtime_ns if path.exists() else 0
        photo = self._reference_photos.get((str(path), stamp))
        if photo is None:
            photo = self._reference_photos[(str(path), stamp)] = ReferencePhoto(path, self.detection, self.dlib.describe)
        match = photo.best_for(self.input_descriptor(self.face(index)), size)
        self._matches[(index, str(path))] = match
        self._changed("reference", [index])
        return match

    def _find_learned(self, faces: list[Face]) -> None:
        """Give each of `faces` (Auto's) the model learned for its person before, in this photo or another, where
        one measured better (PersonalStore.find). Runs with restore(), on its worker: it needs descriptors."""
        if not self.learned.has_models():  # nobody learned yet: no descriptors to compute
            return
        for face in faces:
            model = self.model_for(face.index)
            if self._face_key(face) in self._personal or model is None or not tunable(model):
                continue
            found = self.learned.find(self.input_descriptor(face), self._weights_sha.get(model))
            if found is not None:
                self._personal[self._face_key(face)] = found

    def learn_person(self, index: int, library, cancel: CancelToken | None = None) -> Generator[Progress, None, PersonalModel]:
        """Learn face `index`'s person from their photos in `library` (a references.ReferenceLibrary, indexed):
        a copy of the face's model tuned on them (frstudio.core.personal; about a minute, or at once when these
        photos were learned before). The face is restored with it from then on where it measured better."""
        face = self.face(index)
        model = self.model_for(index)
        if model is None or not tunable(model):
            raise FRStudioError(f"face {index + 1} is restored by a model that cannot learn a person; choose Auto or "
                                "the default model for it")
        photos = person_photos(library, self.input_descriptor(face), asked=True)
        if not len(photos.crops):
            raise FRStudioError(f"nobody in {library.folder.name} looks like face {index + 1}, and the folder holds more "
                                "than one person: choose a folder with only this person's photos")
        if not photos.recognised:
            yield Progress("learn", 0.0, message=f"face {index + 1} is too damaged to recognise: learning from the one "
                           f"person in {library.folder.name}, as asked")
        learned = yield from tune(self.restorers.get(model), photos.crops, photos.descriptors, photos.landmarks,
                                  store=self.learned, cancel=lambda: bool(cancel and cancel.cancelled),
                                  describe=self.dlib.describe)
        self._personal[self._face_key(face)] = learned
        if photos.recognised:
            self._taken_as_asked.discard(self._face_key(face))
        else:
            self._taken_as_asked.add(self._face_key(face))
        self._changed("choices", [index])  # its result now depends on the learned model
        return learned

    def match_references(self, library: ReferenceLibrary) -> Generator[Progress, None, dict[int, Path]]:
        """Proposed references {index: photo} from a library, for faces it holds the same person for (< 0.6)."""
        proposals: dict[int, Path] = {}
        for i, face in enumerate(self.faces):
            yield Progress("identity", i / max(len(self.faces), 1), i, len(self.faces), self.photo.path)
            found = library.best_match(self.input_descriptor(face))
            if found is not None and found[1] < SAME_PERSON_DISTANCE:
                proposals[face.index] = Path(found[0])
        return proposals

    # ---- results -------------------------------------------------------------------------------------

    def info(self, index: int) -> FaceInfo:
        face = self.face(index)
        key = self._result_key(face)
        result = self._results.get(key) if key else None
        choice = self.choices[index]
        info = FaceInfo(index, face.eye_distance, manual=face.detector == "manual", message=self._failures.get(index, ""),
                        profile=face.profile, personal=self._personal.get(self._face_key(face)),
                        personal_recognised=self._face_key(face) not in self._taken_as_asked)
        if result is not None:
            info.restored, info.model, info.labels = True, result.model, result.labels
            info.personal_used, info.likeness = key[-1] is not None, result.likeness
            info.sharpness = result.sharpness
            info.kept_clean = choice.model == AUTO and looks_clean(result.labels)
            _, info.drift = result.chosen(choice.variant)
            if result.variants:
                info.variants = result.variants
                info.variant = choice.variant if any(v.seed == choice.variant for v in result.variants) else result.variants[0].seed
        model = self.model_for(index)
        if choice.reference is not None and model and get_spec(model).takes_reference:
            # known once the reference has been matched (on a worker); never computed here
            info.reference = self._matches.get((index, str(choice.reference)))
        return info

    def crops(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(before, after) aligned crops of a face as uint8, `after` None until restored."""
        face = self.face(index)
        result = self._current(face)
        before = self._aligned128(face)[0]  # always at 128, whatever size the model took
        return before, None if result is None else float_to_uint8(result.chosen(self.choices[index].variant)[0].image)

    def preview(self) -> np.ndarray:
        """The photo with the current results of the included faces blended in at their strengths (same dtype
        as the photo); faces without a result keep their original pixels."""
        restored, strengths = self._blend_inputs()
        if not restored:
            return self.photo.pixels
        return compose(self.photo, self.faces, restored, strengths, self.match_tone)

    def relight_note(self) -> str:
        """What the preview does beyond the faces: under auto tone, the whole photo relit to match faces the
        model relit (`relight.photo_relight`); empty when nothing outside the faces changes."""
        if self.match_tone is not None:
            return ""
        curve = photo_relight(self.faces, *self._blend_inputs())
        return curve.describe() if curve else ""

    def _blend_inputs(self) -> tuple[dict[int, tuple], dict[int, float]]:
        """{index: (aligned, restored face)} and {index: strength} of the included faces that have a result."""
        restored, strengths = {}, {}
        for face in self.faces:
            choice = self.choices[face.index]
            result = self._current(face) if choice.included else None
            if result is not None:
                restored[face.index] = (result.aligned, result.chosen(choice.variant)[0])
                strengths[face.index] = auto_strength(result.labels, choice.strength) if choice.model == AUTO else choice.strength
        return restored, strengths

    def output_path(self, settings: ExportSettings) -> Path:
        options = RestoreOptions(output_dir=settings.folder, suffix=settings.suffix, format=settings.format)
        return output_path_for(self.photo.path, options)

    def export(self, settings: ExportSettings, overwrite: bool = False, pixels: np.ndarray | None = None) -> list[Path]:
        """Write the restored photo (and the comparison image when asked); returns the files written. The
        original is never written over; an existing output is only replaced with `overwrite`."""
        dest = self.output_path(settings)
        if dest.resolve() == Path(self.photo.path).resolve():
            raise PhotoError("the export would replace the original photo: choose a suffix or another folder")
        if dest.exists() and not overwrite:
            raise OutputExistsError(dest)
        pixels = self.preview() if pixels is None else pixels
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PhotoError(f"cannot create the folder {dest.parent}: {exc.strerror or exc}") from exc
        # as the batch does: the bytes follow the output's name (a JPEG misnamed .png is saved as a real PNG)
        fmt = settings.format or SUFFIX_FORMAT.get(dest.suffix.lower())
        written = [save_photo(self.photo, pixels, dest, format=fmt, quality=settings.quality, keep_metadata=settings.keep_metadata)]
        if settings.comparison:
            pair = comparison_image(self.original.pixels, pixels)
            written.append(save_image(pair, dest.with_name(f"{dest.stem}_compare.jpg"), quality=90))
        return written
