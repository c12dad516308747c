"""A real upstream OpenID provider for the tests: node-oidc-provider (``tests/upstream``),
started on a free port over https with the test run's certificate.

Its development sign-in pages take any login name and password and then ask for
consent; ``sign_in`` plays a person through them with ``requests`` (the browser
tests use chromium instead).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from .live import free_port
from .tls import certificates

HERE = Path(__file__).parent / "upstream"
START_TIMEOUT = 20


@dataclass
class NodeProvider:
    issuer: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def installed() -> bool:
    return (HERE / "node_modules" / "oidc-provider").is_dir()


@contextmanager
def node_provider(tmp_dir: Path, clients: list[dict[str, Any]],
                  accounts: dict[str, dict[str, Any]]) -> Iterator[NodeProvider]:
    if not installed():
        raise RuntimeError("tests/upstream has no node_modules: run `make test-deps`")
    port = free_port()
    certs = certificates()
    log_path = tmp_dir / f"upstream-{port}.log"
    env = {**os.environ, "UPSTREAM_CLIENTS": json.dumps(clients),
           "UPSTREAM_ACCOUNTS": json.dumps(accounts), "NODE_ENV": "test"}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["node", str(HERE / "provider.mjs"), str(port), str(certs.cert_path),
             str(certs.key_path)], cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT)
    provider = NodeProvider(f"https://localhost:{port}", log_path)
    try:
        _wait_until_ready(process, provider)
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(process: subprocess.Popen, provider: NodeProvider) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"node-oidc-provider exited:\n{provider.log()}")
        try:
            with requests.get(f"{provider.issuer}/.well-known/openid-configuration",
                              timeout=2) as response:
                if response.status_code == 200:
                    return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"node-oidc-provider did not start:\n{provider.log()}")


FORM_RE = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"')


def sign_in(authorize_url: str, login: str, *, until: str, consent: bool = True) -> str:
    """Through the provider's pages from ``authorize_url`` as ``login``; the redirect
    back to the relying party (the URL starting with ``until``)."""
    with requests.Session() as browser:
        url = authorize_url
        for _ in range(12):
            with browser.get(url, allow_redirects=False, timeout=10) as response:
                location = response.headers.get("Location")
                if location is None:
                    html = response.text
                    assert response.status_code == 200, (response.status_code, html[:2000])
                else:
                    html = ""
            if location is not None:
                url = urljoin(url, location)
                if url.startswith(until):
                    return url
                continue
            match = FORM_RE.search(html)
            assert match, html[:2000]
            action = urljoin(url, unescape(match.group(1)))
            if 'name="login"' in html:
                data = {"prompt": "login", "login": login, "password": "anything"}
            elif consent:
                data = {"prompt": "consent"}
            else:  # the person refuses: the page's "cancel" link
                url = re.sub(r"(/interaction/[^/?]+).*", r"\1/abort", action)
                continue
            with browser.post(action, data=data, allow_redirects=False, timeout=10) as posted:
                assert posted.status_code in (302, 303), (posted.status_code, posted.text[:2000])
                url = urljoin(action, posted.headers["Location"])
                if url.startswith(until):
                    return url
    raise AssertionError("the provider's pages did not lead back")
