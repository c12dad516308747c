"""Email verification: ``email_verified`` becomes true through a mailed link (or an
administrator), never by saying so.

Rules:
- the link names the user and the address it verifies; it verifies nothing once
  the address changed, and expires after ``IDP_VERIFY_LINK_SECONDS``;
- using it again is harmless (the address is verified already);
- sending one and using one are audit events.
"""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import gettext as _

from .. import i18n, mail
from ..extensions import db
from ..i18n import N_
from ..models import User
from ..security import links
from ..transaction import after_commit
from . import ServiceError
from .audit import Origin, record

PURPOSE = "email verification"


class BadLink(ServiceError):
    """The link expired, was for another address, or was not made here."""


def send_link(user: User, origin: Origin) -> None:
    token = links.make(PURPOSE, {"u": user.id, "e": user.email})
    link = f"{current_app.config['IDP_ISSUER']}/email/verify/{token}"  # also outside a request
    # The mail speaks the person's language, or the page's; its link opens pages in it.
    language = i18n.mail_language(user.locale)
    link = i18n.in_language(link, language)
    values = {"user": user, "link": link,
              "hours": int(current_app.config["IDP_VERIFY_LINK_SECONDS"]) // 3600}
    with i18n.speaking(language):
        message = mail.build(user.email, _("Confirm your email address"),
                             render_template("mail/verify.txt", **values),
                             render_template("mail/verify.html", **values))
    record("email.verification_sent", origin, user_id=user.id)
    after_commit(lambda: mail.send(message))


def verify(token: str, origin: Origin) -> User:
    try:
        data = links.read(PURPOSE, token, int(current_app.config["IDP_VERIFY_LINK_SECONDS"]))
    except links.Expired:
        raise BadLink(N_("This link has expired. Send yourself a new one from your "
                      "account page.")) from None
    except links.Forged:
        raise BadLink(N_("This link is not valid.")) from None
    user = db.session.get(User, data["u"]) if isinstance(data.get("u"), str) else None
    if user is None or user.disabled or data.get("e") != user.email:
        raise BadLink(N_("This link is for an address the account no longer has."))
    if not user.email_verified:
        user.email_verified = True
        record("email.verified", origin, user_id=user.id)
    return user
