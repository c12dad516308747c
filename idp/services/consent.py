"""Remembered consent: per user and client, a set of scopes."""

from __future__ import annotations

from ..extensions import db
from ..models import Client, Consent, User
from ..models._common import now
from .audit import Origin, record


def covers(user: User, client: Client, scope: str) -> bool:
    """True when the user already granted every scope in ``scope`` to the client."""
    consent = db.session.get(Consent, (user.id, client.client_id))
    return consent is not None and set(scope.split()) <= set(consent.scope.split())


def grant(user: User, client: Client, scope: str, origin: Origin | None = None) -> None:
    """Remember ``scope`` for the user and client, added to what was granted before."""
    consent = db.session.get(Consent, (user.id, client.client_id))
    if consent is None:
        consent = Consent(user_id=user.id, client_id=client.client_id, scope="")
        db.session.add(consent)
    consent.scope = " ".join(dict.fromkeys([*consent.scope.split(), *scope.split()]))
    consent.granted_at = now()
    record("consent.granted", origin, user_id=user.id, client_id=client.client_id, scope=scope)
