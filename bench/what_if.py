#!/usr/bin/env python3
"""What-if experiments: how much CPU per request each candidate optimization would save.

    .venv/bin/python bench/what_if.py [--pg] [--requests 1500] [--rounds 3]

For the engineer doing the optimizations, never part of ``make bench``. In one process,
against a fresh database made as ``bench/run.py`` makes it, the app serves
client_credentials and authorization-code requests through ``app(environ, ...)``
(no HTTP server) while parts of the request path are replaced IN THIS PROCESS ONLY
(monkeypatching; nothing in idp/ changes):

- limiter off:     ``limiter.enabled = False`` (Flask-Limiter skipped entirely)
- cached client:   ``query_client`` answers from a per-process dict after the first query
                   (no difference once the app caches clients itself, as from ac4f3f5)
- no Flask session: ``open_session`` returns None (Flask's null session; no cookie parsing)
- no DB write:     the grant row is not written at all (a lower bound, not an option)
- no JWT signing:  the access token is a constant string (a lower bound, not an option)
- Ed25519 ID token: a client created with ``--id-token-alg Ed25519`` (code grant only)

client_credentials is answered in front of Flask (``idp/oauth/fast_token.py``), so
only the lower bounds apply to it; the Flask-path variants are tried on code
redemption. ``bench/run.py --without`` measures the same lower bounds under the real
server and load.

Variants alternate within each round; the table shows the median CPU time per request
(``time.process_time``, which other processes on the machine do not inflate much) and
the saving against the baseline of the same round.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import profile_app
import run as harness


@contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


@contextmanager
def limiter_off(app):
    from flask_limiter import Limiter

    from idp.extensions import limiter

    hooks = app.app.before_request_funcs[None]
    kept = [f for f in hooks if getattr(f, "__func__", None) is not Limiter._check_request_limit]
    # The global before_request hook is bound at init_app; the view decorator is not.
    with patched(limiter, "enabled", False), \
            patched(Limiter, "_check_request_limit", lambda self, *a, **k: None), \
            _swap_list(hooks, kept):
        yield


@contextmanager
def _swap_list(target: list, replacement: list):
    saved = list(target)
    target[:] = replacement
    try:
        yield
    finally:
        target[:] = saved


def cached_client(app):
    from idp.extensions import db

    # Authlib keeps the bound query_client of the server in its ClientAuthentication.
    auth = app.app.extensions["idp.oauth"]._client_auth
    original = auth.query_client
    cache: dict = {}

    def query_client(client_id):
        if client_id in cache:
            return cache[client_id]
        client = original(client_id)
        if client is not None:
            if client in db.session:  # the app may already hand out detached copies
                db.session.expunge(client)
            cache[client_id] = client
        return client

    return patched(auth, "query_client", query_client)


def no_session(app):
    """Flask's cookie session is opened (a signing serializer built) on every request;
    the machine endpoints never use it."""
    interface = app.app.session_interface
    return patched(interface, "open_session", lambda flask_app, request: None)


def no_db_write(app):
    from idp.oauth.server import AuthorizationServer

    return patched(AuthorizationServer, "save_token", lambda self, token, request: None)


def no_signing(app):
    from idp.oauth import tokens

    class FakeKeys:
        @staticmethod
        def sign(claims, alg, typ="JWT"):
            return "header.payload.signature"

    return patched(tokens, "keys", FakeKeys)


CC_VARIANTS = {  # the fast path: only the lower bounds reach it
    "baseline": [],
    "no DB write (bound)": [no_db_write],
    "no JWT signing (bound)": [no_signing],
    "no DB write + no JWT signing (bound)": [no_db_write, no_signing],
}
CODE_VARIANTS = {
    "baseline (RS256 ID token)": ("web", []),
    "Ed25519 ID token client": ("web_ed", []),
    "limiter off": ("web", [limiter_off]),
    "no Flask session": ("web", [no_session]),
    "cached client": ("web", [cached_client]),
    "both + Ed25519 ID token": ("web_ed", [limiter_off, cached_client]),
    "no DB write (bound)": ("web", [no_db_write]),
}


def measure(app: profile_app.App, environs: list[dict], patches) -> tuple[float, float]:
    with ExitStack() as stack:
        for make in patches:
            stack.enter_context(make(app))
        cpu, wall = time.process_time(), time.perf_counter()
        for environ in environs:
            status, body, _ = app.call(environ)
            if not status.startswith("200"):
                raise SystemExit(f"{status}: {body[:300]!r}")
        n = len(environs)
        return ((time.process_time() - cpu) * 1000 / n, (time.perf_counter() - wall) * 1000 / n)


def code_environs(app: profile_app.App, client: dict, n: int, cookie: str) -> list[dict]:
    return [app.environ("POST", "/oauth/token", {"Authorization": app.bench.auth(client)},
                        urlencode({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": harness.REDIRECT_URI}))
            for code in app.codes(n, cookie, client)]


def report(title: str, rows: dict[str, list[tuple[float, float, float]]]) -> None:
    print()
    print(title)
    print(f"{'variant':<52} {'CPU ms/req':>10} {'saving':>7} {'wall ms/req':>11} "
          f"{'req/s/core':>10}")
    base = statistics.median(r[0] for r in next(iter(rows.values())))
    for name, runs in rows.items():
        cpu = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        print(f"{name:<52} {cpu:>10.3f} {(1 - cpu / base) * 100:>6.0f}% {wall:>11.3f} "
              f"{1000 / cpu:>10.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", action="store_true")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="idp-whatif-"))
    fake = argparse.Namespace(port=0, workers=1, server_args="", server_cmd=None, pg=args.pg)
    try:
        with harness.database(args.pg, tmp) as db_url:
            bench = harness.Bench(fake, tmp, db_url)
            bench.provision()
            bench.web_ed = harness.cli_json(
                bench.env, "clients", "create", "--name", "Bench web Ed25519",
                "--client-id", "bench-web-ed", "--redirect-uri", harness.REDIRECT_URI,
                "--grant-type", "authorization_code", "--grant-type", "refresh_token",
                "--scope", harness.WEB_SCOPE, "--skip-consent", "--id-token-alg", "Ed25519")
            app = profile_app.App(bench)
            try:
                run(app, bench, args, db_url)
            finally:
                app.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def run(app, bench, args, db_url) -> None:
    n = args.requests
    cookie = app.session_cookie()
    cc = {name: [] for name in CC_VARIANTS}
    code = {name: [] for name in CODE_VARIANTS}
    # warm every path
    measure(app, profile_app.scenario_environs(app, "client_credentials", 200, {}), [])
    measure(app, code_environs(app, bench.web, 100, cookie), [])
    measure(app, code_environs(app, bench.web_ed, 100, cookie), [])
    for rnd in range(args.rounds):
        for name, patches in CC_VARIANTS.items():
            environs = profile_app.scenario_environs(app, "client_credentials", n, {})
            cc[name].append(measure(app, environs, patches))
        for name, (which, patches) in CODE_VARIANTS.items():
            client = bench.web if which == "web" else bench.web_ed
            environs = code_environs(app, client, n // 2, cookie)
            code[name].append(measure(app, environs, patches))
        harness.log(f"round {rnd + 1} done")
    print(f"database: {'PostgreSQL' if args.pg else 'SQLite'}; {n} client_credentials and "
          f"{n // 2} code redemptions per variant per round; {args.rounds} rounds; "
          "in-process, no HTTP server; median of rounds")
    report("client_credentials", cc)
    report("authorization_code redemption", code)


if __name__ == "__main__":
    sys.exit(main())
