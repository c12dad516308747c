"""What the browser tests share: chromium's launch options, and a relying party's
callback to land on."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

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
