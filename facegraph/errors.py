"""The errors facegraph raises. Catch `FacegraphError` to handle all of them."""

import numbers


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


class StoreError(FacegraphError):
    """The face store could not do what was asked."""


class StoreUnavailableError(StoreError):
    """The Qdrant server cannot be reached (wrong URL, server down, network)."""


class StoreFullError(StoreError):
    """The disk under an embedded store has too little free space for what was asked; nothing was written."""


class StoreLockedError(StoreError):
    """An embedded store is already open in another process (or another FaceGraph in this one)."""


class SyncRefusedError(FacegraphError):
    """A sync would remove photos it cannot see are gone, or more of them than is safe; nothing was removed."""


class NotFoundError(FacegraphError, LookupError):
    """A person or face that was asked for does not exist."""


class PersonNotFoundError(NotFoundError):
    """No person has the given id."""


class FaceNotFoundError(NotFoundError):
    """No face has the given id."""


class NoFaceError(FacegraphError):
    """A query image holds no detectable face."""


class InvalidRequestError(FacegraphError, ValueError):
    """A request contradicts itself or the collection (for example overlapping split groups)."""


class StaleQuestionError(InvalidRequestError):
    """A question answered after its persons changed (another answer, a correction or a recluster came first)."""


def check_at_least(value: int, minimum: int, name: str) -> int:
    """`value` if it is a whole number of at least `minimum`; else the `InvalidRequestError` that says so."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidRequestError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return value
