"""Reference photos as a first-class feature: the library index (cached, invalidated by mtime + size), the
choice of the best reference per face, the fallback to a blind model, the different-person warning, and the
command line (`--reference`, `--reference-dir`).

Only one public-domain face is bundled, so "other people" are made by tinting it, and most tests describe faces
with `tint_describer`, a stand-in for dlib whose descriptor is the crop's mean colour (tints far apart, the same
tint at distance 0). The command-line tests run the real dlib descriptor on the real face.
"""

import json

import numpy as np
import pytest
from PIL import Image

from frstudio.cli import EXIT_OK, EXIT_USAGE, main
from frstudio.core import references as refs
from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo
from frstudio.core.references import DescribedFace, ReferenceLibrary, ReferencePhoto, rank_candidates
from tests.conftest import paste_faces
from tests.test_pipeline import run as drain  # (result, progress events) of a pipeline generator

BLUE = (0.55, 0.7, 1.35)
GREEN = (0.6, 1.3, 0.6)


def tint_describer(items):
    """Descriptor = the face crop's mean colour, scaled so the tints above are > 0.6 apart."""
    out = []
    for crop, _ in items:
        v = np.zeros(128, np.float32)
        v[:3] = np.asarray(crop, np.float32)[32:96, 32:96].mean(axis=(0, 1)) / 255 * 4
        out.append(v)
    return out


