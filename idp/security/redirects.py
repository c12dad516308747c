"""Every redirect target passes through here.

Rules:
- redirect URIs match the registered string exactly (RFC 9700 §4.1.3), and a
  requested one never carries a fragment, not even an empty ``#``;
- the one exception: for a native app (a public client), a registered
  loopback IP redirect URI matches any port (RFC 8252 §7.3), never port 0 and
  never a different scheme, host, path or query; a confidential web client
  registered with a loopback URI gets exact matching like any other;
- a ``next`` URL after login must be a path on this server.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..i18n import N_, Words


def redirect_uri_matches(requested: str, registered: str, *, native: bool = False) -> bool:
    if "#" in requested:
        return False
    if requested == registered:
        return True
    req, reg = urlsplit(requested), urlsplit(registered)
    if not native or reg.scheme != "http" or reg.hostname not in ("127.0.0.1", "::1"):
        return False
    try:
        if req.port == 0:
            return False
    except ValueError:  # a malformed port
        return False
    return (
        req.scheme == "http"
        and _host(req.netloc) == _host(reg.netloc)
        and "@" not in req.netloc
        and (req.path, req.query, req.fragment) == (reg.path, reg.query, reg.fragment)
    )


def _host(netloc: str) -> str:
    return netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc


def registration_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be registered as a redirect URI, or None if it can."""
    if any(c.isspace() for c in uri) or len(uri) > 2000:
        return Words(N_("must be a single URL of at most 2000 characters"))
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return Words(N_("is not a valid URL"))
    if parts.fragment or "#" in uri:
        return Words(N_("must not contain a fragment"))
    if parts.username is not None or "@" in parts.netloc:
        return Words(N_("must not contain user information"))
    if parts.scheme == "https":
        return None if parts.hostname else Words(N_("has no host"))
    if parts.scheme == "http":
        if parts.hostname in ("localhost", "127.0.0.1", "::1"):
            return None
        return Words(N_("must use https unless it points at the loopback interface"))
    if parts.scheme and "." in parts.scheme and not parts.netloc.startswith("/"):
        return None  # private-use scheme of a native app (RFC 8252 §7.1)
    return Words(N_("must be https, loopback http, or a reverse-domain private scheme"))


def is_safe_next(target: str | None) -> bool:
    """True for a local path (``/oauth/authorize?...``), never another origin."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(c) < 0x20 for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
