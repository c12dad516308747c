"""A person's playground run, kept on the server and found through their session.

Rules:
- the browser holds only the run's id, in a cookie of the playground's own (it is
  a client, and a client's state is not the provider's: signing in renews the
  provider's session but leaves the run); the run (PKCE verifier, state, nonce,
  tokens, exchanges) is a ``PlaygroundRun`` row, sealed, so tokens are neither in
  a cookie nor readable in the table;
- a run lasts ``TTL`` seconds from its start and is purged after that;
- a new flow of the code kind starts a new run (new state, nonce and verifier);
  other steps add to the current one.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from flask import Response, current_app, g, request

from ..clock import now
from ..extensions import db
from ..models import PlaygroundRun
from ..security import sealing
from .exchange import Exchange

TTL = 3600
COOKIE = "playground_run"
PURPOSE = "playground run"
MAX_STEPS = 30  # older exchanges fall off the page


@dataclass
class Run:
    id: str
    flow: str = ""
    params: dict[str, str] = field(default_factory=dict)  # as the person typed them
    state: str = ""
    nonce: str = ""
    verifier: str = ""
    code: str | None = None  # received, not yet redeemed
    tokens: dict[str, str] = field(default_factory=dict)  # label -> token
    steps: list[dict[str, Any]] = field(default_factory=list)

    def add(self, exchange: Exchange) -> None:
        self.steps = [*self.steps, exchange.as_dict()][-MAX_STEPS:]

    def exchanges(self) -> list[Exchange]:
        return [Exchange.of(step) for step in self.steps]


def cookie_name() -> str:
    https = str(current_app.config["IDP_ISSUER"]).startswith("https://")
    return f"__Host-{COOKIE}" if https else COOKIE


def current() -> Run | None:
    run_id = request.cookies.get(cookie_name())
    row = db.session.get(PlaygroundRun, run_id) if isinstance(run_id, str) else None
    if row is None or row.expires_at <= now():
        return None
    try:
        data = json.loads(sealing.unseal(PURPOSE, row.sealed))
    except (sealing.Unsealable, ValueError):
        return None
    return Run(**data)


def start() -> Run:
    """A new run for this browser (the previous one is forgotten)."""
    run = Run(id=secrets.token_urlsafe(32), state=secrets.token_urlsafe(16),
              nonce=secrets.token_urlsafe(16), verifier=secrets.token_urlsafe(48))
    g.playground_cookie = run.id
    return run


def current_or_new() -> Run:
    return current() or start()


def save(run: Run) -> None:
    row = db.session.get(PlaygroundRun, run.id)
    if row is None:
        at = now()
        row = PlaygroundRun(id=run.id, created_at=at, expires_at=at + TTL, sealed="")
        db.session.add(row)
    row.sealed = sealing.seal(PURPOSE, json.dumps(asdict(run)))


def forget() -> None:
    run_id = request.cookies.get(cookie_name())
    if run_id and (row := db.session.get(PlaygroundRun, run_id)):
        db.session.delete(row)
    g.playground_cookie = ""


def set_cookie(response: Response) -> Response:
    """Give the browser the run it started (or take it away)."""
    run_id = g.pop("playground_cookie", None)
    if run_id is not None:
        https = str(current_app.config["IDP_ISSUER"]).startswith("https://")
        response.set_cookie(cookie_name(), run_id, max_age=TTL if run_id else 0, path="/",
                            secure=https, httponly=True, samesite="Lax")
    return response
