"""Invitations to an organization, by mail; and self-service sign-up.

Rules:
- an invitation is a signed link naming the organization, the address and the
  role; it expires after ``IDP_INVITE_LINK_SECONDS``;
- accepting it with no account at that address creates one (the link proves the
  address: ``email_verified``) with the password chosen, and the membership; with
  an account there, it adds the membership (the account signs in as before);
  accepting again changes nothing;
- sign-up (``IDP_SIGNUP``): ``off``, ``invite`` (only through an invitation) or
  ``open`` (anyone; the address is confirmed by a link afterwards);
- inviting, accepting and signing up are audit events.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import current_app, render_template
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from .. import mail
from ..clock import now
from ..extensions import db
from ..i18n import N_
from ..models import Organization, UsedLink, User
from ..models.org import ROLES
from ..security import links
from ..transaction import after_commit
from . import FieldError, ServiceError, accounts, orgs, verification
from .audit import Origin, changed, record

PURPOSE = "invitation"
SIGNUP_MODES = ("off", "invite", "open")


class BadLink(ServiceError):
    """The invitation expired, its organization is gone, or it was not made here."""


@dataclass
class Invitation:
    org: Organization
    email: str
    role: str
    user: User | None  # the account with that address, if there is one


def invite(org: Organization, email: str, role: str = "member", *,
           origin: Origin | None = None) -> None:
    email = email.strip()
    if not accounts.EMAIL_RE.match(email) or len(email) > 254:
        raise FieldError("email", N_("invalid email address %(email)r"), email=email)
    if role not in ROLES:
        raise FieldError("role", N_("role must be one of %(values)s"), values=", ".join(ROLES))
    token = links.make(PURPOSE, {"o": org.id, "e": email.lower(), "r": role})
    link = f"{current_app.config['IDP_ISSUER']}/invite/{token}"  # the command line has no request
    values = {"org": org, "link": link, "role": role,
              "days": int(current_app.config["IDP_INVITE_LINK_SECONDS"]) // 86400}
    message = mail.build(email, _("You are invited to %(org)s", org=org.name),
                         render_template("mail/invite.txt", **values),
                         render_template("mail/invite.html", **values))
    changed("org.invited", origin, org=org.slug, email=email.lower(), role=role)
    after_commit(lambda: mail.send(message))


class SignInFirst(ServiceError):
    """An account has the invitation's address: its owner joins signed in to it."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def read(token: str) -> Invitation:
    """The invitation a link holds; ``BadLink`` when it is forged, expired or used."""
    try:
        data = links.read(PURPOSE, token, int(current_app.config["IDP_INVITE_LINK_SECONDS"]))
    except links.Expired:
        raise BadLink(N_("This invitation has expired. Ask for a new one.")) from None
    except links.Forged:
        raise BadLink(N_("This invitation link is not valid.")) from None
    if db.session.get(UsedLink, _digest(token)) is not None:
        raise BadLink(N_("This invitation was used already. Ask for a new one if you need it."))
    org = db.session.get(Organization, data.get("o")) if isinstance(data.get("o"), str) \
        else None
    email, role = data.get("e"), data.get("r")
    if org is None or not isinstance(email, str) or role not in ROLES:
        raise BadLink(N_("The organization of this invitation no longer exists."))
    user = accounts.find_user(email)
    return Invitation(org, email, str(role), user if user and user.email == email else None)


def accept(token: str, origin: Origin, *, signed_in: User | None = None,
           username: str | None = None, password: str | None = None) -> User:
    """Join the organization; create the account first when there is none. An account
    with the address joins only signed in to it. The link works once."""
    invitation = read(token)
    user = invitation.user
    if user is not None and (signed_in is None or signed_in.id != user.id):
        raise SignInFirst(N_("Sign in as %(email)s to join."), email=invitation.email)
    db.session.add(UsedLink(digest=_digest(token), expires_at=now() + int(
        current_app.config["IDP_INVITE_LINK_SECONDS"])))
    try:
        db.session.flush()  # of two tabs accepting at once, one wins
    except IntegrityError:  # the other: its request is refused and rolled back
        raise BadLink(N_("This invitation was used already. Ask for a new one if you "
                         "need it.")) from None
    if user is None:
        if password is None:
            raise FieldError("password", N_("Choose a password."))
        user = accounts.create_user(username or "", invitation.email, password,
                                    email_verified=True, origin=origin)
    elif user.disabled:
        raise BadLink(N_("This account is disabled."))
    if orgs.membership(user.id, invitation.org.id) is None:
        orgs.add_member(invitation.org, user, invitation.role, origin=origin)
        record("org.invitation_accepted", origin, user_id=user.id, org=invitation.org.slug)
    return user


def signup_mode() -> str:
    mode = str(current_app.config["IDP_SIGNUP"]).lower()
    return mode if mode in SIGNUP_MODES else "off"


def sign_up(username: str, email: str, password: str, origin: Origin) -> User:
    """An account anyone may open (``IDP_SIGNUP=open``); its address is confirmed by
    the link mailed now."""
    if signup_mode() != "open":
        raise ServiceError(N_("Accounts are made by invitation here."))
    user = accounts.create_user(username, email, password, origin=origin)
    record("user.signed_up", origin, user_id=user.id)
    verification.send_link(user, origin)
    return user
