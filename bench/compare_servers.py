#!/usr/bin/env python3
"""The same app, database and load under different WSGI servers, in alternating rounds.

    .venv/bin/python bench/compare_servers.py --rounds 3

Why ``make serve`` runs granian: each round starts every variant in turn on the same
port and database (so tokens stay valid), warms it up, and measures client_credentials
and userinfo with wrk; the table gives the median over rounds of req/s, p99 and server
CPU per request, and each variant's ratio to the first (``make serve`` itself).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness


def variants(args) -> list[tuple[str, list[str], str | None]]:
    """(label, extra options for make serve's server, or a whole server command)."""
    return [
        ("granian, 2 workers x 16 threads (make serve)", [], None),
        ("granian, 2 workers x 4 threads", ["--blocking-threads", "4"], None),
        ("gunicorn sync, 2 workers", [],
         "{bin}/gunicorn --workers {workers} --bind 0.0.0.0:{port} app:app"),
        ("gunicorn gthread, 2 workers x 4 threads", [],
         "{bin}/gunicorn --worker-class gthread --threads 4 --workers {workers} "
         "--bind 0.0.0.0:{port} app:app"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pg", action="store_true")
    parser.add_argument("--wait-quiet", type=float, default=0.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="idp-servers-"))
    settings = argparse.Namespace(
        pg=args.pg, port=harness.free_port(), workers=2, server_args="", server_cmd=None,
        duration=args.duration, warmup=2.0, connections=args.connections, pool_factor=1.5,
        wait_quiet=args.wait_quiet, rounds=1)
    table: dict[str, dict[str, list[harness.Result]]] = {}
    commands: dict[str, str] = {}
    try:
        with harness.database(args.pg, tmp) as db_url:
            bench = harness.Bench(settings, tmp, db_url)
            bench.provision()
            for rnd in range(1, args.rounds + 1):
                for label, extra, command in variants(args):
                    server = harness.Server(bench.env, bench.port, 2, tmp / "server.log", extra,
                                            command)
                    commands[label] = " ".join(shlex.quote(c) for c in server.cmd)
                    bench.server = server
                    server.start()
                    try:
                        if not bench.cookie:
                            bench.login()
                        bench.warm_up()
                        bench.ensure_access_pool(300)
                        cc = bench.client_credentials(f"{label} cc r{rnd}")
                        ui = bench.run_userinfo(f"{label} userinfo r{rnd}")
                    finally:
                        server.stop()
                    harness.log(f"round {rnd} {label}: cc {cc.rps:.0f} req/s "
                                f"({cc.server_cpu_ms:.2f} ms CPU), userinfo {ui.rps:.0f} req/s "
                                f"({ui.server_cpu_ms:.2f} ms CPU)")
                    table.setdefault(label, {}).setdefault("cc", []).append(cc)
                    table[label].setdefault("userinfo", []).append(ui)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"WSGI servers compared ({args.rounds} alternating rounds, wrk -t1 "
          f"-c{args.connections} -d{args.duration:g}s; medians; ratio = req/s / first row)")
    print(f"machine: {harness.machine()}")
    for label, command in commands.items():
        print(f"  {label}: {command}")
    print()
    head = (f"{'server':<42} {'cc req/s':>9} {'ratio':>6} {'p99 ms':>7} {'CPU ms':>7} "
            f"{'ui req/s':>9} {'ratio':>6} {'p99 ms':>7} {'CPU ms':>7} {'other%':>7}")
    print(head)
    print("-" * len(head))
    base: dict[str, float] = {}
    for label, runs in table.items():
        cells = []
        for kind in ("cc", "userinfo"):
            rps = statistics.median(r.rps for r in runs[kind])
            base.setdefault(kind, rps)
            p99 = statistics.median(r.p99_ms for r in runs[kind])
            cpu = statistics.median(r.server_cpu_ms for r in runs[kind])
            cells.append(f"{rps:>9.1f} {rps / base[kind]:>6.2f} {p99:>7.1f} {cpu:>7.2f}")
        other = statistics.median(r.other_cpu_pct for k in runs for r in runs[k])
        print(f"{label:<42} {cells[0]} {cells[1]} {other:>7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
