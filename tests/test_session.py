"""PhotoSession: the desktop app's model of one photo, tested without Qt."""

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from frstudio import models
from frstudio.core import session as session_mod
from frstudio.core.dlib_work import DlibInProcess, DlibProcess
from frstudio.core.errors import PhotoError
from frstudio.core.imageio import load_photo
from frstudio.core.jobs import drive
from frstudio.core.pipeline import RestorerCache
from frstudio.core.restore import Restorer, RestoredFace
from frstudio.core.routing import TINY_FACE_EYE_DISTANCE
from frstudio.core.session import DRIFT_WARNING, Change, ExportSettings, OutputExistsError, PhotoSession, auto_model
from tests.conftest import SAMPLE, file_digest


def run(job):
    return drive(job)


class Counting:
    """Wraps a restorer and records how many faces it was asked to restore."""

    def __init__(self, inner):
        self.inner, self.spec, self.faces = inner, inner.spec, 0

    def restore(self, crops, reference=None):
        self.faces += len(crops)
        return self.inner.restore(crops, reference)


class Scrambler:
    """A 'model' that replaces every face with noise: its identity drift must be flagged."""

    def __init__(self, spec):
        self.spec = spec

    def restore(self, crops, reference=None):
        rng = np.random.default_rng(0)
        return [RestoredFace(rng.random(c.shape, dtype=np.float32)) for c in crops]


class Broken:
    def __init__(self, spec):
        self.spec = spec

    def restore(self, crops, reference=None):
        raise RuntimeError("out of memory")


@pytest.fixture
def photo_path(tmp_path, group_photo):
    path = tmp_path / "family.png"
    Image.fromarray(group_photo.pixels).save(path)
    return path


@pytest.fixture
def counting(tiny_weights):
    made = {}

    def factory(name):
        made[name] = Counting(Restorer(name))
        return made[name]

    return made, RestorerCache(factory)


class NoIdentity(DlibInProcess):
    def describe(self, items):  # identity is not under test here: skip the 75 ms per face
        return [np.zeros(128, np.float32) for _ in items]


def _session(path, restorers=None, dlib=None):
    s = PhotoSession.open(path, restorers=restorers, dlib=dlib or NoIdentity())
    s.defaults = replace(s.defaults, model="tiny")
    run(s.detect())
    return s


def test_detect_numbers_faces_and_gives_default_choices(tiny_weights, photo_path):
    s = _session(photo_path)
    assert [f.index for f in s.faces] == [0, 1, 2]
    assert all(c.included and c.model == "tiny" and c.strength == 1.0 for c in s.choices.values())
    assert s.stale_faces() == [0, 1, 2]


def test_restoring_again_only_recomputes_changed_faces(photo_path, counting):
    made, cache = counting
    s = _session(photo_path, cache)
    s.set_choice(1, included=False)
    assert run(s.restore()) == []
    assert made["tiny"].faces == 2  # face 1 excluded
    s.set_choice(0, strength=0.3)
    assert s.stale_faces() == []  # strength only recomposes
    run(s.restore())
    assert made["tiny"].faces == 2
    s.set_choice(1, included=True)
    run(s.restore())
    assert made["tiny"].faces == 3  # only face 1 was computed now
    s.set_choice(1, included=False)
    s.set_choice(1, included=True)
    assert s.stale_faces() == []  # toggling back finds the cached result


def test_preview_blends_only_included_faces_at_their_strength(photo_path, group_photo, tiny_weights):
    s = _session(photo_path)
    run(s.restore())
    full = s.preview()
    assert np.any(full != group_photo.pixels)
    for i in range(3):
        s.set_choice(i, strength=0.0)
    np.testing.assert_array_equal(s.preview(), group_photo.pixels)
    s.set_choice(0, strength=1.0)
    s.set_choice(2, strength=1.0)
    s.set_choice(2, included=False)
    partial = s.preview()
    x0, y0, x1, y1 = (int(v) for v in s.face(2).box)
    np.testing.assert_array_equal(partial[y0:y1, x0:x1], group_photo.pixels[y0:y1, x0:x1])
    x0, y0, x1, y1 = (int(v) for v in s.face(0).box)
    np.testing.assert_array_equal(partial[y0:y1, x0:x1], full[y0:y1, x0:x1])


def test_a_failing_face_keeps_its_original_and_says_why(photo_path, group_photo, tiny_weights):
    s = _session(photo_path, RestorerCache(lambda name: Broken(models.MODELS[name])))
    assert run(s.restore()) == [0, 1, 2]
    info = s.info(0)
    assert not info.restored and "out of memory" in info.message
    np.testing.assert_array_equal(s.preview(), group_photo.pixels)


