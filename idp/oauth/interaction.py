"""The authorization interaction: everything between ``/oauth/authorize`` and the code.

``/oauth/authorize`` validates the request (Authlib) and works out the first
step the person still owes. If there is none, it answers the client at once;
with ``prompt=none`` a step owed is an error for the client instead. Otherwise
it stores the request on the server as an ``Interaction`` and sends the
browser to that step's page, which carries only the interaction's id. Each
page records what the person did and sends the browser back to
``/oauth/authorize/<id>``, which works out the next step, until the client is
answered and the interaction is used up.

Rules, for each step in order (OIDC Core §3.1.2.1, SPEC "Authorization endpoint"):
- login: owed with no signed-in session (its page is the upstream provider
  named by ``oidc_id`` when there is one, else ``/login``); with ``prompt=login``, or a session
  older than ``max_age``, unless the login happened inside this interaction;
  again if the browser's user changed meanwhile; ``id_token_hint`` names the
  user who must be signed in (``login_required`` when another one is, after a
  login inside the interaction or with ``prompt=none``);
- second factor (``services.factors.required``): owed when the session has
  one factor (``acr`` 1) and the user has a second, the client requires one,
  or the request asks for ``acr`` 2; the page for it is ``/login/mfa``, or
  the account's factor page when the user has none yet (enrolling counts);
  an organization that requires one owes it right after it is resolved;
- organization (``services.orgs.resolve``): the client's, or ``org_id``'s (the
  user must belong to it: 403 otherwise), or the only one the user has, or the
  one chosen earlier in the session; with several and no choice, and always
  with ``prompt=select_account`` until one is chosen here, the organization page;
- consent: unless the client skips it, owed when the user has not granted these
  scopes, and with ``prompt=consent`` until given here;
- with ``prompt=none`` any step owed is ``login_required``,
  ``interaction_required`` (a second factor), ``account_selection_required`` or
  ``consent_required``;
- ``request`` and ``request_uri`` are refused (``request_not_supported``,
  ``request_uri_not_supported``; OIDC Core §6): never ignored.

The interaction record: bound to the browser that began it (an id in its
session cookie), expires after ``IDP_INTERACTION_TTL`` seconds, used once
(claimed atomically as the client is answered). A missing, expired, used or
foreign one is a page that says so, never a code. Until the client is
answered, an interaction can always go back to the login page: a login there
counts for ``prompt=login`` and ``max_age``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError
from authlib.oidc.core.errors import (
    AccountSelectionRequiredError,
    ConsentRequiredError,
    InteractionRequiredError,
    LoginRequiredError,
)
from flask import current_app, redirect, request, session, url_for
from sqlalchemy import update
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from ..clock import now
from ..errors import error_response
from ..extensions import db
from ..i18n import N_
from ..models import Client, Interaction, LoginSession, User, by_key
from ..models.types import rowcount
from ..services import consent, factors, orgs
from . import id_token
from .adapter import AuthorizationRequest, Decision
from .grants.authorization_code import AuthorizationCodeGrant
from .server import current_server

LOGIN = "login"
SECOND_FACTOR = "second_factor"
ENROL = "enrol"  # a second factor is owed and the user has none yet
SELECT_ORG = "select_org"
CONSENT = "consent"
ISSUE = "issue"
FORBIDDEN = "forbidden"
PAGES = {LOGIN: "auth.login", SECOND_FACTOR: "auth.second_factor", ENROL: "factors.index",
         SELECT_ORG: "orgs.select_org", CONSENT: "consent.consent"}

BROWSER = "browser"  # the session-cookie key naming this browser
# RFC 6749 §4.1.2.1: what an error description may hold (Authlib quotes some values in it).
QUOTABLE = re.compile(r"[\x20\x21\x23-\x5B\x5D-\x7E]*")


@dataclass
class Step:
    kind: str
    org_id: str | None = None
    message: str = ""


@dataclass
class Person:
    """Who the browser is now: its signed-in user and session, if any."""

    user: User | None
    login_session: LoginSession | None


@dataclass
class Pending:
    """An open interaction, as its page sees it."""

    record: Interaction
    grant: AuthorizationCodeGrant  # validated
    person: Person
    step: Step

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def client(self) -> Client:
        client: Client = self.grant.request.client
        return client

    @property
    def user(self) -> User:
        """The signed-in user: every step after the login has one."""
        assert self.person.user is not None, "the login step comes first"
        return self.person.user

    @property
    def scope(self) -> str:
        return str(self.grant.request.scope)

    def param(self, name: str) -> str | None:
        value = self.grant.request.payload.data.get(name)
        return None if value is None else str(value)


# -- the endpoint --------------------------------------------------------------------------


def authorize(values: MultiDict[str, str], person: Person) -> Response:
    """``/oauth/authorize``: answer the client now, or begin an interaction."""
    try:
        grant = _validated(values, person.user)
        step = next_step(grant, person)
    except OAuth2Error as error:
        return authorization_error(error, values)
    if step.kind == ISSUE:
        return _answer(grant, person, step)
    if step.kind == FORBIDDEN:
        return error_response(403, step.message, "access_denied")
    began = now()
    record = Interaction(
        id=secrets.token_urlsafe(24), browser=_browser(create=True),
        client_id=grant.request.client.client_id,
        params=[list(pair) for pair in values.items(multi=True)],
        began_at=began, expires_at=began + int(current_app.config["IDP_INTERACTION_TTL"]),
    )
    db.session.add(record)
    return _to_page(record, step)


def resume(interaction_id: str, person: Person) -> Response:
    """``/oauth/authorize/<id>``: the next step's page, or the answer to the client."""
    opened = _open(interaction_id, person)
    if isinstance(opened, Response):
        return opened
    if opened.step.kind == ISSUE:
        if not _claim(opened.record):
            return _gone(N_("This sign-in request was already completed."))
        return _answer(opened.grant, person, opened.step)
    if opened.step.kind == FORBIDDEN:
        return error_response(403, opened.step.message, "access_denied")
    return _to_page(opened.record, opened.step)


