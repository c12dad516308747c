"""Brute-force limits (Flask-Limiter): memory by default, Redis when configured.

Rules:
- only failures count (a 4xx answer); a client or person who gets it right
  is never slowed down, so limits cost honest traffic nothing;
- /login: per address, and per account name (the account limit spans
  addresses, against credential stuffing; it is loose, so an attacker cannot
  lock an owner out for long);
- the password grant: per account name; the token and introspection
  endpoints: per address;
- over the limit: 429 with ``Retry-After``, a page for people and RFC 6749
  JSON for machines (``errors.py``);
- Redis down: counting falls back to this process's memory, with a warning,
  rather than refusing every request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, request
from flask_limiter.util import get_remote_address
from limits import parse_many
from werkzeug.exceptions import HTTPException

from ..extensions import limiter
from ..services import audit

TOO_MANY = "Too many failed attempts. Wait a little and try again."


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[f"IDP_RATE_LIMIT_{name}"]


def _failed(response) -> bool:
    return 400 <= response.status_code < 500 and response.status_code != 429


def _form_value(name: str) -> str:
    """A form field, or "" when the body cannot be read (too large, malformed):
    the view answers that; a key function that raised would make Flask-Limiter
    believe its storage had failed."""
    try:
        return request.form.get(name) or ""
    except HTTPException:
        return ""


def _account() -> str:
    return "account:" + _form_value("username").strip().lower()[:254]


def _not_password_grant() -> bool:
    return _form_value("grant_type") != "password"


def _apply(*decorators):
    def wrap(view):
        for decorate in reversed(decorators):
            view = decorate(view)
        return view

    return wrap


def _record_lockout(breached) -> None:
    """Audit each request refused by a limit (``login.lockout``); 429 follows."""
    audit.record("login.lockout", audit.Origin.of(request), limit=str(breached.limit),
                 account=_account().removeprefix("account:") or None, path=request.path)


def _failures(setting: str, scope: str, key_func: Callable[[], str], **options):
    """A limit on failed requests only, named by its config setting."""
    return limiter.limit(_setting(setting), key_func=key_func, scope=scope,
                         deduct_when=_failed, error_message=TOO_MANY,
                         on_breach=_record_lockout, **options)


login = _apply(
    _failures("LOGIN_IP", "login-ip", get_remote_address, methods=["POST"]),
    _failures("LOGIN_ACCOUNT", "login-account", _account, methods=["POST"]),
)

ADDRESS_SCOPE = "token-ip"  # the token endpoint's per-address limit

token = _apply(
    _failures("TOKEN_IP", ADDRESS_SCOPE, get_remote_address),
    _failures("LOGIN_ACCOUNT", "login-account", _account, exempt_when=_not_password_grant),
)


@functools.lru_cache(maxsize=16)
def _parsed(limits: str) -> tuple:
    """A limit setting parsed once, not on every token request."""
    return tuple(parse_many(limits))


def token_ip_allows(address: str) -> bool:
    """Whether the token endpoint's failure limit lets ``address`` through now.

    The same test Flask-Limiter makes before the view (same limits, same keys),
    for callers in front of Flask; False, too, when the storage cannot answer.
    """
    if not limiter.enabled:
        return True
    key = [address, f"oauth.token:{ADDRESS_SCOPE}"]  # Flask-Limiter's: key, endpoint:scope
    if prefix := current_app.config.get("RATELIMIT_KEY_PREFIX"):
        key.insert(0, prefix)
    try:
        return all(limiter.limiter.test(item, *key)
                   for item in _parsed(current_app.config["IDP_RATE_LIMIT_TOKEN_IP"]))
    except Exception:
        return False


introspection = _failures("TOKEN_IP", "introspect-ip", get_remote_address)
