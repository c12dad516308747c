"""One HTTP exchange with the provider, recorded as sent and as answered.

Rules:
- the playground is an ordinary client: every call is real HTTP to the issuer's
  own URLs (``requests``, the system trust store or ``REQUESTS_CA_BUNDLE``),
  never a call into the application;
- what is recorded is exactly what was sent: the method, URL, headers and body
  (client authentication is built here, RFC 6749 §2.3.1, so it can be shown);
- secrets (passwords, tokens) are masked wherever an exchange is shown, in its
  ``curl`` too, unless the person asks to reveal them; the playground client's
  own credentials (HTTP Basic) are never shown: the playground is open to
  anyone, and its secret would make it anyone's client; nothing secret is
  logged or put in a URL;
- an answer is kept as text (at most ``MAX_BODY`` characters) and shown escaped;
- an exchange is sealed into its run, so its title and failure are kept as message
  ids (English, marked with ``N_``) and their placeholders' values, and translated
  only when shown.
"""

from __future__ import annotations

import base64
import json
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import requests
from flask_babel import gettext as _

from ..i18n import N_

MASK = "[hidden]"
SECRET_PARAMS = frozenset({"client_secret", "password", "refresh_token", "token",
                           "subject_token", "access_token", "id_token_hint"})
KEPT_HEADERS = ("Content-Type", "Cache-Control", "WWW-Authenticate", "Location", "ETag")
MAX_BODY = 65536
TIMEOUT = 10


@dataclass
class Exchange:
    title: str  # a message id: shown_title() translates it
    method: str
    url: str
    headers: list[list[str]] = field(default_factory=list)
    form: list[list[str]] | None = None  # the body, as form pairs
    status: int | None = None  # None: the browser makes this request, not the playground
    response_headers: list[list[str]] = field(default_factory=list)
    response: str = ""
    failure: str | None = None  # the request could not be made at all (a message id)
    tokens: list[str] = field(default_factory=list)  # labels of the tokens it returned
    title_args: dict[str, str] = field(default_factory=dict)  # its placeholders' values
    failure_args: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Exchange:
        return cls(**data)

    def shown_title(self) -> str:
        return _(self.title, **self.title_args)

    def shown_failure(self) -> str | None:
        return _(self.failure, **self.failure_args) if self.failure else None

    def answer(self) -> Any:
        """The answer's JSON, or None."""
        try:
            return json.loads(self.response)
        except ValueError:
            return None

    def shown_headers(self, reveal: bool) -> list[list[str]]:
        """The headers; a Bearer token only when revealed, Basic credentials never."""
        shown = []
        for name, value in self.headers:
            if name == "Authorization":
                scheme = value.split(" ", 1)[0]
                value = value if reveal and scheme == "Bearer" else f"{scheme} {MASK}"
            shown.append([name, value])
        return shown

    def shown_form(self, reveal: bool) -> list[list[str]]:
        return [[name, value if reveal or name not in SECRET_PARAMS else MASK]
                for name, value in self.form or []]

    def shown_response(self, reveal: bool) -> str:
        """The answer, pretty when it is JSON; tokens in it masked unless revealed."""
        body = self.answer()
        if body is None:
            return self.response
        if not reveal and isinstance(body, dict):
            body = {k: (MASK if k in SECRET_PARAMS | {"id_token"} and isinstance(v, str)
                        else v) for k, v in body.items()}
        return json.dumps(body, indent=2, ensure_ascii=False)

    def curl(self, reveal: bool) -> str:
        parts = ["curl", "-i"]
        if self.method != "GET" or self.form:
            parts += ["-X", self.method]
        for name, value in self.shown_headers(reveal):
            if name != "Content-Type":
                parts += ["-H", f"{name}: {value}"]
        for name, value in self.shown_form(reveal):
            parts += ["--data-urlencode", f"{name}={value}"]
        parts.append(self.url)
        return " ".join(shlex.quote(p) for p in parts)


def basic(client_id: str, secret: str) -> str:
    """HTTP Basic client authentication: each part form-encoded first (RFC 6749 §2.3.1)."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def send(title: str, method: str, url: str, *, form: list[tuple[str, str]] | None = None,
         authorization: str | None = None, title_args: dict[str, str] | None = None
         ) -> Exchange:
    """Make the request, record it and its answer (``title``: a message id, see ``N_``)."""
    headers = [["Accept", "application/json"]]
    if authorization:
        headers.append(["Authorization", authorization])
    body = None
    if form is not None:
        headers.append(["Content-Type", "application/x-www-form-urlencoded"])
        body = urlencode(form)
    exchange = Exchange(title, method, url, headers,
                        [list(pair) for pair in form] if form is not None else None,
                        title_args=title_args or {})
    try:
        with requests.request(method, url, data=body, headers=dict(headers), timeout=TIMEOUT,
                              allow_redirects=False) as answer:
            exchange.status = answer.status_code
            exchange.response_headers = [[name, answer.headers[name]] for name in KEPT_HEADERS
                                         if name in answer.headers]
            exchange.response = answer.text[:MAX_BODY]
    except requests.RequestException as error:
        exchange.failure = N_("The request could not be made: %(error)s.")
        exchange.failure_args = {"error": error.__class__.__name__}
    return exchange


def get_json(url: str) -> dict[str, Any] | None:
    """A JSON document from the provider (discovery, the keys), or None."""
    try:
        with requests.get(url, timeout=TIMEOUT, headers={"Accept": "application/json"}) as got:
            body = got.json() if got.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None
    return body if isinstance(body, dict) else None
