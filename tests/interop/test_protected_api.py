"""An API in front of the live provider, as a team would write one.

Two tiny resource servers, a few lines of WSGI each, protect the same data: one asks
the provider's introspection endpoint with its own credentials (RFC 7662), the other
verifies the JWT itself against the published JWKS with PyJWT, a JOSE library the
provider does not sign with (RFC 9068). A user signs in to a web app, which calls
them with its access token.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import jwt as pyjwt
import pytest
import requests
from jwt.algorithms import OKPAlgorithm

from tests.live import LiveServer, authorize_in_browser, free_port, live_server_fixture
from tests.tls import certificates

pytestmark = pytest.mark.live

PASSWORD = "protected horse battery staple"
INVOICES = "https://invoices.example/"  # RS256 tokens
REPORTS = "https://reports.example/"  # Ed25519 tokens, one-second lifetime

server = live_server_fixture()


@dataclass
class Setup:
    web: dict[str, str]
    invoices: dict[str, str]
    reports: dict[str, str]
    redirect_uri: str


@pytest.fixture(scope="module")
def setup(server: LiveServer) -> Setup:
    server.cli("users", "create", "ivy", "--email", "ivy@example.com", "--password", PASSWORD)
    invoices = server.cli_json("apis", "create", INVOICES, "--name", "Invoices", "--scope",
                               "invoices:read", "--access-token-alg", "RS256")
    reports = server.cli_json("apis", "create", REPORTS, "--name", "Reports", "--scope",
                              "reports:read", "--access-token-alg", "Ed25519",
                              "--access-token-ttl", "1")
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"  # nobody listens
    web = server.cli_json("clients", "create", "--name", "Ledger", "--redirect-uri",
                          redirect_uri, "--scope", "openid", "--skip-consent")
    return Setup(web, invoices, reports, redirect_uri)


# -- the two resource servers ------------------------------------------------------------------

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]


def _answer(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


def _bearer(environ: dict[str, Any]) -> str | None:
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def introspecting_api(issuer: str, credentials: tuple[str, str], scope: str) -> WSGIApp:
    """Asks the provider whether the token is good, for this API."""
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        token = _bearer(environ)
        if token is None:
            return _answer(start_response, "401 Unauthorized", {"error": "invalid_token"})
        with requests.post(f"{issuer}/oauth/introspect", data={"token": token},
                           auth=credentials, timeout=10) as r:
            answer = r.json()
        if not answer.get("active") or scope not in answer.get("scope", "").split():
            return _answer(start_response, "401 Unauthorized", {"error": "invalid_token"})
        return _answer(start_response, "200 OK", {"hello": answer["username"],
                                                  "sub": answer["sub"]})
    return app


def verifying_api(issuer: str, audience: str, scope: str) -> WSGIApp:
    """Verifies the JWT itself against the JWKS (PyJWT; RFC 9864's "Ed25519" added)."""
    # urllib, not requests: trusting the test run's CA takes an SSL context.
    trust = ssl.create_default_context(cafile=str(certificates().ca_path))
    jwks = pyjwt.PyJWKClient(f"{issuer}/.well-known/jwks.json", ssl_context=trust)
    decoder = pyjwt.PyJWT()
    decoder._jws.register_algorithm("Ed25519", OKPAlgorithm())

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        token = _bearer(environ)
        try:
            if token is None or pyjwt.get_unverified_header(token).get("typ") != "at+jwt":
                raise pyjwt.InvalidTokenError("no access token")
            key = jwks.get_signing_key_from_jwt(token).key
            claims = decoder.decode(token, key, algorithms=["RS256", "Ed25519"],
                                    audience=audience, issuer=issuer,
                                    options={"require": ["exp", "iat", "sub", "jti"]})
        except pyjwt.PyJWTError:
            return _answer(start_response, "401 Unauthorized", {"error": "invalid_token"})
        if scope not in claims["scope"].split():
            return _answer(start_response, "403 Forbidden", {"error": "insufficient_scope"})
        return _answer(start_response, "200 OK", {"sub": claims["sub"]})
    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Api:
    url: str

    def call(self, token: str) -> int:
        with requests.get(self.url, headers={"Authorization": f"Bearer {token}"},
                          timeout=10) as r:
            return r.status_code


@pytest.fixture(scope="module")
def apis(server: LiveServer, setup: Setup) -> Iterator[dict[str, Api]]:
    issuer = server.url
    made = {
        "invoices-introspect": introspecting_api(
            issuer, (setup.invoices["client_id"], setup.invoices["client_secret"]),
            "invoices:read"),
        "invoices-jwt": verifying_api(issuer, INVOICES, "invoices:read"),
        "reports-introspect": introspecting_api(
            issuer, (setup.reports["client_id"], setup.reports["client_secret"]),
            "reports:read"),
        "reports-jwt": verifying_api(issuer, REPORTS, "reports:read"),
    }
    servers: list[WSGIServer] = []
    found = {}
    for name, app in made.items():
        httpd = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        found[name] = Api(f"http://127.0.0.1:{httpd.server_address[1]}/")
    yield found
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def sign_in(server: LiveServer, setup: Setup, resource: str, scope: str) -> dict[str, Any]:
    """The web app signs ivy in for ``resource`` and redeems the code."""
    with requests.Session() as browser:
        params, _ = authorize_in_browser(browser, server.url, {
            "response_type": "code", "client_id": setup.web["client_id"],
            "redirect_uri": setup.redirect_uri, "scope": scope, "state": "s",
            "resource": resource}, username="ivy", password=PASSWORD)
    with requests.post(f"{server.url}/oauth/token",
                       auth=(setup.web["client_id"], setup.web["client_secret"]),
                       data={"grant_type": "authorization_code", "code": params["code"],
                             "redirect_uri": setup.redirect_uri}, timeout=10) as r:
        assert r.status_code == 200, r.text
        return r.json()


def test_a_token_for_the_invoices_api_is_accepted_there_and_nowhere_else(
        server: LiveServer, setup: Setup, apis: dict[str, Api]) -> None:
    tokens = sign_in(server, setup, INVOICES, "openid invoices:read")
    assert pyjwt.get_unverified_header(tokens["access_token"])["alg"] == "RS256"
    assert apis["invoices-introspect"].call(tokens["access_token"]) == 200
    assert apis["invoices-jwt"].call(tokens["access_token"]) == 200
    # Another API learns nothing from it, and cannot be fooled by it.
    assert apis["reports-introspect"].call(tokens["access_token"]) == 401
    assert apis["reports-jwt"].call(tokens["access_token"]) == 401


def test_an_ed25519_token_for_the_reports_api_is_accepted_there(
        server: LiveServer, setup: Setup, apis: dict[str, Api]) -> None:
    tokens = sign_in(server, setup, REPORTS, "openid reports:read")
    assert pyjwt.get_unverified_header(tokens["access_token"])["alg"] == "Ed25519"
    assert apis["reports-jwt"].call(tokens["access_token"]) == 200
    assert apis["reports-introspect"].call(tokens["access_token"]) == 200
    assert apis["invoices-jwt"].call(tokens["access_token"]) == 401
    # Its lifetime is the API's: one second.
    expires = pyjwt.decode(tokens["access_token"], options={"verify_signature": False})["exp"]
    while time.time() < expires + 1:
        time.sleep(0.1)
    assert apis["reports-jwt"].call(tokens["access_token"]) == 401
    assert apis["reports-introspect"].call(tokens["access_token"]) == 401


def test_a_revoked_token_is_refused_by_the_introspecting_api(
        server: LiveServer, setup: Setup, apis: dict[str, Api]) -> None:
    tokens = sign_in(server, setup, INVOICES, "openid invoices:read")
    assert apis["invoices-introspect"].call(tokens["access_token"]) == 200
    with requests.post(f"{server.url}/oauth/revoke", data={"token": tokens["access_token"]},
                       auth=(setup.web["client_id"], setup.web["client_secret"]),
                       timeout=10) as r:
        assert r.status_code == 200
    assert apis["invoices-introspect"].call(tokens["access_token"]) == 401


def test_introspection_tells_an_api_nothing_about_tokens_for_others(
        server: LiveServer, setup: Setup) -> None:
    for_reports = sign_in(server, setup, REPORTS, "openid reports:read")
    with requests.post(f"{server.url}/oauth/introspect",
                       data={"token": for_reports["access_token"]},
                       auth=(setup.invoices["client_id"], setup.invoices["client_secret"]),
                       timeout=10) as r:
        assert r.status_code == 200
        assert r.json() == {"active": False}


def test_a_token_without_the_apis_scope_is_refused(server: LiveServer, setup: Setup,
                                                  apis: dict[str, Api]) -> None:
    tokens = sign_in(server, setup, INVOICES, "openid")
    assert apis["invoices-jwt"].call(tokens["access_token"]) == 403
    assert apis["invoices-introspect"].call(tokens["access_token"]) == 401
