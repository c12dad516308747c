"""The two halves of a WebAuthn ceremony in the browser's session: the challenge sent
with the options, and the answer checked against it.

Rules:
- one ceremony at a time per browser, for one purpose (sign-in, second factor,
  registration), its challenge good for ``TTL`` seconds and used up by the first
  answer, right or wrong: an answer replayed finds no challenge;
- the answer is the JSON body ``{"credential": {...}, "name": "..."}``; anything
  else is refused before py_webauthn sees it;
- the answers are JSON: ``{"location": ...}`` to go on, RFC 6749-style errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import jsonify, request, session
from werkzeug.wrappers import Response

from ..clock import now
from ..errors import error_response
from ..i18n import N_
from ..services import ServiceError
from ..services.factors import Ceremony, FactorError

KEY = "webauthn"
TTL = 300


def options(purpose: str, ceremony: Ceremony) -> Response:
    """Send the options; remember their challenge for ``purpose``."""
    session[KEY] = {"purpose": purpose, "challenge": ceremony.challenge, "at": now()}
    response = Response(ceremony.options, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@dataclass
class Answer:
    credential: str  # JSON, as py_webauthn reads it
    challenge: str
    name: str


def answer(purpose: str) -> Answer:
    """The browser's answer and the challenge it must sign; raises ``FactorError``."""
    state = session.pop(KEY, None)
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        raise FactorError(N_("Send the passkey's answer as JSON: {\"credential\": {...}}."))
    if not isinstance(state, dict) or state.get("purpose") != purpose \
            or not isinstance(state.get("at"), int) or now() - state["at"] > TTL:
        raise FactorError(N_("This passkey request has expired or was already answered. "
                             "Try again."))
    name = body.get("name")
    return Answer(json.dumps(body["credential"]), str(state["challenge"]),
                  name if isinstance(name, str) else "")


def go_on(location: str) -> Response:
    return jsonify(location=location)


def refused(problem: Exception, status: int = 400) -> Response:
    """The passkey script shows the message: in the person's language."""
    words = problem.shown() if isinstance(problem, ServiceError) else str(problem)
    return error_response(status, words, "invalid_request", as_json=True)
