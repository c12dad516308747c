#!/usr/bin/env python3
"""The benchmark behind ``make bench``: the production server under a real load generator.

    make bench                          # SQLite, every scenario
    make bench ARGS="--pg"              # the same on a fresh PostgreSQL database
    make bench ARGS="--rows 1000000"    # after a million issued tokens' rows
    make bench ARGS="--flat"            # issuance/introspection/userinfo: empty vs 1M tokens
    make bench ARGS="--starvation"      # token p99 while password logins run flat out
    make bench ARGS="--peer"            # compare-token.sh against node-oidc-provider

What it does, in order:

1. a fresh database (a SQLite file in a temporary directory, or with ``--pg`` a
   new PostgreSQL database, dropped at the end), ``flask idp init``, then the
   users and clients it needs, created with ``flask idp … create --json``;
2. the server exactly as ``make serve`` starts it (granian, 2 workers of 16 threads,
   JSON access log) on a free port, with the issuer
   ``http://127.0.0.1:PORT``;
3. for each scenario, ``wrk -t1 -c16 -d8s --latency`` driven by ``bench/request.lua``;
   codes, refresh tokens and access tokens are real ones the server issued just
   before (each code and refresh token is used exactly once);
4. a table: requests/s, p50, p99, failures, the workers' resident memory.

The rate limits (``IDP_RATE_LIMIT_*``) are raised to 1000000/second: they only count
failed requests, of which there should be none, but the password-login scenarios
must not trip them if some do fail.

Timings are noisy on a small machine: compare numbers from the same run only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import random
import re
import resource
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import requests

from idp.access_log import ACCESS_LOG_FORMAT  # the Makefile's, for the fallback command

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "bench"
LUA = HERE / "request.lua"
BIN = Path(sys.executable).parent  # the virtualenv's console scripts
PEER_SCRIPT = ROOT.parent / "shared" / "bench" / "compare-token.sh"
PG_ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

HIGH_LIMIT = "1000000/second"
REDIRECT_URI = "http://127.0.0.1:8765/cb"
USERNAME = "bench-user"
PASSWORD = "bench-password-0123456789"
WEB_SCOPE = "openid profile email offline_access"
PASSWORD_SCOPE = "openid profile email"
SCENARIOS = ("client_credentials", "authorization_code", "refresh_token", "userinfo",
             "introspection", "jwks", "logins")
FLAT_SCENARIOS = ("client_credentials", "introspection", "userinfo")


def log(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


# -- wrk ------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    seconds: float = 0.0
    non2xx: int = 0
    socket_errors: int = 0
    rss_mib: list[float] = field(default_factory=list)
    server_cpu_ms: float = 0.0  # server CPU time (all workers) per completed request
    db_cpu_ms: float = 0.0  # PostgreSQL's CPU time per completed request (--pg)
    other_cpu_pct: float = 0.0  # CPU busy with processes that are not this benchmark
    note: str = ""
    raw: str = ""

    @property
    def failed(self) -> int:
        return self.non2xx + self.socket_errors


PREPARE_SECONDS = 20  # codes live 60 s: prepared ones are at most this old when used
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(name: str, output: str) -> Result:
    result = Result(name, raw=output)
    if m := re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", output):
        result.requests = int(m.group(1))
        result.seconds = float(m.group(2)) * _UNITS_MS[m.group(3)] / 1000
    if m := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result.rps = float(m.group(1))
    for pct, attr in (("50", "p50_ms"), ("99", "p99_ms")):
        if m := re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M):
            setattr(result, attr, float(m.group(1)) * _UNITS_MS[m.group(2)])
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        result.non2xx = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                      output):
        result.socket_errors = sum(int(g) for g in m.groups())
    return result


def wrk_command(url: str, seconds: float, connections: int, threads: int = 1) -> list[str]:
    return ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
            "--timeout", "30s", "-s", str(LUA), url]


def wrk_env(threads: int, **settings: str | int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env["BENCH_THREADS"] = str(threads)
    env.update({f"BENCH_{k.upper()}": str(v) for k, v in settings.items() if v is not None})
    return env


def run_wrk(name: str, url: str, seconds: float, connections: int, threads: int = 1,
            **settings) -> Result:
    cmd = wrk_command(url, seconds, connections, threads)
    done = subprocess.run(cmd, env=wrk_env(threads, **settings), capture_output=True,
                          text=True, timeout=seconds + 120, check=False)
    if "Requests/sec" not in done.stdout:
        raise SystemExit(f"wrk failed ({name}): {done.stdout}\n{done.stderr}")
    return parse_wrk(name, done.stdout)


def start_wrk(url: str, seconds: float, connections: int, threads: int = 1,
              **settings) -> subprocess.Popen:
    return subprocess.Popen(wrk_command(url, seconds, connections, threads),
                            env=wrk_env(threads, **settings), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_captures(out: Path) -> list[list[str]]:
    lines: list[list[str]] = []
    for part in sorted(out.parent.glob(out.name + ".*")):
        lines += [line.split(" ") for line in part.read_text().splitlines() if line]
        part.unlink()
    return lines


def basic(client_id: str, secret: str) -> str:
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


FORM = "application/x-www-form-urlencoded"


# -- the database, the CLI, the server ---------------------------------------------------


@contextmanager
def database(pg: bool, tmp: Path) -> Iterator[str]:
    """A fresh database for this run; its SQLAlchemy URL."""
    if not pg:
        yield f"sqlite:///{tmp / 'idp.sqlite3'}"
        return
    import psycopg

    name = f"idp_bench_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([str(BIN / "flask"), "--app", "app", "idp", *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"flask idp {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def cli_json(env: dict[str, str], *args: str, stdin: str | None = None) -> dict:
    return json.loads(cli(env, *args, "--json", stdin=stdin).strip().splitlines()[-1])


def children(pid: int) -> list[int]:
    """Every descendant process of ``pid``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = sorted(p for p, pp in parents.items() if pp == current)
        found += kids
        frontier += kids
    return found


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU time the whole machine spent busy (not idle or waiting for I/O), all CPUs."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def process_cpu(pids) -> dict[int, float]:
    """CPU seconds (user + system) of each process still alive."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    return found


def process_cpu_seconds(pids: list[int]) -> float:
    return sum(process_cpu(pids).values())


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def own_cpu_seconds() -> float:
    """This process and its waited-for children (wrk, the CLI, the argon2 probe)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class CpuMeter:
    """Server CPU per request, and how busy the rest of the machine was meanwhile."""

    def __init__(self, server: Server, also_ours: list[int] = (), pg: bool = False):
        self.server, self.also_ours, self.pg = server, list(also_ours), pg
        self.pids = [server.proc.pid, *server.worker_pids()] if server.proc else []
        self.wall = time.monotonic()
        self.busy, self.srv = busy_seconds(), process_cpu_seconds(self.pids)
        self.own = own_cpu_seconds() + process_cpu_seconds(self.also_ours)
        self.db = process_cpu(postgres_pids()) if pg else {}

    def stop(self, result: Result) -> Result:
        wall = time.monotonic() - self.wall
        busy = busy_seconds() - self.busy
        srv = process_cpu_seconds(self.pids) - self.srv
        own = own_cpu_seconds() + process_cpu_seconds(self.also_ours) - self.own
        db = 0.0
        if self.pg:  # PostgreSQL is part of the system under test, not "other"
            db = sum(t - self.db.get(pid, 0.0) for pid, t in process_cpu(postgres_pids()).items())
        if result.requests:
            result.server_cpu_ms = srv * 1000 / result.requests
            result.db_cpu_ms = db * 1000 / result.requests
        cores = len(os.sched_getaffinity(0))
        result.other_cpu_pct = max(0.0, (busy - srv - own - db) / (wall * cores) * 100)
        return result


