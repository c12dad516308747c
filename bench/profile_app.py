#!/usr/bin/env python3
"""Where a request's time goes: the app in-process, without an HTTP server, under cProfile.

    .venv/bin/python bench/profile_app.py                       # SQLite, every scenario
    .venv/bin/python bench/profile_app.py --pg --scenarios client_credentials,authorization_code
    .venv/bin/python bench/profile_app.py --dump /tmp/prof       # also write .pstats files

The database and its users and clients are made as ``bench/run.py`` makes them (the
``flask idp`` CLI on a fresh SQLite file or PostgreSQL database). Requests go straight
to the WSGI callable (``app(environ, start_response)``) with environs built beforehand,
so the numbers are the application's own cost: compare them with the server CPU per
request that ``bench/run.py`` reports to see what the HTTP server adds.

For each scenario: the cost per request without the profiler (wall-clock and CPU),
then a breakdown of the profiled run into the parts of the request path.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness

SCENARIOS = ("client_credentials", "authorization_code", "refresh_token", "userinfo",
             "introspection", "jwks", "password")

# (label, file substring, function name or None for any): cumulative time of matches.
BREAKDOWN = [
    ("whole WSGI call (Flask wsgi_app)", "flask/app.py", "wsgi_app"),
    ("  request context push/pop, teardown", "flask/ctx.py", "pop"),
    ("  host check (before_request)", "idp/security/headers.py", "_check_host"),
    ("  security headers (after_request)", "idp/security/headers.py", "_set_headers"),
    ("  flask-limiter before/after request", "flask_limiter/", "_check_request_limit"),
    ("  flask-limiter decorator (view wrapper)", "flask_limiter/", "__inner"),
    ("  token endpoint (create_token_response)", "authlib/oauth2/rfc6749/authorization_server.py",
     "create_token_response"),
    ("    Authlib request object (form parse)", "authlib/integrations/flask_oauth2/",
     "create_oauth2_request"),
    ("    client authentication (total)", "authlib/oauth2/rfc6749/authenticate_client.py",
     "__call__"),
    ("      client lookup (SELECT clients)", "idp/oauth/server.py", "query_client"),
    ("      secret check (SHA-256 digest)", "idp/models/client.py", "check_client_secret"),
    ("    code claim (UPDATE + SELECT)", "idp/oauth/grants/authorization_code.py",
     "query_authorization_code"),
    ("    nonce replay check", "idp/oauth/grants/authorization_code.py", "exists_nonce"),
    ("    refresh claim (UPDATE + SELECT)", "idp/oauth/grants/refresh_token.py",
     "authenticate_refresh_token"),
    ("    user lookup (code/refresh)", "idp/oauth/grants/", "authenticate_user"),
    ("    consent check (refresh)", "idp/services/consent.py", "covers"),
    ("    organization lookups", "idp/services/orgs.py", None),
    ("    tokens.issue (claims, row, signing)", "idp/oauth/tokens.py", "issue"),
    ("      access-token JWT sign (keys.sign)", "idp/oauth/keys.py", "sign"),
    ("      refresh token + digest", "idp/security/opaque.py", "generate_opaque_token"),
    ("    ID token build (RS256 by default)", "idp/oauth/id_token.py", "build"),
    ("      user claims", "idp/oauth/claims.py", None),
    ("    password check (argon2id)", "idp/security/passwords.py", "verify_password"),
    ("    Authlib JSON response", "authlib/integrations/flask_helpers.py", None),
    ("  DB commit (INSERT/UPDATE flush + COMMIT)", "sqlalchemy/orm/session.py", "commit"),
    ("  DB rollback", "sqlalchemy/orm/session.py", "rollback"),
    ("  userinfo: bearer validation (verify + SELECT)", "idp/oauth/bearer.py",
     "authenticate_token"),
    ("    JWT verify (joserfc decode)", "joserfc/jwt.py", "decode"),
    ("  userinfo claims", "idp/oauth/userinfo.py", "userinfo"),
    ("  introspection endpoint", "authlib/oauth2/rfc7009/", None),
    ("  introspection: token lookup (verify + SELECT)", "idp/oauth/token_lookup.py", "find"),
    ("  introspection: payload (+ user SELECT)", "idp/oauth/introspection.py",
     "introspect_token"),
    ("  JWKS (keys.jwks)", "idp/oauth/keys.py", "jwks"),
    ("  key cache refresh (keys.refresh)", "idp/oauth/keys.py", "refresh"),
    ("  flask jsonify", "flask/json/", None),
    ("SQL: all statements (SQLAlchemy execute)", "sqlalchemy/engine/base.py", "_execute_context"),
    ("  DB driver execute (C)", "", "<method 'execute' of"),
    ("  DB driver commit (C)", "", "<method 'commit' of"),
    ("crypto: Ed25519 sign (C)", "", "<method 'sign' of 'cryptography.hazmat.bindings._rust"
     ".openssl.ed25519"),
    ("crypto: RSA sign (C)", "", "<method 'sign' of 'cryptography.hazmat.bindings._rust"
     ".openssl.rsa"),
    ("crypto: Ed25519 verify (C)", "", "<method 'verify' of 'cryptography.hazmat.bindings._rust"
     ".openssl.ed25519"),
    ("json.dumps", "json/__init__.py", "dumps"),
    ("json.loads", "json/__init__.py", "loads"),
]


def func_name(key) -> tuple[str, str]:
    filename, _, name = key
    return filename, name


def breakdown(stats: pstats.Stats, n: int) -> list[tuple[str, float]]:
    raw = stats.stats  # type: ignore[attr-defined]
    rows = []
    for label, file_part, name in BREAKDOWN:
        total = 0.0
        for key, (_, _, _, ct, _) in raw.items():
            filename, fname = func_name(key)
            if file_part and file_part not in filename:
                continue
            if name is None:
                # only the outermost functions of a module: those not called from it
                callers = raw[key][4]
                if any(file_part in c[0] for c in callers):
                    continue
            elif name.startswith("<"):
                if not fname.startswith(name):
                    continue
            elif fname != name:
                continue
            total += ct
        if total:
            rows.append((label, total * 1000 / n))
    return rows


class App:
    def __init__(self, bench: harness.Bench):
        os.environ.update(bench.env)
        from idp import create_app

        self.app = create_app()
        self.issuer = bench.issuer
        self.bench = bench

    def dispose(self) -> None:
        """Close the pool's connections, so that the database can be dropped."""
        from idp.extensions import db

        with self.app.app_context():
            db.engine.dispose()

    def environ(self, method: str, path: str, headers: dict | None = None,
                data: str | None = None) -> dict:
        from werkzeug.test import EnvironBuilder

        builder = EnvironBuilder(path=path, method=method, headers=headers or {},
                                 data=data, base_url=self.issuer,
                                 environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                 content_type=harness.FORM if data is not None else None)
        try:
            return builder.get_environ()
        finally:
            builder.close()

    def call(self, environ: dict) -> tuple[str, bytes, list]:
        status: list = []
        result = self.app(environ, lambda s, h, exc=None: status.append((s, h)))
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return status[0][0], body, status[0][1]

    def session_cookie(self) -> str:
        """Sign in through /login; the session cookie for /oauth/authorize."""
        def cookies(headers) -> str:
            return "; ".join(v.split(";", 1)[0] for k, v in headers if k == "Set-Cookie")

        _, page, headers = self.call(self.environ("GET", "/login"))
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
        form = urlencode({"username": harness.USERNAME, "password": harness.PASSWORD,
                          "csrf_token": token.group(1).decode()})
        status, _, headers = self.call(self.environ("POST", "/login",
                                                    {"Cookie": cookies(headers)}, form))
        assert status.startswith(("302", "303")), status
        return cookies(headers)

    def codes(self, n: int, cookie: str, client: dict | None = None) -> list[str]:
        """``n`` codes from /oauth/authorize for ``client`` (the web client by default)."""
        client = client or self.bench.web
        query = urlencode({"response_type": "code", "client_id": client["client_id"],
                           "redirect_uri": harness.REDIRECT_URI, "scope": harness.WEB_SCOPE,
                           "state": "bench"})
        found = []
        for _ in range(n):
            _status, _, headers = self.call(self.environ("GET", f"/oauth/authorize?{query}",
                                                        {"Cookie": cookie}))
            location = dict(headers)["Location"]
            found.append(parse_qs(urlsplit(location).query)["code"][0])
        return found


