"""Test helpers: drive the browser pages, read authorization responses, verify JWTs."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Sequence
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet

ISSUER = "http://localhost"
REDIRECT_URI = "https://rp.example/callback"
PASSWORD = "correct horse battery staple"

CSRF_RE = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def location_params(response, part: str = "query") -> dict[str, str]:
    """The parameters a redirect hands to the client (query or fragment)."""
    assert response.status_code in (302, 303), (response.status_code, response.get_data(True))
    location = response.headers["Location"]
    return dict(parse_qsl(getattr(urlsplit(location), part), keep_blank_values=True))


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method: str | None = None
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self.method = a.get("action"), a.get("method")
        if tag == "input" and a.get("type") == "hidden":
            self.fields.append((a["name"], a.get("value", "")))


def form_post_params(html: str) -> tuple[str, str, dict[str, str]]:
    """The action, method and hidden fields of a form_post response page."""
    parser = _FormParser()
    parser.feed(html)
    assert parser.action is not None
    return parser.action, parser.method or "", dict(parser.fields)


def verify_jwt(token: str, jwks: dict[str, Any], algorithms: str | Sequence[str],
               **expected: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a JWT against the published keys, as a relying party must; return
    (header, claims).

    The signature with one of ``algorithms`` and a ``kid`` of the JWKS; ``exp`` ahead
    and ``iat`` not in the future; and each claim named in ``expected`` present with
    exactly that value.
    """
    allowed = [algorithms] if isinstance(algorithms, str) else list(algorithms)
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=allowed)
    header, claims = decoded.header, decoded.claims
    assert header["alg"] in allowed, header
    assert header.get("kid") in {k.get("kid") for k in jwks["keys"]}, header
    jwt.JWTClaimsRegistry(
        leeway=5, exp={"essential": True}, iat={"essential": True},
        **{name: {"essential": True, "value": value} for name, value in expected.items()},
    ).validate(claims)
    assert claims["exp"] > time.time(), claims  # no leeway for expiry
    return header, claims


# OIDC Core §3.1.3.6: the left half of the hash JWA names for the ID token's alg; for
# Ed25519 (and its older name EdDSA), SHA-512.
AT_HASH = {"RS256": hashlib.sha256, "ES256": hashlib.sha256, "Ed25519": hashlib.sha512,
           "EdDSA": hashlib.sha512}


