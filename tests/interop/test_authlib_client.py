"""Authlib's own OAuth 2.0 client against the live server: discovery, PKCE, tokens, userinfo.

The browser's part is played by a plain ``requests.Session`` submitting the
real HTML forms (CSRF token included); the client's redirect URI points at an
unused loopback port, so the flow stops at the IdP's last ``Location`` header.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.live import LiveServer, at_hash, free_port, live_server_fixture, verify_jwt

pytestmark = pytest.mark.live

PASSWORD = "interop horse battery staple"
SCOPE = "openid profile email org"
ORG = "interop"
MAX_STEPS = 10

server = live_server_fixture()


@dataclass
class Setup:
    user_id: str
    username: str
    email: str
    org_id: str
    redirect_uri: str


@pytest.fixture(scope="module")
def setup(server: LiveServer) -> Setup:
    """One user in one organization (no organization page, the org is implied)."""
    user = server.cli_json("users", "create", "carl", "--email", "carl@example.com",
                           "--password", PASSWORD, "--given-name", "Carl", "--email-verified")
    org = server.cli_json("orgs", "create", ORG, "--name", "Interop Inc")
    server.cli("orgs", "add-member", ORG, "carl")
    # Nothing listens there: the test reads the redirect instead of following it.
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    return Setup(user["id"], "carl", "carl@example.com", org["id"], redirect_uri)


@pytest.fixture(scope="module")
def metadata(server: LiveServer) -> dict[str, Any]:
    document = server.discovery()
    assert document["issuer"] == server.url
    assert "S256" in document["code_challenge_methods_supported"]
    return document


# -- the browser, played by requests ----------------------------------------------------


@dataclass
class Form:
    action: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # hidden inputs
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value)


class _FormParser(HTMLParser):
    """The first form of a page (HTMLParser unescapes attribute values)."""

    def __init__(self) -> None:
        super().__init__()
        self.form = Form()
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.form.action is None:
            self.form.action, self._in_form = a.get("action", ""), True
        elif self._in_form and tag == "input" and a.get("type") == "hidden":
            self.form.fields[a["name"]] = a.get("value", "")
        elif self._in_form and tag == "button" and "name" in a:
            self.form.buttons.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def parse_form(html: str) -> Form:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    assert parser.form.action is not None, "the page has no form"
    assert parser.form.fields.get("csrf_token"), "the form has no CSRF token"
    return parser.form


def sign_in(server: LiveServer, setup: Setup, authorization_url: str) -> tuple[str, list[str]]:
    """Log in and allow through the real pages; return the redirect and the pages seen."""
    pages_seen: list[str] = []
    with requests.Session() as browser:
        response = browser.get(authorization_url, allow_redirects=False, timeout=10)
        for _ in range(MAX_STEPS):
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                response.close()
                if not location.startswith(server.url + "/"):
                    return location, pages_seen
                response = browser.get(location, allow_redirects=False, timeout=10)
                continue
            assert response.status_code == 200, (response.url, response.text)
            path = urlsplit(response.url).path
            pages_seen.append(path)
            form = parse_form(response.text)
            data = dict(form.fields)
            if path == "/login":
                data.update(username=setup.username, password=PASSWORD)
            elif path == "/consent":
                assert ("decision", "allow") in form.buttons, form.buttons
                data["decision"] = "allow"
            else:
                raise AssertionError(f"unexpected page {response.url}")
            target = urljoin(response.url, form.action)
            response.close()
            response = browser.post(target, data=data, allow_redirects=False, timeout=10)
        raise AssertionError(f"no redirect to the client after {MAX_STEPS} steps: {pages_seen}")


def authorize(server: LiveServer, setup: Setup, session: OAuth2Session,
              metadata: dict[str, Any], pages: list[str]) -> tuple[str, str, str]:
    """Run the front channel through ``pages``; return (callback URL, code_verifier, nonce)."""
    verifier = generate_token(48)
    nonce = secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    callback, pages_seen = sign_in(server, setup, url)
    assert pages_seen == pages
    params = parse_qs(urlsplit(callback).query)
    assert callback.startswith(setup.redirect_uri + "?"), callback
    assert params["state"] == [state]
    assert params["iss"] == [server.url]  # RFC 9207
    return callback, verifier, nonce


def check_tokens(server: LiveServer, setup: Setup, session: OAuth2Session,
                 token: dict[str, Any], client_id: str, nonce: str,
                 metadata: dict[str, Any]) -> None:
    """Verify the ID and access tokens, then ask UserInfo with the session's token."""
    jwks = server.jwks()
    _, id_claims = verify_jwt(token["id_token"], jwks, "RS256", iss=metadata["issuer"],
                              aud=client_id, sub=setup.user_id, nonce=nonce)
    assert id_claims["aud"] == client_id
    assert id_claims["at_hash"] == at_hash(token["access_token"])
    header, at_claims = verify_jwt(token["access_token"], jwks, "Ed25519",
                                   iss=metadata["issuer"], sub=setup.user_id,
                                   client_id=client_id, org_id=setup.org_id)
    assert header["typ"] == "at+jwt"
    assert at_claims["sid"] == id_claims["sid"]

    with session.get(metadata["userinfo_endpoint"], timeout=10) as response:
        assert response.status_code == 200, response.text
        info = response.json()
    assert info["sub"] == setup.user_id
    assert info["email"] == setup.email
    assert info["object"] == "oauth_user_info"
    assert info["org_id"] == setup.org_id


