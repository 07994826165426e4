"""Side by side (Ctrl+2): two equal panes that fit the photo on entry and on every resize, until the user zooms."""

from __future__ import annotations

import pytest

from tests.gui.test_main_window import open_and_wait


def fit_scale(view) -> float:
    """The zoom at which the whole photo fits the view's viewport."""
    rect = view.sceneRect()
    size = view.viewport().size()
    return min(size.width() / rect.width(), size.height() / rect.height())


def assert_fitted(view) -> None:
    assert view.zoom() == pytest.approx(fit_scale(view), rel=0.05)  # fitInView keeps a small margin


def test_side_by_side_panes_are_equal_and_fitted(qtbot, window, group_png):
    open_and_wait(qtbot, window, group_png)
    window.restore()
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=60_000)
    main, left = window.compare.main, window.compare.left

    qtbot.keyClick(window, "2", modifier=window.mode_actions["side"].shortcut()[0].keyboardModifiers())
    qtbot.waitUntil(lambda: left.isVisible())
    qtbot.wait(50)
    assert abs(main.width() - left.width()) <= 2, (left.width(), main.width())
    assert_fitted(main)
    assert_fitted(left)

    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.width() == 1400)
    qtbot.wait(50)
    assert abs(main.width() - left.width()) <= 2
    assert_fitted(main)
    assert_fitted(left)

    main.zoom_by(3.0)  # the user zooms: both follow, and Fit to Window brings both back
    assert left.zoom() == pytest.approx(main.zoom())
    window.fit_action.trigger()
    assert_fitted(main)
    assert_fitted(left)

    window.resize(1000, 700)
    qtbot.waitUntil(lambda: window.width() == 1000)
    qtbot.wait(50)
    assert_fitted(main)
    assert_fitted(left)


def test_panes_of_different_widths_each_fit_their_own(qtbot, window, group_png):
    """A pane narrowed by the splitter must not pass its small scale to the other (both showed a thumbnail)."""
    open_and_wait(qtbot, window, group_png)
    window.set_compare_mode("side")
    main, left = window.compare.main, window.compare.left
    window.compare.views.setSizes([150, 800])
    qtbot.wait(50)
    window.resize(1300, 800)
    qtbot.waitUntil(lambda: window.width() == 1300)
    qtbot.wait(50)
    window.fit_action.trigger()
    assert_fitted(main)
    assert_fitted(left)
