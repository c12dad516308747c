"""Signing in through an upstream provider: Authlib's Flask client, one per upstream.

Rules:
- an OpenID provider is found by discovery; its metadata must name the
  configured issuer (OIDC Discovery §4.3), and ``none`` is never an accepted
  signing algorithm; every request carries PKCE (S256), ``state`` and ``nonce``
  (Authlib); the ID token's signature (the upstream's JWKS, fetched again for
  an unknown ``kid``), ``iss``, ``aud``, ``exp``, ``nonce`` and ``at_hash`` are
  checked (Authlib's ``CodeIDToken``); UserInfo, read when the ID token has no
  email, must name the same ``sub`` (OIDC Core §5.3.2);
- the ``iss`` authorization response parameter (RFC 9207) must be the issuer
  when it is sent, and must be sent when the metadata promises it;
- a plain OAuth 2.0 provider has its three endpoints configured; who the person
  is comes from its UserInfo endpoint, read through the upstream's claim mapping;
- one callback per upstream (RFC 9700 §4.4.2, no mix-up); ``state``, ``nonce``
  and the verifier wait in the browser's session, used once;
- TLS is verified against ``REQUESTS_CA_BUNDLE``, else ``SSL_CERT_FILE``, else
  the system's trust store; every call to an upstream gives up after
  ``TIMEOUT`` seconds;
- each process keeps a client per upstream configuration (its metadata and keys
  with it) for ``METADATA_TTL`` seconds.
"""

from __future__ import annotations

import os
import ssl
import time
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from flask import current_app, request, session
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from ..i18n import N_
from ..models import Upstream
from ..security import sealing
from ..services.upstreams import SECRET_PURPOSE, Identity, mapped_identity

TIMEOUT = 10
METADATA_TTL = 3600
CARRY = "carry"  # what the sign-in goes back to, kept with Authlib's state

_clients: dict[tuple[str | int | None, ...], tuple[FlaskOAuth2App, float]] = {}


class UpstreamFailure(Exception):
    """The upstream sign-in did not work: ``reason`` for the audit log, ``message``
    for the person, ``status`` for the page.

    ``message`` is English, with its ``values`` named as gettext does (as in
    ``ServiceError``); ``shown()`` is the same in the request's language."""

    def __init__(self, reason: str, message: str, status: int = 400,
                 **values: object) -> None:
        super().__init__(message % values if values else message)
        self.reason = reason
        self.message, self.values = message, values
        self.status = status

    def shown(self) -> str:
        from flask_babel import gettext

        return str(gettext(self.message, **self.values))


def trust_store() -> str | bool:
    """The CA bundle upstream TLS is verified against (rules above)."""
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if path := os.environ.get(variable):
            return path
    system = ssl.get_default_verify_paths()
    for path in (system.cafile, system.openssl_cafile):
        if path and os.path.isfile(path):
            return path
    return True  # requests' own bundle


def callback_url(upstream: Upstream) -> str:
    """The redirect URI to register at the upstream (``views.upstream.callback``)."""
    return f"{current_app.config['IDP_ISSUER']}/upstream/{upstream.id}/callback"


def start(upstream: Upstream, carry: dict[str, Any]) -> Response:
    """Send the browser to the upstream; ``carry`` comes back with the callback."""
    client = _client(upstream)
    try:
        authorization = client.create_authorization_url(callback_url(upstream))
    except (requests.RequestException, ValueError, RuntimeError, OAuthError) as error:
        raise _unreachable(upstream, error) from None
    state = authorization["state"]
    client.framework.set_state_data(session, state, {
        "redirect_uri": callback_url(upstream), CARRY: carry,
        **{k: v for k, v in authorization.items() if k in ("code_verifier", "nonce")}})
    response = Response(status=303 if request.method == "POST" else 302)
    response.headers["Location"] = authorization["url"]
    return response


def finish(upstream: Upstream, args: dict[str, str]) -> tuple[Identity, dict[str, Any]]:
    """The callback: check everything, redeem the code, and say who signed in (and what
    the sign-in carried); raises ``UpstreamFailure``."""
    client = _client(upstream)
    state = args.get("state") or ""
    stored = client.framework.get_state_data(session, state) if state else None
    if stored is not None:
        client.framework.clear_state_data(session, state)  # used once, whatever follows
    if (refused := args.get("error")) is not None:
        if refused == "access_denied":
            raise UpstreamFailure(
                f"upstream error: {refused[:64]}",
                N_("%(provider)s did not sign you in (you did not allow it)."),
                provider=upstream.name)
        raise UpstreamFailure(
            f"upstream error: {refused[:64]}", N_("%(provider)s did not sign you in (%(error)s)."),
            provider=upstream.name, error=refused[:64])
    if stored is None:
        raise UpstreamFailure("bad or used state", N_("This sign-in has expired or was already "
                                                      "used. Go back and start again."))
    carry = stored.get(CARRY) or {}
    try:
        metadata = client.load_server_metadata()
        _check_iss(upstream, metadata, args.get("iss"))
        code = args.get("code")
        if not code:
            raise UpstreamFailure("no code", N_("%(provider)s sent no authorization code."),
                                  provider=upstream.name)
        token = client.fetch_access_token(redirect_uri=stored["redirect_uri"], code=code,
                                          code_verifier=stored.get("code_verifier"))
        claims = _claims(upstream, client, token, stored.get("nonce"))
    except UpstreamFailure:
        raise
    except OAuthError as error:
        raise UpstreamFailure(f"token endpoint: {error.error}",
                              N_("%(provider)s refused to complete the sign-in."),
                              provider=upstream.name) from None
    except requests.RequestException as error:
        raise _unreachable(upstream, error) from None
    except (JoseError, ValueError, KeyError, TypeError) as error:
        raise UpstreamFailure(f"id token: {type(error).__name__}: {str(error)[:120]}",
                              N_("The answer from %(provider)s could not be trusted, so "
                                 "nobody was signed in."), provider=upstream.name) from None
    identity = mapped_identity(upstream, claims)
    if identity is None:
        raise UpstreamFailure("no subject", N_("%(provider)s did not say who you are."),
                              provider=upstream.name)
    return identity, carry