def serve_command(port: int, workers: int) -> tuple[list[str], str]:
    """The server command of ``make serve`` (its last recipe line, from ``make -n``), so the
    benchmark follows the Makefile; ``flask idp init`` before it is run by the provisioning."""
    fallback = [str(BIN / "granian"), "--interface", "wsgi", "--host", "0.0.0.0",  # noqa: S104
                "--port",
                str(port), "--workers", str(workers), "--blocking-threads", "16", "--no-ws",
                "--access-log", "--access-log-fmt", ACCESS_LOG_FORMAT,
                "--log-config", "logging.json", "app:app"]
    try:
        done = subprocess.run(["make", "-n", "-s", "--no-print-directory", "serve",
                               f"PORT={port}", f"WORKERS={workers}"], cwd=ROOT,
                              capture_output=True, text=True, timeout=30, check=True)
        recipe = done.stdout.replace("\\\n", " ")  # continued lines are one command
        line = [x for x in recipe.splitlines() if x.strip()][-1].strip()
    except (subprocess.SubprocessError, IndexError, OSError):
        return fallback, "built in (make -n serve failed)"
    if str(port) not in line or "idp init" in line:
        return fallback, f"built in (unexpected make -n serve output: {line!r})"
    if re.search(r"[;&|$`<>()]", re.sub(r"'[^']*'", "", line)):  # shell syntax: let a shell run it
        return ["sh", "-c", "exec " + line.removeprefix("exec ")], "make -n serve"
    return shlex.split(line), "make -n serve"


class Server:
    """The production server, started the way ``make serve`` starts it."""

    def __init__(self, env: dict[str, str], port: int, workers: int, log_path: Path,
                 extra_args: list[str], command: str | None, without: str = ""):
        self.env, self.port, self.workers, self.log_path = env, port, workers, log_path
        if command:  # another WSGI server, for comparison only
            self.cmd = shlex.split(command.format(port=port, workers=workers, bin=BIN))
            self.origin = "--server-cmd (EXPERIMENT, not make serve)"
        else:
            self.cmd, self.origin = serve_command(port, workers)
            if extra_args:  # before the last argument, the app
                self.cmd[-1:-1] = extra_args
                self.origin += " + --server-args (EXPERIMENT)"
        if without:  # the same server, serving the app with parts taken out
            if self.cmd[-1] != "app:app":
                raise SystemExit(f"--without needs a server command ending in app:app: {self.cmd}")
            self.cmd[-1] = "bench.lower_bound:app"
            self.env = {**env, "BENCH_WITHOUT": without}
            self.origin += f" + --without {without} (LOWER BOUND, not an option)"
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200 and \
                        len(self.leaf_pids()) >= self.workers:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"the server did not answer:\n{self.log_path.read_text()[-3000:]}")
        time.sleep(1.0)  # let the last worker finish importing the app

    def worker_pids(self) -> list[int]:
        """Every process below the one started (the server's main process and workers)."""
        return children(self.proc.pid) if self.proc else []

    def leaf_pids(self) -> list[int]:
        """The processes that serve requests: those without children of their own."""
        found = self.worker_pids()
        return [pid for pid in found if not children(pid)]

    def rss_mib(self) -> dict[int, tuple[float, float]]:
        out = {}
        for pid in self.leaf_pids():
            try:
                rss, hwm = memory_kib(pid)
            except OSError:
                continue
            out[pid] = (rss / 1024, hwm / 1024)
        return out

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


