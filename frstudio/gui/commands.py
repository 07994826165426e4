"""Undoable changes to a session's choices (QUndoStack). The session tells its observers what each do, undo
and redo changed (`PhotoSession.observers`), so the window refreshes the same way for all three."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from frstudio.core.detect import Face
from frstudio.core.session import DamageStroke, PhotoSession

_MERGE_STRENGTH = 1  # consecutive strength changes of the same faces while a slider moves: one undo step


class SetChoice(QUndoCommand):
    """Set one field of the choices of some faces (e.g. strength of all faces, model of face 2)."""

    def __init__(self, session: PhotoSession, indices: list[int], field: str, value, text: str):
        super().__init__(text)
        self.session, self.indices, self.field, self.value = session, list(indices), field, value
        self.old = {i: getattr(session.choices[i], field) for i in self.indices}

    def redo(self) -> None:
        self.session.set_choices(self.indices, **{self.field: self.value})

    def undo(self) -> None:
        # the faces that had the same value together: usually all of them, so observers hear once
        by_value: dict[object, list[int]] = {}
        for i, value in self.old.items():
            by_value.setdefault(value, []).append(i)
        for value, indices in by_value.items():
            self.session.set_choices(indices, **{self.field: value})

    def id(self) -> int:
        return _MERGE_STRENGTH if self.field == "strength" else -1

    def mergeWith(self, other) -> bool:
        if not isinstance(other, SetChoice) or other.field != self.field or other.indices != self.indices or other.session is not self.session:
            return False
        self.value = other.value
        return True


class AddFace(QUndoCommand):
    """A face drawn by hand: undo forgets it, redo puts it back with the same number and choices."""

    def __init__(self, session: PhotoSession, face: Face):
        super().__init__(f"Add face {face.index + 1}")
        self.session, self.face = session, face
        self.choice = session.choices[face.index]
        self._first = True

    def redo(self) -> None:
        if self._first:  # the session added it already when the box was drawn
            self._first = False
        else:
            self.session.restore_face(self.face, self.choice)

    def undo(self) -> None:
        self.choice = self.session.choices[self.face.index]
        self.session.remove_face(self.face.index)


class PaintDamage(QUndoCommand):
    """One brush stroke, press to release, marking damage or taking marks away. The session repairs nothing by
    itself: `repair()` (the window's, on its worker) makes the photo follow the strokes after do, undo and redo."""

    def __init__(self, session: PhotoSession, stroke: DamageStroke, repair: Callable[[], None]):
        super().__init__("Mark damage" if stroke.add else "Unmark damage")
        self.session, self.stroke, self.repair = session, stroke, repair

    def redo(self) -> None:
        self.session.paint_damage(self.stroke)
        self.repair()

    def undo(self) -> None:
        self.session.unpaint_damage(self.stroke)
        self.repair()
