"""Brute-force limits (Flask-Limiter): memory by default, Redis when configured.

Rules:
- only failures count (a 4xx answer); a client or person who gets it right
  is never slowed down by their own past, so limits cost honest traffic nothing;
- a password check (the login page, the password grant, the account page's
  current password), and a second factor's (``secret_check``), is limited per
  address (``IDP_RATE_LIMIT_LOGIN_IP``) and per account and address together
  (``IDP_RATE_LIMIT_LOGIN_ACCOUNT``): the guesser is refused, while the owner
  at an address that has not been failing gets in (OWASP Authentication Cheat
  Sheet, "account lockout");
- per account across all addresses a password check is slowed, never refused:
  past ``IDP_RATE_LIMIT_LOGIN_SLOWDOWN`` failures every attempt on that account
  first waits ``IDP_LOGIN_SLOWDOWN_SECONDS``, so a guess spread over many
  addresses gets slow and the owner still gets in;
- the token, introspection and revocation endpoints: failures per address
  (``IDP_RATE_LIMIT_TOKEN_IP``);
- a limit keys on what the endpoint acts on: the form body (a query string at
  the machine endpoints is refused first), the signed-in user on the account page;
- over a limit: 429 with ``Retry-After``, a page for people and RFC 6749 JSON
  for machines (``errors.py``), and a ``login.lockout`` audit event;
- Redis down: counting falls back to this process's memory, with a warning,
  rather than refusing every request.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, request
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits import parse_many
from werkzeug.exceptions import HTTPException

from ..extensions import limiter
from ..i18n import N_
from ..services import audit

TOO_MANY = N_("Too many failed attempts.")
SLOWDOWN_SCOPE = "login-slowdown"
ADDRESS_SCOPE = "token-ip"  # the token endpoint's per-address limit

T = TypeVar("T")


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[f"IDP_RATE_LIMIT_{name}"]


def _failed(response: Response) -> bool:
    return 400 <= response.status_code < 500 and response.status_code != 429


def _form_value(name: str) -> str:
    """A form field, or "" when the body cannot be read (too large, malformed):
    the view answers that; a key function that raised would make Flask-Limiter
    believe its storage had failed."""
    try:
        return request.form.get(name) or ""
    except HTTPException:
        return ""


def account_name(value: str) -> str:
    return value.strip().lower()[:254]


def _form_account() -> str:
    return account_name(_form_value("username"))


def _signed_in_account() -> str:
    return account_name(current_user.username) if current_user.is_authenticated else ""


def _and_address(account: Callable[[], str]) -> Callable[[], str]:
    return lambda: f"account:{account()}|{get_remote_address()}"


def _not_password_grant() -> bool:
    return _form_value("grant_type") != "password"


def _apply(*decorators):
    def wrap(view):
        for decorate in reversed(decorators):
            view = decorate(view)
        return view

    return wrap


def _record_lockout(breached: RequestLimit) -> None:
    """Audit each request refused by a limit (``login.lockout``); 429 follows."""
    audit.record("login.lockout", audit.Origin.of(request), limit=str(breached.limit),
                 account=_form_account() or _signed_in_account() or None, path=request.path)


def _failures(setting: str, scope: str, key_func: Callable[[], str],
              **options: Any) -> Any:
    """A limit on failed requests only, named by its config setting."""
    return limiter.limit(_setting(setting), key_func=key_func, scope=scope,
                         deduct_when=_failed, error_message=TOO_MANY,
                         on_breach=_record_lockout, **options)


def secret_check(account: Callable[[], str]) -> Callable[[Callable[..., Any]], Any]:
    """The limits of a view that checks what only ``account``'s owner knows or holds:
    a password, an authenticator code, a recovery code, a passkey."""
    return _apply(
        _failures("LOGIN_IP", "login-ip", get_remote_address, methods=["POST"]),
        _failures("LOGIN_ACCOUNT", "login-account", _and_address(account), methods=["POST"]),
    )


login = secret_check(_form_account)
password_check = secret_check(_signed_in_account)

token = _apply(
    _failures("TOKEN_IP", ADDRESS_SCOPE, get_remote_address),
    _failures("LOGIN_ACCOUNT", "login-account", _and_address(_form_account),
              exempt_when=_not_password_grant),
)

# Asking for a password-reset link: every request counts (the answer is the same
# whether or not the account exists), per address and per address asked for.
reset_link = _apply(
    limiter.limit(_setting("RESET_IP"), key_func=get_remote_address, scope="reset-ip",
                  methods=["POST"]),
    limiter.limit(_setting("RESET_ACCOUNT"), key_func=lambda: account_name(
        _form_value("email")), scope="reset-account", methods=["POST"]),
)

introspection = _failures("TOKEN_IP", "introspect-ip", get_remote_address)
revocation = _failures("TOKEN_IP", "revoke-ip", get_remote_address)


@functools.lru_cache(maxsize=16)
def _parsed(limits: str) -> tuple:
    """A limit setting parsed once, not on every request."""
    return tuple(parse_many(limits))


def _keys(scope: str, name: str) -> list[str]:
    keys = [name, scope]
    if prefix := current_app.config.get("RATELIMIT_KEY_PREFIX"):
        keys.insert(0, prefix)
    return keys


def checked_password(account: str, check: Callable[[], T]) -> T:
    """Run the password ``check`` for ``account``: slowed first when the account is
    being guessed at, and a failure (a falsy result) counted against the account."""
    name = account_name(account)
    limits = _parsed(current_app.config["IDP_RATE_LIMIT_LOGIN_SLOWDOWN"])
    keys = _keys(SLOWDOWN_SCOPE, name)
    try:
        targeted = limiter.enabled and not all(limiter.limiter.test(item, *keys)
                                               for item in limits)
    except Exception:
        targeted = False  # the storage cannot answer: no slow-down rather than an error
    if targeted:
        time.sleep(float(current_app.config["IDP_LOGIN_SLOWDOWN_SECONDS"]))
    result = check()
    if not result and limiter.enabled:
        try:
            for item in limits:
                limiter.limiter.hit(item, *keys)
        except Exception:  # noqa: S110 - counting is best effort; the other limits stand
            pass
    return result


def token_ip_allows(address: str) -> bool:
    """Whether the token endpoint's failure limit lets ``address`` through now.

    The same test Flask-Limiter makes before the view (same limits, same keys),
    for callers in front of Flask; False, too, when the storage cannot answer.
    """
    if not limiter.enabled:
        return True
    keys = _keys(f"oauth.token:{ADDRESS_SCOPE}", address)  # Flask-Limiter's: endpoint:scope
    try:
        return all(limiter.limiter.test(item, *keys)
                   for item in _parsed(current_app.config["IDP_RATE_LIMIT_TOKEN_IP"]))
    except Exception:
        return False
