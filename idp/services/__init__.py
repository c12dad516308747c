"""Business rules and transactions; no request objects in here."""

from __future__ import annotations


class ServiceError(ValueError):
    """A rule was broken; the message says which, in words for the operator."""


class FieldError(ServiceError):
    """A value is not acceptable: ``field`` names it, for a form or an API's problem."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Taken(FieldError):
    """The value is another object's already (a username, a slug)."""


class Conflict(ServiceError):
    """The object changed since it was read (an edit made meanwhile elsewhere)."""


class NotFound(ServiceError):
    """No such object."""
