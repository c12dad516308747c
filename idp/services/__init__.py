"""Business rules and transactions; no request objects in here."""


class ServiceError(ValueError):
    """A rule was broken; the message says which, in words for the operator."""
