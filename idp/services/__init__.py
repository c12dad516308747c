"""Business rules and transactions; no request objects in here."""

from __future__ import annotations


class ServiceError(ValueError):
    """A rule was broken; the message says which, in words for the operator.

    The message is English (logs, the command line, JSON); ``shown()`` is the same
    in the request's language, for a page. A message with values names them as
    gettext does: ``ServiceError("No user %(name)s.", name=name)``.
    """

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message % values if values else message)
        self.message, self.values = message, values

    def shown(self) -> str:
        from flask_babel import gettext

        from ..i18n import Words

        values = {name: gettext(value) if isinstance(value, Words) else value
                  for name, value in self.values.items()}
        return str(gettext(self.message, **values))


class FieldError(ServiceError):
    """A value is not acceptable: ``field`` names it, for a form or an API's problem."""

    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(message, **values)
        self.field = field


class Taken(FieldError):
    """The value is another object's already (a username, a slug)."""


class Conflict(ServiceError):
    """The object changed since it was read (an edit made meanwhile elsewhere)."""


class NotFound(ServiceError):
    """No such object."""
