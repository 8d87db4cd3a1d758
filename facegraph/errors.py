"""The errors facegraph raises. Catch `FacegraphError` to handle all of them."""


class FacegraphError(Exception):
    """Base class of every error facegraph raises on purpose."""


class ImageDecodeError(FacegraphError):
    """A photo could not be read as an image."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelLoadError(FacegraphError):
    """A model file is missing, unrecognised or not the expected shape."""


class WeightsError(FacegraphError):
    """Model weights could not be fetched or failed verification."""