# -- synthetic rows ----------------------------------------------------------------------
#
# Access tokens are self-contained: issuing one writes nothing. What a million
# issued tokens leave behind is what can be revoked: the refresh families of the
# user tokens (``grants``), the refresh tokens rotated away (``used_refresh_tokens``)
# and the access tokens revoked on their own (``revoked_tokens``). Half the
# synthetic tokens are a user's, each from a family of its own (the worst case for
# the table), 60 % of those families rotated once, 2 % of all tokens revoked; the
# other half are client_credentials tokens, which leave nothing.

GRANT_COLUMNS = ("id", "root_id", "client_id", "user_id", "grant_type", "scope", "resources",
                 "org_id", "sid", "offline", "auth_time", "created_at", "expires_at",
                 "refresh_digest", "refresh_expires_at", "rotated_at", "revoked_at")
USED_COLUMNS = ("digest", "grant_id", "used_at")
REVOKED_COLUMNS = ("jti", "expires_at")


def synthetic_rows(n: int, web: str, user_id: str, org_id: str | None,
                   ) -> Iterator[tuple[str, tuple]]:
    """``(table, row)`` pairs for ``n`` issued tokens, issued over the last 30 days."""
    rng = random.Random(1234)
    at = int(time.time())
    for i in range(n):
        issued = at - rng.randrange(30 * 86400)
        if i % 50 == 0:
            yield "revoked_tokens", (secrets.token_urlsafe(16), issued + 300)
        if i % 2:
            continue  # a client_credentials token: nothing is written
        grant_id = str(uuid.uuid4())
        rotated = issued + rng.randrange(300, 3600) if rng.random() < 0.6 else None
        revoked = issued + 600 if rng.random() < 0.02 else None
        yield "grants", (grant_id, grant_id, web, user_id, "authorization_code", WEB_SCOPE,
                         "[]", org_id, secrets.token_urlsafe(24), 1,
                         issued - rng.randrange(3600), issued, issued + 30 * 86400,
                         hashlib.sha256(os.urandom(32)).hexdigest(), issued + 30 * 86400,
                         rotated, revoked)
        if rotated:
            yield "used_refresh_tokens", (hashlib.sha256(os.urandom(32)).hexdigest(),
                                          grant_id, rotated)


COLUMNS = {"grants": GRANT_COLUMNS, "used_refresh_tokens": USED_COLUMNS,
           "revoked_tokens": REVOKED_COLUMNS}


def insert_tokens(db_url: str, n: int, web: str, user_id: str, org_id: str | None) -> float:
    """Bulk-insert what ``n`` issued tokens leave behind; the seconds it took."""
    started = time.monotonic()
    tables: dict[str, list[tuple]] = {name: [] for name in COLUMNS}
    for table, row in synthetic_rows(n, web, user_id, org_id):
        tables[table].append(row)
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=60)
        for table, rows in tables.items():
            columns = COLUMNS[table]
            sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' * len(columns))})")
            for first in range(0, len(rows), 50_000):
                with conn:
                    conn.executemany(sql, rows[first:first + 50_000])
        # The bulk load went to the write-ahead log; fold it into the database
        # as the next quiet moment's checkpoint would, rather than charging
        # the first measured requests for it.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("ANALYZE")
        conn.commit()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
            for table, rows in tables.items():
                with conn.cursor() as cur, cur.copy(
                        f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            conn.commit()
            conn.autocommit = True
            conn.execute("ANALYZE")  # what autovacuum does soon after a bulk load
    return time.monotonic() - started


def count_rows(db_url: str) -> int:
    """Rows in the tables issued tokens leave behind."""
    query = " + ".join(f"(SELECT count(*) FROM {table})" for table in COLUMNS)
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=60)
        try:
            return conn.execute(f"SELECT {query}").fetchone()[0]
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return conn.execute(f"SELECT {query}").fetchone()[0]


