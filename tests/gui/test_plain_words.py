"""What a new user reads: plain model names and one-line descriptions; the research names and test figures only
behind "Details"; faces numbered from 1; versions of a face numbered from 1, not by seed."""

from __future__ import annotations

from pathlib import Path

from frstudio import models
from frstudio.core.restore import ModelStatus
from frstudio.gui.side_panel import SidePanel

JARGON = ("GAN", "Net", "VQ", "StyleGAN", "MMRB", "U-Net", "seed", "iPrecision", "PSNR", "first short run")
FIGURES = {"bfr-severe": {"n": 1000, "input": {"psnr": 22.0, "id_match": 0.28, "iprecision": 0.87},
                          "output": {"psnr": 23.5, "id_match": 0.44, "iprecision": 0.79}}}


def shipped_statuses() -> list[ModelStatus]:
    return [ModelStatus(spec, Path(spec.weights), True, True, {"metrics": FIGURES}) for spec in models.MODELS.values()
            if spec.name != "tiny"]


def test_the_model_table_speaks_plainly():
    for spec in models.MODELS.values():
        if spec.name == "tiny":
            continue
        words = f"{spec.title} {spec.description}"
        assert not [j for j in JARGON if j in words], spec.name
        assert spec.technical and "\n" not in spec.description
    assert models.MODELS["frrnet"].title == "Everyday restore"
    assert models.MODELS["gfrnet"].title == "Guided by a photo of the same person"
    assert models.MODELS["progressive_16"].title == "Tiny faces"


def test_figures_and_research_names_are_behind_details(qtbot):
    panel = SidePanel(shipped_statuses())
    qtbot.addWidget(panel)
    panel.show()
    combo = [panel.model.itemText(i) for i in range(panel.model.count())]
    assert combo[:3] == ["Auto", "Everyday restore", "Guided by a photo of the same person"]
    shown = [w.text() for w in panel.findChildren(type(panel.description)) if w.isVisible()]
    assert not any("iPrecision" in t or "PSNR" in t for t in shown), shown  # Auto's caption: no figures
    assert not panel.details.isVisible() and panel.details_button.text() == "Details"
    assert "Everyday restore" in panel.details.text()  # Auto's details: what it picks, by plain name

    panel.show_globals("vq_unet", 1.0)
    assert "generic face" in panel.description.text()
    panel.details_button.click()
    assert panel.details.isVisible()
    assert "Stochastic VQ U-Net" in panel.details.text() and "iPrecision) 87% → 79%" in panel.details.text()


def test_a_long_reference_name_is_shortened_not_cut(qtbot, make_window, group_png):
    from tests.conftest import SAMPLE
    from tests.gui.conftest import wait_idle
    from tests.gui.test_main_window import open_and_wait

    window = make_window()
    open_and_wait(qtbot, window, group_png)
    long_name = group_png.parent / ("grandma at the seaside in the summer of nineteen fifty-two " * 2 + ".jpg")
    long_name.write_bytes(SAMPLE.read_bytes())
    window.set_reference(0, long_name)
    wait_idle(qtbot, window)
    panel = window.panel
    qtbot.wait(50)
    assert panel.reference.text() == long_name.name and panel.reference.toolTip() == long_name.name
    assert "…" in panel.reference.shown()
    assert panel.face_box.minimumSizeHint().width() <= panel.maximumWidth()  # the panel never has to cut it
    label = panel.face_box.layout().labelForField(panel.reference)
    assert label.width() >= label.sizeHint().width()  # "Reference" itself is whole


def test_a_turned_away_face_says_how_it_was_placed():
    from frstudio.core.session import FaceInfo
    from frstudio.gui.side_panel import face_facts

    statuses = {s.spec.name: s for s in shipped_statuses()}
    turned = face_facts(FaceInfo(0, 40.0, profile=True), "frrnet", statuses)
    assert "Turned away" in turned and "eyes, nose and mouth" in turned
    assert "Turned away" not in face_facts(FaceInfo(0, 40.0), "frrnet", statuses)


def test_a_reference_under_auto_says_it_checks_the_likeness_when_the_guided_model_is_not_trusted(qtbot, guided_weights, group_png):
    import json

    from frstudio.core.dlib_work import DlibInProcess
    from frstudio.gui.main_window import MainWindow
    from frstudio.gui.settings import load_settings
    from tests.conftest import SAMPLE
    from tests.gui.conftest import wait_idle
    from tests.gui.test_main_window import open_and_wait

    manifest = json.loads((guided_weights / "manifest.json").read_text())
    manifest["models"]["gfrnet"]["metrics"] = {}  # never measured: nothing shows the reference helping
    (guided_weights / "manifest.json").write_text(json.dumps(manifest))
    settings = load_settings()
    settings.model = "auto"
    window = MainWindow(settings, dlib=DlibInProcess())
    qtbot.addWidget(window)
    window.show()
    open_and_wait(qtbot, window, group_png)
    reference = group_png.parent / "grandma.jpg"
    reference.write_bytes(SAMPLE.read_bytes())
    window.set_reference(0, reference)
    wait_idle(qtbot, window)
    assert window.session.model_for(0) != "gfrnet"
    assert "check the likeness" in window.message.label.text() and "Guided by a photo" in window.message.label.text()
