"""The playground's flows, step by step, as a relying party makes them.

Rules:
- every endpoint comes from the issuer's discovery document, fetched over HTTP;
- parameters are sent as the person typed them (an empty field is left out):
  seeing what a bad one does is the point;
- the code flow always uses PKCE (S256), a fresh ``state`` and ``nonce``; the
  authorization response is accepted only with this run's ``state`` and, when
  present, the issuer's ``iss`` (RFC 9207);
- tokens returned are kept in the run under a label (``access_token``,
  ``refresh_token``, ``id_token``, ``exchanged_token``); a refresh keeps the
  token it replaced, so its reuse can be tried;
- a step's title is stored in the run as a message id (``N_``), translated when shown.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask_babel import gettext as _

from ..i18n import N_
from . import CLIENT_ID, client_secret, issuer, logged_out_uri, redirect_uri
from .exchange import Exchange, basic, get_json, send
from .inspect import Decoded, decode
from .runs import Run

# flow -> the parameters its form offers, in order
FLOWS: dict[str, tuple[str, ...]] = {
    "code": ("scope", "response_mode", "prompt", "max_age", "acr_values", "login_hint",
             "org_id", "resource", "ui_locales"),
    "client_credentials": ("scope", "resource"),
    "password": ("username", "password", "scope"),
}
# What each flow's form starts with.
DEFAULTS = {"code": {"scope": "openid profile email offline_access org",
                     "response_mode": "query"},
            "client_credentials": {},
            "password": {"scope": "openid profile email"}}
SHAREABLE_NOT = frozenset({"password"})  # never in a link
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a URN
DISCOVERY_SECONDS = 60

_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}


def _fetched(url: str, *, fresh: bool = False) -> dict[str, Any] | None:
    hit = _cache.get(url)
    if not fresh and hit and hit[0] > time.monotonic():
        return hit[1]
    body = get_json(url)
    _cache[url] = (time.monotonic() + DISCOVERY_SECONDS, body)
    return body


def metadata() -> dict[str, Any]:
    found = _fetched(issuer() + "/.well-known/openid-configuration")
    if found is None:
        raise Unreachable
    return found


class Unreachable(Exception):
    """The provider's discovery document could not be fetched over HTTP."""


def _auth() -> str:
    return basic(CLIENT_ID, client_secret())


def _given(params: dict[str, str], names: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(name, params[name]) for name in names if params.get(name)]


# -- the code flow ---------------------------------------------------------------------------


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_request(run: Run) -> Exchange:
    """The URL the browser is sent to (it makes that request, not the playground)."""
    query = [("response_type", "code"), ("client_id", CLIENT_ID),
             ("redirect_uri", redirect_uri()), ("state", run.state), ("nonce", run.nonce),
             ("code_challenge", challenge(run.verifier)), ("code_challenge_method", "S256"),
             *_given(run.params, FLOWS["code"])]
    url = metadata()["authorization_endpoint"] + "?" + urlencode(query)
    return Exchange(N_("1. Send the browser to the authorization endpoint"), "GET", url)


@dataclass
class Callback:
    params: dict[str, str]
    problem: str | None  # why the response is not accepted, in plain words (translated)


def authorization_response(run: Run, params: dict[str, str], method: str) -> Callback:
    """What came back to the redirect URI, checked as a client must."""
    exchange = Exchange(N_("2. The browser comes back to the redirect URI"), method,
                        redirect_uri() + ("?" + urlencode(params) if method == "GET" else ""),
                        form=[[k, v] for k, v in params.items()] if method == "POST" else None,
                        status=0)
    problem = None
    if params.get("state") != run.state:
        problem = _("The state does not match this run's: the answer is for another "
                    "request (an old tab, or a forged response), so it is not used "
                    "(RFC 6749 §10.12).")
    elif "iss" in params and params["iss"] != issuer():
        problem = _("The iss parameter names another issuer: a mix-up attack is refused "
                    "(RFC 9207 §2.4).")
    elif "error" in params:
        problem = None
    elif not params.get("code"):
        problem = _("No code came back.")
    else:
        run.code = params["code"]
    if "error" in params:  # explained on the page like a token endpoint's error
        exchange.response = json.dumps({k: params[k] for k in ("error", "error_description")
                                        if k in params})
    run.add(exchange)
    return Callback(params, problem)


def redeem(run: Run) -> Exchange:
    code, run.code = run.code or "", None
    exchange = send(N_("3. Redeem the code at the token endpoint"), "POST",
                    metadata()["token_endpoint"], authorization=_auth(), form=[
                        ("grant_type", "authorization_code"), ("code", code),
                        ("redirect_uri", redirect_uri()), ("code_verifier", run.verifier)])
    return _keep_tokens(run, exchange)


# -- the token endpoint's other grants -------------------------------------------------------


