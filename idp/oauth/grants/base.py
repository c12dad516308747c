"""What every grant of ours shares: how a token is generated and saved, how a
single-use credential is claimed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from authlib.oauth2.rfc6749.errors import InvalidScopeError
from sqlalchemy import Update

from ...clock import now
from ...extensions import db
from ...models import Client, User
from .. import id_token, resources, tokens
from ..adapter import TokenRequest
from ..claims import is_openid, without_privileges

Model = TypeVar("Model")


def claim(statement: Update, model: type[Model], **params: Any) -> Model | None:
    """Run a prebuilt ``UPDATE … WHERE unused … RETURNING`` and give back the row it
    claimed, as a detached ``model``; None if it claimed nothing.

    One statement both claims and reads, so of two concurrent claims exactly one
    gets the row, and a prebuilt statement is compiled once per process.
    """
    row = db.session.execute(statement, params).mappings().first()
    return model(**row) if row is not None else None


def token_response(
    client: Client, user: User | None, scope: str | None, grant_type: str,
    context: tokens.Context, form: Mapping[str, str], requested_resources: list[str],
    *, include_refresh_token: bool,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The token response of every grant, and the grant row it creates: the one
    issuing rule the Authlib grants and the fast path share.

    Rules: the API the token is for (``oauth.resources``; ``invalid_target``); the
    scope must be one the client may have, for that API, and the user too
    (``claims.without_privileges``; ``invalid_scope`` when nothing is left); a
    refresh token only for clients with the refresh_token grant; the Webex
    lifetime parameters may only shorten the client's lifetimes.
    """
    audience = resources.for_token(client, context.resources, requested_resources)
    allowed = client.get_allowed_scope(scope)
    if allowed is not None:
        allowed = without_privileges(allowed, user) or None
    if context.granted_scope is None and allowed is not None:
        context.granted_scope = allowed  # the grant keeps all of it; the token gets its API's
    if allowed is not None:
        allowed = resources.scope_for(allowed, [audience] if audience else []) or None
    if allowed is None:
        raise InvalidScopeError("The requested scope is not allowed for this client.")
    if context.resources is None:
        context.resources = [audience.identifier] if audience else []
    refresh_ttl = None
    if include_refresh_token and client.check_grant_type("refresh_token"):
        refresh_ttl = tokens.shorter(form.get("refreshTokenValiditySeconds"),
                                     client.refresh_token_ttl)
    return tokens.issue(
        client=client, grant_type=context.origin_grant or grant_type, scope=allowed, user=user,
        context=context,
        access_ttl=tokens.shorter(form.get("accessTokenValiditySeconds"),
                                  client.access_token_ttl),
        refresh_ttl=refresh_ttl, audience=audience,
    )


class IssuesTokens:
    """Route Authlib's ``generate_token`` through ``token_response``.

    A grant sets ``request.token_context`` before Authlib asks for a token; the
    ``Grant`` row the issuance creates, if any, goes on ``request.issued_token``
    for ``save_token``.
    """

    request: TokenRequest
    GRANT_TYPE: str | None

    def generate_token(
        self,
        user: User | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        request = self.request
        token, row = token_response(
            request.client, user, scope, grant_type or self.GRANT_TYPE or "",
            request.token_context or tokens.Context(), request.form,
            request.payload.datalist.get("resource", []),
            include_refresh_token=include_refresh_token)
        request.issued_token = row
        return token


def add_id_token(grant: IssuesTokens, response: tuple[int, dict[str, Any], Any]) -> None:
    """Hook: an ID token beside the access token when ``openid`` was granted.

    For grants without an authorization request (refresh, password); the code
    grant gets its own through Authlib's ``OpenIDCode``.
    """
    _, token, _ = response
    request = grant.request
    user = request.user
    if user is None or not is_openid(token.get("scope", "")):
        return
    context = request.token_context or tokens.Context()
    token["id_token"] = id_token.build(
        client=request.client,
        user=user,
        scope=token["scope"],
        auth_time=context.auth_time or now(),
        access_token=token["access_token"],
        sid=context.sid,
        org_id=context.org_id,
        claims_request=context.claims_request,
        max_groups=tokens.shorter(request.form.get("maxGroupsInIdToken"),
                                  request.client.max_groups_in_id_token),
    )
