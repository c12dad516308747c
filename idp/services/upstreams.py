"""Upstream identity providers: configuring them, and the accounts their sign-ins open.

Rules:
- an upstream is an OpenID provider (``issuer``) or a plain OAuth 2.0 one (its
  authorize, token and UserInfo URLs, with a claim mapping); on any host,
  loopback included (an administrator configures it); its client secret is
  sealed at rest;
- an identity is the upstream's ``sub`` at that upstream, never an email;
- the first sign-in of an identity: for a signed-in person linking it from the
  account page, their account; else, with ``--link-by-verified-email`` and the
  upstream saying the email is verified, the account with that email; else, with
  ``--create-users``, a new account (without a password); else a page saying
  why not. Later sign-ins find the linked account (a disabled one is refused);
- an identity links to one account, and an account to one identity per upstream;
- unlinking never takes a person's last way to sign in (a password, a passkey,
  another linked identity);
- with ``--org``, a person signing in this way is a member of that organization,
  and with ``--groups-claim`` their groups there follow the upstream's list;
- every link, account made and refusal is an audit event.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select

from ..clock import now
from ..extensions import db
from ..i18n import N_
from ..models import GroupMember, LinkedIdentity, Passkey, Upstream, User
from ..security import sealing
from . import FieldError, NotFound, ServiceError, Taken, accounts, orgs
from .audit import Origin, changed, record

SECRET_PURPOSE = "upstream client secret"  # noqa: S105 - a key-derivation label
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
DEFAULT_SCOPE = "openid email profile"
# Our claim -> the upstream's field, for plain OAuth 2.0 (GitHub's names by default).
DEFAULT_CLAIMS = {"sub": "id", "email": "email", "name": "name", "username": "login"}
CLAIM_NAMES = ("sub", "email", "email_verified", "name", "given_name", "family_name",
               "username", "groups")


class Refusal(ServiceError):
    """No account here for this identity, as configured; the message says why."""


@dataclass
class Identity:
    """Who the upstream says signed in."""

    subject: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    username: str | None = None
    amr: list[str] | None = None
    groups: list[str] = field(default_factory=list)


# -- configuration ---------------------------------------------------------------------------


def create_upstream(
    upstream_id: str, name: str, *, client_id: str, client_secret: str,
    issuer: str | None = None, authorize_url: str | None = None,
    token_url: str | None = None, userinfo_url: str | None = None,
    scope: str | None = None, claims: dict[str, str] | None = None,
    link_by_verified_email: bool = False, create_users: bool = False,
    org: str | None = None, groups_claim: str | None = None, origin: Origin | None = None,
) -> Upstream:
    if not ID_RE.match(upstream_id):
        raise FieldError("id", N_("invalid id %(upstream)r: lowercase letters, digits and "
                                 "dashes"), upstream=upstream_id)
    if db.session.get(Upstream, upstream_id):
        raise Taken("id", N_("upstream %(upstream)r exists"), upstream=upstream_id)
    if not name.strip():
        raise FieldError("name", N_("the upstream needs a name"))
    endpoints = (authorize_url, token_url, userinfo_url)
    if issuer and any(endpoints):
        raise FieldError("issuer", N_("give the issuer (OpenID Connect discovery) or the three "
                                     "URLs, not both"))
    if not issuer and not all(endpoints):
        raise FieldError("issuer", N_("give the issuer, or the authorization, token and "
                                     "UserInfo URLs for a provider without discovery"))
    for setting, problem, url in (
            ("issuer", N_("the issuer must be an absolute http(s) URL"), issuer),
            ("authorize_url", N_("the authorization URL must be an absolute http(s) URL"),
             authorize_url),
            ("token_url", N_("the token URL must be an absolute http(s) URL"), token_url),
            ("userinfo_url", N_("the UserInfo URL must be an absolute http(s) URL"),
             userinfo_url)):
        if url is not None and not _is_web_url(url):
            raise FieldError(setting, problem)
    if not client_id:
        raise FieldError("client_id", N_("the upstream needs a client id"))
    if not client_secret:
        raise FieldError("client_secret", N_("the upstream needs a client secret"))
    mapping = dict(claims or {})
    for ours in mapping:
        if ours not in CLAIM_NAMES:
            raise ServiceError(N_("unknown claim %(claim)r; one of %(values)s"), claim=ours,
                               values=", ".join(CLAIM_NAMES))
    upstream = Upstream(
        id=upstream_id, name=name.strip(), issuer=issuer, authorize_url=authorize_url,
        token_url=token_url, userinfo_url=userinfo_url, client_id=client_id,
        sealed_client_secret=sealing.seal(SECRET_PURPOSE, client_secret),
        scope=" ".join((scope or (DEFAULT_SCOPE if issuer else "")).split()),
        claims=mapping if issuer else {**DEFAULT_CLAIMS, **mapping},
        link_by_verified_email=link_by_verified_email, create_users=create_users,
        org_id=orgs.require_org(org).id if org else None, groups_claim=groups_claim or None,
    )
    db.session.add(upstream)
    db.session.flush()
    changed("upstream.created", origin, upstream=upstream_id)
    return upstream


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.fragment


def all_upstreams() -> list[Upstream]:
    return list(db.session.scalars(select(Upstream).order_by(Upstream.name)))


def find(upstream_id: str) -> Upstream | None:
    return db.session.get(Upstream, upstream_id) if len(upstream_id) <= 64 else None


def require(upstream_id: str) -> Upstream:
    upstream = find(upstream_id)
    if upstream is None:
        raise NotFound(N_("no upstream %(upstream)r"), upstream=upstream_id)
    return upstream


def stranded_by_deleting(upstream: Upstream) -> int:
    """How many users would be left with no way to sign in without this upstream."""
    return sum(1 for identity in _identities_at(upstream)
               if not _other_ways_in(identity.user_id, but=upstream.id))


def delete_upstream(upstream_id: str, *, force: bool = False,
                    origin: Origin | None = None) -> int:
    """Delete an upstream and its linked identities; returns how many there were.
    Refused (unless ``force``) while someone can sign in no other way."""
    upstream = require(upstream_id)
    if (stranded := stranded_by_deleting(upstream)) and not force:
        raise ServiceError(N_("%(count)d user(s) can sign in only through %(upstream)r; "
                              "pass --force to delete it anyway"), count=stranded,
                           upstream=upstream_id)
    linked = len(_identities_at(upstream))
    changed("upstream.deleted", origin, upstream=upstream_id, identities=linked)
    db.session.delete(upstream)
    return linked


def _identities_at(upstream: Upstream) -> list[LinkedIdentity]:
    return list(db.session.scalars(select(LinkedIdentity).where(
        LinkedIdentity.upstream_id == upstream.id)))


# -- identities ------------------------------------------------------------------------------


def mapped_identity(upstream: Upstream, claims: dict[str, Any]) -> Identity | None:
    """The identity in an upstream's claims (through its mapping); None without ``sub``."""
    def value(ours: str) -> Any:
        return claims.get(upstream.claims.get(ours, ours))

    subject = value("sub")
    if subject is None or isinstance(subject, bool) or str(subject) == "":
        return None

    def text(ours: str, limit: int) -> str | None:
        found = value(ours)
        return str(found)[:limit] if isinstance(found, (str, int)) and str(found) else None

    amr = claims.get("amr") if upstream.is_oidc else None
    groups = value(upstream.groups_claim) if upstream.groups_claim else None
    return Identity(
        subject=str(subject)[:255], email=text("email", 254),
        email_verified=value("email_verified") is True, name=text("name", 200),
        given_name=text("given_name", 100), family_name=text("family_name", 100),
        username=text("username", 150) or (text("preferred_username", 150)),
        amr=[str(m)[:32] for m in amr[:10]] if isinstance(amr, list) and amr else None,
        groups=[str(g)[:200] for g in groups[:100] if isinstance(g, str)]
        if isinstance(groups, list) else [],
    )