# -- the benchmark -----------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, db_url: str):
        self.args, self.tmp, self.db_url = args, tmp, db_url
        self.port = args.port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PYTHONDONTWRITEBYTECODE": "1",
            "IDP_DATABASE_URL": db_url,
            "IDP_ISSUER": self.issuer,
            "IDP_SECRET_KEY": secrets.token_urlsafe(48),
            "IDP_RATE_LIMIT_TOKEN_IP": HIGH_LIMIT,
            "IDP_RATE_LIMIT_LOGIN_IP": HIGH_LIMIT,
            "IDP_RATE_LIMIT_LOGIN_ACCOUNT": HIGH_LIMIT,
        }
        self.server = Server(self.env, self.port, args.workers, tmp / "server.log",
                             shlex.split(args.server_args), args.server_cmd,
                             getattr(args, "without", ""))  # the other tools leave it out
        self.results: list[Result] = []
        self.access_pool: list[str] = []
        self.refresh_pool: list[str] = []
        self.cookie = ""
        self.code = "unknown"
        self.cc_estimate = 0.0

    # set-up ------------------------------------------------------------------

    def provision(self) -> None:
        env = self.env
        cli(env, "init")
        org = cli_json(env, "orgs", "create", "bench", "--name", "Benchmark")
        user = cli_json(env, "users", "create", USERNAME, "--email", f"{USERNAME}@example.com",
                        "--given-name", "Bench", "--family-name", "User", "--email-verified",
                        "--password-stdin", stdin=PASSWORD + "\n")
        cli(env, "orgs", "add-member", "bench", USERNAME)
        self.org_id, self.user_id = org["id"], user["id"]
        # A PrivX-style service bound to its organization: client_credentials only.
        self.svc = cli_json(env, "clients", "create", "--name", "Bench service",
                            "--client-id", "bench-svc", "--grant-type", "client_credentials",
                            "--scope", "api:read api:write", "--org", "bench")
        # A confidential web app: code + refresh, no consent page; access tokens live an
        # hour so the userinfo/introspection pools outlast a long run.
        self.web = cli_json(env, "clients", "create", "--name", "Bench web",
                            "--client-id", "bench-web", "--redirect-uri", REDIRECT_URI,
                            "--grant-type", "authorization_code", "--grant-type", "refresh_token",
                            "--scope", WEB_SCOPE, "--skip-consent", "--access-token-ttl", "3600")
        # A PrivX "external" client: the password grant.
        self.pwd = cli_json(env, "clients", "create", "--name", "Bench password",
                            "--client-id", "bench-pwd", "--grant-type", "password",
                            "--scope", PASSWORD_SCOPE)

    def auth(self, client: dict) -> str:
        return basic(client["client_id"], client["client_secret"])

    def login(self) -> None:
        """Sign in through the login page; the session cookie drives /oauth/authorize."""
        with requests.Session() as browser:
            page = browser.get(self.issuer + "/login", timeout=30)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
            if token is None:
                raise SystemExit("no CSRF token on /login")
            done = browser.post(self.issuer + "/login", timeout=30, allow_redirects=False,
                                data={"username": USERNAME, "password": PASSWORD,
                                      "csrf_token": token.group(1)})
            if done.status_code not in (302, 303):
                raise SystemExit(f"login failed: {done.status_code} {done.text[:300]}")
            self.cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)

    def wrk(self, name: str, url: str, seconds: float, connections: int, quiet: bool = True,
            **settings) -> Result:
        if quiet:
            wait_quiet(self.args.wait_quiet)
        meter = CpuMeter(self.server, pg=self.args.pg)
        return meter.stop(run_wrk(name, url, seconds, connections, **settings))

    # preparing codes and tokens ------------------------------------------------

    def harvest_codes(self, n: int) -> tuple[list[str], float]:
        """Up to ``n`` fresh codes from /oauth/authorize, signed in, at full speed (wrk),
        for at most ``PREPARE_SECONDS``: codes live 60 s, and authorize is much slower
        than the client_credentials rate that sizes the pool."""
        query = urlencode({"response_type": "code", "client_id": self.web["client_id"],
                           "redirect_uri": REDIRECT_URI, "scope": WEB_SCOPE, "state": "bench"})
        out = self.tmp / "codes"
        started = time.monotonic()
        result = self.wrk("authorize", f"{self.issuer}/oauth/authorize?{query}",
                          PREPARE_SECONDS, 8,
                         quiet=False, cookie=self.cookie, header="Location",
                         pattern="[?&]code=([^&]+)", out=out, limit=n)
        took = time.monotonic() - started
        codes = [line[0] for line in read_captures(out)]
        log(f"prepared {len(codes)} codes in {took:.1f}s ({result.rps:.0f}/s through "
            f"/oauth/authorize, {result.failed} failed)")
        if not codes:
            raise SystemExit(f"no codes:\n{result.raw}")
        return codes, took

    def redeem(self, codes: list[str], seconds: float, name: str = "authorization_code",
               connections: int | None = None) -> Result:
        pool = self.tmp / "code-pool"
        pool.write_text("\n".join(codes) + "\n")
        out = self.tmp / "code-tokens"
        body = ("grant_type=authorization_code&code={}&redirect_uri="
                + quote(REDIRECT_URI, safe=""))
        # No waiting between preparing and redeeming: codes live IDP_CODE_TTL (60 s).
        result = self.wrk(name, self.issuer + "/oauth/token", seconds,
                         connections or self.args.connections, quiet=False, method="POST",
                         body=body, ct=FORM,
                         auth=self.auth(self.web), pool=pool, fields="access_token,refresh_token",
                         out=out)
        self._collect(read_captures(out))
        return result

    def _collect(self, captured: list[list[str]]) -> None:
        for access, refresh in captured:
            if access != "-":
                self.access_pool.append(access)
            if refresh != "-":
                self.refresh_pool.append(refresh)

    def ensure_access_pool(self, n: int = 500) -> None:
        if len(self.access_pool) >= n:
            return
        codes, _ = self.harvest_codes(n + 50)  # the last few in flight are not captured
        self.redeem(codes, 600, "prepare", connections=8)
        log(f"prepared {len(self.access_pool)} access tokens")

    def code_pool_size(self) -> int:
        """Enough codes for the run at the warm-up's client_credentials rate × pool factor
        (redemption is slower); never more than ~20 s of preparing, as codes live 60 s.
        A pool used up early ends the run early, with a correct rate."""
        rate = max(self.cc_estimate, 100.0)
        return int(min(rate * self.args.duration * self.args.pool_factor, rate * 20)) + 200

    # scenarios ------------------------------------------------------------------

    def record(self, result: Result) -> Result:
        rss = self.server.rss_mib()
        result.rss_mib = [rss[pid][0] for pid in sorted(rss)]
        self.results.append(result)
        log(f"{result.name}: {result.rps:.1f} req/s, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms, {result.requests} requests, {result.failed} failed"
            + (f" ({result.note})" if result.note else ""))
        return result

    def client_credentials(self, name: str = "client_credentials", seconds: float | None = None,
                           connections: int | None = None, **extra) -> Result:
        return self.wrk(name, self.issuer + "/oauth/token", seconds or self.args.duration,
                       connections or self.args.connections, method="POST",
                       body="grant_type=client_credentials", ct=FORM, auth=self.auth(self.svc),
                       **extra)

    def warm_up(self) -> None:
        result = self.client_credentials("warm-up", seconds=self.args.warmup)
        self.cc_estimate = result.rps
        log(f"warm-up: client_credentials {result.rps:.0f} req/s")

    def run_authorization_code(self) -> Result:
        wait_quiet(self.args.wait_quiet)
        codes, took = self.harvest_codes(self.code_pool_size())
        result = self.redeem(codes, self.args.duration)
        used = result.requests
        result.note = f"{len(codes)} codes prepared in {took:.0f}s"
        if result.seconds < self.args.duration - 0.5:
            result.note += f"; pool used up after {result.seconds:.1f}s"
        if result.failed:
            result.note += f"; {result.failed} of {used} failed"
        return self.record(result)

    def run_refresh(self) -> Result:
        if not self.refresh_pool:
            codes, _ = self.harvest_codes(self.code_pool_size())
            self.redeem(codes, 600, "prepare", connections=8)
        pool_tokens, self.refresh_pool = self.refresh_pool, []
        pool = self.tmp / "refresh-pool"
        pool.write_text("\n".join(pool_tokens) + "\n")
        out = self.tmp / "refresh-tokens"
        result = self.wrk("refresh_token", self.issuer + "/oauth/token", self.args.duration,
                         self.args.connections, method="POST",
                         body="grant_type=refresh_token&refresh_token={}", ct=FORM,
                         auth=self.auth(self.web), pool=pool, fields="access_token,refresh_token",
                         out=out)
        self._collect(read_captures(out))
        result.note = f"{len(pool_tokens)} refresh tokens prepared"
        if result.seconds < self.args.duration - 0.5:
            result.note += f"; pool used up after {result.seconds:.1f}s"
        return self.record(result)

    def _pool_file(self, name: str, values: list[str], n: int = 1000) -> Path:
        path = self.tmp / name
        path.write_text("\n".join(values[-n:]) + "\n")
        return path

    def run_userinfo(self, name: str = "userinfo") -> Result:
        self.ensure_access_pool()
        pool = self._pool_file("access-pool", self.access_pool)
        result = self.wrk(name, self.issuer + "/oauth/userinfo", self.args.duration,
                         self.args.connections, auth="Bearer {}", pool=pool, cycle=1)
        result.note = f"{min(len(self.access_pool), 1000)} access tokens, cycled"
        return self.record(result)

    def run_introspection(self, name: str = "introspection") -> Result:
        self.ensure_access_pool()
        pool = self._pool_file("access-pool", self.access_pool)
        result = self.wrk(name, self.issuer + "/oauth/introspect", self.args.duration,
                         self.args.connections, method="POST",
                         body="token={}&token_type_hint=access_token", ct=FORM,
                         auth=self.auth(self.web), pool=pool, cycle=1)
        result.note = f"{min(len(self.access_pool), 1000)} access tokens, cycled"
        return self.record(result)

    def run_jwks(self) -> Result:
        return self.record(self.wrk("jwks", self.issuer + "/.well-known/jwks.json",
                                   self.args.duration, self.args.connections))

    def password_settings(self) -> dict:
        body = urlencode({"grant_type": "password", "username": USERNAME, "password": PASSWORD,
                          "scope": PASSWORD_SCOPE})
        return {"method": "POST", "body": body, "ct": FORM, "auth": self.auth(self.pwd)}

    def run_logins(self) -> None:
        wait_quiet(self.args.wait_quiet)
        self.hash_rate, self.hash_cpu_rate = argon2_rate(self.args.duration / 2)
        log(f"argon2id verify in-process: {self.hash_rate:.1f}/s wall-clock, "
            f"{self.hash_cpu_rate:.1f} per CPU-second")
        result = self.wrk("password (HTTP)", self.issuer + "/oauth/token", self.args.duration,
                         self.args.connections, **self.password_settings())
        result.note = "grant_type=password, argon2id verify + ID token"
        self.login_result = self.record(result)

    def run_scenario(self, name: str) -> None:
        if name == "client_credentials":
            self.record(self.client_credentials())
        elif name == "authorization_code":
            self.run_authorization_code()
        elif name == "refresh_token":
            self.run_refresh()
        elif name == "userinfo":
            self.run_userinfo()
        elif name == "introspection":
            self.run_introspection()
        elif name == "jwks":
            self.run_jwks()
        elif name == "logins":
            self.run_logins()

    # modes ------------------------------------------------------------------------

    def flat(self) -> list[tuple[str, Result, Result]]:
        """Issuance, introspection and userinfo with an empty table, then with N rows."""
        self.ensure_access_pool()
        before = [self._flat_one(name, "empty") for name in FLAT_SCENARIOS]
        rows = self.args.flat_rows
        log(f"writing what {rows:,} issued tokens leave behind…")
        took = insert_tokens(self.db_url, rows, self.web["client_id"], self.user_id,
                             self.org_id)
        total = count_rows(self.db_url)
        log(f"done in {took:.0f}s; grants, used refresh tokens and revoked jtis: {total:,} rows")
        self.flat_note = (f"{rows:,} issued tokens' rows written in {took:.0f}s: "
                          f"{total:,} rows in grants, used_refresh_tokens, revoked_tokens")
        after = [self._flat_one(name, f"{rows:,} rows") for name in FLAT_SCENARIOS]
        return list(zip(FLAT_SCENARIOS, before, after, strict=True))

    def _flat_one(self, name: str, label: str) -> Result:
        runs = []
        for _ in range(self.args.rounds):
            if name == "client_credentials":
                runs.append(self.record(self.client_credentials(f"{name} [{label}]")))
            elif name == "introspection":
                runs.append(self.run_introspection(f"{name} [{label}]"))
            else:
                runs.append(self.run_userinfo(f"{name} [{label}]"))
        # the median run (the upper median for an even count)
        return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]

    def starvation(self) -> tuple[Result, Result, Result]:
        """client_credentials at a modest rate, alone and beside full-load password logins."""
        modest = {"connections": 2, "delay_ms": self.args.starvation_delay_ms}
        alone = self.record(self.client_credentials("client_credentials -c2 alone", **modest))
        seconds = self.args.duration
        outer = CpuMeter(self.server, pg=self.args.pg)
        logins = start_wrk(self.issuer + "/oauth/token", seconds + 4,
                           self.args.starvation_connections, **self.password_settings())
        time.sleep(2)  # let the login load reach full speed first
        meter = CpuMeter(self.server, also_ours=[logins.pid], pg=self.args.pg)
        beside = meter.stop(run_wrk("client_credentials -c2 beside logins",
                                    self.issuer + "/oauth/token", seconds, 2,
                                    method="POST", body="grant_type=client_credentials", ct=FORM,
                                    auth=self.auth(self.svc),
                                    delay_ms=self.args.starvation_delay_ms))
        beside.server_cpu_ms = 0.0  # the server's CPU went mostly to the logins
        beside.note = "srv CPU not separable from the login load"
        self.record(beside)
        out, _ = logins.communicate(timeout=seconds + 120)
        password = parse_wrk(f"password -c{self.args.starvation_connections} (the load)", out)
        outer.stop(password)  # its server CPU/request also counts the token requests
        password.note = "server CPU/req includes the concurrent token requests"
        self.record(password)
        return alone, beside, password

    def peer(self) -> str:
        cmd = [str(PEER_SCRIPT), self.issuer + "/oauth/token", self.svc["client_id"],
               self.svc["client_secret"], *self.args.peer_args]
        log("running " + " ".join(shlex.quote(c) for c in cmd[:3]) + " CLIENT SECRET …")
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
        return done.stdout + (done.stderr if done.returncode else "")


