"""What people read about their own sessions: "Chrome on Linux · signed in 2 hours ago".

User agents are read with ``ua-parser``; times are said in the request's
language, relative to the application's clock.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_babel import format_timedelta
from flask_babel import gettext as _
from ua_parser import parse

from .clock import now


def device_name(user_agent: str | None) -> str:
    """A browser and its system in words, or a plain "Unknown browser"."""
    if not user_agent:
        return _("Unknown browser")
    result = parse(user_agent[:512])
    browser = result.user_agent.family if result.user_agent else None
    system = result.os.family if result.os and result.os.family != "Other" else None
    if browser is None or browser == "Other":
        return system or _("Unknown browser")
    if system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser


def ago(timestamp: int) -> str:
    """``timestamp`` (seconds since the epoch) as "2 hours ago" or "just now"."""
    seconds = max(0, now() - timestamp)
    if seconds < 45:
        return _("just now")
    return str(format_timedelta(timedelta(seconds=-seconds), add_direction=True))


def scope_words(scope: str) -> list[str]:
    """Each scope of a space-separated list in plain words (the consent page's)."""
    from .oauth.claims import describe_scope

    return [describe_scope(s) for s in scope.split()]


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(device_name=device_name, ago=ago, scope_words=scope_words)
