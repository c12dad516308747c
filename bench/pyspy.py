#!/usr/bin/env python3
"""Where the production server's time goes, sampled with py-spy under the benchmark's load.

py-spy is not a dependency of the project: install it anywhere, e.g.

    python3 -m venv /tmp/scratch && /tmp/scratch/bin/pip install py-spy
    .venv/bin/python bench/pyspy.py --py-spy /tmp/scratch/bin/py-spy
    .venv/bin/python bench/pyspy.py --py-spy … --only client_credentials,authorization_code --pg
    .venv/bin/python bench/pyspy.py --analyze /tmp/cc.raw          # an existing raw profile

The server runs exactly as in ``bench/run.py`` (granian, 2 workers, ``make serve``
settings); while wrk drives one scenario, py-spy samples every worker (``--subprocesses``,
idle time excluded). Each sample is charged to one part of the request path: the first
part in PARTS (top to bottom) that appears anywhere on its stack, so nested parts are
charged to the part listed first (an ID token's RSA signature counts as "ID token").
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness

# (part, substrings of a py-spy frame "function (file:line)"); first match wins.
PARTS = [
    ("password check (argon2id)", ["verify_password (idp/security/passwords.py"]),
    ("ID token: claims + RS256 signature", ["build (idp/oauth/id_token.py"]),
    ("access token: JWT encode + Ed25519 signature", ["sign (idp/oauth/keys.py"]),
    ("code claim: UPDATE + SELECT authorization_codes",
     ["query_authorization_code (idp/oauth/grants/authorization_code.py"]),
    ("refresh claim: UPDATE + SELECT tokens",
     ["authenticate_refresh_token (idp/oauth/grants/refresh_token.py"]),
    ("client lookup: SELECT clients (query_client)", ["query_client (idp/oauth/server.py"]),
    ("client secret check (SHA-256)", ["check_client_secret (idp/models/client.py"]),
    ("user lookup (SELECT users)", ["authenticate_user (idp/oauth/grants/"]),
    ("organization lookups (orgs service)", ["(idp/services/orgs.py"]),
    ("consent check", ["(idp/services/consent.py"]),
    ("userinfo: token check (JWT verify + SELECT tokens)",
     ["authenticate_token (idp/oauth/bearer.py"]),
    ("userinfo: claims", ["userinfo (idp/oauth/userinfo.py"]),
    ("introspection: token lookup (JWT verify + SELECT)", ["find (idp/oauth/token_lookup.py"]),
    ("introspection: payload (+ SELECT users)",
     ["introspect_token (idp/oauth/introspection.py"]),
    ("DB commit (ORM flush: INSERT/UPDATE, then COMMIT)", ["Session.commit (sqlalchemy/orm"]),
    ("DB rollback (error path)", ["Session.rollback (sqlalchemy/orm"]),
    ("Authlib: building its request object (form parse)",
     ["create_oauth2_request (authlib", "create_json_request (authlib"]),
    ("tokens.issue: claims dict + Token row", ["issue (idp/oauth/tokens.py"]),
    ("tokens.save: INSERT tokens (before the commit)", ["save (idp/oauth/tokens.py"]),
    ("flask-limiter checks", ["(flask_limiter/"]),
    ("Authlib: rest of the grant/endpoint logic", ["(authlib/"]),
    ("Flask-Login user loader (session cookie)", ["(flask_login/"]),
    ("teardown: scoped session remove (connection back to pool, ROLLBACK)",
     ["_teardown_session (flask_sqlalchemy", "scoped_session.remove (sqlalchemy"]),
    ("host check + security headers", ["(idp/security/headers.py"]),
    ("JSON responses (jsonify / json.dumps)", ["jsonify (flask", "dumps (json/"]),
    ("idp views (other)", ["(idp/views/"]),
    ("Flask/Werkzeug request handling (context, routing, response)",
     ["Flask.wsgi_app (flask/app.py"]),
    ("fast client_credentials path: group commit", ["(idp/oauth/group_commit.py"]),
    ("fast client_credentials path: other", ["(idp/oauth/fast_token.py"]),
    ("granian: access log line", ["(granian/log.py", "(logging/"]),
    ("granian: WSGI glue (environ, response)", ["(granian/"]),
]

# Cross-cutting totals: a sample counts in each whose substring is anywhere on its stack.
TOTALS = [
    ("any SQLAlchemy / DB driver work", ["(sqlalchemy/", "(psycopg/", "sqlite3"]),
    ("  of which the DB driver itself (execute/commit/fetch)",
     ["do_execute (sqlalchemy/engine/default.py", "do_commit (sqlalchemy", "do_rollback "
      "(sqlalchemy", "(psycopg/"]),
    ("joserfc (JWS/JWT encode and decode)", ["(joserfc/"]),
    ("flask-limiter", ["(flask_limiter/"]),
    ("Flask + Werkzeug frames on top of the app (incl. everything below them)",
     ["Flask.wsgi_app (flask/app.py"]),
    ("the server outside the WSGI call", None),
]


# The rate-limit decorator wraps every limited view: its own frame is not limiter work.
WRAPPER = re.compile(r"RouteLimit\.__call__\.<locals>\.__inner \(flask_limiter/[^)]*\);?")


def analyze(raw: Path) -> str:
    parts: collections.Counter[str] = collections.Counter()
    totals: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        stack = WRAPPER.sub("", stack)
        samples += count
        part = next((name for name, needles in PARTS
                     if any(n in stack for n in needles)), "other")
        parts[part] += count
        for name, needles in TOTALS:
            if needles is None:
                hit = "Flask.__call__ (flask/app.py" not in stack
            else:
                hit = any(n in stack for n in needles)
            if hit:
                totals[name] += count
    if not samples:
        return "no samples"
    lines = [f"{samples} samples (busy time only)",
             f"{'part of the request path (exclusive, first match in the list)':<72} {'share':>6}"]
    for name, _ in [*PARTS, ("other", None)]:
        if parts[name]:
            lines.append(f"  {name:<70} {parts[name] / samples * 100:>5.1f}%")
    lines.append(f"{'cross-cutting totals (inclusive)':<72} {'share':>6}")
    for name, _ in TOTALS:
        lines.append(f"  {name:<70} {totals[name] / samples * 100:>5.1f}%")
    return "\n".join(lines)


def drill(raw: Path, needle: str, depth: int = 1, top: int = 12) -> str:
    """Below the first frame containing ``needle``: shares by the frame ``depth`` levels
    down, and by leaf function (where the CPU actually was)."""
    by_child: collections.Counter[str] = collections.Counter()
    by_leaf: collections.Counter[str] = collections.Counter()
    samples = inside = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = WRAPPER.sub("", stack).split(";")
        at = next((i for i, f in enumerate(frames) if needle in f), None)
        if at is None:
            continue
        inside += count
        below = frames[at + 1:at + 1 + depth]
        by_child[" > ".join(f.split(" (")[0] for f in below) or "(itself)"] += count
        by_leaf[frames[-1].split(" (")[0]] += count
    if not inside:
        return f"no sample has {needle!r}"
    lines = [f"{needle!r}: {inside / samples * 100:.1f}% of {samples} samples"]
    for title, counter in ((f"by the frame{'s' if depth > 1 else ''} below it", by_child),
                           ("by leaf function", by_leaf)):
        lines.append(f"  {title}:")
        for name, count in counter.most_common(top):
            lines.append(f"    {count / samples * 100:5.1f}%  {name}")
    return "\n".join(lines)


class SampledBench(harness.Bench):
    """The benchmark, with py-spy sampling the workers during each measured run."""

    def __init__(self, *a, py_spy: str, out_dir: Path, **kw):
        super().__init__(*a, **kw)
        self.py_spy, self.out_dir = py_spy, out_dir
        self.profiles: list[tuple[str, Path]] = []

    def wrk(self, name, url, seconds, connections, **settings):
        if name in ("authorize", "prepare", "warm-up") or seconds > 300:
            return super().wrk(name, url, seconds, connections, **settings)
        raw = self.out_dir / f"{name.replace(' ', '_')}.raw"
        spy = subprocess.Popen(
            [self.py_spy, "record", "--pid", str(self.server.proc.pid), "--subprocesses",
             "--rate", "200", "--duration", str(max(1, int(seconds) - 1)), "--format", "raw",
             "--output", str(raw), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        try:
            return super().wrk(name, url, seconds, connections, **settings)
        finally:
            spy.wait(timeout=120)
            if raw.exists():
                self.profiles.append((name, raw))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy executable")
    parser.add_argument("--analyze", nargs="*", help="only analyze these raw py-spy files")
    parser.add_argument("--drill", action="append", default=[],
                        help="with --analyze: what runs below frames containing this text")
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--only", default="client_credentials,authorization_code,refresh_token,"
                        "userinfo,introspection,logins")
    parser.add_argument("--pg", action="store_true")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--out", default=None, help="keep the raw profiles in this directory")
    args = parser.parse_args()
    if args.analyze:
        for raw in args.analyze:
            print(f"=== {raw}")
            print(analyze(Path(raw)))
            for needle in args.drill:
                print(drill(Path(raw), needle, args.depth))
        return 0

    import shlex
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="idp-pyspy-"))
    out_dir = Path(args.out) if args.out else tmp
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = argparse.Namespace(
        pg=args.pg, port=0, workers=2, server_args="", server_cmd=None,
        duration=args.duration, warmup=3.0, connections=16, pool_factor=1.5, wait_quiet=0,
        rounds=1)
    only = [s for s in args.only.split(",") if s]
    try:
        with harness.database(args.pg, tmp) as db_url:
            bench = SampledBench(settings, tmp, db_url, py_spy=args.py_spy, out_dir=out_dir)
            bench.provision()
            print("server: " + " ".join(shlex.quote(c) for c in bench.server.cmd))
            bench.server.start()
            try:
                bench.login()
                bench.warm_up()
                for name in only:
                    bench.run_scenario(name)
            finally:
                bench.server.stop()
        for result in bench.results:
            print(f"\n=== {result.name}: {result.rps:.1f} req/s under py-spy, "
                  f"server CPU {result.server_cpu_ms:.2f} ms/request "
                  f"(other processes: {result.other_cpu_pct:.0f} % CPU)")
            raw = dict(bench.profiles).get(result.name)
            print(analyze(raw) if raw else "no profile")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the database; profiles kept in --out
    return 0


if __name__ == "__main__":
    sys.exit(main())
