""""Auto": tiny faces to progressive_16 (when its weights are bundled), the others to the default model; the one
rule in frstudio.core.routing, used by the app's session and by the pipeline (CLI, batch)."""

import numpy as np
import pytest
from PIL import Image

from frstudio import models
from frstudio.core import routing
from frstudio.core.routing import TINY_FACE_EYE_DISTANCE, TINY_FACE_MODEL, auto_model
from tests.conftest import paste_faces
from tests.test_pipeline import run  # (result, progress events) of a pipeline generator
from tests.support.progressive_weights import write_progressive_16

SPECS = models.MODELS


def table(*names):
    return [SPECS[n] for n in names]


def test_faces_under_the_threshold_go_to_the_tiny_model_and_the_others_to_the_default():
    t = TINY_FACE_EYE_DISTANCE
    available = table("frrnet", "gfrnet", "progressive_16")
    assert TINY_FACE_MODEL == "progressive_16"
    assert auto_model(t - 1e-6, False, available) == "progressive_16"
    assert auto_model(0.5, False, available) == "progressive_16"
    assert auto_model(t, False, available) == "frrnet"  # strictly below the threshold
    assert auto_model(t + 0.01, False, available) == "frrnet"
    assert auto_model(400, False, available) == "frrnet"


def test_without_the_tiny_models_weights_every_face_keeps_the_default():
    for d in (1, TINY_FACE_EYE_DISTANCE - 1, TINY_FACE_EYE_DISTANCE, 80):
        assert auto_model(d, False, table("frrnet", "gfrnet")) == "frrnet"
        assert auto_model(d, False, table("frrnet", "progressive_128")) == "frrnet"


def test_a_reference_wins_over_size_and_is_ignored_without_a_guided_model():
    assert auto_model(4, True, table("frrnet", "gfrnet", "progressive_16")) == "gfrnet"
    assert auto_model(4, True, table("frrnet", "progressive_16")) == "progressive_16"
    assert auto_model(40, True, table("frrnet", "progressive_16")) == "frrnet"


def test_a_guided_model_gets_faces_with_a_reference_only_when_measured_to_help():
    helps = {"gfrnet-8x": {"input": {"id_match": 0.50}, "output": {"id_match": 0.60}},
             "gfrnet-8x/reference=none": {"input": {"id_match": 0.50}, "output": {"id_match": 0.40}}}  # not the guide's row
    hurts = {**helps, "bfr-severe": {"input": {"id_match": 0.24}, "output": {"id_match": 0.20}}}
    assert routing.reference_helps(helps)
    assert not routing.reference_helps(hurts)  # less like the person than its input on one protocol
    assert not routing.reference_helps({})  # never measured: nothing shows it helps
    # matched once more than its input, but further from the person and from the photo (the guided model on old photos)
    blurs = {**helps, "oldphoto": {"input": {"id_match": 0.817, "id_dist": 0.507, "psnr": 19.43},
                                   "output": {"id_match": 0.820, "id_dist": 0.530, "psnr": 19.40}}}
    assert not routing.reference_helps(blurs)
    closer = {"oldphoto": {"input": {"id_match": 0.8, "id_dist": 0.5, "psnr": 19.0}, "output": {"id_match": 0.9, "id_dist": 0.4, "psnr": 20.0}}}
    assert routing.reference_helps(closer)
    available = table("frrnet", "gfrnet")
    assert auto_model(40, True, available, guided={"gfrnet"}) == "gfrnet"
    assert auto_model(40, True, available, guided=set()) == "frrnet"
    assert auto_model(40, False, available, guided={"gfrnet"}) == "frrnet"


def test_auto_follows_the_shipped_guided_models_measurements():
    from frstudio.core.restore import model_statuses

    statuses = {s.spec.name: s for s in model_statuses() if s.available}
    if "gfrnet" not in statuses or "frrnet" not in statuses:
        pytest.skip("needs the bundled frrnet and gfrnet weights")
    expected = "gfrnet" if routing.reference_helps(statuses["gfrnet"].entry.get("metrics", {})) else "frrnet"
    available = [s.spec for s in statuses.values()]
    assert auto_model(40, True, available, routing.trusted_guided(statuses.values())) == expected


def test_large_faces_never_go_to_the_16_px_model_while_another_blind_model_exists():
    # progressive_16 comes before progressive_128 in the table: the default must not be "the first blind one"
    assert auto_model(60, False, table("gfrnet", "progressive_16", "progressive_128")) == "progressive_128"
    assert auto_model(60, False, table("gfrnet", "progressive_16")) == "progressive_16"  # the only blind model
    assert auto_model(60, False, table("gfrnet")) is None
    assert auto_model(4, False, []) is None


def test_the_threshold_is_read_at_call_time_and_the_session_uses_the_same_rule(monkeypatch):
    from frstudio.core import session

    assert session.auto_model is routing.auto_model
    monkeypatch.setattr(routing, "TINY_FACE_EYE_DISTANCE", 30.0)
    assert auto_model(29.9, False, table("frrnet", "progressive_16")) == "progressive_16"
    assert auto_model(30.0, False, table("frrnet", "progressive_16")) == "frrnet"


# ---- the pipeline -------------------------------------------------------------------------------------