def at_hash(access_token: str, alg: str = "RS256") -> str:
    """The ``at_hash`` an ID token signed with ``alg`` must carry, computed here."""
    digest = AT_HASH[alg](access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


class OAuthClient:
    """The browser and the relying party, played through Flask's test client."""

    def __init__(self, client) -> None:
        self.http = client

    def login(self, username: str, password: str, at: str = "/login"):
        """Sign in on the login page at ``at`` (an interaction's, or the site's own)."""
        page = self.http.get(at)
        assert page.status_code == 200, page.get_data(True)
        data = {"username": username, "password": password,
                "csrf_token": csrf_token(page.get_data(True))}
        return self.http.post(at, data=data)

    def sign_in_here(self, response, username: str, password: str):
        """From a redirect to an interaction's login page: sign in, and follow the
        interaction back to ``/oauth/authorize/<id>``; return that answer."""
        location = response.headers["Location"]
        assert urlsplit(location).path == "/login", location
        signed = self.login(username, password, at=location)
        assert signed.status_code == 303, signed.get_data(True)
        assert urlsplit(signed.headers["Location"]).path.startswith("/oauth/authorize/")
        return self.http.get(signed.headers["Location"])

    def authorize(self, method: str = "GET", **params):
        if method == "POST":
            return self.http.post("/oauth/authorize", data=params)
        return self.http.get("/oauth/authorize", query_string=params)

    def submit_page(self, response, **fields):
        """Submit the form of an interaction page reached by following ``response``."""
        location = response.headers["Location"]
        page = self.http.get(location)
        assert page.status_code == 200, page.get_data(True)
        html = page.get_data(True)
        action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
        action = action.replace("&amp;", "&")
        return self.http.post(action, data={"csrf_token": csrf_token(html), **fields})

    def follow(self, response):
        """After a page's answer (303 to ``/oauth/authorize/<id>``), the interaction's next
        answer: a redirect to another page, or to the client."""
        assert response.status_code == 303, response.get_data(True)
        location = response.headers["Location"]
        assert urlsplit(location).path.startswith("/oauth/authorize/"), location
        return self.http.get(location)

    def approve(self, response, decision: str = "allow"):
        """From a redirect to /consent, press Allow (or Deny): the interaction's answer
        (Deny answers the client at once)."""
        assert "/consent?" in response.headers["Location"], response.headers["Location"]
        answered = self.submit_page(response, decision=decision)
        return answered if decision == "deny" else self.follow(answered)

    def choose_org(self, response, slug: str):
        """From a redirect to /select-org, press the organization: the interaction's next
        answer."""
        assert "/select-org?" in response.headers["Location"], response.headers["Location"]
        return self.follow(self.submit_page(response, org=slug))

    def jwks(self) -> dict[str, Any]:
        return self.http.get("/.well-known/jwks.json").get_json()

    def exchange(self, code: str, client_id: str, secret: str | None = None, *,
                 redirect_uri: str, verifier: str | None = None, method: str = "basic",
                 **extra):
        data = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, **extra}
        if verifier:
            data["code_verifier"] = verifier
        headers = {}
        if secret is None or method == "none":
            data["client_id"] = client_id
        elif method == "basic":
            raw = f"{client_id}:{secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        else:
            data.update(client_id=client_id, client_secret=secret)
        return self.http.post("/oauth/token", data=data, headers=headers)


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


class Tokens:
    """The token endpoint from a client's side, verifying everything it gets."""

    def __init__(self, http) -> None:
        self.http = http

    def post(self, data: dict, client=None, secret: str | None = None):
        headers = basic(client, secret) if secret else {}
        if client and not secret:
            data = {**data, "client_id": client}
        return self.http.post("/oauth/token", data=data, headers=headers)

    def ok(self, data: dict, client=None, secret=None) -> dict:
        response = self.post(data, client, secret)
        assert response.status_code == 200, response.get_data(True)
        assert response.headers["Cache-Control"] == "no-store"
        body = response.get_json()
        jwks = self.http.get("/.well-known/jwks.json").get_json()
        header, claims = verify_jwt(body["access_token"], jwks, ["Ed25519", "RS256", "ES256"])
        assert header["typ"] == "at+jwt"
        assert claims["iss"] == ISSUER
        assert claims["exp"] - claims["iat"] == body["expires_in"]
        assert claims["exp"] > time.time()
        assert claims["scope"] == body["scope"]
        body["claims"] = claims
        if "id_token" in body:
            _, body["id_claims"] = verify_jwt(body["id_token"], jwks, ["RS256"])
        return body


def authorize_params(**overrides) -> dict[str, str]:
    """An authorization request for the ``web`` client; a fresh nonce every time."""
    base = {"response_type": "code", "client_id": "web", "redirect_uri": REDIRECT_URI,
            "scope": "openid profile", "state": "xyz", "nonce": secrets.token_urlsafe(8)}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def get_code(oauth: OAuthClient, **overrides) -> str:
    """Authorize (consenting if asked) and return the code."""
    response = oauth.authorize(**authorize_params(**overrides))
    if "/consent?" in response.headers["Location"]:
        response = oauth.approve(response)
    return location_params(response)["code"]


def assert_json_error(response, status: int, error: str) -> None:
    """An RFC 6749 error: status, JSON, no-store, a code and a description."""
    assert response.status_code == status, response.get_data(True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["error"] == error
    assert body["error_description"]
