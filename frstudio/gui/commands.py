"""Undoable changes to a session's choices (QUndoStack). Each command calls `changed()` after applying, so the
window refreshes the same way for do, undo and redo."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from frstudio.core.detect import Face
from frstudio.core.session import PhotoSession

_MERGE_STRENGTH = 1  # consecutive strength changes of the same faces while a slider moves: one undo step


class SetChoice(QUndoCommand):
    """Set one field of the choices of some faces (e.g. strength of all faces, model of face 2)."""

    def __init__(self, session: PhotoSession, indices: list[int], field: str, value, text: str, changed: Callable[[], None]):
        super().__init__(text)
        self.session, self.indices, self.field, self.value, self.changed = session, list(indices), field, value, changed
        self.old = {i: getattr(session.choices[i], field) for i in self.indices}

    def redo(self) -> None:
        for i in self.indices:
            if i in self.session.choices:
                self.session.set_choice(i, **{self.field: self.value})
        self.changed()

    def undo(self) -> None:
        for i, value in self.old.items():
            if i in self.session.choices:
                self.session.set_choice(i, **{self.field: value})
        self.changed()

    def id(self) -> int:
        return _MERGE_STRENGTH if self.field == "strength" else -1

    def mergeWith(self, other) -> bool:
        if not isinstance(other, SetChoice) or other.field != self.field or other.indices != self.indices or other.session is not self.session:
            return False
        self.value = other.value
        return True


class AddFace(QUndoCommand):
    """A face drawn by hand: undo forgets it, redo puts it back with the same number and choices."""

    def __init__(self, session: PhotoSession, face: Face, changed: Callable[[], None]):
        super().__init__(f"Add face {face.index + 1}")
        self.session, self.face, self.changed = session, face, changed
        self.choice = session.choices[face.index]
        self._first = True

    def redo(self) -> None:
        if self._first:  # the session added it already when the box was drawn
            self._first = False
        else:
            self.session.restore_face(self.face, self.choice)
        self.changed()

    def undo(self) -> None:
        self.choice = self.session.choices[self.face.index]
        self.session.remove_face(self.face.index)
        self.changed()