def amr_of(identity: Identity) -> list[str]:
    """RFC 8176 methods of an upstream sign-in: the upstream's own when it says
    (``mfa`` among them makes ``acr`` 2), else ``fed`` (federated)."""
    return identity.amr or ["fed"]


def linked_identities(user: User) -> list[tuple[LinkedIdentity, Upstream]]:
    rows = db.session.execute(
        select(LinkedIdentity, Upstream).join(Upstream, Upstream.id == LinkedIdentity.upstream_id)
        .where(LinkedIdentity.user_id == user.id).order_by(Upstream.name)).all()
    return [(identity, upstream) for identity, upstream in rows]


def account_for(upstream: Upstream, identity: Identity, origin: Origin, *,
                linking: User | None = None) -> User:
    """The account this identity signs in to (rules above); raises ``Refusal``."""
    linked = db.session.scalar(select(LinkedIdentity).where(
        LinkedIdentity.upstream_id == upstream.id, LinkedIdentity.subject == identity.subject))
    if linked is not None:
        user = db.session.get(User, linked.user_id)
        if linking is not None and linked.user_id != linking.id:
            _refuse(upstream, identity, origin, "linked to another account",
                    N_("This %(provider)s account is already linked to another account here."),
                    provider=upstream.name)
        if user is None or user.disabled:
            _refuse(upstream, identity, origin, "account disabled",
                    N_("Your account here is disabled. Ask an administrator."))
        linked.last_used_at = now()
        linked.email = identity.email
        _follow_organization(upstream, identity, user)
        return user
    if linking is not None:
        return _link(upstream, identity, linking, origin, how="by the account's owner")
    if identity.email and identity.email_verified and upstream.link_by_verified_email:
        existing = db.session.scalar(select(User).where(
            func.lower(User.email) == identity.email.lower()))
        if existing is not None:
            if existing.disabled:
                _refuse(upstream, identity, origin, "account disabled",
                        N_("Your account here is disabled. Ask an administrator."))
            return _link(upstream, identity, existing, origin, how="by verified email")
    if upstream.create_users:
        return _create(upstream, identity, origin)
    _refuse(upstream, identity, origin, "no linked account",
            N_("No account here is linked to your %(provider)s account. Sign in another "
               "way and link it from your account page, or ask an administrator."),
            provider=upstream.name)