def open_page(interaction_id: str | None, kind: str, person: Person) -> Pending | Response:
    """An interaction for the page that serves ``kind``, or what to answer instead: a
    page that says why it cannot go on, or the way to the step actually owed. The
    login page serves any open interaction."""
    if not interaction_id:
        return _gone(N_("This page is part of signing in to an application. Go back to the "
                        "application and start again."))
    opened = _open(interaction_id, person)
    if isinstance(opened, Response) or kind == LOGIN or opened.step.kind == kind:
        return opened
    return _see_other(url_for("oauth.resume", interaction_id=interaction_id))


def logged_in(pending: Pending, login_session: LoginSession) -> Response:
    """The person signed in on the interaction's login page: that login counts for it."""
    pending.record.user_id = login_session.user_id
    pending.record.login_sid = login_session.sid
    return _see_other(url_for("oauth.resume", interaction_id=pending.id))


def org_chosen(pending: Pending, org_id: str) -> Response:
    """The person chose an organization; the session remembers it for later requests."""
    pending.record.org_chosen = True
    pending.record.org_id = org_id
    if pending.person.login_session is not None:
        pending.person.login_session.org_id = org_id
    return _see_other(url_for("oauth.resume", interaction_id=pending.id))


def second_factor_given(pending: Pending) -> Response:
    """The session now has two factors (proven, or enrolled, on the factor pages)."""
    return _see_other(url_for("oauth.resume", interaction_id=pending.id))


def consent_given(pending: Pending) -> Response:
    pending.record.consented = True
    return _see_other(url_for("oauth.resume", interaction_id=pending.id))


def consent_refused(pending: Pending) -> Response:
    """Deny: the client hears ``access_denied``, and the interaction is used up."""
    if not _claim(pending.record):
        return _gone(N_("This sign-in request was already completed."))
    response: Response = current_server().create_authorization_response(
        request=pending.grant.request, grant_user=None, grant=pending.grant)
    return response


# -- the steps -------------------------------------------------------------------------------