def tinted(pixels, tint, columns=slice(None)):
    out = pixels.astype(np.float32)
    out[:, columns] *= np.asarray(tint, np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def save(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def portrait(astronaut):
    """The sample cut to its head and shoulders: one face, quick to detect."""
    return np.ascontiguousarray(astronaut[:300, 60:380])


@pytest.fixture
def two_people(astronaut, astronaut_landmarks):
    """Two faces side by side; the right-hand one tinted blue: 'another person' for tint_describer."""
    photo = paste_faces(astronaut, astronaut_landmarks, (640, 300), [(20, 40, 1.0), (380, 40, 1.0)])
    return tinted(photo.pixels, BLUE, slice(340, None))


@pytest.fixture
def tinted_faces(monkeypatch):
    monkeypatch.setattr(refs, "describe_in_process", tint_describer)


def _face(name, distance, sharpness=100.0, yaw=0.0):
    v = np.zeros(128, np.float32)
    v[0] = distance
    return DescribedFace(refs.Path(name), 0, np.zeros((68, 2), np.float32), v, sharpness, yaw)


def test_ranking_prefers_sharp_frontal_faces_among_the_closest():
    target = np.zeros(128, np.float32)
    faces = [_face("close_blurry.jpg", 0.30, sharpness=20), _face("close_sharp.jpg", 0.33, sharpness=300),
             _face("close_turned.jpg", 0.32, sharpness=400, yaw=0.4), _face("far_sharp.jpg", 0.50, sharpness=900),
             _face("stranger.jpg", 0.70, sharpness=999)]
    ranked = [f.path.name for f, _ in rank_candidates(target, faces)]
    # the three within 0.05 of the closest first, by sharpness + frontality; then the rest by distance
    assert ranked == ["close_sharp.jpg", "close_turned.jpg", "close_blurry.jpg", "far_sharp.jpg"]
    assert rank_candidates(target, [_face("stranger.jpg", 0.65)]) == []


def test_library_index_is_cached_and_follows_changed_files(tmp_path, portrait):
    folder = tmp_path / "portraits"
    save(folder / "mum.png", portrait)
    save(folder / "dad.png", tinted(portrait, BLUE))
    save(folder / "wall.png", np.full((200, 200, 3), 128, np.uint8))  # no face
    (folder / "broken.jpg").write_bytes(b"not a photo")
    (folder / "notes.txt").write_text("not an image")
    calls = []

    def counting(items):
        calls.append(len(items))
        return tint_describer(items)

    index_dir = tmp_path / "cache"
    library = ReferenceLibrary(folder, describe=counting, index_dir=index_dir)
    events = list(library.index())
    assert events[-1].fraction == 1.0 and library.summary.photos == 4 and library.summary.faces == 2
    assert len(library.summary.failed) == 1 and "broken.jpg" in library.summary.failed[0]
    assert sum(calls) == 2 and library.index_path.parent == index_dir

    calls.clear()  # a second session reads the index: nothing is detected or described again
    again = ReferenceLibrary(folder, describe=counting, index_dir=index_dir)
    assert len(again.faces) == 2 and again.summary.reused == 4 and calls == []

    save(folder / "dad.png", tinted(portrait, GREEN))  # changed: described again, and only it
    (folder / "mum.png").unlink()  # gone: leaves the index
    third = ReferenceLibrary(folder, describe=counting, index_dir=index_dir)
    assert [f.path.name for f in third.faces] == ["dad.png"] and sum(calls) == 1 and third.summary.reused == 2


def test_library_best_for_returns_the_aligned_reference_or_none(tmp_path, portrait):
    folder = tmp_path / "portraits"
    save(folder / "mum.png", portrait)
    save(folder / "dad.png", tinted(portrait, BLUE))
    library = ReferenceLibrary(folder, describe=tint_describer, index_dir=tmp_path / "cache")
    for face in library.faces:
        match = library.best_for(face.descriptor)
        assert match.path == face.path and match.distance < 1e-6 and not match.different_person
        assert match.aligned.shape == (128, 128, 3) and match.aligned.dtype == np.float32
        assert library.best_match(face.descriptor) == (face.path, match.distance)
    assert library.best_for(np.full(128, 5.0, np.float32)) is None  # nobody like this: the caller falls back
    assert library.best_match(np.full(128, 5.0, np.float32)) is None


def test_reference_photo_uses_its_face_most_like_the_target(tmp_path, two_people, tinted_faces):
    photo = ReferencePhoto(save(tmp_path / "wedding.png", two_people))
    assert len(photo.faces) == 2
    blue, plain = (photo.faces[1], photo.faces[0]) if photo.faces[1].descriptor[2] > photo.faces[0].descriptor[2] else photo.faces
    match = photo.best_for(blue.descriptor)
    assert match.face == blue.face and match.distance < 1e-6 and not match.different_person
    assert photo.best_for(plain.descriptor).face == plain.face
    stranger = photo.best_for(np.full(128, 5.0, np.float32))  # the photo always answers, but says so
    assert stranger.different_person and "distance" in stranger.describe()


def test_pipeline_guides_matching_faces_and_falls_back_for_the_others(guided_weights, tmp_path, portrait, two_people, tinted_faces):
    library = ReferenceLibrary(save(tmp_path / "lib" / "mum.png", portrait).parent, index_dir=tmp_path / "cache")
    source = save(tmp_path / "in" / "family.png", two_people)
    options = RestoreOptions(model="gfrnet", compare=True)
    job = restore_photo(source, options, RestorerCache(), references=library)
    result, events = drain(job)
    assert result.status == "restored", result.message
    by_model = {f.model: f for f in result.faces}
    assert set(by_model) == {"gfrnet", "tiny"} and all(f.restored for f in result.faces)
    assert by_model["gfrnet"].reference.startswith("mum.png") and "warped" in by_model["gfrnet"].extras
    assert by_model["tiny"].reference == "" and "no reference of this person" in by_model["tiny"].message
    strip = tmp_path / "in" / f"family_restored_face{by_model['gfrnet'].index + 1}_reference.png"
    assert strip in result.extra_outputs and Image.open(strip).size == (4 * 128, 128)
    assert not any(e.message.startswith("warning") for e in events)


def test_a_reference_of_someone_else_is_warned_about_before_restoring(guided_weights, tmp_path, portrait, tinted_faces):
    reference = ReferencePhoto(save(tmp_path / "stranger.png", tinted(portrait, GREEN)))
    source = save(tmp_path / "in" / "me.png", portrait)
    job = restore_photo(source, RestoreOptions(model="gfrnet"), RestorerCache(), references=reference)
    result, events = drain(job)
    stages = [e.stage for e in events]
    warning = next(i for i, e in enumerate(events) if e.message.startswith("warning"))
    assert "different person" in events[warning].message and warning < stages.index("restore")
    assert result.faces[0].restored and "different person" in result.faces[0].message


def test_cli_restores_with_a_reference_photo(guided_weights, tmp_path, portrait, group_photo, capsys):
    """Real dlib descriptors: the sample's face is the same person as every face of the group photo."""
    photo = save(tmp_path / "group.png", group_photo.pixels)
    good = save(tmp_path / "good.png", portrait)
    code = main(["restore", str(photo), "-o", str(tmp_path / "out"), "--reference", str(good), "--compare"])
    printed = capsys.readouterr()
    assert code == EXIT_OK, printed.err
    assert "1 restored (3 faces)" in printed.out and printed.out.count("gfrnet guided by good.png") == 3
    assert len(list((tmp_path / "out").glob("group_restored_face*_reference.png"))) == 3
    assert "warning" not in printed.err


def test_cli_auto_leaves_a_guided_model_its_tests_do_not_trust(guided_weights, tmp_path, portrait, group_photo, capsys):
    manifest_path = guided_weights / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["models"]["gfrnet"]["metrics"] = {"bfr-severe": {"n": 8, "input": {"id_match": 0.3}, "output": {"id_match": 0.2}}}
    manifest_path.write_text(json.dumps(manifest))
    photo = save(tmp_path / "group.png", group_photo.pixels)
    good = save(tmp_path / "good.png", portrait)
    assert main(["restore", str(photo), "-o", str(tmp_path / "out"), "--reference", str(good), "-v"]) == EXIT_OK
    printed = capsys.readouterr()
    assert "Auto does not use --reference" in printed.err and "--model gfrnet" in printed.err
    assert "1 restored (3 faces)" in printed.out and "guided by" not in printed.out


def test_cli_reference_dir_indexes_once_and_reports_each_face(guided_weights, tmp_path, portrait, capsys, monkeypatch):
    monkeypatch.setenv("FRSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "portraits"
    save(folder / "mum.png", portrait)
    photo = save(tmp_path / "old.png", np.ascontiguousarray(portrait[:, ::-1]))  # mirrored: same person, 0.2 away
    assert main(["restore", str(photo), "--model", "gfrnet", "--reference-dir", str(folder)]) == EXIT_OK
    assert "face 1: gfrnet guided by mum.png" in capsys.readouterr().out
    assert len(list((tmp_path / "cache" / "references").glob("*.json"))) == 1


def test_cli_rejects_both_kinds_of_reference(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["restore", "x.jpg", "--reference", "a.jpg", "--reference-dir", str(tmp_path)])
    assert exc.value.code == EXIT_USAGE
