"""Variants in the app: the count is a remembered setting shown only when a stochastic model is bundled; after
restoring, the face panel shows the face's variants most faithful first, and picking one is an undo step."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import Qt

from frstudio import models
from frstudio.core.pipeline import RestorerCache
from frstudio.gui.settings import load_settings
from tests.gui.conftest import wait_idle
from tests.gui.test_main_window import open_and_wait
from tests.test_variants import COUNT, NoisyByRestorer


def test_variants_are_shown_ranked_and_one_can_be_picked_and_undone(qtbot, make_window, group_png, monkeypatch):
    monkeypatch.setitem(models.MODELS, "tiny", replace(models.MODELS["tiny"], stochastic=True))
    window = make_window()
    restorer = NoisyByRestorer()
    restorer.spec = models.MODELS["tiny"]
    window.restorers = RestorerCache(lambda name: restorer)
    panel = window.panel
    assert panel.variants.isVisibleTo(window) and panel.variants.value() == 1
    panel.variants.setValue(COUNT)
    assert load_settings().variants == COUNT or window.settings.variants == COUNT
    open_and_wait(qtbot, window, group_png)
    assert window.session.variants == COUNT
    window.restore()
    wait_idle(qtbot, window)
    strip = panel.variant_strip
    assert strip.isVisibleTo(window) and len(strip.buttons) == COUNT
    assert strip.buttons[0].isChecked() and "Most faithful" in strip.buttons[0].toolTip()
    assert f"Versions: {COUNT}, most like the person first" in panel.info.text() and "using version 1" in panel.info.text()
    assert "seed" not in panel.info.text() and strip.buttons[1].accessibleName().startswith("Version 2 ")
    distances = [float(b.text()) for b in strip.buttons]
    assert distances == sorted(distances)
    before = window.compare.main.after.full.copy()
    qtbot.mouseClick(strip.buttons[-1], Qt.MouseButton.LeftButton)  # the least faithful
    wait_idle(qtbot, window)
    face = panel.current
    worst = window.session.info(face).variants[-1]
    assert window.session.choices[face].variant == worst.seed and panel.variant_strip.buttons[-1].isChecked()
    assert not np.array_equal(window.compare.main.after.full, before)
    window.undo_action.trigger()
    wait_idle(qtbot, window)
    assert window.session.choices[face].variant is None and panel.variant_strip.buttons[0].isChecked()
    np.testing.assert_array_equal(window.compare.main.after.full, before)


def test_variants_can_be_set_only_for_a_stochastic_model(qtbot, make_window, group_png, monkeypatch):
    monkeypatch.setitem(models.MODELS, "tiny", replace(models.MODELS["tiny"], stochastic=True))
    window = make_window()  # the model: tiny, stochastic here
    panel = window.panel
    assert panel.variants.isVisibleTo(window) and panel.variants.isEnabled()
    window.set_model_for_all("auto")  # Auto never picks a stochastic model
    assert not panel.variants.isEnabled() and "Only for 'Tiny test net'" in panel.variants.toolTip()
    open_and_wait(qtbot, window, group_png)
    window.panel.faceModelChosen.emit(0, "tiny")  # one face given the stochastic model: its variants count
    assert panel.variants.isEnabled()


def test_without_a_stochastic_model_there_is_no_variants_control(make_window):
    window = make_window()
    assert not window.panel.variants.isVisibleTo(window) and not window.panel.variant_strip.isVisibleTo(window)


def test_the_model_line_puts_identity_precision_first():
    from pathlib import Path

    from frstudio.core.restore import ModelStatus
    from frstudio.gui.side_panel import metrics_line

    entry = {"metrics": {"bfr-severe": {"n": 1000, "input": {"psnr": 22.0, "id_match": 0.4, "iprecision": 0.31},
                                        "output": {"psnr": 23.5, "id_match": 0.5, "iprecision": 0.52}}}}
    line = metrics_line(ModelStatus(models.MODELS["vq_unet"], Path("x"), True, True, entry))
    assert "iPrecision) 31% → 52%" in line and line.index("iPrecision") < line.index("same person")
