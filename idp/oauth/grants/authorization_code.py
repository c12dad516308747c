"""The authorization code grant (RFC 6749 §4.1, OIDC Core §3.1).

Rules Authlib does not enforce, enforced here:
- a code is stored only as a digest, lives ``IDP_CODE_TTL`` seconds, and is
  claimed atomically (``UPDATE … WHERE used_at IS NULL … RETURNING``): of two concurrent
  redemptions exactly one wins;
- a used code is kept until it expires, so a replay is recognised: it gets
  ``invalid_grant`` and revokes the grant the first redemption created (its id
  is the code's), with every token issued from it;
- ``response_mode`` is validated at the authorization endpoint and the
  response rendered by ``oauth.response_modes`` (with ``iss``);
- ``request`` and ``request_uri`` are refused (``request_not_supported``,
  ``request_uri_not_supported``), back to the client: OIDC Core §6 allows
  refusing them, never ignoring them;
- a code whose login session has ended (signed out, ended from the account
  page, a password change) no longer redeems;
- public clients authenticate with ``none`` (and must use PKCE).
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
)
from authlib.oidc.core import OpenIDCode as _OpenIDCode
from flask import current_app
from sqlalchemy import bindparam, exists, select, update

from ...clock import now
from ...extensions import db
from ...models import AuthorizationCode, User, by_key
from ...models.types import table
from ...security import opaque
from ...services import grants as grant_rules
from ...services import sessions
from .. import id_token, resources, response_modes, tokens
from ..claims import ClaimsRequestError, parse_claims_request
from .base import IssuesTokens, claim


class RequestObjectNotSupported(OAuth2Error):
    error = "request_not_supported"
    description = "Request objects ('request') are not supported."


class RequestUriNotSupported(OAuth2Error):
    error = "request_uri_not_supported"
    description = "'request_uri' is not supported."


_codes = table(AuthorizationCode)
CLAIM = (
    update(_codes)
    .where(
        _codes.c.code_digest == bindparam("digest"),
        _codes.c.client_id == bindparam("client"),
        _codes.c.used_at.is_(None),
        _codes.c.expires_at > bindparam("at"),
    )
    .values(used_at=bindparam("at"))
    .returning(*_codes.c)
)


class AuthorizationCodeGrant(IssuesTokens, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def validate_authorization_request(self):
        redirect_uri = super().validate_authorization_request()
        data = self.request.payload.data
        mode = data.get("response_mode")
        if mode is not None and mode not in response_modes.RESPONSE_MODES:
            raise InvalidRequestError(
                "Unsupported 'response_mode'; use query, fragment or form_post.",
                redirect_uri=redirect_uri,
            )
        # OIDC Core §6: process request objects or refuse them, never ignore them.
        if "request" in data:
            raise RequestObjectNotSupported(redirect_uri=redirect_uri)
        if "request_uri" in data:
            raise RequestUriNotSupported(redirect_uri=redirect_uri)
        try:
            apis = resources.targets(self.request.client, resources.named(
                self.request.payload.datalist.get("resource", [])))
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            raise
        self.request.resources = [api.identifier for api in apis]
        try:
            self.request.claims_request = parse_claims_request(data.get("claims")) or None
        except ClaimsRequestError as error:
            raise InvalidRequestError(str(error), redirect_uri=redirect_uri) from None
        self.request.scope = resources.scope_for(self.request.scope, apis)
        if not self.request.scope:
            raise InvalidScopeError(redirect_uri=redirect_uri)
        return redirect_uri

    def create_authorization_response(self, redirect_uri: str, grant_user: User | None,
                                      ) -> tuple[int, str, list[tuple[str, str]]]:
        if not grant_user:
            raise AccessDeniedError(
                "The user denied the request.", redirect_uri=redirect_uri
            )
        self.request.user = grant_user
        code = self.generate_authorization_code()
        self.save_authorization_code(code, self.request)
        params = [("code", code)]
        if (state := self.request.payload.state) is not None:
            params.append(("state", state))
        return response_modes.build(
            redirect_uri, params, response_modes.requested_mode(self.request.payload.data),
            self.request.client.name,
        )

    def generate_authorization_code(self) -> str:
        return opaque.generate_opaque_token()

    def save_authorization_code(self, code, request):
        login_session, org_id = request.decision.login_session, request.decision.org_id
        data = request.payload.data
        challenge = data.get("code_challenge")
        db.session.add(
            AuthorizationCode(
                code_digest=opaque.digest(code),
                client_id=request.client.client_id,
                user_id=request.user.id,
                sid=login_session.sid,
                org_id=org_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                resources=request.resources or [],
                claims_request=request.claims_request,
                nonce=data.get("nonce"),
                auth_time=login_session.auth_time,
                acr=login_session.acr,
                amr=login_session.amr,
                code_challenge=challenge,
                code_challenge_method="S256" if challenge else None,
                expires_at=now() + int(current_app.config["IDP_CODE_TTL"]),
            )
        )

    def query_authorization_code(self, code, client):
        digest = opaque.digest(code)
        claimed = claim(CLAIM, AuthorizationCode, digest=digest, client=client.client_id,
                        at=now())
        if claimed is not None:
            return claimed
        row = db.session.scalar(
            select(AuthorizationCode).where(
                AuthorizationCode.code_digest == digest,
                AuthorizationCode.client_id == client.client_id,
            )
        )
        if row is not None and row.used_at is not None:
            # A replay: the first redemption's tokens (the family is the code's id) die.
            grant_rules.reuse_detected("authorization_code", grant_id=row.id,
                                      user_id=row.user_id, client_id=row.client_id)
        return None

    def delete_authorization_code(self, authorization_code):
        """Keep the used code until it expires: a replay must be recognised."""

    def authenticate_user(self, authorization_code):
        user = by_key(User, authorization_code.user_id)
        if user is None or user.disabled:
            return None
        if authorization_code.sid and sessions.load_active(authorization_code.sid) is None:
            raise InvalidGrantError("The sign-in this code came from has ended.")
        self.request.token_context = tokens.Context(
            grant_id=authorization_code.id,
            new_grant=True,
            resources=authorization_code.resources or [],
            claims_request=authorization_code.claims_request,
            sid=authorization_code.sid,
            org_id=authorization_code.org_id,
            auth_time=authorization_code.auth_time,
        )
        return user


class OpenIDCode(_OpenIDCode):
    """OIDC for the code grant: nonce replay check and our ID token."""

    def exists_nonce(self, nonce, request):
        return bool(
            db.session.scalar(
                select(
                    exists().where(
                        AuthorizationCode.client_id == request.payload.client_id,
                        AuthorizationCode.nonce == nonce,
                    )
                )
            )
        )

    def encode_id_token(self, token, request):
        code: AuthorizationCode = request.authorization_code
        return id_token.build(
            client=request.client,
            user=request.user,
            scope=token["scope"],
            auth_time=code.auth_time,
            access_token=token["access_token"],
            nonce=code.nonce,
            sid=code.sid,
            org_id=code.org_id,
            acr=code.acr,
            amr=code.amr,
            claims_request=code.claims_request,
            max_groups=tokens.shorter(request.form.get("maxGroupsInIdToken"),
                                      request.client.max_groups_in_id_token),
        )
