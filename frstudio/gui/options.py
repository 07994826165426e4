"""The desktop app's command-line options (Qt-free: the `frstudio` parser adds them without loading Qt)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class GuiOptions:
    open: Path | None = None  # a photo to open at start
    restore: bool = False  # restore it once its faces are found
    swipe: bool = False  # show the swipe comparison
    batch: list[Path] = field(default_factory=list)  # photos or folders to run as a batch
    output: Path | None = None  # the batch's output folder (default: next to each photo)
    screenshot: Path | None = None  # save a picture of the window once everything above is done, then quit

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> GuiOptions:
        return cls(
            open=getattr(args, "open", None),
            restore=getattr(args, "restore", False),
            swipe=getattr(args, "swipe", False),
            batch=list(getattr(args, "batch", None) or []),
            output=getattr(args, "output_folder", None),
            screenshot=getattr(args, "screenshot", None),
        )


def add_gui_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("desktop app")
    g.add_argument("--open", type=Path, metavar="PHOTO", help="open this photo in the app")
    g.add_argument("--restore", action="store_true", help="restore the opened photo's faces at once")
    g.add_argument("--swipe", action="store_true", help="show the before/after swipe view")
    g.add_argument("--batch", type=Path, nargs="+", metavar="PATH", help="photos or folders to restore as a batch")
    g.add_argument("--batch-output", dest="output_folder", type=Path, metavar="DIR", help="folder for the batch's results")
    g.add_argument("--screenshot", type=Path, metavar="OUT.png", help="save a screenshot of the window when done, then quit")


def parse_gui_args(argv: list[str] | None) -> GuiOptions:
    parser = argparse.ArgumentParser(prog="frstudio")
    add_gui_arguments(parser)
    return GuiOptions.from_args(parser.parse_args(argv or []))