def next_step(grant: AuthorizationCodeGrant, person: Person,
              record: Interaction | None = None) -> Step:
    """The first step still owed (``ISSUE`` when none), by the rules in this module's
    docstring; with ``prompt=none``, an owed step raises the error for the client."""
    request = grant.request
    data = request.payload.data
    redirect_uri = grant.redirect_uri
    prompts = set((data.get("prompt") or "").split())
    silent = "none" in prompts
    if silent and len(prompts) > 1:
        raise InvalidRequestError("'prompt=none' cannot be combined.", redirect_uri=redirect_uri)
    max_age = _max_age(data.get("max_age"), redirect_uri)
    hinted = _hinted_subject(data.get("id_token_hint"), redirect_uri)
    user, login_session = person.user, person.login_session

    here = record is not None and login_session is not None \
        and record.login_sid == login_session.sid
    if user is None or login_session is None or (not here and (
        "login" in prompts
        or (max_age is not None and now() - login_session.auth_time > max_age)
        or (record is not None and record.user_id not in (None, user.id))
    )):
        if silent:
            raise LoginRequiredError(redirect_uri=redirect_uri)
        return Step(LOGIN)
    if hinted is not None and hinted != user.id:
        if silent or here:
            raise LoginRequiredError("The signed-in user is not the one in 'id_token_hint'.",
                                     redirect_uri=redirect_uri)
        return Step(LOGIN)

    client = request.client
    strong = login_session.acr == "2"
    if not strong and factors.required(user, client, acr_values=data.get("acr_values"),
                                       claims_request=request.claims_request):
        return _second_factor(user, None, redirect_uri, silent)
    if record is not None and record.org_chosen:
        org_id = record.org_id
    else:
        decision = orgs.resolve(client, user, data.get("org_id"),
                                remembered=login_session.org_id, interactive=True)
        if decision.refusal:
            return Step(FORBIDDEN, message=decision.refusal)
        asked = ("select_account" in prompts and not client.org_id and not data.get("org_id")
                 and orgs.memberships(user.id))
        if decision.must_choose or asked:
            if silent:
                raise AccountSelectionRequiredError(redirect_uri=redirect_uri)
            return Step(SELECT_ORG)
        org_id = decision.org_id
    if not strong and factors.organization_requires(org_id):
        return _second_factor(user, org_id, redirect_uri, silent)

    consented = record is not None and record.consented
    if not client.skip_consent and not consented and (
        "consent" in prompts or not consent.covers(user, client, request.scope)
    ):
        if silent:
            raise ConsentRequiredError(redirect_uri=redirect_uri)
        return Step(CONSENT, org_id)
    return Step(ISSUE, org_id)


def _second_factor(user: User, org_id: str | None, redirect_uri: str, silent: bool) -> Step:
    if silent:
        raise InteractionRequiredError("A second factor is needed.", redirect_uri=redirect_uri)
    return Step(SECOND_FACTOR if factors.has_second_factor(user) else ENROL, org_id)


def _hinted_subject(hint: str | None, redirect_uri: str) -> str | None:
    if not hint:
        return None
    claims = id_token.verify_hint(hint)
    if claims is None:
        raise InvalidRequestError("'id_token_hint' is not an ID token issued here.",
                                  redirect_uri=redirect_uri)
    return claims["sub"]


def _max_age(raw: str | None, redirect_uri: str) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise InvalidRequestError("'max_age' must be a whole number of seconds.",
                                  redirect_uri=redirect_uri)
    return int(raw)


# -- validation, answers, errors --------------------------------------------------------------


def _validated(values: MultiDict[str, str], user: User | None) -> AuthorizationCodeGrant:
    """The code grant for these parameters, validated by Authlib; raises OAuth2Error."""
    for name in ("response_type", "redirect_uri"):
        # Authlib quotes these in error descriptions, which may hold only some characters.
        if (value := values.get(name)) and not QUOTABLE.fullmatch(value):
            raise InvalidRequestError(f"'{name}' contains characters that are not allowed.")
    server = current_server()
    request = AuthorizationRequest(current_app.config["IDP_ISSUER"], values)
    request.user = user
    try:
        grant = server.get_authorization_grant(request)
        grant.validate_no_multiple_request_parameter(request)
        grant.validate_consent_request()
    except OAuth2Error as error:
        error.state = request.payload.state
        raise
    return grant


