"""Settings: the only module that reads the environment.

Every setting comes from an ``IDP_*`` environment variable, then from
``instance/config.py``, then from the defaults below. Tests pass a mapping to
``create_app`` instead of touching the environment.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

ENV_PREFIX = "IDP_"

DEFAULTS: dict[str, object] = {
    "ISSUER": "http://localhost:5000",
    "DATABASE_URL": None,  # SQLite file in the instance folder
    "REDIS_URL": None,
    "SECRET_KEY": None,  # generated into the instance folder on first start
    "ALLOWED_HOSTS": None,  # the issuer's host
    # Lifetimes in seconds (SPEC "Tokens"); clients may shorten them per request.
    "ACCESS_TOKEN_TTL": 300,
    "REFRESH_TOKEN_TTL": 30 * 24 * 3600,
    "CODE_TTL": 60,
    "ID_TOKEN_TTL": 300,
    "LOGIN_SESSION_TTL": 14 * 24 * 3600,
    "LOGIN_SESSION_IDLE": 24 * 3600,  # a session unused this long ends
    # A refresh token presented again this soon after its rotation, by the same client,
    # returns the same new tokens instead of revoking the grant (0: strict rotation).
    "REFRESH_GRACE_SECONDS": 0,
    # How long a person has to get through sign-in, organization and consent.
    "INTERACTION_TTL": 600,
    # Removing one's last second factor, or making new recovery codes, needs a
    # sign-in at most this old.
    "REAUTH_SECONDS": 600,
    # The admin console asks an administrator to sign in again after this long.
    "ADMIN_REAUTH_SECONDS": 3600,
    # The name on every page and mail, and the one authenticator apps and passkey
    # prompts show (default: the issuer's host).
    "BRAND_NAME": "",
    # An image shown beside the name (an https: or same-site URL) and the accent
    # colour of buttons, links and the focus ring (#rgb or #rrggbb).
    "BRAND_LOGO_URL": "",
    "BRAND_COLOR": "",
    # The language of pages and mail when neither ui_locales nor Accept-Language
    # names a supported one (en, de, fr, es).
    "LOCALE": "en",
    # Mail: smtp://[user:password@]host[:port] or smtps://…; unset: files in instance/mail/.
    "SMTP_URL": None,
    "MAIL_FROM": "",  # default: no-reply@ the issuer's host
    # How long a password-reset link works (it works once: the password changes).
    "RESET_LINK_SECONDS": 3600,
    # Self-service sign-up: off, invite (only through an invitation) or open.
    "SIGNUP": "off",
    # How long an invitation to an organization works.
    "INVITE_LINK_SECONDS": 7 * 24 * 3600,
    # How long an email-confirmation link works.
    "VERIFY_LINK_SECONDS": 2 * 24 * 3600,
    # Reset links asked for, per address and per account (every request counts).
    "RATE_LIMIT_RESET_IP": "20/hour",
    "RATE_LIMIT_RESET_ACCOUNT": "5/hour",
    # /playground, the flow explorer: open to anyone while on (``make run`` turns it on).
    "PLAYGROUND": False,
    # The login page's password form; off when upstream providers are the way in.
    "PASSWORD_LOGIN": True,
    # Client registrations are read on every token request; each process keeps
    # them this long (a change made elsewhere shows within that time).
    "CLIENT_CACHE_SECONDS": 30,
    # How many proxies in front set X-Forwarded-For/-Proto/-Host (0: trust none).
    "PROXY_COUNT": 0,
    # Failed attempts allowed (Flask-Limiter notation); successes never count.
    "RATE_LIMIT_LOGIN_IP": "30/minute",
    "RATE_LIMIT_LOGIN_ACCOUNT": "10/minute;100/hour",  # per account and address
    # Failures per account (any address) after which each attempt on it is slowed.
    "RATE_LIMIT_LOGIN_SLOWDOWN": "20/minute",
    "LOGIN_SLOWDOWN_SECONDS": 1.0,
    "RATE_LIMIT_TOKEN_IP": "60/minute",
}


def load(instance_path: str, overrides: dict | None = None) -> dict[str, object]:
    """Return the Flask config mapping for one application instance."""
    settings = dict(DEFAULTS)
    settings.update(_from_instance_file(instance_path))
    settings.update(_from_environment())
    if overrides:
        settings.update({k.removeprefix(ENV_PREFIX): v for k, v in overrides.items()})

    issuer = str(settings["ISSUER"]).rstrip("/")
    settings["ISSUER"] = issuer
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path) / "idp.sqlite3")
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _instance_secret_key(instance_path)
    settings["ALLOWED_HOSTS"] = parse_hosts(settings["ALLOWED_HOSTS"], issuer)  # type: ignore[arg-type]  # a setting: a string, a list or nothing

    https = issuer.startswith("https://")
    config: dict[str, object] = {f"IDP_{k}": v for k, v in settings.items()}
    config.update(
        SECRET_KEY=settings["SECRET_KEY"],
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(str(settings["DATABASE_URL"])),
        SESSION_COOKIE_NAME="__Host-idp_session" if https else "idp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        REMEMBER_COOKIE_HTTPONLY=True,
        PREFERRED_URL_SCHEME="https" if https else "http",
        MAX_CONTENT_LENGTH=64 * 1024,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the browser session
        WTF_CSRF_SSL_STRICT=False,  # the origin check replaces it (security/csrf.py)
        RATELIMIT_STORAGE_URI=settings["REDIS_URL"] or "memory://",
        RATELIMIT_HEADERS_ENABLED=False,  # Retry-After goes on 429s only (errors.py)
        RATELIMIT_KEY_PREFIX="idp",
        # Redis down: count in this process's memory rather than refuse everyone.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    )
    return config


def parse_hosts(value: str | Iterable[str] | None, issuer: str) -> frozenset[str]:
    """Parse ``IDP_ALLOWED_HOSTS``: comma-separated ``host`` or ``host:port``."""
    if value is None or value == "":
        parts = urlsplit(issuer)
        hosts = {parts.hostname or ""}
        if parts.hostname == "localhost":
            # A development issuer: the loopback addresses are the same machine.
            hosts |= {"127.0.0.1", "[::1]"}
        netlocs = {h if parts.port is None else f"{h}:{parts.port}" for h in hosts}
        return frozenset(netlocs | (hosts if parts.port is None else set()))
    if isinstance(value, str):
        value = value.split(",")
    return frozenset(h.strip().lower() for h in value if h.strip())


def _from_environment() -> dict[str, object]:
    found: dict[str, object] = {}
    for name in DEFAULTS:
        raw = os.environ.get(ENV_PREFIX + name)
        if raw is None:
            continue
        default = DEFAULTS[name]
        if isinstance(default, bool):
            found[name] = raw.strip().lower() in ("1", "true", "yes", "on")
        else:
            found[name] = int(raw) if isinstance(default, int) else \
                float(raw) if isinstance(default, float) else raw
    return found


def _from_instance_file(instance_path: str) -> dict[str, object]:
    path = Path(instance_path) / "config.py"
    if not path.is_file():
        return {}
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - operator-owned file
    return {
        k.removeprefix(ENV_PREFIX): v
        for k, v in namespace.items()
        if k.removeprefix(ENV_PREFIX) in DEFAULTS
    }


def _instance_secret_key(instance_path: str) -> str:
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _engine_options(url: str) -> dict[str, object]:
    if url.startswith("sqlite"):
        # Several threads share a file; wait for the writer instead of failing.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10}
