"""benchmarks/lowlight_photo.py: the dark-photo numbers the README and the FRR-Net card quote."""

import numpy as np
from PIL import Image

from tests.support.benchmarks import load_benchmark


def _module():
    return load_benchmark("lowlight_photo")


def test_the_contrast_error_ignores_a_darkened_photo_and_catches_a_lit_face(group_photo):
    from frstudio.core.detect import detect_faces

    bench = _module()
    truth = group_photo.pixels
    faces = detect_faces(truth)
    pairs, outside = bench.regions(truth.shape[:2], faces)
    assert len(pairs) == len(faces) and outside.any() and not outside.all()
    dark = (truth * 0.5).astype(np.uint8)
    assert bench.scores(dark, truth, pairs, outside)["contrast"] < 0.05  # one exposure for the whole photo
    lit = dark.copy()
    for inside, _ in pairs:
        lit[inside] = np.clip(truth[inside] * 1.0, 0, 255).astype(np.uint8)  # the faces alone brought back
    s = bench.scores(lit, truth, pairs, outside)
    assert s["contrast"] > 0.5 and s["lum_out"] == bench.scores(dark, truth, pairs, outside)["lum_out"]


def test_runs_the_apps_path_on_a_folder_laid_out_like_the_shared_faces(tmp_path, group_photo):
    bench = _module()
    (tmp_path / "celeba").mkdir()
    Image.fromarray(group_photo.pixels).save(tmp_path / "celeba" / "a.png")
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(tmp_path / "celeba" / "b.png")  # no face: left out
    (tmp_path / "manifest.csv").write_text("file,source,identity,age,gender,split,width,height\n"
                                           "celeba/a.png,celeba,1,,,test,900,650\nceleba/b.png,celeba,2,,,test,64,64\n"
                                           "celeba/c.png,celeba,3,,,train,64,64\n")
    paths = bench.test_photos(tmp_path, 10)
    assert [p.name for p in paths] == ["a.png", "b.png"]
    results, missed = bench.run(paths, "passthrough")
    assert missed == 1 and all(len(results[w]) == 1 for w in bench.WAYS)
    dark = results["input"][0]
    assert dark["lum"] > 20 and dark["psnr"] < 25  # frrnet-lowlight's exposure 0.3-0.6
    assert results["auto"][0] == results["face light"][0]  # a model with no classifier relights nothing