def test_unknown_model_fails_faces_not_the_session(photo_path, tiny_weights):
    s = _session(photo_path)
    s.set_choice(0, model="gfrnet")  # takes a reference, none given
    failed = run(s.restore())
    assert failed == [0]
    assert "reference" in s.info(0).message
    assert s.info(1).restored


def test_identity_drift_is_measured_and_flagged(photo_path, tiny_weights):
    s = _session(photo_path, dlib=DlibInProcess())
    run(s.restore())
    gentle = s.info(0)
    assert gentle.drift is not None and 0 <= gentle.drift < DRIFT_WARNING and not gentle.drifted
    s2 = _session(photo_path, RestorerCache(lambda name: Scrambler(models.MODELS[name])), DlibInProcess())
    run(s2.restore())
    assert s2.info(0).drift > DRIFT_WARNING and s2.info(0).drifted


def test_classifier_labels_become_a_verdict(photo_path, tiny_weights):
    s = _session(photo_path)
    run(s.restore())
    labels = s.info(0).labels
    assert set(labels) == {"noise", "blur", "relight"} and all(0 < p < 1 for p in labels.values())
    info = session_mod.FaceInfo(0, 40.0, labels={"noise": 0.9, "blur": 0.2, "relight": 0.7})
    assert info.verdict == ["noise", "low light"]


def test_auto_picks_a_guided_model_only_with_a_reference_and_a_tiny_model_for_tiny_faces():
    table = [models.MODELS[n] for n in ("frrnet", "gfrnet", "progressive_16")]
    assert auto_model(40, False, table) == "frrnet"
    assert auto_model(40, True, table) == "gfrnet"
    assert auto_model(TINY_FACE_EYE_DISTANCE - 1, False, table) == "progressive_16"
    assert auto_model(TINY_FACE_EYE_DISTANCE + 1, False, table) == "frrnet"
    assert auto_model(40, False, [models.MODELS["gfrnet"]]) is None


def test_observers_are_told_what_changed(photo_path, tiny_weights):
    s = PhotoSession.open(photo_path, dlib=NoIdentity())
    s.defaults = replace(s.defaults, model="tiny")
    heard = []
    s.observers.append(heard.append)
    run(s.detect())
    assert heard == [Change("detected", (0, 1, 2))]
    s.set_choices([0, 2, 7], strength=0.5)  # 7: no such face, left alone
    s.set_choice(1, included=False)
    assert heard[1:] == [Change("choices", (0, 2)), Change("choices", (1,))] and all(c.choices for c in heard[1:])
    run(s.restore())
    assert heard[-1] == Change("restored", (0, 2)) and not heard[-1].choices
    face = s.face(2)
    s.remove_face(2)
    s.restore_face(face, s.choices.get(2) or replace(s.defaults))
    s.variants = 2
    assert [c.what for c in heard[-3:]] == ["faces", "faces", "variants"]
    s.observers.remove(heard.append)
    s.set_choice(0, strength=1.0)
    assert heard[-1].what == "variants"  # no longer told


def test_manual_face_gets_landmarks_inside_the_box(photo_path, group_photo, tiny_weights):
    s = _session(photo_path)
    detected = s.face(0)
    s.remove_face(0)
    face = s.add_face(detected.box)
    assert face.detector == "manual" and face.index == 3 and s.choices[3].model == "tiny"
    assert np.abs(face.landmarks - detected.landmarks).mean() < 2.0
    with pytest.raises(PhotoError):
        s.add_face((10, 10, 14, 30))
    run(s.detect())  # detecting again keeps the hand-drawn face, numbered after the detected ones
    assert [f.detector for f in s.faces][-1] == "manual" and len(s.faces) == 4


def test_export_never_overwrites_and_writes_the_comparison(photo_path, tiny_weights, tmp_path):
    before = file_digest(photo_path)
    s = _session(photo_path)
    run(s.restore())
    out = s.export(ExportSettings(folder=tmp_path / "out", format="JPEG", quality=80, comparison=True))
    assert [p.name for p in out] == ["family_restored.jpg", "family_restored_compare.jpg"]
    assert load_photo(out[0]).format == "JPEG"
    with pytest.raises(OutputExistsError):
        s.export(ExportSettings(folder=tmp_path / "out", format="JPEG"))
    s.export(ExportSettings(folder=tmp_path / "out", format="JPEG"), overwrite=True)
    with pytest.raises(PhotoError):
        s.export(ExportSettings(suffix=""), overwrite=True)
    assert file_digest(photo_path) == before
    np.testing.assert_array_equal(load_photo(s.export(ExportSettings(format="PNG", suffix="_x"))[0]).pixels, s.preview())


