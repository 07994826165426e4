"""Learn this person (frstudio.core.personal): tuning a copy of the shipped default on a person's photos, the
store that keeps it, and the pipeline and command line that use it. Tuning is cut to a few steps here; what it
gains is measured by benchmarks/personal.py."""

from __future__ import annotations

import numpy as np
import pytest

from frstudio.core import personal
from frstudio.core.align import TEMPLATE_SIZE, align_face, estimate_transform, five_points, transform_points
from frstudio.core.errors import Cancelled, FRStudioError
from frstudio.core.jobs import drive
from frstudio.core.personal import PersonalModel, PersonalStore, TuningSettings, person_key, personal_restorer, tune

# Two steps, whatever the time: on a machine busy with training, making the copies alone can take the app's 60 s,
# which left a model that never stepped (and restored a face exactly as the base did).
QUICK = TuningSettings(seconds=600, max_steps=2, batch=2, pairs_per_photo=2)


@pytest.fixture(scope="module")
def shipped():
    from frstudio.core.restore import Restorer

    return Restorer("frrnet", device="cpu")


@pytest.fixture(scope="module")
def person(astronaut, astronaut_landmarks):
    """Three "photos" of the astronaut (the sample, darker, mirrored-light): crops, keys, crop landmarks."""
    crop = align_face(astronaut, astronaut_landmarks, TEMPLATE_SIZE).image
    crops = np.stack([crop, crop * 0.85, np.clip(crop * 1.1, 0, 1)]).astype(np.float32)
    landmarks = transform_points(astronaut_landmarks, estimate_transform(five_points(astronaut_landmarks), TEMPLATE_SIZE))
    descriptors = [np.full(128, 0.1 * k, np.float32) for k in range(3)]
    return crops, descriptors, [landmarks] * 3


def test_the_key_ignores_photo_order_and_follows_the_base_weights():
    a, b = np.linspace(0, 1, 128), np.linspace(1, 0, 128)
    assert person_key("abc", [a, b]) == person_key("abc", [b, a])
    assert person_key("abc", [a, b]) != person_key("abd", [a, b]) != person_key("abc", [a])


def test_helps_needs_closer_identity_at_equal_psnr():
    def model(psnr, identity):
        return PersonalModel("k", "frrnet", "sha", {}, 5, 10, 1.0, {"psnr": psnr, "identity": identity})

    assert model([30.0, 30.1], [0.30, 0.25]).helps
    assert model([30.0, 29.9], [0.30, 0.25]).helps  # within the check's tolerance
    assert not model([30.0, 29.0], [0.30, 0.25]).helps  # less faithful
    assert not model([30.0, 30.5], [0.30, 0.31]).helps  # not more like the person
    assert not PersonalModel("k", "frrnet", "sha", {}, 2, 10, 1.0).helps  # unmeasured


def test_tune_learns_checks_saves_and_is_reused(shipped, person, tmp_path):
    crops, descriptors, landmarks = person
    store = PersonalStore(tmp_path)
    before = {k: v.clone() for k, v in shipped.network.state_dict().items()}
    events = []
    model = drive(tune(shipped, crops, descriptors, landmarks, QUICK, store), events.append)
    assert model.steps == 2 and model.photos == 2 and model.base == "frrnet"  # one of the three held out
    assert set(model.check) == {"psnr", "identity"} and all(len(v) == 2 for v in model.check.values())
    assert {k.split(".")[0] for k in model.state} == set(personal.TUNED_PARTS["frrnet"])  # the decoder only
    assert all(np.array_equal(v.numpy(), before[k].numpy()) for k, v in shipped.network.state_dict().items())  # base untouched
    assert events[-1].stage == "learn" and events[-1].fraction == 1.0
    assert (tmp_path / f"{model.key}.safetensors").is_file() and (tmp_path / f"{model.key}.json").is_file()

    again = []
    reused = drive(tune(shipped, crops[::-1], descriptors[::-1], landmarks, QUICK, store), again.append)
    assert reused.key == model.key and reused.check == model.check and len(again) == 1  # no tuning the second time
    mine = personal_restorer(shipped, reused)
    out_base, out_mine = shipped.restore(crops[:1])[0].image, mine.restore(crops[:1])[0].image
    assert not np.array_equal(out_base, out_mine) and mine.personal is reused


