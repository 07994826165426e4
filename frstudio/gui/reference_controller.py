"""Reference photos in the main window: a good photo of a face's person, chosen, dropped on the face, or found
in a folder of photos, as undoable choices; and "Learn this person", which learns a face's person from a folder
of their photos (frstudio.core.personal) and restores the face with what it learned.

Matching a reference (finding its face most like the photo's, and how close) takes a detection and dlib
descriptors, so it runs in the window's photo `Job`; the session tells the window when a match is known
(`PhotoSession.observers`), and the side panel then shows its distance and any warning.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from frstudio.core.references import ReferenceLibrary
from frstudio.core.session import AUTO


class ReferenceController:
    def __init__(self, window, photo_filter: str):
        self.window = window
        self.photo_filter = photo_filter

    def _guided(self) -> list:
        """The specs of the installed models that take a reference photo."""
        return [s.spec for s in self.window.statuses if s.spec.takes_reference]

    def choose(self, index: int) -> None:
        w = self.window
        path, _ = QFileDialog.getOpenFileName(w, f"A good photo of face {index + 1}'s person", w.settings.last_folder, self.photo_filter)
        if path:
            self.set(index, Path(path))

    def set(self, index: int, path: Path) -> None:
        w = self.window
        if w.session is None:
            return
        w.select_face(index)
        w.push([index], "reference", path, f"Reference for face {index + 1}")
        guided = self._guided()
        if not guided:
            w.message.show_message(f"Face {index + 1} will use {path.name} as a reference, but no model that uses reference photos is installed in this version.", warning=False)
            return
        if w.session.choices[index].model == AUTO and not {s.name for s in guided} & w.session.guided:
            w.message.show_message(
                f"Face {index + 1}: {path.name} will be used to check the likeness. Auto does not restore from it, "
                f"because that does not yet make faces more like the person; pick \u201c{guided[0].title}\u201d for this face to try it.",
                warning=False)
        if w.job is not None:
            return  # a restoration is running: it matches the reference itself when it gets to this face
        session, size = w.session, guided[0].input_size
        # Finding the best-matching face in the reference photo takes a detection and descriptors: off-thread.
        w.start(lambda cancel: session.reference_match(index, path, size), lambda _match: None, "reference")

    def clear(self, index: int) -> None:
        self.window.push([index], "reference", None, f"Clear reference of face {index + 1}")

    def choose_folder(self) -> None:
        w = self.window
        folder = QFileDialog.getExistingDirectory(w, "A folder of good photos of the people", w.settings.last_folder)
        if folder:
            self.match_folder(Path(folder))

    def _with_library(self, folder: Path, use, on_done, name: str) -> None:
        """On the window's worker: index the photos of `folder` (cached on disk: a second time is quick), then
        `use(session, library, cancel)`, a job; `on_done(value)` back on the window's thread."""
        w = self.window
        if w.session is None:
            return
        session, describe = w.session, w.dlib.describe

        def work(cancel):
            library = ReferenceLibrary(folder, session.detection, describe)
            yield from library.index(lambda: cancel.cancelled)
            return (yield from use(session, library, cancel))

        w.start(work, on_done, name)

    def match_folder(self, folder: Path) -> None:
        """Give each face the best photo of the same person found in `folder` (undoable as one step)."""
        self._with_library(folder, lambda session, library, _cancel: session.match_references(library), self._apply, "references")

    def _apply(self, proposals: dict) -> None:
        w = self.window
        w.undo_stack.beginMacro("References from a folder")
        for index, path in proposals.items():
            w.push([index], "reference", path, f"Reference for face {index + 1}")
        w.undo_stack.endMacro()
        found = len(proposals)
        w.set_status(f"Same person found in the folder for {found} face{'s' * (found != 1)}" if found else "Nobody in that folder looks like the people in this photo")
        session, index = w.session, next(iter(proposals), None)
        guided = self._guided()
        if index is not None and guided:  # show the match (distance, warning) of the selected face
            size = guided[0].input_size
            w.start(lambda cancel: [session.reference_match(i, p, size) for i, p in proposals.items()], lambda _matches: None, "reference")

    def learn(self, index: int) -> None:
        w = self.window
        folder = QFileDialog.getExistingDirectory(w, f"A folder of good photos of face {index + 1}'s person", w.settings.last_folder)
        if folder:
            self.learn_from(index, Path(folder))

    def learn_from(self, index: int, folder: Path) -> None:
        """Learn face `index`'s person from their photos in `folder` (about a minute; at once when learned before),
        then restore the face with it where it measured better."""
        self._with_library(folder, lambda session, library, cancel: session.learn_person(index, library, cancel),
                           lambda model: self._learned(index, model), "learn")

    def _learned(self, index: int, model) -> None:
        w = self.window
        if model.helps:
            w.set_status(f"Face {index + 1}: learned from {model.photos} of their photos; restoring with it")
            w.restore()
        elif model.check:
            w.message.show_message(
                f"Face {index + 1}: learned from {model.photos} of their photos, but that did not restore a photo of theirs "
                "better than the usual model, so it is not used. More photos, or sharper ones, may help.", warning=False)
        else:
            w.message.show_message(f"Face {index + 1}: only {model.photos} photo(s) of this person were found, too few to "
                                   "check what was learned, so it is not used. Add photos of them to the folder.", warning=False)
