"""Debian's nginx as the TLS-terminating reverse proxy in front of a test server.

The ``server`` block is the README's production example, read from the README
itself, with only its names, ports and certificate paths replaced: what the
test proves is the configuration a team copies.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .live import ROOT, free_port
from .tls import HOSTNAME, certificates

START_TIMEOUT = 10.0
EXAMPLE = re.compile(r"<!-- nginx example -->\s*```nginx\n(.*?)```", re.S)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                     else None)


def readme_server_block() -> str:
    """The README's nginx ``server { … }`` block, as published."""
    found = EXAMPLE.search((ROOT / "README.md").read_text())
    assert found, "the README has no nginx example"
    return found.group(1)


def server_block(port: int, upstream_port: int) -> str:
    """The README's block, listening on 127.0.0.1:``port``, proxying to ``upstream_port``."""
    certs = certificates()
    block = readme_server_block()
    for published, ours in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
        ("server_name id.example.com;", f"server_name {HOSTNAME};"),
        ("/etc/ssl/id.example.com/fullchain.pem", str(certs.cert_path)),
        ("/etc/ssl/id.example.com/privkey.pem", str(certs.key_path)),
        ("http://127.0.0.1:8000", f"http://127.0.0.1:{upstream_port}"),
    ):
        assert published in block, f"the README's nginx example lost {published!r}"
        block = block.replace(published, ours)
    return block


def _config(directory: Path, port: int, upstream_port: int) -> str:
    temp = {name: directory / name for name in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers read the test's files
    return f"""{user}worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {temp['client_body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
{server_block(port, upstream_port)}
}}
"""


def _wait_for_tls(port: int, process: subprocess.Popen, directory: Path) -> None:
    context = ssl.create_default_context(cafile=str(certificates().ca_path))
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("nginx exited:\n" + (directory / "error.log").read_text())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw, \
                    context.wrap_socket(raw, server_hostname=HOSTNAME):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not accept TLS in time")


@contextmanager
def nginx(directory: Path, upstream_port: int, port: int | None = None) -> Iterator[str]:
    """nginx on 127.0.0.1:``port`` (a free one by default) in front of ``upstream_port``;
    yields its public base URL, https://localhost:PORT."""
    binary = nginx_binary()
    assert binary, "nginx is not installed: make test-deps installs it"
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(_config(directory, port, upstream_port))
    process = subprocess.Popen([binary, "-p", str(directory), "-c", str(conf),
                                "-e", str(directory / "error.log"), "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_tls(port, process, directory)
        yield f"https://{HOSTNAME}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
