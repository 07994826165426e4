"""The restoration engine. No Qt here, ever: the GUI, the CLI and training all build on it."""
