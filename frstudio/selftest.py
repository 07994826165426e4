"""`frstudio --self-test`: a headless check that an installation works, frozen or not.

It does what a first restoration does, without a window: load every model whose weights are bundled (which
verifies their sha256), find the sample's face in dlib's helper process (the spawned process the desktop app
uses, so a frozen app whose multiprocessing is broken fails here), run each model on that face, restore the
sample photo into a temporary folder and check the result: written, the input's size, the faces changed,
everything else untouched.
Prints one line per check and returns 0 when all pass, 1 otherwise.
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

# How much a restoration must change a face, in grey levels averaged over it: FRR-Net changes even a clean face
# by ~0.7 levels in the crop (the faded sample's by ~1), a network that does nothing by 0.
MIN_CHANGE = 0.25
# Pixels beyond this many face-box sizes from a face's centre are outside anything the blend can touch.
UNTOUCHED_BEYOND = 1.5


class CheckFailed(Exception):
    pass


def sample_for_test() -> Path:
    """The faded sample (what the README and the screenshots show); the plain one if the faded is missing."""
    from frstudio.core.paths import resources_dir, sample_photo

    faded = resources_dir() / "samples" / "astronaut_faded.jpg"
    return faded if faded.is_file() else sample_photo()


def _timed(label: str, fn):
    start = time.perf_counter()
    value, detail = fn()
    print(f"  ok    {label}: {detail} ({time.perf_counter() - start:.1f} s)", flush=True)
    return value


def load_models() -> tuple[dict, str]:
    from frstudio.core.restore import Restorer, model_statuses

    names = [s.spec.name for s in model_statuses() if s.available]
    if not names:
        raise CheckFailed("no model has bundled weights")
    # Restorer() verifies each file's sha256 and that the weights fit the network
    return {name: Restorer(name) for name in names}, ", ".join(names)


def detect_in_helper(photo: Path) -> tuple[list, str]:
    from frstudio.core.dlib_work import DlibProcess
    from frstudio.core.imageio import load_photo, to_uint8

    helper = DlibProcess()
    try:
        faces = helper.detect(to_uint8(load_photo(photo).pixels))
        if helper.fell_back:
            raise CheckFailed("dlib's helper process did not start (the app would fall back to slower in-process work)")
    finally:
        helper.close()
    if not faces:
        raise CheckFailed(f"no face found in {photo.name}")
    return faces, f"{len(faces)} face(s) found in {photo.name}"


def run_models(photo: Path, face, restorers: dict) -> tuple[None, str]:
    """Each model on the sample's aligned face (a reference-guided one gets the face itself as its guide)."""
    import cv2

    from frstudio.core.align import align_face
    from frstudio.core.imageio import load_photo

    pixels = load_photo(photo).pixels
    shown = []
    for name, restorer in restorers.items():
        crop = align_face(pixels, face.landmarks, restorer.spec.input_size).image
        out = restorer.restore(crop, crop if restorer.spec.takes_reference else None)[0].image
        size = restorer.spec.output_size
        if out.shape != (size, size, 3) or not np.isfinite(out).all():
            raise CheckFailed(f"{name} returned {out.shape} or non-finite values")
        change = 255 * float(np.abs(out - cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)).mean())
        if change < MIN_CHANGE:
            raise CheckFailed(f"{name} left the face as it was (mean change {change:.2f} levels)")
        shown.append(f"{name} changed it by {change:.1f} levels")
    return None, ", ".join(shown)


def restore_sample(photo: Path, out_dir: Path, restorers: dict):
    from frstudio.core.jobs import drive
    from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_batch

    # PNG: lossless, so "everything else untouched" can be checked exactly against the decoded input.
    results = drive(restore_batch([photo], RestoreOptions(output_dir=out_dir, format="png"), RestorerCache(restorers.__getitem__)))
    result = results[0]
    if result.status != "restored" or result.output is None:
        raise CheckFailed(f"restoring {photo.name}: {result.status} {result.message}".strip())
    faces = [f for f in result.faces if f.restored]
    if not faces:
        raise CheckFailed(f"restoring {photo.name}: no face was restored ({result.message})")
    return result, f"{len(faces)} face(s) with {faces[0].model} -> {result.output.name}"


def verify_output(photo: Path, result) -> tuple[None, str]:
    from frstudio.core.imageio import load_photo, to_uint8

    if not result.output.is_file():
        raise CheckFailed(f"{result.output} was not written")
    before = to_uint8(load_photo(photo).pixels).astype(np.int16)
    after = to_uint8(load_photo(result.output).pixels).astype(np.int16)
    if before.shape != after.shape:
        raise CheckFailed(f"the output is {after.shape[1]} x {after.shape[0]}, the input {before.shape[1]} x {before.shape[0]}")
    diff = np.abs(after - before).max(axis=2)
    near = np.zeros(diff.shape, bool)
    changes = []
    for face in result.faces:
        x0, y0, x1, y1 = face.box
        changes.append(float(diff[max(int(y0), 0):int(y1), max(int(x0), 0):int(x1)].mean()))
        cx, cy, reach = (x0 + x1) / 2, (y0 + y1) / 2, UNTOUCHED_BEYOND * max(x1 - x0, y1 - y0)
        near[max(int(cy - reach), 0):max(int(cy + reach), 0), max(int(cx - reach), 0):max(int(cx + reach), 0)] = True
    if min(changes) < MIN_CHANGE:
        raise CheckFailed(f"a restored face barely changed (mean difference {min(changes):.2f} levels)")
    outside = int(diff[~near].max()) if (~near).any() else 0
    if outside > 0:
        raise CheckFailed(f"pixels away from the faces changed (up to {outside} levels)")
    size = f"{after.shape[1]} x {after.shape[0]}"
    return None, f"{size} like the input, faces changed by {min(changes):.1f}-{max(changes):.1f} levels, the rest untouched"


def run_self_test() -> int:
    from frstudio import __version__

    where = Path(sys.executable).parent if getattr(sys, "frozen", False) else Path(__file__).resolve().parent
    print(f"FR Studio {__version__} self-test ({'frozen app in ' if getattr(sys, 'frozen', False) else 'source in '}{where})", flush=True)
    start = time.perf_counter()
    photo = sample_for_test()
    try:
        restorers = _timed("models loaded", load_models)
        faces = _timed("dlib helper process", lambda: detect_in_helper(photo))
        _timed("models run", lambda: run_models(photo, faces[0], restorers))
        with tempfile.TemporaryDirectory(prefix="frstudio-selftest-") as tmp:
            result = _timed("photo restored", lambda: restore_sample(photo, Path(tmp), restorers))
            _timed("output checked", lambda: verify_output(photo, result))
    except CheckFailed as exc:
        print(f"  FAIL  {exc}")
        print(f"self-test FAILED after {time.perf_counter() - start:.1f} s")
        return 1
    except Exception:  # noqa: BLE001 - a broken installation shows itself as any error: report it, exit 1
        print("  FAIL  unexpected error:")
        traceback.print_exc(file=sys.stdout)
        print(f"self-test FAILED after {time.perf_counter() - start:.1f} s")
        return 1
    print(f"self-test passed in {time.perf_counter() - start:.1f} s")
    return 0