@pytest.fixture
def two_sizes(tmp_path, astronaut, astronaut_landmarks):
    """The astronaut twice: eyes ~26 px apart (left) and ~56 px (right); the sample's are 43 px."""
    photo = paste_faces(astronaut, astronaut_landmarks, (700, 400), [(40, 100, 0.6), (330, 60, 1.3)])
    path = tmp_path / "photos" / "two.png"
    path.parent.mkdir()
    Image.fromarray(photo.pixels).save(path)
    return path, photo


@pytest.fixture
def with_progressive(tiny_weights):
    """The 'tiny' stand-in default (first in the table) and a random small progressive_16, in one folder."""
    write_progressive_16(tiny_weights)
    return tiny_weights


def _changed(out, before, landmarks):
    x0, y0 = landmarks.min(axis=0).astype(int)
    x1, y1 = landmarks.max(axis=0).astype(int)
    return bool(np.any(out[y0:y1, x0:x1] != before[y0:y1, x0:x1]))


def test_auto_sends_each_face_to_its_own_model(with_progressive, two_sizes, monkeypatch):
    from frstudio.core.imageio import load_photo
    from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo
    from frstudio.core.restore import Restorer

    path, photo = two_sizes
    monkeypatch.setattr(routing, "TINY_FACE_EYE_DISTANCE", 40.0)  # between the two faces (detectable at 20 px)
    loaded = []

    def load(name):
        loaded.append(name)
        return Restorer(name)

    cache = RestorerCache(load)
    result, events = run(restore_photo(path, RestoreOptions(model="auto"), cache))
    assert result.status == "restored", result.message
    small, large = sorted(result.faces, key=lambda f: f.eye_distance)
    assert small.eye_distance < 40 < large.eye_distance
    assert (small.model, large.model) == ("progressive_16", "tiny")
    assert small.restored and large.restored and sorted(loaded) == ["progressive_16", "tiny"]
    assert [f.index for f in result.faces] == [0, 1]
    out = load_photo(result.output).pixels
    for lm in photo.landmarks:  # both faces were restored and blended back
        assert _changed(out, photo.pixels, lm)
    # progress counts the faces of both groups together, never going back
    restore = [(e.face, e.faces) for e in events if e.stage == "restore"]
    assert restore == [(1, 2), (2, 2)]
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions)


def test_the_threshold_decides(with_progressive, two_sizes, monkeypatch):
    from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo

    path, _ = two_sizes
    monkeypatch.setattr(routing, "TINY_FACE_EYE_DISTANCE", 80.0)
    result, _ = run(restore_photo(path, RestoreOptions(model=None), RestorerCache()))
    assert [f.model for f in result.faces] == ["progressive_16", "progressive_16"]
    monkeypatch.setattr(routing, "TINY_FACE_EYE_DISTANCE", 12.0)
    result, _ = run(restore_photo(path, RestoreOptions(model="auto", overwrite=True), RestorerCache()))
    assert [f.model for f in result.faces] == ["tiny", "tiny"]


def test_a_named_model_takes_every_face(with_progressive, two_sizes, monkeypatch):
    from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo

    path, _ = two_sizes
    monkeypatch.setattr(routing, "TINY_FACE_EYE_DISTANCE", 40.0)
    result, _ = run(restore_photo(path, RestoreOptions(model="tiny"), RestorerCache()))
    assert [f.model for f in result.faces] == ["tiny", "tiny"]
    result, _ = run(restore_photo(path, RestoreOptions(model="progressive_16", overwrite=True), RestorerCache()))
    assert [f.model for f in result.faces] == ["progressive_16", "progressive_16"] and all(f.restored for f in result.faces)


def test_without_progressive_weights_auto_keeps_the_default_for_every_face(tiny_weights, two_sizes, monkeypatch):
    from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo

    path, _ = two_sizes
    monkeypatch.setattr(routing, "TINY_FACE_EYE_DISTANCE", 40.0)
    result, _ = run(restore_photo(path, RestoreOptions(), RestorerCache()))
    assert [f.model for f in result.faces] == ["tiny", "tiny"] and all(f.restored for f in result.faces)


def test_cli_verbose_names_each_faces_model_and_size(with_progressive, two_sizes, monkeypatch, capsys):
    from frstudio.cli import EXIT_OK, main

    path, _ = two_sizes
    monkeypatch.setattr(routing, "TINY_FACE_EYE_DISTANCE", 40.0)
    assert main(["restore", str(path), "-o", str(path.parent / "out"), "-v"]) == EXIT_OK
    lines = [line.strip() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("face ")]
    assert len(lines) == 2
    # then its sharpness against the input's (a 16 px model's result of a 26 px face is much softer, and says so)
    assert lines[0].startswith("face 1: progressive_16 (eyes ") and " px apart)" in lines[0] and "sharpness" in lines[0]
    assert lines[1].startswith("face 2: tiny, ") and "px apart" in lines[1]


def test_the_session_routes_with_the_same_threshold(with_progressive, two_sizes, monkeypatch):
    from frstudio.core.session import PhotoSession

    path, _ = two_sizes
    monkeypatch.setattr(routing, "TINY_FACE_EYE_DISTANCE", 40.0)
    s = PhotoSession.open(path)
    run(s.detect())
    assert [s.model_for(f.index) for f in s.faces] == ["progressive_16", "tiny"]