def refresh(run: Run, params: dict[str, str], *, reuse: bool = False) -> Exchange:
    token = run.tokens.get("previous_refresh_token" if reuse else "refresh_token", "")
    title = (N_("Present the replaced refresh token again (reuse)") if reuse
             else N_("Refresh: a new access token, and a new refresh token (rotation)"))
    exchange = send(title, "POST", metadata()["token_endpoint"], authorization=_auth(),
                    form=[("grant_type", "refresh_token"), ("refresh_token", token),
                          *_given(params, ("scope", "accessTokenValiditySeconds"))])
    if not reuse and exchange.status == 200:
        run.tokens["previous_refresh_token"] = token
    return _keep_tokens(run, exchange)


def client_credentials(run: Run) -> Exchange:
    exchange = send(N_("client_credentials: a token for the client itself"), "POST",
                    metadata()["token_endpoint"], authorization=_auth(),
                    form=[("grant_type", "client_credentials"),
                          *_given(run.params, FLOWS["client_credentials"])])
    return _keep_tokens(run, exchange)


def password(run: Run) -> Exchange:
    exchange = send(N_("password: the user's credentials, sent by the client (PrivX)"),
                    "POST", metadata()["token_endpoint"], authorization=_auth(),
                    form=[("grant_type", "password"), *_given(run.params, FLOWS["password"])])
    return _keep_tokens(run, exchange)


def exchange_token(run: Run, params: dict[str, str]) -> Exchange:
    grant = params.get("grant_type") or "client_delegate"
    form = [("grant_type", grant), ("subject_token", run.tokens.get("access_token", "")),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            *_given(params, ("scope", "resource", "accessTokenValiditySeconds"))]
    exchange = send(N_("Token exchange (%(grant)s): a token acting for the user"), "POST",
                    metadata()["token_endpoint"], authorization=_auth(), form=form,
                    title_args={"grant": grant})
    return _keep_tokens(run, exchange, access_label="exchanged_token")


def _keep_tokens(run: Run, exchange: Exchange, access_label: str = "access_token") -> Exchange:
    body = exchange.answer()
    if exchange.status == 200 and isinstance(body, dict):
        for name, label in (("access_token", access_label), ("refresh_token", "refresh_token"),
                            ("id_token", "id_token")):
            if isinstance(body.get(name), str):
                run.tokens[label] = body[name]
                exchange.tokens.append(label)
    run.add(exchange)
    return exchange


# -- using the tokens ------------------------------------------------------------------------


def userinfo(run: Run, method: str) -> Exchange:
    token = run.tokens.get("access_token", "")
    url = metadata()["userinfo_endpoint"]
    if method == "POST":
        exchange = send(N_("UserInfo (POST)"), "POST", url, authorization=f"Bearer {token}",
                        form=[])
    else:
        exchange = send(N_("UserInfo (GET)"), "GET", url, authorization=f"Bearer {token}")
    run.add(exchange)
    return exchange


def introspect(run: Run, label: str) -> Exchange:
    return _about_token(run, label, N_("Introspect the %(token)s"), "introspection_endpoint")


def revoke(run: Run, label: str) -> Exchange:
    return _about_token(run, label, N_("Revoke the %(token)s"), "revocation_endpoint")


def _about_token(run: Run, label: str, title: str, endpoint: str) -> Exchange:
    """Introspection and revocation: the client names one of its tokens."""
    exchange = send(title, "POST", metadata()[endpoint], authorization=_auth(),
                    form=[("token", run.tokens.get(label, ""))],
                    title_args={"token": label.replace("_", " ")})
    run.add(exchange)
    return exchange


def logout_form(run: Run) -> tuple[str, list[tuple[str, str]]]:
    """RP-initiated logout: the end-session endpoint and the fields the browser posts
    there (a form, so the ID token is not put in a URL)."""
    fields = [("client_id", CLIENT_ID), ("post_logout_redirect_uri", logged_out_uri()),
              ("state", run.state)]
    if id_token := run.tokens.get("id_token"):
        fields.insert(0, ("id_token_hint", id_token))
    url = metadata()["end_session_endpoint"]
    run.add(Exchange(N_("RP-initiated logout: the browser posts to the end-session endpoint"),
                     "POST", url, form=[list(pair) for pair in fields]))
    return url, fields


# -- what the tokens say ---------------------------------------------------------------------


def decoded(label: str, token: str) -> Decoded:
    """The token decoded, its signature checked against the published keys (fetched
    again once when its key is not among them: a key rotated since)."""
    meta = metadata()
    algorithms = sorted({*meta.get("id_token_signing_alg_values_supported", []),
                         "RS256", "ES256", "Ed25519", "EdDSA"})
    jwks = _fetched(meta["jwks_uri"])
    result = decode(label, token, jwks, algorithms)
    if result.jwt and not result.valid and result.unknown_kid:
        result = decode(label, token, _fetched(meta["jwks_uri"], fresh=True), algorithms)
    return result