def _answer(grant: AuthorizationCodeGrant, person: Person, step: Step) -> Response:
    """Issue the code (Authlib), delivered in the requested response mode."""
    assert person.login_session is not None
    grant.request.decision = Decision(person.login_session, step.org_id)
    response: Response = current_server().create_authorization_response(
        request=grant.request, grant_user=person.user, grant=grant)
    return response


def authorization_error(error: OAuth2Error, values: MultiDict[str, str]) -> Response:
    """An error before the client and its redirect URI are trusted is a page (or JSON),
    never a redirect; later ones go back to the client."""
    if isinstance(error, InvalidClientError):
        return error_response(401, N_("Unknown application."), "invalid_client",
                              plain=N_("This service does not know the application that sent "
                                       "you here."))
    server = current_server()
    if error.redirect_uri:
        error.state = values.get("state")  # RFC 6749 §4.1.2.1: every error carries it
        response: Response = server.handle_error_response(AuthorizationRequest(
            current_app.config["IDP_ISSUER"], values), error)
        return response
    client_id = values.get("client_id")
    if not client_id or server.query_client(client_id) is None:
        # Authlib checks response_type before the client: still an unknown client.
        return error_response(401, N_("Unknown application."), "invalid_client",
                              plain=N_("This service does not know the application that sent "
                                       "you here."))
    return error_response(400, error.description or N_("Invalid request."), error.error,
                          plain=N_("The application that sent you here asked for something "
                                   "this service cannot do. Go back to it, and tell the "
                                   "people who run it."))


# -- the record ----------------------------------------------------------------------------------


def _open(interaction_id: str, person: Person) -> Pending | Response:
    """The interaction, validated again, and the step it owes; or a page saying why not."""
    record = by_key(Interaction, interaction_id) if len(interaction_id) <= 64 else None
    if record is None or record.browser != _browser(create=False):
        return _gone(N_("This sign-in request is not known in this browser. Go back to the "
                        "application and start again."))
    if record.completed_at is not None:
        return _gone(N_("This sign-in request was already completed."))
    if record.expires_at <= now():
        return _gone(N_("This sign-in request has expired. Go back to the application and "
                        "start again."))
    values: MultiDict[str, str] = MultiDict([(name, value) for name, value in record.params])
    try:
        grant = _validated(values, person.user)
        step = next_step(grant, person, record)
    except OAuth2Error as error:
        return authorization_error(error, values)
    return Pending(record, grant, person, step)


def _claim(record: Interaction) -> bool:
    """Use the interaction up: of two concurrent answers, exactly one gets it."""
    at = now()
    claimed = rowcount(db.session.execute(
        update(Interaction)
        .where(Interaction.id == record.id, Interaction.completed_at.is_(None))
        .values(completed_at=at)
        .execution_options(synchronize_session=False)
    ))
    record.completed_at = at
    return claimed == 1


def _browser(*, create: bool) -> str | None:
    """This browser's id, kept in its session cookie (made on first need)."""
    browser = session.get(BROWSER)
    if browser is None and create:
        browser = session[BROWSER] = secrets.token_urlsafe(24)
    return browser


def _to_page(record: Interaction, step: Step) -> Response:
    if step.kind == LOGIN and (upstream := _param(record, "oidc_id")):
        return _see_other(url_for("upstream.start_for_interaction", upstream_id=upstream,
                                  interaction=record.id))
    return _see_other(url_for(PAGES[step.kind], interaction=record.id))


def _param(record: Interaction, name: str) -> str | None:
    return next((value for key, value in record.params if key == name), None)


def _see_other(location: str) -> Response:
    return redirect(location, 303 if request.method == "POST" else 302)


def _gone(message: str) -> Response:
    return error_response(400, message, "invalid_request", as_json=False)
