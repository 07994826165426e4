"""FR Studio: face restoration for old family photos."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("frstudio")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