def test_export_bytes_match_the_extension_of_a_misnamed_jpeg(tmp_path, group_photo, tiny_weights):
    misnamed = tmp_path / "scan.png"
    Image.fromarray(group_photo.pixels).save(misnamed, format="JPEG", quality=90)
    s = PhotoSession.open(misnamed, dlib=DlibInProcess())
    out = s.export(ExportSettings(folder=tmp_path / "out"))
    assert out == [tmp_path / "out" / "scan_restored.png"]
    assert out[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reference_match_finds_the_same_person(photo_path, tiny_weights):
    s = _session(photo_path, dlib=DlibInProcess())
    match = s.reference_match(0, SAMPLE)
    assert match.path == SAMPLE and match.distance < 0.3 and not match.different_person
    assert match.aligned.shape == (128, 128, 3)
    assert s.info(0).reference is None  # the session's model (tiny) takes no reference: nothing to show


def test_reference_library_proposals(photo_path, tiny_weights):
    s = _session(photo_path)

    class Library:
        def best_match(self, descriptor):
            return (SAMPLE, 0.2) if not hasattr(self, "seen") and not setattr(self, "seen", 1) else (SAMPLE, 0.7)

    assert run(s.match_references(Library())) == {0: SAMPLE}  # the 0.7 matches are a different person


def test_dlib_process_matches_in_process(astronaut, astronaut_landmarks):
    here, helper = DlibInProcess(), DlibProcess()
    try:
        far = helper.describe([(astronaut, astronaut_landmarks)])[0]
        faces = helper.detect(astronaut)
        drawn = helper.manual_face(astronaut, faces[0].box, 5)
    finally:
        helper.close()
    np.testing.assert_allclose(far, here.describe([(astronaut, astronaut_landmarks)])[0], atol=1e-5)
    assert len(faces) == 1 and np.allclose(faces[0].landmarks, astronaut_landmarks, atol=1e-3)
    assert drawn.index == 5 and drawn.detector == "manual"


def test_dlib_process_falls_back_to_this_process_when_the_helper_dies(astronaut, astronaut_landmarks):
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    class DeadPool:
        def submit(self, *args):
            future = Future()
            future.set_exception(BrokenProcessPool("killed"))
            return future

        def shutdown(self, **kwargs):
            pass

    helper = DlibProcess()
    helper._pool = DeadPool()
    faces = helper.detect(astronaut)
    assert len(faces) == 1 and helper._in_process and helper._pool is None
    assert helper.describe([(astronaut, astronaut_landmarks)])[0].shape == (128,)


def test_faces_found_again_keep_their_results_and_messages_under_new_numbers(photo_path, counting):
    """Detecting again (e.g. with small faces on) can renumber faces: each keeps its own choices, restored crop
    and message, and none of them moves to another face."""
    made, cache = counting
    s = _session(photo_path, cache)
    s.set_choice(0, strength=0.4)
    run(s.restore())
    computed = made["tiny"].faces
    s._failures[2] = "face 2's problem"
    first = s.faces[0]
    found = [f for f in s.faces]

    class Reordered(NoIdentity):  # the detector now finds the faces in another order, one of them gone
        def detect(self, rgb, settings):
            return [replace(found[2]), replace(found[0])]

    s.dlib = Reordered()
    run(s.detect())
    assert [f.index for f in s.faces] == [0, 1]
    np.testing.assert_array_equal(s.face(1).landmarks, first.landmarks)
    assert s.choices[1].strength == 0.4 and s.choices[0].strength == 1.0
    assert s.info(0).message == "face 2's problem" and s.info(1).message == ""
    assert s.stale_faces() == [] and made["tiny"].faces == computed  # nothing to compute again


def test_variants_of_a_stochastic_model_are_ranked_and_one_can_be_picked(photo_path, tiny_weights, monkeypatch):
    """The app's side of --variants: restoring gives each face its variants most faithful first (real dlib
    descriptors), the preview uses the most faithful until the user picks another seed, and changing the
    number of variants makes the faces stale."""
    from tests.test_variants import COUNT, NoisyByRestorer

    monkeypatch.setitem(models.MODELS, "tiny", replace(models.MODELS["tiny"], stochastic=True))
    restorer = NoisyByRestorer()
    restorer.spec = models.MODELS["tiny"]
    s = _session(photo_path, RestorerCache(lambda name: restorer), DlibInProcess())
    s.variants = COUNT
    described = []
    inner = s.dlib.describe
    s.dlib.describe = lambda items: described.append(len(items)) or inner(items)
    run(s.restore())
    # one descriptor call for the ranking (input + 4 variants per face), none again for the drift
    assert described == [len(s.faces) * (COUNT + 1)]
    info = s.info(0)
    assert [v.seed for v in info.variants][0] == COUNT - 1 and info.variant == COUNT - 1
    assert sorted(v.seed for v in info.variants) == list(range(COUNT))
    best = s.preview().copy()
    worst = info.variants[-1]
    s.set_choice(0, variant=worst.seed)
    assert s.info(0).variant == worst.seed and s.info(0).drift == worst.distance > info.drift
    assert not np.array_equal(s.preview(), best)
    np.testing.assert_array_equal(s.crops(0)[1], np.clip(np.round(worst.restored.image * 255), 0, 255).astype(np.uint8))
    assert s.stale_faces() == []
    s.variants = 2
    assert s.stale_faces() == [f.index for f in s.faces]


class Relighting:
    """Finds every face badly lit and doubles its brightness, as a relighting model does for a dark photo."""

    def __init__(self, spec):
        self.spec = spec

    def restore(self, crops, reference=None):
        labels = np.array([0.1, 0.1, 0.9], np.float32)
        return [RestoredFace(np.clip(c * 2, 0, 1).astype(np.float32), {"labels": labels}, ("noise", "blur", "relight")) for c in crops]


def test_the_preview_relights_the_whole_photo_with_its_relit_faces_and_says_so(tmp_path, group_photo, tiny_weights):
    path = tmp_path / "dark.png"
    dark = (group_photo.pixels * 0.4).astype(np.uint8)
    Image.fromarray(dark).save(path)
    s = _session(path, RestorerCache(lambda name: Relighting(models.MODELS[name])))
    assert s.relight_note() == ""  # nothing restored yet
    run(s.restore())
    assert "whole photo brightened" in s.relight_note()
    assert s.preview()[:20, :20].mean() > 1.5 * dark[:20, :20].mean()  # a corner far from every face
    for i in range(3):
        s.set_choice(i, strength=0.0)
    assert s.relight_note() == ""
    np.testing.assert_array_equal(s.preview(), dark)


def test_scratch_removal_repairs_the_photo_under_the_faces_and_keeps_the_before(tmp_path, group_photo, tiny_weights):
    from frstudio.core.session import DamageStroke
    from tests.support.marks import WhiteLineDetector

    pixels = np.clip(group_photo.pixels, 0, 240).astype(np.uint8)
    pixels[300:302, 50:850] = 255  # a scratch across a face and the background
    path = tmp_path / "scan.png"
    Image.fromarray(pixels).save(path)
    made = []

    def detector():
        made.append(WhiteLineDetector())
        return made[-1]

    s = _session(path, RestorerCache(damage_factory=detector))
    changes = []
    s.observers.append(changes.append)
    run(s.restore())
    assert s.stale_faces() == [] and s.damage_mask() is None
    s.set_scratches("on")
    result = run(s.find_damage())
    assert result.repaired and len(made) == 1 and Change("scratches") in changes
    assert (s.photo.pixels[300:302, 50:850] < 250).all() and (s.preview()[300:302, 50:850] < 250).all()
    np.testing.assert_array_equal(s.original.pixels, pixels)  # the before is kept
    assert s.stale_faces() == [0, 1, 2]  # faces are restored again, from the repaired photo
    run(s.restore())
    assert (s.preview()[300:302, 50:850] < 250).all()
    written = s.export(ExportSettings(folder=tmp_path / "out", comparison=True))
    assert (np.asarray(Image.open(written[0]))[300:302, 50:850] < 250).all()
    assert np.asarray(Image.open(written[1]))[300 * 650 // 650, 400 * 1808 // 1808].min() > 200  # before: the scan

    # painting: an unmarked spot added by hand is repaired; erasing part of the line keeps it there
    dot = DamageStroke(98, 98, np.ones((8, 8), bool), True)
    keep = DamageStroke(400, 296, np.ones((10, 20), bool), False)
    s.paint_damage(dot)
    s.paint_damage(keep)
    run(s.apply_scratches())
    mask = s.damage_mask()
    assert mask[100:104, 100:104].all() and not mask[300:302, 400:420].any() and mask[300:302, 50:60].all()
    assert (s.photo.pixels[300:302, 402:418] == 255).all()  # (the repair grows its mask by a pixel)
    s.unpaint_damage(keep)
    run(s.apply_scratches())
    assert (s.photo.pixels[300:302, 400:420] < 250).all()
    run(s.find_damage())
    assert len(made) == 1  # the detector ran once; strength and strokes reuse its result
    s.set_scratches("off")
    run(s.apply_scratches())
    assert s.photo is s.original and s.scratch_result is None
