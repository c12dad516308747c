"""What the browser tests share: chromium's launch options, and a relying party's
callback to land on."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.helpers import verify_jwt

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.live import LiveServer

CHROMIUM = "/usr/bin/chromium"
# Without the networking flags chromium dials Google's hosts, which this network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
# A name that is not the IdP's but reaches it: what a person typing the wrong address sees.
FOREIGN_HOST = "foreign.test"
CHROMIUM_ARGS.append(f"--host-resolver-rules=MAP {FOREIGN_HOST} 127.0.0.1")
TIMEOUT_MS = 10_000


# -- the relying party's callback ----------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    query: str
    content_type: str
    body: str


@dataclass
class Callback:
    """What arrived at the relying party, in order; ``wait`` blocks until the next one.

    ``url`` is its ``/callback``; ``base`` serves every other path too (a
    post-logout landing page, say), and each request is recorded.
    """

    base: str = ""  # known once the server is bound
    requests: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return self.base + "/callback"

    def record(self, received: Received) -> None:
        with self.arrived:
            self.requests.append(received)
            self.arrived.notify_all()

    def wait(self, count: int, timeout: float = TIMEOUT_MS / 1000) -> list[Received]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.requests) >= count, timeout), \
                f"the relying party received {len(self.requests)} request(s), expected {count}"
            return list(self.requests)


def handler(callback: Callback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int) -> None:
            body = b"<!doctype html><title>Back at the app</title><p>Back at the app.</p>"
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _record(self, body: str) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/favicon.ico":
                self._answer(404)
                return
            callback.record(Received(self.command, parts.path, parts.query,
                                     self.headers.get("Content-Type", ""), body))
            self._answer(200)

        def do_GET(self) -> None:
            self._record("")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._record(self.rfile.read(length).decode("utf-8"))

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest's output to the failures

    return Handler


def redeem_at_callback(page: Page, server: LiveServer, client: dict[str, str],
                       callback: Callback, verifier: str, nonce: str,
                       count: int = 1) -> tuple[dict[str, Any], str]:
    """Wait until the browser is at the client (its ``count``-th visit), redeem the code
    there (client_secret_basic, PKCE) and verify the tokens: (ID token claims, the
    access token)."""
    page.wait_for_url(f"{callback.url}?**")
    code = parse_qs(callback.wait(count)[-1].query)["code"][0]
    with requests.post(f"{server.url}/oauth/token",
                       auth=(client["client_id"], client["client_secret"]),
                       data={"grant_type": "authorization_code", "code": code,
                             "redirect_uri": callback.url, "code_verifier": verifier},
                       timeout=10) as response:
        assert response.status_code == 200, response.text
        tokens = response.json()
    jwks = server.jwks()
    _, claims = verify_jwt(tokens["id_token"], jwks, "RS256", iss=server.url,
                           aud=client["client_id"], nonce=nonce)
    verify_jwt(tokens["access_token"], jwks, "Ed25519", iss=server.url, sub=claims["sub"])
    return claims, tokens["access_token"]
