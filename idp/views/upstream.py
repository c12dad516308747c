"""Signing in through an upstream provider: the way there and the way back.

Rules:
- the login page's buttons (``provider``, POST with a CSRF token) and
  ``oidc_id`` (the interaction sends the browser to ``/upstream/<id>/start``)
  start a sign-in; the account page's start a link to the signed-in account;
- the callback checks the upstream's answer (``oauth.upstream_client``), finds
  or makes the account (``services.upstreams``) and signs in with it as a first
  factor (``_signin``); a failure is a page in plain words and an
  ``upstream.failed`` audit event, and changes no account.
"""

from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from ..errors import error_response
from ..forms.auth import ProviderForm
from ..i18n import N_
from ..models import Upstream
from ..oauth import interaction
from ..oauth.upstream_client import UpstreamFailure, finish, start
from ..services import audit, upstreams
from ._request import origin, person, see_other, signed_in
from ._signin import first_factor_proven, pending_for, safe_next

bp = Blueprint("upstream", __name__, url_prefix="/upstream")


@bp.post("/start")
def start_from_page() -> ResponseReturnValue:
    """A "Sign in with …" button (or "Link …" on the account page)."""
    form = ProviderForm()
    if not form.validate_on_submit():
        abort(400)
    upstream = _upstream(form.provider.data)
    if form.link.data:
        user, _session = signed_in()
        if user is None:
            return see_other(url_for("auth.login", next=url_for("account.index")))
        return _start(upstream, {"link": user.id})
    pending = pending_for(interaction.LOGIN)
    if isinstance(pending, Response):
        return pending
    carry: dict[str, str | None] = ({"interaction": pending.id} if pending
                                    else {"next": safe_next()})
    return _start(upstream, carry)


@bp.get("/<upstream_id>/start")
def start_for_interaction(upstream_id: str) -> ResponseReturnValue:
    """Where ``oidc_id`` sends the browser: straight on to the upstream."""
    upstream = _upstream(upstream_id)
    pending = pending_for(interaction.LOGIN)
    if pending is None:
        return error_response(400, N_("This page is part of signing in to an application. "
                                 "Go back to the application and start again."), as_json=False)
    if isinstance(pending, Response):
        return pending
    return _start(upstream, {"interaction": pending.id})


@bp.get("/<upstream_id>/callback")
def callback(upstream_id: str) -> ResponseReturnValue:
    upstream = _upstream(upstream_id)
    try:
        identity, carry = finish(upstream, request.args.to_dict())
    except UpstreamFailure as failure:
        return _failed(upstream, failure)
    if link := carry.get("link"):
        user, _session = signed_in()
        if user is None or user.id != link:
            return _failed(upstream, UpstreamFailure(
                "link by another browser session", N_("Sign in again, then link the account.")))
        try:
            upstreams.account_for(upstream, identity, origin(), linking=user)
        except upstreams.Refusal as refusal:
            return error_response(403, refusal.shown(), as_json=False)
        return see_other(url_for("account.index", done="linked"))
    pending: interaction.Pending | None = None
    if interaction_id := carry.get("interaction"):
        opened = interaction.open_page(str(interaction_id), interaction.LOGIN, person())
        if isinstance(opened, Response):
            return opened
        pending = opened
    try:
        user = upstreams.account_for(upstream, identity, origin())
    except upstreams.Refusal as refusal:
        return error_response(403, refusal.shown(), as_json=False)
    return first_factor_proven(user, upstreams.amr_of(identity), pending,
                               carry.get("next"))


def _upstream(upstream_id: str) -> Upstream:
    upstream = upstreams.find(upstream_id)
    if upstream is None:
        abort(404)
    return upstream


def _start(upstream: Upstream, carry: dict[str, str | None]) -> Response:
    try:
        return start(upstream, carry)
    except UpstreamFailure as failure:
        return _failed(upstream, failure)


def _failed(upstream: Upstream, failure: UpstreamFailure) -> Response:
    audit.record("upstream.failed", origin(), upstream=upstream.id, reason=failure.reason)
    return error_response(failure.status, failure.shown(), "access_denied", as_json=False)