def _link(upstream: Upstream, identity: Identity, user: User, origin: Origin, *,
          how: str) -> User:
    already = db.session.scalar(select(LinkedIdentity.id).where(
        LinkedIdentity.upstream_id == upstream.id, LinkedIdentity.user_id == user.id))
    if already is not None:
        _refuse(upstream, identity, origin, "account linked to another identity",
                N_("Your account here is already linked to another %(provider)s account."),
                provider=upstream.name)
    db.session.add(LinkedIdentity(upstream_id=upstream.id, subject=identity.subject,
                                  user_id=user.id, email=identity.email, last_used_at=now()))
    record("upstream.linked", origin, user_id=user.id, upstream=upstream.id, how=how)
    _follow_organization(upstream, identity, user)
    return user


def _create(upstream: Upstream, identity: Identity, origin: Origin) -> User:
    if not identity.email or not accounts.EMAIL_RE.match(identity.email):
        _refuse(upstream, identity, origin, "no email",
                N_("%(provider)s did not share an email address, which an account here "
                   "needs. Ask an administrator."), provider=upstream.name)
    if accounts.find_user(identity.email) is not None:
        _refuse(upstream, identity, origin, "email taken",
                N_("An account here already has your email address. Sign in to it another "
                   "way and link your account from your account page."))
    user = accounts.create_user(
        _free_username(identity), identity.email, None, given_name=identity.given_name,
        family_name=identity.family_name, email_verified=identity.email_verified)
    if identity.name and not (identity.given_name or identity.family_name):
        user.given_name = identity.name[:100]
    db.session.flush()
    record("upstream.user_created", origin, user_id=user.id, upstream=upstream.id)
    return _link(upstream, identity, user, origin, how="new account")


def _free_username(identity: Identity) -> str:
    """A username like the upstream's (or the email's local part), made unique."""
    wanted = identity.username or (identity.email or "").split("@")[0] or "user"
    base = re.sub(r"[^A-Za-z0-9._@+-]", "", wanted)[:140].lstrip("._@+-") or "user"
    candidate = base
    while accounts.find_user(candidate) is not None:
        candidate = f"{base}-{secrets.token_hex(2)}"
    return candidate


def _follow_organization(upstream: Upstream, identity: Identity, user: User) -> None:
    """With ``--org``: a member there; with a groups claim, in exactly those groups."""
    if upstream.org_id is None:
        return
    org = orgs.find_org(upstream.org_id)
    if org is None:
        return
    if orgs.membership(user.id, org.id) is None:
        orgs.add_member(org, user)
        db.session.flush()
    if not upstream.groups_claim:
        return
    wanted = set(identity.groups)
    current = {g.name: g for g in orgs.user_groups(user.id, org.id)}
    for name in wanted - set(current):
        group = orgs.find_group(org, name) or orgs.create_group(org, name)
        db.session.flush()
        db.session.add(GroupMember(group_id=group.id, user_id=user.id))
    for name in set(current) - wanted:
        db.session.execute(delete(GroupMember).where(
            GroupMember.group_id == current[name].id, GroupMember.user_id == user.id))


def _refuse(upstream: Upstream, identity: Identity, origin: Origin, reason: str,
            message: str, **values: object) -> NoReturn:
    record("upstream.login_refused", origin, upstream=upstream.id, reason=reason,
           subject=identity.subject)
    raise Refusal(message, **values)


# -- unlinking ------------------------------------------------------------------------------


def _other_ways_in(user_id: str, *, but: str) -> bool:
    """Whether the user can sign in without their identity at upstream ``but``."""
    user = db.session.get(User, user_id)
    if user is None:
        return False
    if user.password_hash or db.session.scalar(select(Passkey.id).where(
            Passkey.user_id == user_id)):
        return True
    return db.session.scalar(select(LinkedIdentity.id).where(
        LinkedIdentity.user_id == user_id, LinkedIdentity.upstream_id != but)) is not None


def unlink(user: User, upstream_id: str, origin: Origin) -> None:
    identity = db.session.scalar(select(LinkedIdentity).where(
        LinkedIdentity.user_id == user.id, LinkedIdentity.upstream_id == upstream_id))
    if identity is None:
        raise ServiceError(N_("That account is not linked."))
    if not _other_ways_in(user.id, but=upstream_id):
        raise ServiceError(N_("This is your only way to sign in: set a password or add a "
                           "passkey first."))
    db.session.delete(identity)
    record("upstream.unlinked", origin, user_id=user.id, upstream=upstream_id)
