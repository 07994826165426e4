import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from frstudio.core.blend import face_outline
from frstudio.core.errors import Cancelled
from frstudio.core.imageio import load_photo
from frstudio.core.jobs import CancelToken, drive
from frstudio.core.pipeline import RestoreOptions, RestorerCache, expand_inputs, output_path_for, restore_batch, restore_photo
from tests.conftest import file_digest, paste_faces


def run(job):
    events = []
    return drive(job, events.append), events


def _outside_faces(shape, faces_landmarks, grow=3):
    import cv2

    mask = np.zeros(shape[:2], np.uint8)
    for lm in faces_landmarks:
        cv2.fillPoly(mask, [np.round(face_outline(lm)).astype(np.int32)], 1)
    return ~cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)).astype(bool)


def test_restores_faces_and_nothing_else(tiny_weights, group_png, group_photo):
    before = file_digest(group_png)
    result, events = run(restore_photo(group_png, RestoreOptions(model="tiny"), RestorerCache()))
    assert result.status == "restored", result.message
    assert result.output == group_png.with_name("family_restored.png")
    assert file_digest(group_png) == before  # the original is untouched
    assert [f.index for f in result.faces if f.restored] == [0, 1, 2]
    out = load_photo(result.output).pixels
    assert np.any(out != group_photo.pixels)
    outside = _outside_faces(out.shape, group_photo.landmarks)
    np.testing.assert_array_equal(out[outside], group_photo.pixels[outside])
    stages = [e.stage for e in events]
    assert stages[0] == "load" and stages[-1] == "done" and "restore" in stages
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_only_the_chosen_faces_change(tiny_weights, group_png, group_photo):
    result, _ = run(restore_photo(group_png, RestoreOptions(model="tiny", faces=frozenset({1})), RestorerCache()))
    assert [f.index for f in result.faces] == [1]
    out = load_photo(result.output).pixels
    changed = np.any(out != group_photo.pixels, axis=2)
    ys, xs = np.nonzero(changed)
    from frstudio.core.detect import detect_faces

    face1 = detect_faces(group_photo.pixels)[1]
    x0, y0, x1, y1 = face1.box
    assert xs.min() > x0 - 0.5 * (x1 - x0) and xs.max() < x1 + 0.5 * (x1 - x0)
    assert ys.min() > y0 - (y1 - y0) and ys.max() < y1 + 0.5 * (y1 - y0)


def test_exif_and_16_bit_survive_the_pipeline(tiny_weights, tmp_path, group_photo):
    exif = Image.Exif()
    exif[0x0110] = "Brownie No. 2"  # Model
    exif.get_ifd(0x8769)[0x9003] = "1952:07:14 10:00:00"  # DateTimeOriginal
    jpeg = tmp_path / "wedding.jpg"
    Image.fromarray(group_photo.pixels).save(jpeg, exif=exif, quality=95)
    result, _ = run(restore_photo(jpeg, RestoreOptions(model="tiny", output_dir=tmp_path / "out"), RestorerCache()))
    saved = Image.open(result.output).getexif()
    assert saved[0x0110] == "Brownie No. 2"
    assert saved.get_ifd(0x8769)[0x9003] == "1952:07:14 10:00:00"

    import cv2

    png16 = tmp_path / "scan16.png"
    cv2.imwrite(str(png16), cv2.cvtColor(group_photo.pixels.astype(np.uint16) * 257, cv2.COLOR_RGB2BGR))
    result, _ = run(restore_photo(png16, RestoreOptions(model="tiny"), RestorerCache()))
    assert result.status == "restored"
    out = load_photo(result.output)
    assert out.bit_depth == 16 and out.pixels.dtype == np.uint16


def test_grey_photo_stays_grey(tiny_weights, tmp_path, group_photo):
    grey = tmp_path / "grandma.png"
    Image.fromarray(group_photo.pixels).convert("L").save(grey)
    result, _ = run(restore_photo(grey, RestoreOptions(model="tiny"), RestorerCache()))
    out = load_photo(result.output)
    assert result.status == "restored" and out.is_grey and out.grey_mode
    assert Image.open(result.output).mode == "L"