def wait_quiet(max_wait: float, threshold: float = 15.0) -> None:
    """Wait (at most ``max_wait`` s) until other processes use < ``threshold`` % of the CPUs."""
    if max_wait <= 0:
        return
    cores = len(os.sched_getaffinity(0))
    started = time.monotonic()
    while True:
        busy, own = busy_seconds(), own_cpu_seconds()
        time.sleep(1.0)
        pct = (busy_seconds() - busy - (own_cpu_seconds() - own)) / cores * 100
        waited = time.monotonic() - started
        if pct < threshold or waited >= max_wait:
            if waited > 1.5:
                log(f"waited {waited:.0f}s for a quiet machine (other CPU now {pct:.0f} %)")
            return


def argon2_rate(seconds: float) -> tuple[float, float]:
    """argon2id verifications in one process, as the server does them: per wall-clock
    second and per CPU second (the latter does not depend on what else the machine runs)."""
    code = (
        "import time\n"
        "from idp.security import passwords\n"
        f"h = passwords.hash_password({PASSWORD!r})\n"
        "passwords.verify_password(h, 'warm up')\n"
        "n, t, c = 0, time.perf_counter(), time.process_time()\n"
        f"while time.perf_counter() - t < {seconds}:\n"
        f"    assert passwords.verify_password(h, {PASSWORD!r}); n += 1\n"
        "print(n / (time.perf_counter() - t), n / (time.process_time() - c))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=seconds + 60, check=True)
    wall, cpu = done.stdout.split()
    return float(wall), float(cpu)


# -- the report ---------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = int(line.split()[1]) // 1024
    return (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}, "
            f"{mem / 1024:.1f} GiB RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def versions() -> str:
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    wrk_version = (wrk.stdout or wrk.stderr).split("[")[0].strip()
    import importlib.metadata as md

    names = ("granian", "flask", "authlib", "joserfc", "sqlalchemy", "argon2-cffi")
    installed = []
    for name in names:
        with suppress(md.PackageNotFoundError):
            installed.append(f"{name} {md.version(name)}")
    return f"{wrk_version}; " + ", ".join(installed)


def fmt_rss(values: list[float]) -> str:
    return "/".join(f"{v:.0f}" for v in values) if values else "-"


def table(results: list[Result], pg: bool = False) -> str:
    db_head, db_units = (f" {'db CPU':>7}", f" {'ms/req':>7}") if pg else ("", "")
    head = (f"{'scenario':<38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} "
            f"{'failed':>6} {'srv CPU':>8}{db_head} {'other':>6}  {'RSS/worker':<11} notes")
    units = (f"{'':<38} {'':>8} {'':>8} {'':>8} {'':>9} {'':>6} {'ms/req':>8}{db_units} "
             f"{'CPU%':>6}  {'MiB':<11}")
    lines = [head, units, "-" * len(head)]
    for r in results:
        cpu = f"{r.server_cpu_ms:>8.2f}" if r.server_cpu_ms else f"{'-':>8}"
        db = (f" {r.db_cpu_ms:>7.2f}" if r.server_cpu_ms else f" {'-':>7}") if pg else ""
        lines.append(f"{r.name:<38} {r.rps:>8.1f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} "
                     f"{r.requests:>9} {r.failed:>6} {cpu}{db} "
                     f"{r.other_cpu_pct:>6.0f}  {fmt_rss(r.rss_mib):<11} {r.note}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", action="store_true", help="a fresh PostgreSQL database")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated scenarios, or 'none' (default: all of "
                             f"{', '.join(SCENARIOS)})")
    parser.add_argument("--rows", type=int, default=0,
                        help="synthetic rows in the tokens table before measuring")
    parser.add_argument("--flat", action="store_true",
                        help="client_credentials, introspection, userinfo: empty table vs "
                             "--flat-rows rows, with the ratio")
    parser.add_argument("--flat-rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1,
                        help="--flat: runs per measurement (the median is kept; the upper "
                             "median for an even count)")
    parser.add_argument("--starvation", action="store_true",
                        help="client_credentials p99 while password logins run at full load")
    parser.add_argument("--starvation-connections", type=int, default=16)
    parser.add_argument("--starvation-delay-ms", type=int, default=20,
                        help="think time per connection for the modest token load")
    parser.add_argument("--peer", action="store_true",
                        help=f"run {PEER_SCRIPT} against this server (node-oidc-provider)")
    parser.add_argument("--peer-args", nargs="*", default=[], help="SECONDS ROUNDS for it")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pool-factor", type=float, default=1.0,
                        help="codes prepared = warm-up client_credentials rate × duration × this")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", 2)))
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--server-args", default="",
                        help="extra server options, for experiments (e.g. '--blocking-threads "
                             "4'); the default is exactly make serve")
    parser.add_argument("--server-cmd", default=None,
                        help="another server command, for experiments; {port}, {workers}, "
                             "{bin} are filled in")
    parser.add_argument("--without", default="", metavar="PARTS",
                        help="lower bounds: serve the app without 'signature' (the access "
                             "token is not signed; bench/lower_bound.py)")
    parser.add_argument("--serve", action="store_true",
                        help="set up, start the server, print its clients, wait for Ctrl-C")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each measurement, wait up to this long until other "
                             "processes use less than 15 %% of the CPUs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    only = [] if args.only == "none" else [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    # Stopped from outside (timeout, kill): still stop the server and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable, ROOT),
                                                os.path.relpath(__file__, ROOT), *sys.argv[1:]])
    tmp = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    try:
        with database(args.pg, tmp) as db_url:
            return run(args, only, tmp, db_url, command)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args, only: list[str], tmp: Path, db_url: str, command: str) -> int:
    load_before = loadavg()
    bench = Bench(args, tmp, db_url)
    log(f"database {db_url}; provisioning with flask idp …")
    bench.provision()
    if args.rows:
        log(f"writing what {args.rows:,} issued tokens leave behind…")
        took = insert_tokens(db_url, args.rows, bench.web["client_id"], bench.user_id,
                             bench.org_id)
        log(f"inserted in {took:.0f}s")
    server = bench.server
    log("starting: " + " ".join(shlex.quote(c) for c in server.cmd))
    bench.code = code_version()  # what the workers import now; the tree may change later
    server.start()
    try:
        if args.serve:
            print(json.dumps({"issuer": bench.issuer, "svc": bench.svc, "web": bench.web,
                              "password_client": bench.pwd, "user": USERNAME,
                              "password": PASSWORD, "database": db_url}, indent=2), flush=True)
            with suppress(KeyboardInterrupt):
                signal.pause()
            return 0
        bench.login()
        bench.warm_up()
        for name in only:
            bench.run_scenario(name)
        flat = bench.flat() if args.flat else None
        starvation = bench.starvation() if args.starvation else None
        final_rss = server.rss_mib()
        peer = bench.peer() if args.peer else None
    finally:
        server.stop()

    report(args, only, bench, command, final_rss, flat, starvation, peer, load_before)
    return 0


