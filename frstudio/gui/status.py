"""The words of the status line and how its progress bar shows a step.

The restoration summary is made from the session's state, not remembered: the window says it again after every
change of choices, so "3 faces restored" cannot outlive a face left out or a model changed.
"""

from __future__ import annotations

from frstudio.core.jobs import Progress
from frstudio.core.session import PhotoSession

STAGE_WORDS = {
    "load": "Opening the photo",
    "scratches": "Removing scratches and dust",
    "detect": "Finding faces",
    "restore": "Restoring",
    "identity": "Checking identity",
    "index": "Reading the reference photos",
    "blend": "Blending",
    "learn": "Learning this person's face",
    "done": "Finishing",
}


def _faces(n: int) -> str:
    return f"{n} face{'s' * (n != 1)}"


def progress_words(event: Progress) -> str:
    """'Restoring face 2 of 3…' ('face' counts faces done so far, and people count from 1)."""
    words = STAGE_WORDS.get(event.stage, event.stage.capitalize())
    if event.stage == "restore" and event.faces:
        words += f" face {min(event.face + 1, event.faces)} of {event.faces}"
    elif event.stage == "index" and event.faces:
        words += f" ({event.face} of {event.faces})"
    elif event.stage == "learn" and event.message:  # "damaging copies of their photos", "learning their face (40 steps)"
        words += f": {event.message}"
    return words + "…"


def measurable(event: Progress) -> bool:
    """Whether the bar can show how far the step is. Finding faces is one long call that reports only its end,
    and a step at 0 has not measured anything yet: the bar shows "busy" instead of sitting at 0 %."""
    return event.fraction > 0 and not (event.stage == "detect" and event.fraction < 1)


def restored_summary(session: PhotoSession, note: str = "") -> str:
    """'2 faces restored; 1 face to restore after your changes — press Restore (Ctrl+R)'. Only faces in the photo
    count: a face left out keeps its result for later, but is not restored in the photo."""
    infos = [session.info(f.index) for f in session.faces if session.choices[f.index].included]
    done = [info for info in infos if info.restored]
    drifted = [str(info.index + 1) for info in done if info.drifted]
    text = f"{_faces(len(done))} restored"
    if drifted:
        text += f"; face {', '.join(drifted)} may look like someone else (see the panel)"
    if note:
        text += f"; {note}"
    stale = len(session.stale_faces())
    if stale:
        return f"{text}; {_faces(stale)} to restore after your changes — press Restore (Ctrl+R)"
    return f"{text} — compare with Swipe (Ctrl+3) or B"
