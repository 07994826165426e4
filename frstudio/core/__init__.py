"""The restoration engine. No Qt here, ever: the GUI, the CLI and training all build on it."""

from frstudio.core.allocator import keep_freed_memory

keep_freed_memory()  # before any network runs: see frstudio.core.allocator
