"""Errors the engine raises for things a user can fix; each carries a one-line message fit to show as is."""


class FRStudioError(Exception):
    """Base class: str(error) is a plain-words, one-line message."""


class PhotoError(FRStudioError):
    """A photo cannot be read or written (corrupt, truncated, too large, unsupported, unwritable)."""


class WeightsError(FRStudioError):
    """A model's weights are missing, corrupt or do not match the manifest."""


class ModelUnavailableError(FRStudioError):
    """A model name is unknown, or its network is not part of this version."""


class Cancelled(FRStudioError):
    """The user cancelled a running job."""
