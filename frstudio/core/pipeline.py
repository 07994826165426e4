"""The restoration pipeline: a photo (or a folder of them) in, restored photos out.

Long jobs are generators (`frstudio.core.jobs`) that yield a `Progress` event per stage and per face and
return their result; the command line draws a progress bar from the events, the GUI turns them into signals.
A `CancelToken` is checked between faces. A failing face keeps its original pixels; a failing photo is reported and the
batch goes on; an output that already exists is not redone, so an interrupted batch resumes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from frstudio.core.align import align_face
from frstudio.core.blend import BlendSettings, blend_face
from frstudio.core.colour import restore_faded
from frstudio.core.detect import DetectionSettings, Face, detect_faces
from frstudio.core.errors import Cancelled, FRStudioError, ModelUnavailableError, PhotoError
from frstudio.core.files import remove_stale_temp_files, write_error_message
from frstudio.core.imageio import Photo, float_to_uint8, load_photo, save_image, save_photo, to_uint8
from frstudio.core.jobs import CancelToken, Progress, relay
from frstudio.core.personal import person_photos, personal_restorer, tunable, tune
from frstudio.core.quality import sharpness_ratio
from frstudio.core.references import ReferenceLibrary, ReferencePhoto, describe_photo_faces, match_faces
from frstudio.core.relight import apply_tone_curve, photo_relight, relit
from frstudio.core.restore import PassThroughRestorer, Restorer, default_model, get_spec, model_statuses
from frstudio.core.routing import CLEAN_FACE_MESSAGE, auto_model, auto_strength, trusted_guided
from frstudio.core.scratches import ScratchResult, ScratchSettings, remove_scratches
from frstudio.models import ModelSpec

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"}
FORMAT_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp"}
FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}
SUFFIX_FORMAT = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP", ".bmp": "BMP"}
FACE_BATCH = 4  # faces per network call: enough to use the CPU's vector units, few enough that cancel is prompt

log = logging.getLogger(__name__)


@dataclass
class RestoreOptions:
    model: str | None = None  # None or "auto": per face, the model frstudio.core.routing.auto_model picks
    strength: float = 1.0
    faces: frozenset[int] | None = None  # face indices (0-based; people see them from 1) to restore; None = every face
    reference: Path | None = None  # a good photo of the same person (for models that take one)
    reference_dir: Path | None = None  # or a folder of good photos: each face gets its own person's best one
    output_dir: Path | None = None  # None: next to each input
    suffix: str = "_restored"
    format: str | None = None  # None: the input's format
    quality: int = 95
    keep_metadata: bool = True
    compare: bool = False  # also save a side-by-side before/after image
    save_crops: bool = False  # also save each face's before/after crops
    no_faces: str = "copy"  # "copy": write the photo through unchanged; "skip": report it, write nothing
    overwrite: bool = False  # redo outputs that already exist (default: resume, skip them)
    # True: pull each restored face's low frequencies (brightness, colour) to the photo's, so a model's drift
    # cannot show; False: keep the model's. None (auto): match, except the brightness of faces the model's own
    # classifier found badly lit: there the new light is the restoration (FRR-Net's relighting), while the
    # face's colour still follows the photo's so it does not stand out from the neck and the rest.
    match_tone: bool | None = None
    use_model_mask: bool = True  # blend through the model's predicted face mask where it gives one
    # A stochastic model restores each face this many times (seeds 0..N-1) and keeps the variant most like the
    # person (frstudio.core.variants); the others are saved beside the photo, ranked. Other models: ignored.
    variants: int = 1
    # With reference_dir: learn each person from their photos there (frstudio.core.personal, once per person and
    # set of photos, kept in the user data folder) and restore their faces with it where it measured better.
    personalize: bool = False
    # Set by restore_batch for a run of one photo: its faces are the ones the folder was given for, so a lone face
    # too damaged to be recognised learns from a folder of one person (frstudio.core.personal.person_photos)
    folder_is_for_this_photo: bool = False
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    # Scratches, cracks and dust across the whole photo (frstudio.core.scratches), repaired once the faces are
    # found and before they are restored; damage_mask: also save what was marked, as "<name>_damage.png".
    scratches: ScratchSettings = field(default_factory=ScratchSettings)
    damage_mask: bool = False
    faded_colours: bool = False  # restore a faded print's levels and white balance first (frstudio.core.colour)


@dataclass
class FaceReport:
    index: int
    box: tuple[float, float, float, float]
    eye_distance: float
    restored: bool
    model: str = ""
    message: str = ""
    extras: dict = field(default_factory=dict)
    verdict: dict = field(default_factory=dict)  # the model's classifier, e.g. {"noise": 0.9, "blur": 0.2, "relight": 0.7}
    reference: str = ""  # the reference photo that guided it, e.g. "mum_1990.jpg (distance 0.41)"
    variants: list = field(default_factory=list)  # frstudio.core.variants.Variant, most faithful (the one used) first
    sharpness: float | None = None  # the face's sharpness in the result over the input's (quality.sharpness_ratio)


@dataclass
class PhotoResult:
    source: Path
    status: str  # "restored", "no_faces", "skipped", "failed", "cancelled"
    output: Path | None = None
    message: str = ""
    faces: list[FaceReport] = field(default_factory=list)
    extra_outputs: list[Path] = field(default_factory=list)
    note: str = ""  # what was done beyond the faces, e.g. the whole photo relit to match them
    whole_photo: str = ""  # what was done to the whole photo when asked: scratch removal, faded colours


class RestorerCache:
    """Loads each model once per session, on first use (the scratch detector and fill too)."""

    def __init__(self, factory: Callable[[str], object] | None = None, damage_factory: Callable[[], object] | None = None,
                 fill_factory: Callable[[], object | None] | None = None):
        self._factory = factory or Restorer
        self._damage_factory = damage_factory
        self._fill_factory = fill_factory
        self._loaded: dict[str, object] = {}
        self._damage = None
        self._fill = None

    def damage_network(self):
        """(network, bf16): the scratch and dust detector, and whether to run it under bf16 autocast."""
        if self._damage is None:
            from frstudio.core.restore import cpu_has_native_bf16
            from frstudio.core.scratches import load_damage_network

            net = self._damage_factory() if self._damage_factory else load_damage_network()
            self._damage = (net, next(net.parameters()).device.type == "cpu" and cpu_has_native_bf16())
        return self._damage

    def fill_network(self):
        """(network or None, bf16): the learned fill of scratches (None where none is bundled: OpenCV's fill
        alone), and whether to run it under bf16 autocast."""
        if self._fill is None:
            from frstudio.core.restore import cpu_has_native_bf16
            from frstudio.core.scratches import load_fill_network

            net = (self._fill_factory or load_fill_network)()
            self._fill = (net, net is not None and next(net.parameters()).device.type == "cpu" and cpu_has_native_bf16())
        return self._fill

    def get(self, name: str):
        if name == "passthrough":
            return PassThroughRestorer()
        if name not in self._loaded:
            self._loaded[name] = self._factory(name)
        return self._loaded[name]


def is_auto(name: str | None) -> bool:
    return name in (None, "", "auto")


def resolve_model(name: str | None) -> str:
    """The model a name stands for; "auto" (or None): the default model, the one a batch loads up front.
    The default is the table's first model: when its weights are missing that is said, and no other model is
    used in its place without the user choosing it."""
    if is_auto(name):
        statuses = model_statuses()
        if default_model() is None:
            raise ModelUnavailableError(
                "no trained weights are bundled yet: no model can restore faces in this version"
            )
        default = statuses[0]
        if not default.available:
            why = ("its network is not part of this version" if not default.implemented
                   else f"{default.weights_path.name} is missing" if default.entry else "its weights are not in the manifest")
            raise ModelUnavailableError(
                f"the default model, {default.spec.title} ({default.spec.name}), cannot be used: {why}; choose another model"
            )
        return default.spec.name
    if name != "passthrough":
        get_spec(name)
    return name


def models_for_faces(faces: list[Face], model: str | None, has_reference: bool = False) -> dict[str, list[Face]]:
    """{model name: its faces}, in the order each model is first needed. A named model takes every face; "auto"
    asks `routing.auto_model` per face (tiny faces to the 16 -> 128 model when its weights are bundled)."""
    if not is_auto(model):
        return {resolve_model(model): list(faces)} if faces else {}
    statuses = [s for s in model_statuses() if s.available]
    available, guided = [s.spec for s in statuses], trusted_guided(statuses)
    groups: dict[str, list[Face]] = {}
    for face in faces:
        name = auto_model(face.eye_distance, has_reference, available, guided) or resolve_model(None)
        groups.setdefault(name, []).append(face)
    return groups


def output_path_for(source: Path, options: RestoreOptions, root: Path | None = None) -> Path:
    """`<stem><suffix>.<ext>` in the output folder (mirroring sub-folders of a batch `root`)."""
    fmt = (options.format or "").upper()
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    suffix = FORMAT_SUFFIX.get(fmt) or (".png" if source.suffix.lower() == ".gif" else source.suffix)
    folder = source.parent
    if options.output_dir is not None:
        folder = Path(options.output_dir)
        if root is not None and source.is_relative_to(root):
            folder = folder / source.parent.relative_to(root)
    return folder / f"{source.stem}{options.suffix}{suffix}"


def restore_faces(
    photo: Photo,
    faces: list[Face],
    restorer,
    reference: np.ndarray | dict[int, np.ndarray] | None = None,
    cancel: CancelToken | None = None,
    variants: int = 1,
    describe=None,
) -> Generator[Progress, None, tuple[dict[int, tuple], list[FaceReport]]]:
    """Align and restore each face; returns ({index: (aligned, restored)}, reports). A failing face is reported
    and left out, so the photo keeps that face's original pixels. `reference`: one aligned reference face for
    all, or {face index: aligned reference face}. `variants` > 1 with a stochastic model: restore each face
    that many times and keep the most faithful (ranked with `describe`, default dlib in this process)."""
    spec: ModelSpec = restorer.spec
    done: dict[int, tuple] = {}
    reports: list[FaceReport] = []
    for start in range(0, len(faces), FACE_BATCH):
        if cancel:
            cancel.raise_if_cancelled()
        chunk = faces[start : start + FACE_BATCH]
        aligned = []
        for face in chunk:
            try:
                aligned.append((face, align_face(photo.pixels, face.landmarks, spec.input_size)))
            except ValueError as exc:
                reports.append(FaceReport(face.index, face.box, face.eye_distance, False, spec.name, f"face {face.index + 1}: {exc}"))
        if aligned:
            crops = np.stack([a.image for _, a in aligned])
            try:
                refs = np.stack([reference[f.index] for f, _ in aligned]) if isinstance(reference, dict) else reference
                if variants > 1 and getattr(restorer, "stochastic", False):
                    restored = _most_faithful(restorer, crops, refs, aligned, variants, describe)
                else:
                    restored = restorer.restore(crops, refs)
            except FRStudioError:
                raise
            except (RuntimeError, ValueError) as exc:  # one bad batch must not lose the photo: keep originals
                restored = None
                message = f"the model failed on these faces and they were left as they were ({exc})"
            for k, (face, al) in enumerate(aligned):
                if restored is None:
                    reports.append(FaceReport(face.index, face.box, face.eye_distance, False, spec.name, message))
                else:
                    done[face.index] = (al, restored[k])
                    reports.append(FaceReport(face.index, face.box, face.eye_distance, True, spec.name, extras=restored[k].extras,
                                              verdict=restored[k].verdict, variants=restored[k].extras.get("variants", [])))
                yield Progress("restore", 0.2 + 0.6 * len(reports) / len(faces), len(reports), len(faces), photo.path)
    reports.sort(key=lambda r: r.index)
    return done, reports


def _most_faithful(restorer, crops: np.ndarray, refs, aligned: list, count: int, describe) -> list:
    """Each face's most faithful of `count` variants, carrying the ranked list in extras["variants"]."""
    from frstudio.core.dlib_work import describe_in_process
    from frstudio.core.variants import MAX_VARIANTS, rank_variants, restore_variants

    by_seed = restore_variants(restorer, crops, refs, min(count, MAX_VARIANTS))
    per_face_refs = None if refs is None else np.broadcast_to(refs, crops.shape) if np.ndim(refs) == 3 else refs
    ranked = rank_variants([al for _, al in aligned], [f.landmarks for f, _ in aligned], by_seed, describe or describe_in_process, per_face_refs)
    chosen = []
    for variants in ranked:
        best = variants[0].restored
        best.extras["variants"] = variants
        chosen.append(best)
    return chosen


