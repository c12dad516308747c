"""Debian's chromium through Playwright, and a relying party's callback to land on.

The browser trusts the test run's CA by its public key and nothing else, so the
pages it signs in on are served over https exactly as in production.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.tls import certificates

from .support import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, Callback, handler


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=[*CHROMIUM_ARGS, *certificates().chromium_args()])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context: no cookies, so every test signs in."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def callback() -> Iterator[Callback]:
    result = Callback()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler(result))
    result.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
