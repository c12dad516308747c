"""What an authorization request still needs from the person: the next step.

Rules (SPEC "Authorization endpoint", OIDC Core §3.1.2.1):
- no session, ``prompt=login``, or a session older than ``max_age`` → login;
- the organization: fixed by the client (the user must be a member, else
  403), or by ``org_id`` (likewise), or the only one the user has, or the one
  chosen earlier in this session; otherwise, and always with
  ``prompt=select_account``, → the organization page;
- consent unless the client skips it or the user already granted these
  scopes, and always with ``prompt=consent``;
- with ``prompt=none`` any needed step is an error redirect instead
  (``login_required``, ``account_selection_required``, ``consent_required``);
- ``id_token_hint`` must be an ID token we issued (``invalid_request``), and
  names the user who must be signed in (``login_required`` otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.core.errors import (
    AccountSelectionRequiredError,
    ConsentRequiredError,
    LoginRequiredError,
)

from ..clock import now
from ..models import LoginSession, User
from ..services import consent, orgs
from . import id_token

LOGIN = "login"
SELECT_ORG = "select_org"
CONSENT = "consent"
ISSUE = "issue"
FORBIDDEN = "forbidden"


@dataclass
class Step:
    kind: str
    org_id: str | None = None
    message: str = ""


def prompts_of(data) -> set[str]:
    return set((data.get("prompt") or "").split())


def next_step(
    grant, user: User | None, login_session: LoginSession | None
) -> Step:
    request = grant.request
    data = request.payload.data
    redirect_uri = grant.redirect_uri
    prompts = prompts_of(data)
    silent = "none" in prompts
    if silent and len(prompts) > 1:
        raise InvalidRequestError("'prompt=none' cannot be combined.", redirect_uri=redirect_uri)
    max_age = _max_age(data.get("max_age"), redirect_uri)
    hinted_sub = _hinted_subject(data.get("id_token_hint"), redirect_uri)

    if (
        user is None
        or login_session is None
        or "login" in prompts
        or (max_age is not None and now() - login_session.auth_time > max_age)
    ):
        if silent:
            raise LoginRequiredError(redirect_uri=redirect_uri)
        return Step(LOGIN)
    if hinted_sub is not None and hinted_sub != user.id:
        raise LoginRequiredError("The signed-in user is not the one in 'id_token_hint'.",
                                 redirect_uri=redirect_uri)

    client = request.client
    memberships = orgs.memberships(user.id)
    member_of = {m.org_id for m in memberships}
    wanted = client.org_id or data.get("org_id")
    if wanted:
        org = orgs.find_org(wanted)
        if org is None or org.id not in member_of:
            return Step(FORBIDDEN, message="You are not a member of the organization "
                        "this application asks for.")
        org_id: str | None = org.id
    elif memberships and "select_account" in prompts:
        if silent:
            raise AccountSelectionRequiredError(redirect_uri=redirect_uri)
        return Step(SELECT_ORG)
    elif len(memberships) == 1:
        org_id = memberships[0].org_id
    elif not memberships:
        org_id = None
    elif login_session.org_id in member_of:
        org_id = login_session.org_id
    else:
        if silent:
            raise AccountSelectionRequiredError(redirect_uri=redirect_uri)
        return Step(SELECT_ORG)

    needs_consent = not client.skip_consent and (
        "consent" in prompts or not consent.covers(user, client, request.scope)
    )
    if needs_consent:
        if silent:
            raise ConsentRequiredError(redirect_uri=redirect_uri)
        return Step(CONSENT, org_id)
    return Step(ISSUE, org_id)


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
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidRequestError("'max_age' must be a whole number of seconds.",
                                  redirect_uri=redirect_uri)
    return int(raw)
