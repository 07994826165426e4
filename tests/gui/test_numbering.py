"""Faces are numbered from 1 wherever a person reads about them: the batch queue's progress, a face that could not
be aligned, a reference's face."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from frstudio.core import pipeline
from frstudio.core.jobs import Progress, drive
from frstudio.core.pipeline import BatchEvent, RestoreOptions, RestorerCache, restore_photo
from frstudio.core.references import ReferenceMatch
from frstudio.gui.batch_panel import BatchPanel


def test_the_batch_queue_counts_faces_from_1(qtbot, tmp_path):
    panel = BatchPanel()
    qtbot.addWidget(panel)
    photo = tmp_path / "a.jpg"
    panel.set_inputs([photo], [photo])
    panel.show_event(BatchEvent(0, 1, progress=Progress("restore", 0.2, 0, 3, photo)))  # none done yet
    assert panel.statuses() == ["Restoring face 1 of 3…"]
    panel.show_event(BatchEvent(0, 1, progress=Progress("restore", 0.8, 3, 3, photo)))
    assert panel.statuses() == ["Restoring face 3 of 3…"]


def test_a_face_that_cannot_be_aligned_is_named_from_1(tiny_weights, group_png, monkeypatch):
    real = pipeline.align_face

    def align(pixels, landmarks, size):
        if landmarks[:, 0].mean() < 200:  # the left face of the top row: face 1
            raise ValueError("landmarks out of the photo")
        return real(pixels, landmarks, size)

    monkeypatch.setattr(pipeline, "align_face", align)
    job = restore_photo(group_png, RestoreOptions(model="tiny"), RestorerCache())
    result = drive(job)
    assert result.faces[0].message == "face 1: landmarks out of the photo"


def test_a_reference_names_its_face_from_1():
    match = ReferenceMatch(Path("mum.jpg"), 0, 0.42, 1.0, 0.0, np.zeros((1, 1, 3), np.float32))
    assert match.describe() == "mum.jpg (face 1, distance 0.42)"