def test_the_copies_it_learns_from_carry_heavy_damage_as_well_as_the_training_mix(shipped, person, tmp_path, monkeypatch):
    """The person's photos are damaged by every pipeline of TUNING_DAMAGE in turn (the training mix alone, mostly
    mild, left the learned copy behind the guided model on 8x blur: benchmarks/personal.py); the held-out check
    keeps its own severe damage."""
    calls = []
    real = personal._damaged_pairs

    def spy(crops, count, seed, tick, mirror=True, damages=(personal.DAMAGE,)):
        lq, hq = real(crops, count, seed, tick, mirror=mirror, damages=damages)
        calls.append((tuple(damages), len(lq)))
        return lq, hq

    monkeypatch.setattr(personal, "_damaged_pairs", spy)
    crops, descriptors, landmarks = person
    settings = TuningSettings(seconds=60, max_steps=1, batch=2, pairs_per_photo=3)
    drive(tune(shipped, crops, descriptors, landmarks, settings, PersonalStore(tmp_path)), lambda _: None)
    assert personal.TUNING_DAMAGE == ("restore-mix", "gfrnet-8x", "bfr-severe")
    assert calls[0] == (personal.TUNING_DAMAGE, 2 * 3)  # two photos learned from, three copies each: one per damage
    assert {damages for damages, _ in calls[1:]} == {personal.CHECK_DAMAGE}


def test_a_cancelled_tuning_saves_nothing_and_other_models_cannot_learn(shipped, person, tmp_path):
    crops, descriptors, landmarks = person
    with pytest.raises(Cancelled):
        drive(tune(shipped, crops, descriptors, landmarks, QUICK, PersonalStore(tmp_path), cancel=lambda: True))
    assert not any(tmp_path.iterdir())
    with pytest.raises(FRStudioError, match="at least one photo"):
        drive(tune(shipped, crops[:0], [], [], QUICK, PersonalStore(tmp_path)))

    class Other:
        name, spec = "vq_unet", type("S", (), {"title": "Detail"})

    with pytest.raises(FRStudioError, match="cannot learn a person"):
        drive(tune(Other(), crops, descriptors, landmarks, QUICK, PersonalStore(tmp_path)))


def test_the_store_finds_a_person_by_any_photo_it_learned_from_and_only_a_model_that_helps(tmp_path, monkeypatch):
    store = PersonalStore(tmp_path)
    assert not store.has_models() and store.find(np.zeros(128), "sha") is None
    a, b = np.zeros(128), np.full(128, 0.2)  # b is 2.26 from a: another person
    for key, descriptors, helps in (("mum", [a, a + 0.01], True), ("dad", [b], False)):
        store.save(PersonalModel(key, "frrnet", "sha", {}, 2, 1, 1.0, {"psnr": [30.0, 30.0], "identity": [0.3, 0.2 if helps else 0.4]},
                                 [d.tolist() for d in descriptors]))
    assert store.has_models()
    assert store.find(a + 0.02, "sha").key == "mum"
    assert store.find(b, "sha") is None  # learned, but it did not help
    assert store.find(a, "other weights") is None and store.find(np.full(128, 5.0), "sha") is None


def test_auto_takes_a_face_for_a_learned_person_only_well_within_dlibs_same_person_distance(tmp_path):
    """Within dlib's 0.6, a single learned stranger was taken for 2-4 % of damaged faces (benchmarks/recognition.py)."""
    from frstudio.core.identity import SAME_PERSON_DISTANCE
    from frstudio.core.personal import RECOGNITION_DISTANCE

    assert RECOGNITION_DISTANCE <= SAME_PERSON_DISTANCE - 0.1
    store = PersonalStore(tmp_path)
    learned = np.zeros(128)
    store.save(PersonalModel("mum", "frrnet", "sha", {}, 2, 1, 1.0, {"psnr": [30.0, 30.0], "identity": [0.3, 0.2]}, [learned.tolist()]))
    away = np.zeros(128)
    away[0] = RECOGNITION_DISTANCE - 0.01
    assert store.find(away, "sha").key == "mum"
    away[0] = (RECOGNITION_DISTANCE + SAME_PERSON_DISTANCE) / 2  # the same person by dlib, but not surely enough
    assert store.find(away, "sha") is None


def test_a_damaged_store_entry_is_learned_again(tmp_path):
    store = PersonalStore(tmp_path)
    (tmp_path / "abc.json").write_text("{not json")
    assert store.load("abc") is None
    (tmp_path / "abc.json").write_text('{"version": 1, "key": "abc"}')  # its weights never written
    assert store.load("abc") is None