def scenario_environs(app: App, name: str, n: int, pools: dict) -> list[dict]:
    b = app.bench
    if name == "client_credentials":
        return [app.environ("POST", "/oauth/token", {"Authorization": b.auth(b.svc)},
                            "grant_type=client_credentials") for _ in range(n)]
    if name == "authorization_code":
        codes = app.codes(n, pools["cookie"])
        return [app.environ("POST", "/oauth/token", {"Authorization": b.auth(b.web)},
                            urlencode({"grant_type": "authorization_code", "code": c,
                                       "redirect_uri": harness.REDIRECT_URI}))
                for c in codes]
    if name == "refresh_token":
        tokens = pools["refresh"][:n]
        del pools["refresh"][:n]
        return [app.environ("POST", "/oauth/token", {"Authorization": b.auth(b.web)},
                            urlencode({"grant_type": "refresh_token", "refresh_token": t}))
                for t in tokens]
    if name == "userinfo":
        access = pools["access"]
        return [app.environ("GET", "/oauth/userinfo",
                            {"Authorization": f"Bearer {access[i % len(access)]}"})
                for i in range(n)]
    if name == "introspection":
        access = pools["access"]
        return [app.environ("POST", "/oauth/introspect", {"Authorization": b.auth(b.web)},
                            urlencode({"token": access[i % len(access)],
                                       "token_type_hint": "access_token"}))
                for i in range(n)]
    if name == "jwks":
        return [app.environ("GET", "/.well-known/jwks.json") for _ in range(n)]
    if name == "password":
        return [app.environ("POST", "/oauth/token", {"Authorization": b.auth(b.pwd)},
                            urlencode({"grant_type": "password", "username": harness.USERNAME,
                                       "password": harness.PASSWORD,
                                       "scope": harness.PASSWORD_SCOPE}))
                for _ in range(n)]
    raise ValueError(name)


