"""The production access log: one JSON object per request."""

import json
import logging

from idp.serving import JsonAccessFormatter


def test_access_log_line_is_json_with_the_request_facts():
    # What granian passes its access logger: a format string and the facts.
    facts = {"addr": "203.0.113.9", "time": "2026-11-21 12:00:00 +0000", "dt_ms": 12.345,
             "status": 429, "path": '/oauth/"token"', "query_string": "a=1",
             "method": "POST", "scheme": "http", "protocol": "HTTP/1.1"}
    record = logging.LogRecord("granian.access", logging.INFO, __file__, 1,
                               "%(method)s %(path)s", (facts,), None)
    line = json.loads(JsonAccessFormatter().format(record))
    assert line == {"time": "2026-11-21 12:00:00 +0000", "method": "POST",
                    "path": '/oauth/"token"', "query": "a=1", "status": 429, "ms": 12.35,
                    "ip": "203.0.113.9", "pid": record.process}


def test_the_log_config_selects_it():
    config = json.loads((__import__("pathlib").Path(__file__).parents[2]
                         / "logging.json").read_text())
    assert config["formatters"]["access"]["()"] == "idp.serving.JsonAccessFormatter"
    assert config["loggers"]["granian.access"]["handlers"] == ["access"]
