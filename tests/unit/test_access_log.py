"""The production access log: one JSON object per request."""

import json
import logging

from idp.access_log import JsonAccessFormatter


def test_access_log_line_is_json_with_the_request_facts():
    # What granian passes its access logger: a format string and the facts.
    facts = {"addr": "203.0.113.9", "time": "2026-11-21 12:00:00 +0000", "dt_ms": 12.345,
             "status": 429, "path": '/oauth/"token"', "query_string": "id_token_hint=x",
             "method": "POST", "scheme": "http", "protocol": "HTTP/1.1"}
    record = logging.LogRecord("granian.access", logging.INFO, __file__, 1,
                               "%(method)s %(path)s", (facts,), None)
    line = json.loads(JsonAccessFormatter().format(record))
    assert line == {"time": "2026-11-21 12:00:00 +0000", "method": "POST",
                    "path": '/oauth/"token"', "status": 429, "ms": 12.35,
                    "ip": "203.0.113.9", "pid": record.process, "user_agent": None}


def test_the_user_agent_is_logged_when_granian_passes_it():
    """make serve's format asks for the User-Agent header: granian passes it as _h0,
    or "-" when the request had none; a long one is cut short."""
    def line(user_agent):
        facts = {"addr": "203.0.113.9", "dt_ms": 1.0, "status": 200, "path": "/healthz",
                 "method": "GET", "_h0": user_agent}
        record = logging.LogRecord("granian.access", logging.INFO, __file__, 1,
                                   '%(method)s "%(_h0)s"', (facts,), None)
        return json.loads(JsonAccessFormatter().format(record))

    assert line("curl/8.5.0")["user_agent"] == "curl/8.5.0"
    assert line("-")["user_agent"] is None
    assert line("x" * 5000)["user_agent"] == "x" * 256


def test_the_log_config_selects_it():
    config = json.loads((__import__("pathlib").Path(__file__).parents[2]
                         / "logging.json").read_text())
    assert config["formatters"]["access"]["()"] == "idp.access_log.JsonAccessFormatter"
    assert config["loggers"]["granian.access"]["handlers"] == ["access"]


def test_live_tests_serve_the_way_make_serve_does():
    """tests/live.py starts the server itself (loopback, quick respawns): every
    other option must be make serve's, so the live tests test what ships."""
    import shlex
    import subprocess

    from tests.live import ROOT, serve_command

    recipe = subprocess.run(["make", "-n", "-s", "--no-print-directory", "serve", "PORT=8123",
                             "WORKERS=3", "THREADS=5"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.replace("\\\n", " ")
    shipped = shlex.split([line for line in recipe.splitlines() if "granian" in line][-1])
    tested = serve_command(8123, workers=3, threads=5, tls=False)  # make serve: plain http

    def options(argv):
        argv = [a.replace(str(ROOT) + "/", "") for a in argv[1:]]
        found, i = {}, 0
        while i < len(argv):
            if argv[i].startswith("--") and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                found[argv[i]] = argv[i + 1]
                i += 2
            else:
                found[argv[i]] = True
                i += 1
        return found

    ours = options(tested)
    theirs = options(shipped)
    assert theirs.pop("--host") == "0.0.0.0"  # noqa: S104 - what make serve binds
    assert ours.pop("--host") == "127.0.0.1"
    assert ours.pop("--respawn-interval")  # quicker replacements in the fault tests
    assert ours == theirs
