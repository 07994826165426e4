"""The desktop app: a thin PySide6 layer over `frstudio.core` (no restoration logic here).

`options` and `settings` are Qt-free so the command line can build its parser without loading Qt.
"""