def run_all(app: App, environs: list[dict], pools: dict, collect: bool) -> None:
    import json

    for environ in environs:
        status, body, _ = app.call(environ)
        if not status.startswith("200"):
            raise SystemExit(f"unexpected {status}: {body[:300]!r}")
        if collect:
            data = json.loads(body)
            if "refresh_token" in data:
                pools["refresh"].append(data["refresh_token"])
            pools["access"].append(data["access_token"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", action="store_true")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--requests", type=int, default=1000, help="per measurement")
    parser.add_argument("--top", type=int, default=25, help="functions by own time")
    parser.add_argument("--dump", help="directory for .pstats files (snakeviz, pstats)")
    args = parser.parse_args()
    names = [s for s in args.scenarios.split(",") if s]
    tmp = Path(tempfile.mkdtemp(prefix="idp-profile-"))
    fake = argparse.Namespace(port=0, workers=1, server_args="", server_cmd=None, pg=args.pg)
    try:
        with harness.database(args.pg, tmp) as db_url:
            bench = harness.Bench(fake, tmp, db_url)
            bench.provision()
            app = App(bench)
            result = profile(app, names, args)
            app.dispose()
            return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def profile(app: App, names: list[str], args) -> int:
    n = args.requests
    pools: dict = {"cookie": app.session_cookie(), "refresh": [], "access": []}
    # Warm up every path once (imports, key cache, prepared statements), and fill the
    # pools the later scenarios need: real tokens from real code redemptions.
    need = 2 * n + 50 if "refresh_token" in names else 100
    warm = scenario_environs(app, "authorization_code", need, pools)
    run_all(app, warm, pools, collect=True)
    for name in names:
        if name not in ("authorization_code", "refresh_token"):
            run_all(app, scenario_environs(app, name, 20 if name != "password" else 3, pools),
                    pools, collect=False)
    print(f"database: {app.bench.db_url}")
    print(f"each measurement: {n} requests through app(environ, start_response), one process")
    if args.dump:
        Path(args.dump).mkdir(parents=True, exist_ok=True)
    summary = []
    for name in names:
        count = max(10, n // 20) if name == "password" else n
        plain = scenario_environs(app, name, count, pools)
        wall, cpu = time.perf_counter(), time.process_time()
        run_all(app, plain, pools, collect=False)
        wall_ms = (time.perf_counter() - wall) * 1000 / count
        cpu_ms = (time.process_time() - cpu) * 1000 / count
        profiled = scenario_environs(app, name, count, pools)
        profiler = cProfile.Profile()
        profiler.enable()
        run_all(app, profiled, pools, collect=False)
        profiler.disable()
        stats = pstats.Stats(profiler)
        total = sum(v[2] for v in stats.stats.values()) * 1000 / count  # type: ignore[attr-defined]
        summary.append((name, wall_ms, cpu_ms))
        print()
        print(f"=== {name}: {wall_ms:.3f} ms/request wall-clock, {cpu_ms:.3f} ms CPU "
              f"({1000 / wall_ms:.0f} req/s on one core, no HTTP server); "
              f"profiled: {total:.3f} ms/request")
        print(f"{'part of the request (cumulative, profiled)':<52} {'ms/req':>8} {'share':>6}")
        for label, ms in breakdown(stats, count):
            print(f"{label:<52} {ms:>8.3f} {ms / total * 100:>5.0f}%")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
        print(f"--- top {args.top} functions by own time (tottime is for all {count} requests)")
        lines = out.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if "ncalls" in line)
        print("\n".join(line[:160] for line in lines[start:] if line.strip()))
        if args.dump:
            profiler.dump_stats(str(Path(args.dump) / f"{name}.pstats"))
    print()
    print(f"{'scenario':<22} {'wall ms/req':>12} {'CPU ms/req':>11} {'req/s/core':>11}")
    for name, wall_ms, cpu_ms in summary:
        print(f"{name:<22} {wall_ms:>12.3f} {cpu_ms:>11.3f} {1000 / cpu_ms:>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
