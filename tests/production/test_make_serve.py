"""``make serve`` as a newcomer runs it: no settings, a browser at the address it prints."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.live import ROOT, free_port

pytestmark = pytest.mark.live

START_TIMEOUT = 60.0


def test_make_serve_without_settings_serves_the_address_it_prints(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env |= {"IDP_DATABASE_URL": "sqlite:///" + str(tmp_path / "idp.sqlite3"),
            "IDP_SECRET_KEY": secrets.token_urlsafe(32), "MAKEFLAGS": ""}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(["make", "--no-print-directory", "serve", f"PORT={port}",
                                    "WORKERS=1"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        printed = None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and printed is None:
            assert process.poll() is None, log.read_text()
            if found := re.search(r"^serving (\S+)", log.read_text(), re.M):
                printed = found.group(1)
            time.sleep(0.1)
        assert printed == f"http://localhost:{port}", log.read_text()
        while time.monotonic() < deadline:
            try:
                page = requests.get(f"{printed}/login", timeout=5,
                                    headers={"Accept": "text/html"})
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            raise AssertionError("make serve never answered:\n" + log.read_text())
        with page:
            assert page.status_code == 200, page.text  # not "does not serve this host"
            assert 'name="username"' in page.text
        with requests.get(f"{printed}/.well-known/openid-configuration", timeout=5) as r:
            assert r.json()["issuer"] == printed
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
