"""The production access log: one JSON object per request."""

import datetime
import json
import logging

from gunicorn.config import Config

from idp.serving import JsonAccessLogger


class Response:
    status = "429 TOO MANY REQUESTS"
    sent = 123


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_access_log_line_is_json_with_the_request_facts():
    config = Config()
    config.set("accesslog", "-")
    logger = JsonAccessLogger(config)
    collect = Collect()
    logger.access_log.addHandler(collect)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/oauth/token",
               "REMOTE_ADDR": "203.0.113.9", "HTTP_USER_AGENT": 'agent "quoted"'}
    try:
        logger.access(Response(), None, environ, datetime.timedelta(milliseconds=12.5))
    finally:
        logger.access_log.removeHandler(collect)
    record = json.loads(collect.lines[-1])
    assert record["method"] == "POST"
    assert record["path"] == "/oauth/token"
    assert record["status"] == 429
    assert record["ms"] == 12.5
    assert record["bytes"] == 123
    assert record["ip"] == "203.0.113.9"
    assert record["user_agent"] == 'agent "quoted"'
