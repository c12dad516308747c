"""``/healthz`` for load balancers: 200 when the database answers, 503 JSON when not."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..errors import error_response
from ..extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        db.session.rollback()
        log.error("health check: database unreachable: %s", error.__class__.__name__)
        return error_response(503, "The database is unreachable.", "temporarily_unavailable")
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response