@pytest.fixture
def oauth_session() -> Iterator[list[OAuth2Session]]:
    """Sessions the test opens, closed afterwards (an open socket is a warning)."""
    sessions: list[OAuth2Session] = []
    yield sessions
    for session in sessions:
        session.close()


def test_confidential_client_with_pkce(server: LiveServer, setup: Setup,
                                       metadata: dict[str, Any],
                                       oauth_session: list[OAuth2Session]) -> None:
    client = server.cli_json("clients", "create", "--name", "Authlib Confidential",
                             "--redirect-uri", setup.redirect_uri, "--scope", SCOPE)
    session = OAuth2Session(client["client_id"], client["client_secret"], scope=SCOPE,
                            redirect_uri=setup.redirect_uri, code_challenge_method="S256")
    oauth_session.append(session)
    assert session.token_endpoint_auth_method == "client_secret_basic"

    callback, verifier, nonce = authorize(server, setup, session, metadata,
                                          ["/login", "/consent"])
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=callback,
                                code_verifier=verifier, timeout=10)
    assert token["token_type"] == "Bearer"
    check_tokens(server, setup, session, token, client["client_id"], nonce, metadata)


def test_public_client_with_pkce(server: LiveServer, setup: Setup, metadata: dict[str, Any],
                                 oauth_session: list[OAuth2Session]) -> None:
    client = server.cli_json("clients", "create", "--name", "Authlib Public",
                             "--redirect-uri", setup.redirect_uri, "--scope", SCOPE,
                             "--auth-method", "none")
    assert not client["client_secret"]
    session = OAuth2Session(client["client_id"], scope=SCOPE, redirect_uri=setup.redirect_uri,
                            token_endpoint_auth_method="none", code_challenge_method="S256")
    oauth_session.append(session)

    callback, verifier, nonce = authorize(server, setup, session, metadata,
                                          ["/login", "/consent"])
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=callback,
                                code_verifier=verifier, timeout=10)
    check_tokens(server, setup, session, token, client["client_id"], nonce, metadata)

    # Again, without the verifier: PKCE is mandatory for a public client. (The
    # consent is remembered now: only the login page this time.)
    callback, _, _ = authorize(server, setup, session, metadata, ["/login"])
    code = parse_qs(urlsplit(callback).query)["code"][0]
    with requests.post(metadata["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": code, "client_id": client["client_id"],
        "redirect_uri": setup.redirect_uri,
    }) as response:
        assert response.status_code == 400, response.text
        # RFC 7636 §4.6 leaves the code open; Authlib says invalid_request.
        assert response.json()["error"] in ("invalid_request", "invalid_grant")


def test_the_access_log_has_one_json_line_per_request_with_its_user_agent(server: LiveServer):
    """make serve's access log, as a log shipper reads it: JSON, no query string."""
    import json
    import time

    agent = f"interop-check/{secrets.token_hex(4)}"
    with requests.get(server.url + "/.well-known/openid-configuration?probe=secret-value",
                      headers={"User-Agent": agent}, timeout=10) as response:
        assert response.status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # granian writes the line after the answer
        lines = [json.loads(line) for line in server.log().splitlines() if agent in line]
        if lines:
            break
        time.sleep(0.1)
    assert len(lines) == 1
    entry = lines[0]
    assert entry["method"] == "GET"
    assert entry["path"] == "/.well-known/openid-configuration"
    assert entry["status"] == 200
    assert entry["user_agent"] == agent
    assert entry["ip"] == "127.0.0.1"
    assert "secret-value" not in json.dumps(entry)