def test_compare_and_crops(tiny_weights, group_png):
    result, _ = run(restore_photo(group_png, RestoreOptions(model="tiny", compare=True, save_crops=True), RestorerCache()))
    names = sorted(p.name for p in result.extra_outputs)
    assert "family_restored_compare.jpg" in names
    assert "family_restored_face1_before.png" in names and "family_restored_face3_after.png" in names  # numbered from 1
    assert "family_restored_face0_before.png" not in names
    compare = Image.open(group_png.with_name("family_restored_compare.jpg"))
    assert compare.width > 2 * Image.open(group_png).width - 1


def test_photo_without_faces_copied_or_skipped(tiny_weights, tmp_path):
    path = tmp_path / "landscape.png"
    pixels = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    result, _ = run(restore_photo(path, RestoreOptions(model="tiny"), RestorerCache()))
    assert result.status == "no_faces" and "no face" in result.message
    np.testing.assert_array_equal(load_photo(result.output).pixels, pixels)
    result.output.unlink()
    result, _ = run(restore_photo(path, RestoreOptions(model="tiny", no_faces="skip"), RestorerCache()))
    assert result.status == "no_faces" and result.output is None
    assert not path.with_name("landscape_restored.png").exists()


def _png_header_only(path: Path, width: int, height: int):
    """A PNG whose header claims width x height: a decompression bomb in miniature."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _make_bad_folder(folder: Path, group_photo) -> dict[str, Path]:
    folder.mkdir()
    good = folder / "été 1952 – mariage.jpg"  # unicode and spaces
    Image.fromarray(group_photo.pixels).save(good, quality=92)
    files = {"good": good}
    files["empty"] = folder / "empty.jpg"
    files["empty"].write_bytes(b"")
    files["truncated"] = folder / "truncated.jpg"
    files["truncated"].write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    files["text"] = folder / "notes.png"
    files["text"].write_text("this is not a picture", encoding="utf-8")
    files["corrupt"] = folder / "corrupt.webp"
    files["corrupt"].write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(range(200)))
    files["bomb"] = folder / "bomb.png"
    _png_header_only(files["bomb"], 20000, 15000)
    files["cmyk"] = folder / "cmyk.jpg"
    Image.fromarray(group_photo.pixels).convert("CMYK").save(files["cmyk"])
    files["palette"] = folder / "palette.png"
    Image.fromarray(group_photo.pixels).convert("P", palette=Image.Palette.ADAPTIVE).save(files["palette"])
    files["gif"] = folder / "animated.gif"
    frames = [Image.fromarray(group_photo.pixels).convert("P"), Image.new("P", group_photo.pixels.shape[1::-1])]
    frames[0].save(files["gif"], save_all=True, append_images=frames[1:], duration=100)
    return files


def test_batch_goes_on_past_bad_files_and_resumes(tiny_weights, tmp_path, group_photo):
    files = _make_bad_folder(tmp_path / "scans", group_photo)
    digests = {k: file_digest(p) for k, p in files.items()}
    out = tmp_path / "restored"
    results, events = run(restore_batch([tmp_path / "scans"], RestoreOptions(model="tiny", output_dir=out), RestorerCache()))
    by_name = {r.source.name: r for r in results}
    assert len(results) == len(files)
    for key in ("good", "cmyk", "palette", "gif"):
        assert by_name[files[key].name].status == "restored", (key, by_name[files[key].name].message)
    for key in ("empty", "truncated", "text", "corrupt", "bomb"):
        r = by_name[files[key].name]
        assert r.status == "failed" and files[key].name in r.message and "\n" not in r.message, (key, r.message)
    assert "200 MP" in by_name["bomb.png"].message
    assert (out / "animated_restored.png").exists()  # GIF: first frame, saved as PNG
    assert {k: file_digest(p) for k, p in files.items()} == digests  # no input modified
    assert not [p for p in out.iterdir() if p.name.startswith(".") or p.suffix == ".part"]  # no partial output
    assert [e.index for e in events if e.result] == list(range(len(files)))

    mtimes = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    again, _ = run(restore_batch([tmp_path / "scans"], RestoreOptions(model="tiny", output_dir=out), RestorerCache()))
    assert {r.status for r in again if r.source.name in {files[k].name for k in ("good", "cmyk")}} == {"skipped"}
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes  # finished outputs are not redone


def test_unwritable_output_is_reported_and_nothing_left(tiny_weights, tmp_path, group_png):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    result, _ = run(restore_photo(group_png, RestoreOptions(model="tiny", output_dir=blocker / "out"), RestorerCache()))
    assert result.status == "failed" and "not_a_folder" in result.message


def test_output_never_replaces_the_input(tiny_weights, group_png):
    before = file_digest(group_png)
    result, _ = run(restore_photo(group_png, RestoreOptions(model="tiny", suffix="", overwrite=True), RestorerCache()))
    assert result.status == "failed" and "original" in result.message
    assert file_digest(group_png) == before


def test_cancel_between_faces_leaves_no_output(tiny_weights, group_png):
    cancel = CancelToken()
    job = restore_photo(group_png, RestoreOptions(model="tiny"), RestorerCache(), cancel)
    next(job)
    cancel.cancel()
    with pytest.raises(Cancelled):
        run(job)
    assert not group_png.with_name("family_restored.png").exists()
    results, _ = run(restore_batch([group_png], RestoreOptions(model="tiny"), RestorerCache(), cancel))
    assert [r.status for r in results] == ["cancelled"]


def test_faces_cut_by_the_border_and_a_very_wide_scan(tiny_weights, tmp_path, astronaut, astronaut_landmarks):
    photo = paste_faces(astronaut, astronaut_landmarks, (10000, 900), [(-40, 300, 1.6), (5000, 200, 2.0), (9850, 500, 1.2)])
    path = tmp_path / "panorama.jpg"
    Image.fromarray(photo.pixels).save(path, quality=90)
    result, _ = run(restore_photo(path, RestoreOptions(model="tiny"), RestorerCache()))
    assert result.status == "restored", result.message
    assert len(result.faces) >= 2  # the whole face and at least one cut by a border
    assert Image.open(result.output).size == (10000, 900)


def test_output_names_and_folder_mirroring(tmp_path):
    src = tmp_path / "album" / "1950s" / "beach.JPG"
    assert output_path_for(src, RestoreOptions()) == src.with_name("beach_restored.JPG")
    opts = RestoreOptions(output_dir=tmp_path / "out", format="png")
    assert output_path_for(src, opts, root=tmp_path / "album") == tmp_path / "out" / "1950s" / "beach_restored.png"
    assert output_path_for(tmp_path / "a.gif", RestoreOptions()).suffix == ".png"


def test_folders_expand_recursively_only_when_asked(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for p in ("a/one.jpg", "a/b/two.png", "a/readme.txt", "a/.hidden.jpg"):
        (tmp_path / p).write_bytes(b"x")
    assert [p.name for p, _ in expand_inputs([tmp_path / "a"])] == ["one.jpg"]
    assert sorted(p.name for p, _ in expand_inputs([tmp_path / "a"], recursive=True)) == ["one.jpg", "two.png"]


def test_a_failing_model_keeps_the_original_faces(tiny_weights, group_png, group_photo):
    from frstudio.core.restore import PassThroughRestorer

    class Broken(PassThroughRestorer):
        def restore(self, crops, reference=None):
            raise RuntimeError("out of memory")

    result, _ = run(restore_photo(group_png, RestoreOptions(model="tiny"), RestorerCache(lambda name: Broken())))
    assert result.status == "restored" and len(result.faces) == 3
    assert all(not f.restored and "left as they were" in f.message for f in result.faces)
    np.testing.assert_array_equal(load_photo(result.output).pixels, group_photo.pixels)


def test_progress_is_reported_per_face(tiny_weights, group_png):
    _, events = run(restore_photo(group_png, RestoreOptions(model="tiny"), RestorerCache()))
    assert [e.face for e in events if e.stage == "restore"] == [1, 2, 3]


def test_asking_for_a_face_that_does_not_exist_is_an_error_and_writes_nothing(tiny_weights, group_png):
    """Restoring the faces that exist would leave a `_restored` file that the corrected re-run skips as done."""
    options = RestoreOptions(model="tiny", faces=frozenset({1, 98}))  # indices: faces 2 and 99 as people count
    result, _ = run(restore_photo(group_png, options, RestorerCache()))
    assert result.status == "failed" and result.output is None
    assert result.message == "family.png has no face 99 (its faces are 1-3); nothing written"
    assert not list(group_png.parent.glob("family_restored*"))
    result, _ = run(restore_photo(group_png, RestoreOptions(model="tiny", faces=frozenset({2})), RestorerCache()))
    assert result.status == "restored" and [f.index for f in result.faces] == [2]


def test_auto_tone_gives_the_whole_photo_the_light_of_faces_the_model_relit(group_photo):
    """Under auto tone, a face the classifier calls badly lit keeps the model's brighter tone, and the rest of the
    photo is brightened with it (no lit oval in a dark scene); a face it calls well lit is pulled back to the
    photo's tone and nothing outside it changes. The colour follows the photo's either way."""
    import cv2
    from types import SimpleNamespace

    from frstudio.core.align import align_face
    from frstudio.core.detect import detect_faces
    from frstudio.core.pipeline import compose
    from frstudio.core.restore import RestoredFace

    photo = SimpleNamespace(pixels=group_photo.pixels.copy(), is_grey=False)  # all compose reads of a Photo
    face = detect_faces(photo.pixels)[0]
    aligned = align_face(photo.pixels, face.landmarks, 128)
    brighter = np.clip(aligned.image * 1.6 * np.array([0.8, 1.1, 0.8], np.float32), 0, 1)  # and greener
    outline = np.zeros(photo.pixels.shape[:2], np.uint8)
    cv2.fillPoly(outline, [np.round(face_outline(face.landmarks)).astype(np.int32)], 1)
    inside = outline.astype(bool)
    far = _outside_faces(photo.pixels.shape, [face.landmarks], grow=60)
    gain, green, far_gain = {}, {}, {}
    for relight in (0.9, 0.1):
        result = RestoredFace(brighter, {"labels": np.array([0.1, 0.1, relight], np.float32)}, ("noise", "blur", "relight"))
        out = compose(photo, [face], {face.index: (aligned, result)})  # match_tone None: auto
        before, after = photo.pixels[inside].astype(float).mean(0), out[inside].astype(float).mean(0)
        gain[relight] = after.mean() / before.mean()
        green[relight] = after[1] / after.mean() - before[1] / before.mean()  # change of the green share
        far_gain[relight] = out[far].astype(float).mean() / photo.pixels[far].astype(float).mean()
        if relight < 0.5:
            np.testing.assert_array_equal(out[far], photo.pixels[far])  # well lit: only the face changes
        kept = compose(photo, [face], {face.index: (aligned, result)}, match_tone=False)  # --tone model
        np.testing.assert_array_equal(kept[far], photo.pixels[far])
    assert gain[0.9] > 1.2  # relit: the new light stays on the face ...
    assert abs(far_gain[0.9] - gain[0.9]) < 0.05  # ... and reaches the rest of the photo alike: no lit oval
    assert abs(green[0.9]) < 0.03  # ... but the colour follows the photo's
    assert abs(gain[0.1] - 1) < 0.03 and abs(green[0.1]) < 0.03  # not relit: brightness and colour matched to the photo


def test_a_photo_relit_to_match_its_faces_says_so_and_the_original_is_untouched(tiny_weights, tmp_path, group_photo):
    from frstudio.core.restore import PassThroughRestorer, RestoredFace

    class Relighting(PassThroughRestorer):  # finds every face badly lit and doubles its brightness
        def restore(self, crops, reference=None, seed=0):
            labels = np.array([0.1, 0.1, 0.9], np.float32)
            return [RestoredFace(np.clip(c * 2, 0, 1).astype(np.float32), {"labels": labels}, ("noise", "blur", "relight")) for c in crops]

    dark = (group_photo.pixels * 0.4).astype(np.uint8)
    path = tmp_path / "dark.png"
    Image.fromarray(dark).save(path)
    before = file_digest(path)
    result, _ = run(restore_photo(path, RestoreOptions(model="tiny"), RestorerCache(lambda name: Relighting())))
    assert result.status == "restored" and "whole photo brightened" in result.note, result.message
    assert file_digest(path) == before
    out = load_photo(result.output).pixels.astype(float)
    far = _outside_faces(dark.shape, group_photo.landmarks, grow=40)
    assert out[far].mean() > 1.5 * dark[far].mean()
    kept, _ = run(restore_photo(path, RestoreOptions(model="tiny", match_tone=True, suffix="_match"), RestorerCache(lambda name: Relighting())))
    assert kept.note == ""
    np.testing.assert_array_equal(load_photo(kept.output).pixels[far], dark[far])
