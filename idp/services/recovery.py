"""Account recovery: a password-reset link by mail.

Rules:
- asking for a link answers the same whatever the address (an account or not,
  enabled or not); only an enabled account with that address gets a mail;
- the link is signed (the server's secret key), expires after
  ``IDP_RESET_LINK_SECONDS``, and works once: it names the password it replaces
  (a keyed digest of its hash), so setting any new password voids it;
- a reset ends every session of the user and revokes every grant, as an
  administrator's setting of a password does; both steps are audit events.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template
from flask_babel import gettext as _

from .. import i18n, mail
from ..extensions import db
from ..i18n import N_
from ..models import User
from ..security import links, sealing
from ..transaction import after_commit
from . import ServiceError, accounts
from .accounts import EMAIL_RE, find_user
from .audit import Origin, record

SALT = "password reset"


class BadLink(ServiceError):
    """The link expired, was used, or was not made here."""


def _replaces(user: User) -> str:
    return sealing.keyed_digest(SALT, user.password_hash or "no password")[:24]


def link_for(user: User) -> str:
    token = links.make(SALT, {"u": user.id, "p": _replaces(user)})
    return f"{current_app.config['IDP_ISSUER']}/password/reset/{token}"  # also outside a request


def request_link(email: str, origin: Origin) -> None:
    """Mail a reset link to the account with this address, if there is one."""
    email = email.strip()
    user = find_user(email) if EMAIL_RE.match(email) else None  # no line breaks, no spaces
    if user is None or user.disabled or user.email.lower() != email.lower():
        record("password.reset_requested", origin, known=False)
        return
    record("password.reset_requested", origin, user_id=user.id, known=True)
    send_link(user)


def send_link(user: User) -> None:
    """The mail with the link (after the request's writes are committed)."""
    link = link_for(user)
    # The mail speaks the person's language, or the page's; its link opens pages in it.
    language = i18n.mail_language(user.locale)
    link = i18n.in_language(link, language)
    values: dict[str, Any] = {"user": user, "link": link, "minutes":
                              int(current_app.config["IDP_RESET_LINK_SECONDS"]) // 60}
    with i18n.speaking(language):
        message = mail.build(user.email, _("Reset your password"),
                             render_template("mail/reset.txt", **values),
                             render_template("mail/reset.html", **values))
    after_commit(lambda: mail.send(message))


def user_of(token: str) -> User:
    """The account a link is for; ``BadLink`` when it expired, was used or is forged."""
    try:
        data = links.read(SALT, token, int(current_app.config["IDP_RESET_LINK_SECONDS"]))
    except links.Expired:
        raise BadLink(N_("This link has expired. Ask for a new one.")) from None
    except links.Forged:
        raise BadLink(N_("This link is not valid. Ask for a new one.")) from None
    user = db.session.get(User, data["u"]) if isinstance(data.get("u"), str) else None
    if user is None or user.disabled or data.get("p") != _replaces(user):
        raise BadLink(N_("This link was used already, or the password changed since. Ask for "
                      "a new one."))
    return user


def reset(token: str, password: str, origin: Origin) -> User:
    user = user_of(token)
    revoked = accounts.replace_password(user, password, origin=origin)
    record("password.reset", origin, user_id=user.id, grants_revoked=revoked)
    return user