def test_the_command_line_asks_for_the_folder_it_learns_from(tmp_path, capsys):
    from frstudio.cli import main

    assert main(["restore", str(tmp_path / "x.jpg"), "--personalize"]) == 2
    assert "--reference-dir" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--personalize"], []], ids=["personalize", "auto-with-a-folder"])
def test_personalize_learns_the_person_once_and_says_what_each_face_got(group_png, portraits, tmp_path, monkeypatch, capsys,
                                                                        flags):
    """Three faces of one person and a folder of three photos of them: one model is learned (then reused for the
    other faces), and each face's line says whether it was used. Auto given a folder does the same, and says so."""
    from frstudio.cli import main

    monkeypatch.setattr(personal, "DEFAULT_SETTINGS", QUICK)
    monkeypatch.setenv("FRSTUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FRSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main(["restore", str(group_png), "--reference-dir", str(portraits), *flags, "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert ("Auto learns each person" in printed.err) is not flags
    text = printed.out
    lines = [line for line in text.splitlines() if line.strip().startswith("face ")]
    assert len(lines) == 3 and all("learned from 2 photos" in line or "did not restore" in line for line in lines), text
    assert len(list((tmp_path / "data" / "people").glob("*.safetensors"))) == 1  # one person, learned once
    assert (out / "family_restored.png").is_file()


@pytest.mark.parametrize("helps", [True, False])
def test_a_session_restores_a_face_with_its_learned_model_only_where_it_helps(group_png, portraits, tmp_path, monkeypatch, helps):
    from frstudio.core.references import ReferenceLibrary
    from frstudio.core.session import PhotoSession
    from frstudio.gui.side_panel import face_facts

    monkeypatch.setattr(personal, "DEFAULT_SETTINGS", QUICK)
    monkeypatch.setattr(PersonalModel, "helps", property(lambda self: helps))  # what its check said, fixed here
    monkeypatch.setenv("FRSTUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FRSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    session = PhotoSession.open(group_png)
    drive(session.detect())
    drive(session.restore())
    before = session.crops(0)[1]
    library = ReferenceLibrary(portraits)
    drive(library.index())
    learned = drive(session.learn_person(0, library))
    assert session.info(0).personal is learned and learned.photos == 2
    assert session.stale_faces() == ([0] if helps else [])  # only a model that helps changes the face
    drive(session.restore())
    info = session.info(0)
    assert info.personal_used is helps and info.restored
    assert (not np.array_equal(session.crops(0)[1], before)) is helps
    facts = face_facts(info, "frrnet", {})
    assert ("learned for this person" in facts) is helps and ("not used" in facts) is not helps
    assert (info.likeness is not None) is helps and ("Likeness to their photos" in facts) is helps
    # the other two faces are the same person: the restore found what was learned for them too, where it helps
    assert all((session.info(i).personal is not None) is helps for i in (1, 2))
    # the next photo of the same person: Auto finds what was learned, where it measured better
    later = PhotoSession.open(group_png)
    drive(later.detect())
    drive(later.restore())
    assert all((later.info(i).personal is not None) is helps for i in range(3))
    assert all(later.info(i).personal_used is helps for i in range(3))


def test_learning_works_without_the_compiler_stack_the_installed_app_leaves_out():
    """The installers exclude torch._dynamo (installers/frstudio.spec), which torch.optim imports at every step:
    the tuning's own Adam must match torch's and run without it."""
    import subprocess
    import sys

    code = """
import sys
sys.modules["torch._dynamo"] = None
import numpy as np, torch
from frstudio.core.personal import _Adam
torch.manual_seed(0)
w = torch.randn(5, requires_grad=True)
ours = _Adam([w], 0.01)
for _ in range(3):
    (w ** 2).sum().backward()
    ours.step()
print(" ".join(f"{x:.6f}" for x in w.detach().tolist()))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import torch

    torch.manual_seed(0)
    w = torch.randn(5, requires_grad=True)
    theirs = torch.optim.Adam([w], 0.01)
    for _ in range(3):
        theirs.zero_grad()
        (w**2).sum().backward()
        theirs.step()
    assert done.stdout.split() == [f"{x:.6f}" for x in w.detach().tolist()]


def _library_of(descriptors, landmarks=np.zeros((68, 2), np.float32)):
    """A ReferenceLibrary already "indexed" with faces of these descriptors (no photos read)."""
    from pathlib import Path

    from frstudio.core.references import DescribedFace, ReferenceLibrary

    library = ReferenceLibrary.__new__(ReferenceLibrary)
    library._faces = [DescribedFace(Path(f"p{k}.png"), 0, landmarks, np.asarray(d, np.float32), 1.0, 0.0)
                      for k, d in enumerate(descriptors)]
    return library


def test_a_folder_is_one_person_only_when_every_face_is_near_the_most_typical_one():
    rng = np.random.default_rng(0)
    centre = rng.normal(0, 0.1, 128)
    one = [centre + rng.normal(0, 0.01, 128) for _ in range(4)]
    assert len(_library_of(one).sole_person()) == 4
    assert _library_of(one + [centre + 0.1]).sole_person() == []  # a second person (1.13 away)
    assert _library_of([]).sole_person() == []


def test_a_face_too_damaged_to_recognise_learns_from_a_one_person_folder_only_when_asked(monkeypatch, astronaut_landmarks):
    rng = np.random.default_rng(1)
    centre = rng.normal(0, 0.1, 128)
    library = _library_of([centre + rng.normal(0, 0.01, 128) for _ in range(3)], astronaut_landmarks)
    monkeypatch.setattr(type(library), "aligned", lambda self, face, size: np.zeros((size, size, 3), np.float32))
    far = centre + 0.1  # the damaged face: over dlib's same-person distance from every photo
    assert len(personal.person_photos(library, far).crops) == 0  # Auto and group photos never guess
    asked = personal.person_photos(library, far, asked=True)
    assert len(asked.crops) == 3 and not asked.recognised
    near = personal.person_photos(library, centre, asked=True)
    assert len(near.crops) == 3 and near.recognised


def test_learning_a_face_too_damaged_to_recognise_says_so_or_asks_for_a_one_person_folder(group_png, portraits, tmp_path,
                                                                                          monkeypatch):
    from frstudio.core.references import ReferenceLibrary
    from frstudio.core.session import PhotoSession

    monkeypatch.setattr(personal, "DEFAULT_SETTINGS", QUICK)
    monkeypatch.setenv("FRSTUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FRSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    session = PhotoSession.open(group_png)
    drive(session.detect())
    monkeypatch.setattr(PhotoSession, "input_descriptor", lambda self, face: np.full(128, 0.5, np.float32))
    library = ReferenceLibrary(portraits)
    drive(library.index())
    events = []
    learned = drive(session.learn_person(0, library), events.append)
    assert learned.photos == 2 and any("too damaged to recognise" in e.message for e in events)
    from frstudio.gui.side_panel import face_facts

    info = session.info(0)
    assert info.personal is learned and not info.personal_recognised
    assert "too damaged to recognise" in face_facts(info, "frrnet", {})
    # a folder of several people (what sole_person says, tested above): no guessing which one
    monkeypatch.setattr(ReferenceLibrary, "sole_person", lambda self: [])
    with pytest.raises(FRStudioError, match="more than one person"):
        drive(session.learn_person(0, library))


def test_the_command_line_takes_a_one_person_folder_as_the_damaged_face_s_only_for_a_lone_portrait(
        portraits, astronaut, tmp_path, monkeypatch, capsys):
    """A face dlib cannot recognise (its descriptor far from every photo): given alone, the folder is theirs;
    in a batch of two photos nothing is assumed (the other portrait may be anyone)."""
    from PIL import Image

    from frstudio.cli import main
    from frstudio.core import pipeline

    monkeypatch.setattr(personal, "DEFAULT_SETTINGS", QUICK)
    monkeypatch.setenv("FRSTUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FRSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(pipeline, "describe_photo_faces", lambda pixels, faces, describe=None: [np.full(128, 0.5)] * len(faces))
    monkeypatch.setattr(PersonalModel, "helps", property(lambda self: True))  # what its check said, fixed here
    photos = tmp_path / "old"
    photos.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.ascontiguousarray(astronaut[:300, 60:380])).save(photos / name)
    assert main(["restore", str(photos / "a.png"), "--reference-dir", str(portraits), "-o", str(tmp_path / "one")]) == 0
    assert "the one person in the reference folder (the face is too damaged to recognise)" in capsys.readouterr().out
    assert main(["restore", str(photos), "--reference-dir", str(portraits), "-o", str(tmp_path / "two")]) == 0
    text = capsys.readouterr().out
    assert text.count("nobody in the reference folder looks like this face") == 2, text
