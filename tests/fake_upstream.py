"""A small upstream OpenID provider that can be told to misbehave: a wrong ``iss``,
``aud`` or ``nonce``, a signature by a key it does not publish, an error from its
token endpoint, a discovery document naming another issuer.

Only for what a real provider will not do; the whole sign-in is tested against
node-oidc-provider (``tests.upstream_provider``). It speaks plain http on
loopback, runs in a thread, and checks PKCE like a real one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey


@dataclass
class Behaviour:
    """What the fake does; tests change it between requests."""

    claims: dict[str, Any] = field(default_factory=dict)  # merged into the ID token
    userinfo: dict[str, Any] = field(default_factory=dict)
    metadata_issuer: str | None = None  # None: its own
    sign_with_unpublished_key: bool = False
    token_error: str | None = None
    send_id_token: bool = True
    unsigned: bool = False  # alg "none", which the metadata (wrongly) offers


class FakeUpstream:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "fake-1", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "fake-1", "use": "sig"})
        self.behaviour = Behaviour()
        self.issuer = ""
        self.client_id = "our-idp"
        self.codes: dict[str, dict[str, str]] = {}  # code -> the authorization request
        self.token_requests = 0

    # -- the person's side ----------------------------------------------------------------

    def approve(self, authorize_url: str, subject: str = "fake-user") -> str:
        """What the provider's sign-in would redirect to: our callback with a code."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        assert query["code_challenge_method"] == "S256", query
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**query, "sub": subject}
        params = {"code": code, "state": query["state"], "iss": self.issuer}
        return query["redirect_uri"] + "?" + urlencode(params)

    # -- the endpoints --------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.behaviour.metadata_issuer or self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "userinfo_endpoint": self.issuer + "/userinfo",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256", "none"],
            "authorization_response_iss_parameter_supported": True,
        }

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        if self.behaviour.token_error:
            return 400, {"error": self.behaviour.token_error}
        request = self.codes.pop(form.get("code", ""), None)
        if request is None:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge.rstrip(b"=").decode() != request["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        at = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "sub": request["sub"],
                  "nonce": request.get("nonce"), "iat": at, "exp": at + 300,
                  **self.behaviour.claims}
        key = self.other_key if self.behaviour.sign_with_unpublished_key else self.key
        body: dict[str, Any] = {"access_token": secrets.token_urlsafe(16),
                                "token_type": "Bearer", "expires_in": 300}
        claims = {k: v for k, v in claims.items() if v is not None}
        if self.behaviour.unsigned:
            body["id_token"] = ".".join(_b64(json.dumps(part).encode()) for part in (
                {"alg": "none"}, claims)) + "."
        elif self.behaviour.send_id_token:
            body["id_token"] = jwt.encode({"alg": "RS256", "kid": "fake-1"}, claims, key)
        return 200, body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _handler(fake: FakeUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/.well-known/openid-configuration":
                self._json(200, fake.metadata())
            elif path == "/jwks":
                self._json(200, {"keys": [fake.key.as_dict(private=False)]})
            elif path == "/userinfo":
                self._json(200, fake.behaviour.userinfo)
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path == "/token":
                self._json(*fake.token(form))
            else:
                self._json(404, {"error": "not_found"})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def fake_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.issuer = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