# -- the client ------------------------------------------------------------------------------


def _client(upstream: Upstream) -> FlaskOAuth2App:
    key = (upstream.id, upstream.updated_at, upstream.issuer, upstream.authorize_url,
           upstream.token_url, upstream.userinfo_url, upstream.client_id,
           upstream.sealed_client_secret, upstream.scope)
    cached = _clients.get(key)
    if cached is not None and time.monotonic() - cached[1] < METADATA_TTL:
        return cached[0]
    name = f"upstream-{upstream.id}"
    options: dict[str, Any] = {
        "client_id": upstream.client_id,
        "client_secret": sealing.unseal(SECRET_PURPOSE, upstream.sealed_client_secret),
        "client_kwargs": {"scope": upstream.scope, "code_challenge_method": "S256",
                          "verify": trust_store(), "default_timeout": TIMEOUT},
    }
    if upstream.is_oidc:
        assert upstream.issuer is not None
        options["server_metadata_url"] = (upstream.issuer.rstrip("/")
                                          + "/.well-known/openid-configuration")
    else:
        options.update(authorize_url=upstream.authorize_url, access_token_url=upstream.token_url,
                       userinfo_endpoint=upstream.userinfo_url)
    client = _Checked(upstream, FlaskIntegration(name), name=name, **options)
    for stale in [k for k in _clients if k[0] == upstream.id]:
        del _clients[stale]
    _clients[key] = (client, time.monotonic())
    return client


class _Checked(FlaskOAuth2App):
    """Authlib's client, with the upstream's metadata checked as it is loaded."""

    def __init__(self, upstream: Upstream, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._issuer = upstream.issuer

    def load_server_metadata(self) -> dict[str, Any]:
        fresh = "_loaded_at" not in self.server_metadata
        metadata: dict[str, Any] = super().load_server_metadata()
        if fresh and self._issuer is not None:
            if metadata.get("issuer") != self._issuer:
                self.server_metadata.pop("_loaded_at", None)  # not kept: read it again
                raise UpstreamFailure(
                    "discovery issuer mismatch",
                    N_("The sign-in service is not configured correctly (its discovery "
                       "document names another issuer). Tell an administrator."), 502)
            algs = [a for a in metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
                    if a != "none"]
            metadata["id_token_signing_alg_values_supported"] = algs or ["RS256"]
        return metadata


def _check_iss(upstream: Upstream, metadata: dict[str, Any], iss: str | None) -> None:
    if not upstream.is_oidc:
        return
    if iss is None:
        if metadata.get("authorization_response_iss_parameter_supported"):
            raise UpstreamFailure("iss missing", N_("The answer from the sign-in service was "
                                                 "incomplete, so nobody was signed in. Start "
                                                 "again."))
        return
    if iss != upstream.issuer:
        raise UpstreamFailure("iss mismatch", N_("The answer came from another sign-in service "
                                                 "than the one asked, so nobody was signed "
                                                 "in."))


def _claims(upstream: Upstream, client: FlaskOAuth2App, token: dict[str, Any],
            nonce: str | None) -> dict[str, Any]:
    """Who signed in: the verified ID token (and UserInfo when it says more), or a plain
    OAuth 2.0 provider's UserInfo."""
    if not upstream.is_oidc:
        response = client.get(upstream.userinfo_url, token=token)
        response.raise_for_status()
        claims = response.json()
        if not isinstance(claims, dict):
            raise ValueError("UserInfo is not a JSON object")
        return claims
    if "id_token" not in token or not nonce:
        raise UpstreamFailure("no id token", N_("%(provider)s sent no ID token."),
                              provider=upstream.name)
    claims = dict(client.parse_id_token(token, nonce=nonce, leeway=60))
    if "email" not in claims and client.load_server_metadata().get("userinfo_endpoint"):
        info = client.userinfo(token=token)
        if info.get("sub") != claims.get("sub"):
            raise ValueError("UserInfo names another subject")
        claims = {**dict(info), **claims}
    return claims


def _unreachable(upstream: Upstream, error: Exception) -> UpstreamFailure:
    return UpstreamFailure(f"unreachable: {type(error).__name__}",
                           N_("%(provider)s is not answering. Try again in a little while."),
                           502, provider=upstream.name)
