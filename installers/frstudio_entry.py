"""The frozen app's entry point: the script PyInstaller starts (installed, `frstudio` runs frstudio.cli:main).

A frozen app has no Python interpreter to start its helper processes with, so multiprocessing starts this same
executable again with special arguments: dlib's helper (spawn) and the resource tracker behind shared memory.
freeze_support() recognises those arguments, runs the helper's code and exits, before the command line is
parsed; the guard keeps the re-run of this script in a spawned child from starting the app a second time.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from frstudio.cli import main

    sys.exit(main())
