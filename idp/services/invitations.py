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

from .. import i18n, mail
from ..clock import now
from ..extensions import db
from ..i18n import N_
from ..models import Organization, UsedLink, User
from ..models.org import ROLES
from ..security import links
from ..transaction import after_commit
from . import FieldError, ServiceError, accounts, orgs
from .audit import Origin, changed, record

PURPOSE = "invitation"
SIGNUP_PURPOSE = "signup"
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
    subject = _("You are invited to %(org)s", org=" ".join(org.name.split()))  # one line
    message = mail.build(email, subject,
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
    return Invitation(org, email, str(role), accounts.find_by_email(email))


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


def sign_up(email: str, origin: Origin) -> None:
    """Ask for an account (``IDP_SIGNUP=open``) with nothing but an address: the mailed
    link leads its owner to choose the username and password, so nobody can ready an
    account for an address that is not theirs. An address that has an account gets a
    mail saying so instead; the page is the same, so it tells no one which do."""
    if signup_mode() != "open":
        raise ServiceError(N_("Accounts are made by invitation here."))
    email = email.strip()
    if not accounts.EMAIL_RE.match(email) or len(email) > 254:
        raise FieldError("email", N_("invalid email address %(email)r"), email=email)
    issuer = current_app.config["IDP_ISSUER"]
    existing = accounts.find_by_email(email)
    language = i18n.mail_language(existing.locale if existing else None)
    with i18n.speaking(language):
        if existing is not None:
            record("user.signup_for_existing", origin, user_id=existing.id)
            template, values = "signup_exists", {"user": existing, "link": f"{issuer}/login"}
            subject = _("You already have an account")
        else:
            token = links.make(SIGNUP_PURPOSE, {"e": email.lower()})
            link = i18n.in_language(f"{issuer}/signup/confirm/{token}", language)
            record("user.signup_requested", origin)
            template, values = "signup", {"link": link, "hours": int(
                current_app.config["IDP_VERIFY_LINK_SECONDS"]) // 3600}
            subject = _("Finish creating your account")
        message = mail.build(email, subject, render_template(f"mail/{template}.txt", **values),
                             render_template(f"mail/{template}.html", **values))
    after_commit(lambda: mail.send(message))


def sign_up_address(token: str) -> str:
    """The address a sign-up link was mailed to; ``BadLink`` when it cannot make one."""
    return _sign_up_data(token)


def confirm_sign_up(token: str, username: str, password: str, origin: Origin) -> User:
    """Make the account of a sign-up link, with the username and password its address's
    owner chose; the address is confirmed. Works once: the address then has an account."""
    email = _sign_up_data(token)
    user = accounts.create_user(username, email, password, email_verified=True, origin=origin)
    record("user.signed_up", origin, user_id=user.id)
    return user


def _sign_up_data(token: str) -> str:
    try:
        data = links.read(SIGNUP_PURPOSE, token,
                          int(current_app.config["IDP_VERIFY_LINK_SECONDS"]))
    except links.Expired:
        raise BadLink(N_("This link has expired. Sign up again.")) from None
    except links.Forged:
        raise BadLink(N_("This link is not valid.")) from None
    email = data.get("e")
    if not isinstance(email, str) or not accounts.EMAIL_RE.match(email):
        raise BadLink(N_("This link is not valid."))
    if accounts.find_by_email(email) is not None:
        raise BadLink(N_("This address has an account already: sign in to it."))
    return email