def compose(photo: Photo, faces: list[Face], restored: dict[int, tuple], strength: float | dict[int, float] = 1.0,
            match_tone: bool | None = None, use_model_mask: bool = True) -> np.ndarray:
    """The photo with every restored face blended in; faces not in `restored` stay untouched.

    `match_tone` None is auto: each face's tone is matched to the photo's, except where the model relit faces
    (its classifier found them badly lit): then the whole photo takes the light the model gave them
    (`relight.photo_relight`), and if that change is too small to matter, the relit face alone keeps it."""
    pixels = photo.pixels.copy()
    curve = photo_relight(faces, restored, strength) if match_tone is None else None
    if curve is not None:
        apply_tone_curve(pixels, curve)
    for face in faces:
        if face.index not in restored:
            continue
        aligned, result = restored[face.index]
        s = strength.get(face.index, 1.0) if isinstance(strength, dict) else strength
        match = True if match_tone is None else match_tone
        keep_light = match_tone is None and curve is None and relit(result)
        settings = BlendSettings(s, match, photo.is_grey, use_model_mask, keep_light)
        blend_face(pixels, result.image, aligned, face.landmarks, settings, getattr(result, "mask", None))
    return pixels


def comparison_image(before: np.ndarray, after: np.ndarray, max_side: int = 2048) -> np.ndarray:
    """Before | after, side by side, 8-bit, scaled so the whole image fits `max_side` wide."""
    import cv2

    pair = np.concatenate([to_uint8(before), np.full((before.shape[0], 8, 3), 255, np.uint8), to_uint8(after)], axis=1)
    scale = min(1.0, max_side / pair.shape[1])
    if scale < 1.0:
        pair = cv2.resize(pair, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return pair


def restore_photo(
    path: Path,
    options: RestoreOptions,
    restorers: RestorerCache,
    cancel: CancelToken | None = None,
    reference: np.ndarray | None = None,
    root: Path | None = None,
    references=None,
    dest: Path | None = None,
) -> Generator[Progress, None, PhotoResult]:
    """Restore one photo file and write the result. Returns a PhotoResult; raises only Cancelled: whatever goes
    wrong with this photo (OpenCV, dlib, Pillow, the OS) is its error, so a batch goes on.
    `reference`: one aligned reference face for every face; `references`: a `frstudio.core.references` source
    (ReferencePhoto or ReferenceLibrary) that picks one per face, for models that take a reference.
    `dest`: where to write (default `output_path_for`; a batch passes names made distinct by `plan_outputs`)."""
    path = Path(path)
    dest = Path(dest) if dest is not None else output_path_for(path, options, root)
    try:
        return (yield from _restore_photo(path, dest, options, restorers, cancel, reference, references))
    except Cancelled:
        raise
    except FRStudioError as exc:
        return PhotoResult(path, "failed", None, str(exc))
    except MemoryError:
        return PhotoResult(path, "failed", None, f"{path.name}: not enough memory to process this photo")
    except Exception as exc:  # noqa: BLE001 - one photo's problem, whatever raised it
        log.debug("restoring %s failed", path, exc_info=True)
        return PhotoResult(path, "failed", None, _one_line(path, dest, exc))


def _one_line(path: Path, dest: Path, error: Exception) -> str:
    if isinstance(error, OSError):
        if error.filename is not None and Path(os.fsdecode(error.filename)) == path:
            return f"{path.name}: cannot be read ({error.strerror or error})"
        return f"{path.name}: {write_error_message(dest, error)}"
    text = (str(error).strip().splitlines() or [""])[0][:200]
    return f"{path.name}: {type(error).__name__}" + (f": {text}" if text else "")


def _restore_photo(path: Path, dest: Path, options: RestoreOptions, restorers: RestorerCache, cancel, reference, references):
    if _same_file(dest, path):
        raise PhotoError(f"{path.name}: the output would replace the original; choose another suffix or folder")
    if dest.exists() and not options.overwrite:
        return PhotoResult(path, "skipped", dest, f"{dest.name} already exists (done earlier)")
    yield Progress("load", 0.0, path=path)
    photo = original = load_photo(path)
    if options.faded_colours:
        photo = replace(photo, pixels=restore_faded(photo.pixels))
    yield Progress("detect", 0.05, path=path)
    faces = detect_faces(to_uint8(photo.pixels), options.detection)
    _check_face_selection(path, faces, options.faces)
    found = None
    if options.scratches.mode != "off":
        yield Progress("scratches", 0.1, path=path)
        network, bf16 = restorers.damage_network()
        found = remove_scratches(photo.pixels, network, options.scratches, bf16, [f.landmarks for f in faces],
                                 detect_on=original.pixels, fill=restorers.fill_network())
        photo = replace(photo, pixels=found.pixels)  # the faces are restored from the repaired photo
    chosen = [f for f in faces if options.faces is None or f.index in options.faces]
    whole_photo = _whole_photo_changes(options, found)
    if not faces and options.no_faces == "skip" and not whole_photo:
        return PhotoResult(path, "no_faces", None, f"{path.name}: no face found; nothing written")
    done, reports = {}, []
    has_reference = reference is not None or references is not None
    for model, group in models_for_faces(chosen, options.model, has_reference).items():
        restorer = restorers.get(model)
        if references is not None and restorer.spec.takes_reference:
            job = restore_guided(photo, group, restorer, references, restorers, cancel, options.variants)
        elif options.personalize and isinstance(references, ReferenceLibrary) and tunable(restorer.name):
            job = restore_personal(photo, group, restorer, references, cancel,
                                   asked=options.folder_is_for_this_photo and len(faces) == 1)
        else:
            job = restore_faces(photo, group, restorer, reference, cancel, options.variants)
        more, more_reports = yield from _counted(job, len(reports), len(chosen))
        done.update(more)
        reports = sorted(reports + more_reports, key=lambda r: r.index)
    if cancel:
        cancel.raise_if_cancelled()
    yield Progress("blend", 0.85, len(chosen), len(chosen), path)
    strengths = face_strengths(done, reports, options)
    pixels = compose(photo, faces, done, strengths, options.match_tone, options.use_model_mask)
    measure_sharpness(photo.pixels, pixels, faces, reports)
    yield Progress("save", 0.9, len(chosen), len(chosen), path)
    _make_folder(dest.parent)
    # The photo itself is written last: its existence is what marks it done for the next run, so a failed
    # extra (a comparison image on a full disk) must not leave it behind.
    extras = _save_extras(original.pixels, pixels, found, done, dest, options)
    try:
        # The format follows the output's name: a JPEG misnamed .png is written as a real PNG.
        fmt = options.format or SUFFIX_FORMAT.get(dest.suffix.lower())
        output = save_photo(photo, pixels, dest, format=fmt, quality=options.quality, keep_metadata=options.keep_metadata)
    except BaseException:
        _remove(extras)
        raise
    yield Progress("done", 1.0, len(chosen), len(chosen), path)
    whole_note = "; ".join(n for n in (found.describe() if found is not None else "",
                                          "faded colours restored" if options.faded_colours else "") if n)
    if not faces:
        unchanged = f"{' and '.join(whole_photo)}, no face found" if whole_photo else "no face found; copied unchanged"
        return PhotoResult(path, "no_faces", output, f"{path.name}: {unchanged}", [], extras, whole_photo=whole_note)
    problems = list(dict.fromkeys(r.message for r in reports if not r.restored))  # one line per distinct problem
    curve = photo_relight(faces, done, strengths) if options.match_tone is None else None
    return PhotoResult(path, "restored", output, "; ".join(problems), reports, extras, curve.describe() if curve else "", whole_note)


def _whole_photo_changes(options: RestoreOptions, found: ScratchResult | None) -> list[str]:
    """What was done to the whole photo, faces apart: such a photo is written even when it has no face."""
    return [words for done, words in ((options.faded_colours, "colours restored"),
                                      (found is not None and found.repaired, "scratches repaired")) if done]


def _same_file(dest: Path, source: Path) -> bool:
    if dest.resolve() == source.resolve():
        return True
    return dest.exists() and source.exists() and os.path.samefile(dest, source)  # hard links, case-insensitive names


def _check_face_selection(path: Path, faces: list[Face], wanted: frozenset[int] | None) -> None:
    """A face number the photo does not have is an error: restoring the others would write a result the
    corrected re-run then skips as done."""
    missing = sorted(set(wanted or ()) - {f.index for f in faces})
    if not missing:
        return
    has = f"its faces are 1-{len(faces)}" if len(faces) > 1 else "it has one face, 1" if faces else "no face was found in it"
    raise PhotoError(f"{path.name} has no face {', '.join(str(i + 1) for i in missing)} ({has}); nothing written")


def face_strengths(done: dict[int, tuple], reports: list[FaceReport], options: RestoreOptions) -> dict[int, float]:
    """Each restored face's blend strength: the user's, except that Auto keeps a face its model's classifier
    found clean as it was (`routing.auto_strength`), and says so in the face's report."""
    strengths = {}
    for report in reports:
        if report.index not in done:
            continue
        strengths[report.index] = options.strength
        if is_auto(options.model):
            strengths[report.index] = auto_strength(report.verdict, options.strength)
            if strengths[report.index] < options.strength and not report.message:
                report.message = CLEAN_FACE_MESSAGE
    return strengths


def measure_sharpness(before: np.ndarray, after: np.ndarray, faces: list[Face], reports: list[FaceReport]) -> None:
    """Each restored face's sharpness in the result over the input's (`quality.sharpness_ratio`), into its report."""
    landmarks = {f.index: f.landmarks for f in faces}
    for report in reports:
        if report.restored and report.index in landmarks:
            report.sharpness = sharpness_ratio(before, after, landmarks[report.index])


def _counted(job: Generator[Progress, None, tuple], before: int, total: int) -> Generator[Progress, None, tuple]:
    """Run one model's group of faces, its per-face progress counted among all `total` faces of the photo
    (`before` of them done by earlier groups), so fractions keep growing from group to group."""

    def counted(p: Progress) -> Progress:
        if p.stage != "restore":
            return p
        face = before + p.face
        return Progress("restore", 0.2 + 0.6 * face / max(total, 1), face, total, p.path, p.message)

    return (yield from relay(job, counted))


def blind_model() -> str | None:
    """The first model with bundled weights that needs no reference: where guided restoration falls back."""
    for status in model_statuses():
        if status.available and not status.spec.takes_reference:
            return status.spec.name
    return None


def restore_guided(
    photo: Photo, faces: list[Face], restorer, references, restorers: RestorerCache, cancel: CancelToken | None = None,
    variants: int = 1,
) -> Generator[Progress, None, tuple[dict[int, tuple], list[FaceReport]]]:
    """Restore each face with its own reference from `references` (the closest face of the reference photo, or
    the library's best photo of that person); faces the library has nobody for are restored by the blind default
    model instead. Returns (done, reports) like `restore_faces`, each report naming its reference. A reference
    that looks like someone else is warned about in a Progress message before any face is restored, and in
    that face's report."""
    yield Progress("identity", 0.15, 0, len(faces), photo.path)
    found = match_faces(photo.pixels, faces, references, restorer.spec.input_size)
    for warning in found.warnings:
        yield Progress("identity", 0.2, 0, len(faces), photo.path, f"warning: {photo.path.name if photo.path else 'photo'}, {warning}")
    done, reports = {}, []
    guided = [f for f in faces if f.index in found.matches]
    if guided:
        crops = {i: m.aligned for i, m in found.matches.items()}
        done, reports = yield from restore_faces(photo, guided, restorer, crops, cancel, variants)
        for r in reports:
            match = found.matches[r.index]
            r.reference = match.describe()
            if match.different_person and r.restored:
                r.message = f"the reference {r.reference} does not look like this face: a different person, or a face too damaged to recognise"
            if r.index in done:  # shown beside the warped reference by --compare
                done[r.index][1].extras["reference"] = crops[r.index]
    others = [f for f in faces if f.index not in found.matches]
    if others:
        fallback = blind_model()
        if fallback is None:
            reports += [FaceReport(f.index, f.box, f.eye_distance, False, "", "no reference of this person and no other model to fall back to") for f in others]
        else:
            more, more_reports = yield from restore_faces(photo, others, restorers.get(fallback), None, cancel)
            for r in more_reports:
                r.message = r.message or "no reference of this person: restored without one"
            done.update(more)
            reports += more_reports
    reports.sort(key=lambda r: r.index)
    return done, reports


def restore_personal(photo: Photo, faces: list[Face], restorer, library: ReferenceLibrary, cancel: CancelToken | None = None,
                     store=None, asked: bool = False) -> Generator[Progress, None, tuple[dict[int, tuple], list[FaceReport]]]:
    """Restore each face with a copy of `restorer` learned from its person's photos in `library`
    (`frstudio.core.personal.tune`, or the model learned before from the same photos), where that model's own
    check measured it better; otherwise, and for faces with nobody in the library, with `restorer` itself. Each
    face's report says which it got and why. `asked`: the folder was given for this face, so a face too damaged
    to be recognised learns from a folder of one person (`person_photos`)."""
    yield Progress("identity", 0.15, 0, len(faces), photo.path)
    descriptors = describe_photo_faces(photo.pixels, faces)
    done, reports = {}, []
    for n, (face, descriptor) in enumerate(zip(faces, descriptors)):
        photos = person_photos(library, descriptor, asked=asked)
        chosen, note = restorer, "nobody in the reference folder looks like this face: restored with the default model"
        if len(photos.crops):
            def learning(p: Progress, n=n) -> Progress:
                return Progress("learn", 0.2, n, len(faces), photo.path, f"face {n + 1}: {p.message}")

            model = yield from relay(tune(restorer, photos.crops, photos.descriptors, photos.landmarks, store=store,
                                          cancel=lambda: bool(cancel and cancel.cancelled)), learning)
            whose = "this person" if photos.recognised else "the one person in the reference folder (the face is too damaged to recognise)"
            if model.helps:
                chosen, note = personal_restorer(restorer, model), f"restored with a model learned from {model.photos} photos of {whose}"
            elif model.check:
                note = (f"a model learned from {model.photos} photos of {whose} did not restore a photo of theirs "
                        "better than the default model: restored with the default")
            else:
                note = f"only {model.photos} photo(s) of {whose}, too few to check a learned model: restored with the default"
        more, more_reports = yield from restore_faces(photo, [face], chosen, None, cancel)
        for r in more_reports:
            r.message = r.message or note
        done.update(more)
        reports += more_reports
    return done, sorted(reports, key=lambda r: r.index)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PhotoError(f"cannot create the output folder {folder}: {exc.strerror or exc}") from exc


def _save_extras(before: np.ndarray, pixels: np.ndarray, found: ScratchResult | None, done: dict, dest: Path,
                 options: RestoreOptions) -> list[Path]:
    """The images beside the result, named after it with the face numbers people see (from 1). If one cannot
    be written, those written so far are removed and the error goes on."""
    written: list[Path] = []
    try:
        _write_extras(before, pixels, found, done, dest, options, written)
    except BaseException:
        _remove(written)
        raise
    return written


def _write_extras(before: np.ndarray, pixels: np.ndarray, found: ScratchResult | None, done: dict, dest: Path,
                  options: RestoreOptions, written: list[Path]) -> None:
    stem = dest.with_suffix("").name
    if options.damage_mask and found is not None:
        written.append(save_image(found.mask.astype(np.uint8) * 255, dest.with_name(f"{stem}_damage.png")))
    if options.compare:
        written.append(save_image(comparison_image(before, pixels), dest.with_name(f"{stem}_compare.jpg"), quality=90))
        for index, (aligned, result) in sorted(done.items()):
            if "warped" in result.extras:  # a guided face: before | reference | warped reference | after
                strip = [aligned.image, result.extras["reference"], result.extras["warped"].transpose(1, 2, 0), result.image]
                crops = [float_to_uint8(c) for c in strip]
                written.append(save_image(np.concatenate(crops, axis=1), dest.with_name(f"{stem}_face{index + 1}_reference.png")))
    for index, (aligned, result) in sorted(done.items()):
        ranked = result.extras.get("variants", [])
        if len(ranked) > 1:  # the user asked for variants: show them all, most faithful (the one used) first
            strip = [aligned.image] + [v.restored.image for v in ranked]
            size = max(np.asarray(c).shape[0] for c in strip)
            crops = [float_to_uint8(_resized(c, size)) for c in strip]
            written.append(save_image(np.concatenate(crops, axis=1), dest.with_name(f"{stem}_face{index + 1}_variants.png")))
    if options.save_crops:
        for index, (aligned, result) in sorted(done.items()):
            for tag, img in (("before", aligned.image), ("after", result.image)):
                written.append(save_image(float_to_uint8(img), dest.with_name(f"{stem}_face{index + 1}_{tag}.png")))


def _remove(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.debug("cannot remove %s", path, exc_info=True)


def _resized(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    image = np.asarray(image, np.float32)
    return image if image.shape[0] == size else cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)


def expand_inputs(inputs: Iterable[Path], recursive: bool = False, problems: list[tuple[Path, str]] | None = None) -> list[tuple[Path, Path | None]]:
    """Files to process as (file, batch root): folders expand to their images (sorted), files stay as given.
    A folder that cannot be read is added to `problems` as (folder, one-line message), not skipped silently."""
    problems = [] if problems is None else problems
    found: list[tuple[Path, Path | None]] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found.extend((p, item) for p in sorted(_photos_in(item, recursive, problems)))
        else:
            found.append((item, None))
    return found


def _photos_in(folder: Path, recursive: bool, problems: list[tuple[Path, str]]) -> list[Path]:
    """The photo files in `folder` (and, `recursive`, its sub-folders; folder links are not followed)."""
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except OSError as exc:
        problems.append((folder, f"{folder}: cannot be read ({exc.strerror or exc}); its photos were left out"))
        return []
    photos = []
    for entry in entries:
        path = folder / entry.name
        try:
            if entry.is_dir() and not entry.is_symlink():
                if recursive:
                    photos += _photos_in(path, True, problems)
            elif path.suffix.lower() in IMAGE_SUFFIXES and not entry.name.startswith(".") and entry.is_file():
                photos.append(path)
        except OSError as exc:
            problems.append((path, f"{path}: cannot be read ({exc.strerror or exc})"))
    return photos


def plan_outputs(files: list[tuple[Path, Path | None]], options: RestoreOptions) -> list[tuple[Path, Path | None, Path]]:
    """(file, root, output) for each photo of a batch, in input order. Outputs of an earlier run found among the
    inputs (the output folder inside an input folder) are left out. Outputs that would collide (a/x.jpg and
    b/x.jpg into one folder; y.jpg and y.png with --format png) or land on another input get -2, -3... in input
    order, so a re-run gives each photo the same name again and finds it done."""
    if options.suffix:  # without a suffix an output cannot be told from an original by its name
        outputs = {_key(dest): _key(f) for (f, _), dest in zip(files, _distinct_outputs(files, options, set()))}
        files = [(f, root) for f, root in files if outputs.get(_key(f), _key(f)) == _key(f)]
    named = _distinct_outputs(files, options, {_key(f) for f, _ in files})
    return [(f, root, dest) for (f, root), dest in zip(files, named)]


def _distinct_outputs(files: list[tuple[Path, Path | None]], options: RestoreOptions, inputs: set[str]) -> list[Path]:
    claimed: set[str] = set()
    named = []
    for f, root in files:
        base = dest = output_path_for(f, options, root)
        number = 1
        # its own input is left alone here: restore_photo refuses it with a message
        while _key(dest) in claimed or (_key(dest) in inputs and _key(dest) != _key(f)):
            number += 1
            dest = base.with_name(f"{base.stem}-{number}{base.suffix}")
        claimed.add(_key(dest))
        named.append(dest)
    return named


def _key(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path))


@dataclass
class BatchEvent:
    index: int  # file i of n (0-based)
    total: int
    progress: Progress | None = None  # within the current file
    result: PhotoResult | None = None  # set once the file is finished


def restore_batch(
    inputs: Iterable[Path],
    options: RestoreOptions,
    restorers: RestorerCache | None = None,
    cancel: CancelToken | None = None,
    recursive: bool = False,
) -> Generator[BatchEvent, None, list[PhotoResult]]:
    """Restore many photos; bad files and unreadable folders are reported and the batch goes on; finished
    outputs are not redone."""
    restorers = restorers or RestorerCache()
    problems: list[tuple[Path, str]] = []
    planned = plan_outputs(expand_inputs(inputs, recursive, problems), options)
    total = len(problems) + len(planned)
    # one portrait and a folder of one person: the folder is theirs; in a batch of many photos nothing is assumed
    options = replace(options, folder_is_for_this_photo=len(planned) == 1 and not problems)
    # Load the model before the first photo: missing weights are one clear error, not one per photo.
    spec = restorers.get(resolve_model(options.model)).spec
    references = None
    if options.personalize and options.reference_dir is not None and not spec.takes_reference:
        references = ReferenceLibrary(options.reference_dir, options.detection)  # the photos each person is learned from
        yield from (BatchEvent(0, total, progress=p) for p in references.index(lambda: bool(cancel and cancel.cancelled)))
    elif spec.takes_reference:
        if options.reference is not None:
            references = ReferencePhoto(options.reference, options.detection)
            references.faces  # detect it now: a reference without a face is one clear error, not one per photo
        elif options.reference_dir is not None:
            references = ReferenceLibrary(options.reference_dir, options.detection)
            yield from (BatchEvent(0, total, progress=p) for p in references.index(lambda: bool(cancel and cancel.cancelled)))
        else:
            raise ModelUnavailableError(f"the model '{spec.title}' needs a reference photo of the same person (--reference or --reference-dir)")
    results: list[PhotoResult] = []
    for folder, message in problems:
        results.append(PhotoResult(folder, "failed", None, message))
        yield BatchEvent(len(results) - 1, total, result=results[-1])
    for folder in dict.fromkeys(dest.parent for _, _, dest in planned):
        for temp in remove_stale_temp_files(folder):  # left by a run that was killed while writing
            log.info("removed %s, left by an interrupted run", temp)
    for k, (path, root, dest) in enumerate(planned):
        i = len(results)
        if cancel and cancel.cancelled:
            results.extend(PhotoResult(p, "cancelled") for p, _, _ in planned[k:])
            break
        job = restore_photo(path, options, restorers, cancel, None, root, references, dest)
        try:
            result = yield from relay(job, lambda p: BatchEvent(i, total, progress=p))
        except Cancelled:
            results.extend(PhotoResult(p, "cancelled") for p, _, _ in planned[k:])
            yield BatchEvent(i, total, result=results[i])
            break
        results.append(result)
        yield BatchEvent(i, total, result=result)
    return results