def report(args, only, bench: Bench, command: str, final_rss, flat, starvation, peer,
           load_before: str) -> None:
    server = bench.server
    cores = len(os.sched_getaffinity(0))
    database_text = ("PostgreSQL 127.0.0.1:5432 (a fresh database, dropped afterwards)"
                     if args.pg else "SQLite file in a temporary directory")
    if args.rows:
        database_text += f", what {args.rows:,} issued tokens leave behind pre-inserted"
    print()
    print("idp benchmark")
    print(f"command:   {command}")
    print(f"machine:   {machine()}")
    print(f"           load average before: {load_before}; after: {loadavg()}")
    print(f"software:  {versions()}")
    print(f"server:    {' '.join(shlex.quote(c) for c in server.cmd)}")
    print(f"           (cwd {ROOT}; from {server.origin})")
    print(f"code:      {bench.code} (when the server started)")
    print(f"database:  {database_text}")
    print(f"load:      wrk -t1 -c{args.connections} -d{args.duration:g}s --latency "
          "-s bench/request.lua, on the same machine as the server")
    print("settings:  IDP_RATE_LIMIT_TOKEN_IP, IDP_RATE_LIMIT_LOGIN_IP and "
          f"IDP_RATE_LIMIT_LOGIN_ACCOUNT = {HIGH_LIMIT}")
    print("           (raised for the benchmark; they count failed requests only)")
    if bench.results:
        print()
        print(table(bench.results, args.pg))
        print("srv CPU: CPU time of the server's processes per completed request (all workers")
        print("  together; steadier than req/s on a shared machine). other: CPU used meanwhile")
        print("  by processes outside this benchmark, in % of all cores (high = a noisy run).")
        if args.pg:
            print("db CPU: CPU time of all postgres processes per completed request.")
    print()
    print("worker memory after the runs: " + ", ".join(
        f"pid {pid}: RSS {rss:.1f} MiB (peak {hwm:.1f})"
        for pid, (rss, hwm) in sorted(final_rss.items())))
    if "logins" in only:
        rate = bench.login_result.rps
        cpu_ms = bench.login_result.server_cpu_ms
        print("logins per second per core (the password check):")
        print(f"  argon2id verify_password in-process, one process: {bench.hash_rate:.1f}/s "
              f"wall-clock, {bench.hash_cpu_rate:.1f} per CPU-second")
        print(f"  password grant over HTTP: {rate:.1f} req/s on {cores} cores = "
              f"{rate / cores:.1f}/s per core; server CPU {cpu_ms:.1f} ms per login = "
              f"{1000 / cpu_ms if cpu_ms else 0:.1f} logins per CPU-second")
    if flat:
        print()
        print(f"flat with size ({bench.flat_note})")
        print("target: each rate with the rows within 20 % of the empty-table rate")
        print(f"{'scenario':<20} {'empty req/s':>12} {'full req/s':>11} {'ratio':>6} "
              f"{'empty p99':>10} {'full p99':>9} {'CPU ms/req':>17}  verdict")
        for name, before, after in flat:
            ratio = after.rps / before.rps if before.rps else 0.0
            verdict = "ok" if ratio >= 0.8 else "FAIL (< 0.80)"
            noise = max(before.other_cpu_pct, after.other_cpu_pct)
            if noise > 15:
                verdict += f" (noisy: other processes used {noise:.0f} % CPU; rerun)"
            cpu = f"{before.server_cpu_ms:.2f} -> {after.server_cpu_ms:.2f}"
            print(f"{name:<20} {before.rps:>12.1f} {after.rps:>11.1f} {ratio:>6.2f} "
                  f"{before.p99_ms:>10.1f} {after.p99_ms:>9.1f} {cpu:>17}  {verdict}")
    if starvation:
        alone, beside, password = starvation
        print()
        print("starvation (target: client_credentials p99 < 100 ms beside full-load logins)")
        print(f"  token load wrk -c2 with {args.starvation_delay_ms} ms think time; login load "
              f"wrk -c{args.starvation_connections} grant_type=password")
        verdict = "ok" if beside.p99_ms < 100 else "FAIL (>= 100 ms)"
        for label, r, tail in (("client_credentials alone:", alone, ""),
                               ("client_credentials beside logins:", beside, "  " + verdict),
                               ("password grant (the load):", password, "")):
            print(f"  {label:<34} {r.rps:7.1f} req/s  p50 {r.p50_ms:7.1f} ms  "
                  f"p99 {r.p99_ms:7.1f} ms{tail}")
    if peer is not None:
        print()
        print(f"peer: {PEER_SCRIPT} (node-oidc-provider, 2 workers, beside this server)")
        print(peer.rstrip())


def code_version() -> str:
    """The commit, and whether the working tree differs from it (read-only git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "idp", "templates",
                                  "app.py", "pyproject.toml", "Makefile"], cwd=ROOT,
                                 capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not head:
        return "unknown (no git)"
    return f"commit {head}" + (f" + {len(changed)} uncommitted changes in idp/, templates/, "
                               "app.py, pyproject.toml, Makefile" if changed else ", clean")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])

if __name__ == "__main__":
    sys.exit(main())
