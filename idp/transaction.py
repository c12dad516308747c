"""One transaction per request, committed or rolled back in one place: here.

Rules:
- a request's writes are one transaction, committed when the answer is a
  success or a redirect (status below 400) and rolled back when it is an
  error: a refused request leaves nothing half-written, and no view, service
  or grant commits;
- security events (``services.audit.record``) and the measures taken against
  an attack (``always``: a replayed code's tokens revoked) are written whatever
  the answer, in a transaction of their own right after the request's, so an
  error answer never rolls them back and the audit table and the log agree;
- what must follow a commit (``after_commit``: the log line of an
  administrator's change) runs only once the request's writes are kept;
- a commit that fails turns the answer into a 503 (nothing was kept);
- outside a request (the command line, the tests' set-up) ``always`` runs at
  once and the caller commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, g, has_request_context
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db

log = logging.getLogger(__name__)

ALWAYS = "idp_always"
AFTER_COMMIT = "idp_after_commit"


def always(action: Callable[[], object]) -> None:
    """Write ``action``'s rows whatever the request's answer (after the request's own
    transaction, in one of their own)."""
    if has_request_context():
        g.setdefault(ALWAYS, []).append(action)
    else:
        action()


def after_commit(action: Callable[[], object]) -> None:
    """Run ``action`` once the request's writes are committed (never if they are not)."""
    if has_request_context():
        g.setdefault(AFTER_COMMIT, []).append(action)
    else:
        action()


def _finish(response: Response) -> Response:
    followers = g.pop(AFTER_COMMIT, [])
    try:
        if response.status_code < 400:
            db.session.commit()
            for action in followers:
                action()
        else:
            db.session.rollback()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.error("commit failed: %s", str(error).splitlines()[0])
        from .errors import error_response
        from .i18n import N_

        response = error_response(503, N_("The service could not save the change; try again."),
                                  "temporarily_unavailable", retry_after=5)
    _write_always()
    return response


def _write_always() -> None:
    actions = g.pop(ALWAYS, [])
    if not actions:
        return
    try:
        for action in actions:
            action()
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.error("could not write %d security record(s): %s", len(actions),
                  str(error).splitlines()[0])


def _discard(exc: BaseException | None) -> None:
    if exc is not None:
        db.session.rollback()


def init_app(app: Flask) -> None:
    app.after_request(_finish)
    app.teardown_request(_discard)
