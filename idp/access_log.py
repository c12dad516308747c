"""The access log: granian's, as one JSON object per line.

``make serve`` runs granian with ``--log-config logging.json``, which selects
this formatter for granian's access logger, so log shippers need no parsing
rules. Granian hands each access record its facts as a mapping (the record's
``args``); they are written out as JSON, whatever the format string says,
except that the format's ``%(header{NAME})s`` atoms are what make granian pass
those request headers (as ``_h0``, ``_h1``… in the order written): ``make
serve``'s ``--access-log-fmt`` is ``ACCESS_LOG_FORMAT``, and ``HEADERS`` follows from it.
The query string is left out: it can hold an ``id_token_hint`` or a
``login_hint``, which have no place in a log.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

# make serve's --access-log-fmt (the Makefile cannot import it; a test holds the two equal).
ACCESS_LOG_FORMAT = '%(method)s %(path)s %(status)d "%(header{user-agent})s"'
# The request headers it asks for, in order, as the keys they are logged under.
HEADERS = tuple(name.replace("-", "_")
                for name in re.findall(r"%\(header\{([^}]+)\}\)s", ACCESS_LOG_FORMAT))
MAX_HEADER = 256  # a header can be 8 KiB; a log line needs only its start


class JsonAccessFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        facts: Mapping[str, Any] = record.args if isinstance(record.args, Mapping) else {}
        line = {
            "time": facts.get("time") or self.formatTime(record),
            "method": facts.get("method"),
            "path": facts.get("path"),
            "status": facts.get("status"),
            "ms": round(float(facts.get("dt_ms") or 0.0), 2),
            "ip": facts.get("addr"),
            "pid": record.process,
        }
        for index, name in enumerate(HEADERS):
            value = facts.get(f"_h{index}")
            line[name] = value[:MAX_HEADER] if value and value != "-" else None  # "-": absent
        return json.dumps(line, separators=(",", ":"))
