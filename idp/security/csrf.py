"""Cross-site request forgery: the defence every browser form has.

Rules, for each POST to a page (the machine endpoints and the two endpoints
relying parties post to, ``/oauth/authorize`` and ``/oauth/logout``, are exempt;
the logout confirmation checks itself):
- the form carries Flask-WTF's CSRF token, an HMAC bound to the browser's
  session, which another site cannot read;
- the session cookie is ``SameSite=Lax`` (and ``__Host-``, ``Secure`` over
  https), so a cross-site POST arrives without it and its token cannot match;
- the request's own headers must not say it came from elsewhere: a
  ``Sec-Fetch-Site`` other than ``same-origin`` (Fetch Metadata), an
  ``Origin``, or failing that a ``Referer``, of another origin is refused.
  A header that is absent (an older browser, a privacy tool stripping the
  Referer) proves nothing either way, and then the token and the cookie decide.

So the defence never depends on the Referer, which ``Referrer-Policy:
same-origin`` (``headers.py``) keeps inside this origin: every mainstream
browser sends the page's own origin in ``Origin`` on a same-origin POST under
that policy (Fetch, "append a request Origin header"), and nothing to other
origins. Flask-WTF's own "strict" Referer check over https is off: it refused
every form whose browser sent no Referer.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, request
from flask_wtf import CSRFProtect as _CSRFProtect
from flask_wtf.csrf import CSRFError

FOREIGN = "The form did not come from this site. Go back and try again."


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    suffix = "" if port is None or port == default else f":{port}"
    return f"{parts.scheme}://{host}{suffix}".lower()


def from_this_origin() -> bool:
    """False when the request's headers name another site as its sender."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    own = _origin_of(request.host_url)
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return _origin_of(origin) == own
    referer = request.headers.get("Referer")
    if referer:
        return _origin_of(referer) == own
    return True


class CSRFProtect(_CSRFProtect):
    """Flask-WTF's token check, then the request's origin."""

    def protect(self, apply_exemptions: bool = False) -> None:
        super().protect(apply_exemptions)
        if g.get("csrf_valid") and not from_this_origin():  # checked, and not exempt
            raise CSRFError(FOREIGN)
