""""Learn this person from their photos…" in the window: learned off the event loop with the window's progress and
cancel, the face restored with it where it measured better, and said plainly where it cannot be used."""

from __future__ import annotations

from tests.gui.conftest import wait_idle
from tests.gui.test_main_window import open_and_wait


def test_learning_a_person_restores_their_face_with_it(qtbot, group_png, portraits, tmp_path, monkeypatch):
    from frstudio.core import personal
    from frstudio.core.dlib_work import DlibInProcess
    from frstudio.gui.main_window import MainWindow
    from frstudio.gui.settings import load_settings
    from tests.test_personal import QUICK

    monkeypatch.setattr(personal, "DEFAULT_SETTINGS", QUICK)
    monkeypatch.setattr(personal.PersonalModel, "helps", property(lambda self: True))
    monkeypatch.setenv("FRSTUDIO_DATA_DIR", str(tmp_path / "data"))
    window = MainWindow(load_settings(), dlib=DlibInProcess())  # the shipped default, which can learn
    qtbot.addWidget(window)
    window.show()
    open_and_wait(qtbot, window, group_png)
    assert window.panel.learn.isEnabled() and window.panel.learn.text().startswith("Learn this person")
    window.references.learn_from(0, portraits)
    wait_idle(qtbot, window)  # learned, then restored with it
    info = window.session.info(0)
    assert info.personal is not None and info.personal_used
    window.panel.faces.setCurrentRow(0)
    assert "learned for this person" in window.panel.info.text()


def test_a_model_that_cannot_learn_says_so(qtbot, window, group_png, portraits):
    open_and_wait(qtbot, window, group_png)  # the tiny test network
    window.references.learn_from(0, portraits)
    wait_idle(qtbot, window)
    assert "cannot learn a person" in window.message.label.text() and window.session.info(0).personal is None
