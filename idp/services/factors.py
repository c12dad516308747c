"""Second factors: enrolling, checking, removing; and when one is required.

Rules:
- an authenticator app (TOTP, RFC 6238, ``pyotp``) counts once a first code
  confirmed it; codes are checked with one step of drift either way, and each
  is good once: a step at or before the last one accepted is refused (RFC 6238
  §5.2); the secret is sealed at rest (``security.sealing``);
- passkeys (WebAuthn Level 2, ``py_webauthn``): the relying party is the
  issuer's host, the origin the issuer's; the sign counter must grow (unless
  the authenticator keeps none); a passkey serves as a second factor, or with
  user verification as a whole sign-in; a credential is only ever its owner's;
- ten recovery codes, shown once, kept as keyed digests, each good once
  (claimed atomically); regenerating them voids the old ones;
- a second factor is required when the user has one, when the client or the
  organization requires it, and when the request asks for ``acr`` 2
  (``acr_values`` without 1, or an essential ``acr`` claim);
- ``acr`` is "2" for two factors (a user-verified passkey counts as two) and
  "1" for one; ``amr`` follows RFC 8176: ``pwd``, ``otp`` (an authenticator
  app or a recovery code), ``hwk``/``swk`` (a device-bound or a synced
  passkey), ``user``, ``mfa``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pyotp
from flask import current_app
from sqlalchemy import delete, exists, select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from .. import brand
from ..clock import now
from ..extensions import db
from ..i18n import N_
from ..models import Client, Organization, Passkey, RecoveryCode, TotpFactor, User
from ..models.types import rowcount
from ..security import sealing
from . import ServiceError, audit, sessions

TOTP_PURPOSE = "totp secret"
RECOVERY_PURPOSE = "recovery code"
RECOVERY_CODES = 10
STEP = 30  # seconds (RFC 6238's default; what authenticator apps use)
DRIFT = 1  # steps either way


class FactorError(ServiceError):
    """A second factor was wrong, replayed, or not this user's."""


# -- policy ------------------------------------------------------------------------------


def has_second_factor(user: User) -> bool:
    """A confirmed authenticator app or a passkey (recovery codes stand in for these;
    alone they are not a factor)."""
    return bool(db.session.scalar(select(
        exists().where(TotpFactor.user_id == user.id, TotpFactor.confirmed_at.is_not(None))
        | exists().where(Passkey.user_id == user.id))))


def asks_for_two(acr_values: str | None, claims_request: dict[str, Any] | None) -> bool:
    """Whether a request insists on ``acr`` 2: ``acr_values`` naming 2 but not 1, or an
    essential ``acr`` claim that only 2 satisfies (OIDC Core §3.1.2.1, §5.5.1.1)."""
    values = (acr_values or "").split()
    if "2" in values and "1" not in values:
        return True
    spec = ((claims_request or {}).get("id_token") or {}).get("acr") or {}
    wanted = spec.get("values") or ([spec["value"]] if "value" in spec else [])
    return bool(spec.get("essential")) and "2" in wanted and "1" not in wanted


def required(user: User, client: Client, *, acr_values: str | None = None,
             claims_request: dict[str, Any] | None = None) -> bool:
    """Whether a sign-in needs a second factor, before its organization is known."""
    return client.require_mfa or asks_for_two(acr_values, claims_request) \
        or has_second_factor(user)


def organization_requires(org_id: str | None) -> bool:
    org = db.session.get(Organization, org_id) if org_id else None
    return org is not None and org.require_mfa


# -- authenticator apps ---------------------------------------------------------------


@dataclass
class TotpEnrolment:
    secret: str
    uri: str  # otpauth://, for the QR code


def _issuer_name() -> str:
    return brand.current().name


def totp_of(user: User) -> TotpFactor | None:
    return db.session.scalar(select(TotpFactor).where(TotpFactor.user_id == user.id))


def start_totp(user: User) -> TotpEnrolment:
    """A new secret for the user's authenticator app, waiting for its first code."""
    existing = totp_of(user)
    if existing is not None and existing.confirmed_at is not None:
        raise ServiceError(N_("An authenticator app is already set up; remove it first."))
    secret = pyotp.random_base32()  # 160 bits
    if existing is None:
        existing = TotpFactor(user_id=user.id, sealed_secret="")
        db.session.add(existing)
    existing.sealed_secret = sealing.seal(TOTP_PURPOSE, secret)
    existing.last_step = 0
    return TotpEnrolment(secret, pyotp.TOTP(secret).provisioning_uri(
        name=user.email or user.username, issuer_name=_issuer_name()))


def pending_totp(user: User) -> TotpEnrolment | None:
    factor = totp_of(user)
    if factor is None or factor.confirmed_at is not None:
        return None
    secret = sealing.unseal(TOTP_PURPOSE, factor.sealed_secret)
    return TotpEnrolment(secret, pyotp.TOTP(secret).provisioning_uri(
        name=user.email or user.username, issuer_name=_issuer_name()))


def _matching_step(secret: str, code: str, at: int) -> int | None:
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp, step = pyotp.TOTP(secret), at // STEP
    for candidate in range(step - DRIFT, step + DRIFT + 1):
        if secrets.compare_digest(totp.at(candidate * STEP), code):
            return candidate
    return None


def confirm_totp(user: User, code: str) -> None:
    """The first code from the app: from now on the factor counts."""
    factor = totp_of(user)
    if factor is None or factor.confirmed_at is not None:
        raise ServiceError(N_("Start setting up the authenticator app first."))
    step = _matching_step(sealing.unseal(TOTP_PURPOSE, factor.sealed_secret), code, now())
    if step is None:
        raise FactorError(N_("That code is not right. Check the time on your phone and try again."))
    factor.confirmed_at = now()
    factor.last_step = step


def verify_totp(user: User, code: str) -> bool:
    """A code from the user's confirmed app, each good once (claimed atomically)."""
    factor = totp_of(user)
    if factor is None or factor.confirmed_at is None:
        return False
    try:
        secret = sealing.unseal(TOTP_PURPOSE, factor.sealed_secret)
    except sealing.Unsealable:
        return False
    step = _matching_step(secret, code, now())
    if step is None:
        return False
    claimed = rowcount(db.session.execute(
        update(TotpFactor).where(TotpFactor.id == factor.id, TotpFactor.last_step < step)
        .values(last_step=step).execution_options(synchronize_session=False)))
    return claimed == 1


def remove_totp(user: User) -> bool:
    return rowcount(db.session.execute(delete(TotpFactor).where(
        TotpFactor.user_id == user.id))) > 0


# -- recovery codes -------------------------------------------------------------------------


def _normal(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())


def regenerate_recovery_codes(user: User) -> list[str]:
    """Ten new codes, shown once; the old ones stop working."""
    remove_recovery_codes(user)
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))  # ~49 bits
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id,
                                    digest=sealing.keyed_digest(RECOVERY_PURPOSE, raw)))
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    normal = _normal(code)
    if len(normal) != 10:
        return False
    claimed = rowcount(db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
               RecoveryCode.digest == sealing.keyed_digest(RECOVERY_PURPOSE, normal))
        .values(used_at=now()).execution_options(synchronize_session=False)))
    return claimed == 1


def remove_recovery_codes(user: User) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def recovery_codes_left(user: User) -> int:
    return len(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def has_recovery_codes(user: User) -> bool:
    return db.session.scalar(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id)) is not None


# -- passkeys ------------------------------------------------------------------------------


def rp_id() -> str:
    return urlsplit(current_app.config["IDP_ISSUER"]).hostname or "localhost"


def origin() -> str:
    parts = urlsplit(current_app.config["IDP_ISSUER"])
    return f"{parts.scheme}://{parts.netloc}"


def passkeys_of(user: User) -> list[Passkey]:
    return list(db.session.scalars(select(Passkey).where(Passkey.user_id == user.id)
                                   .order_by(Passkey.created_at)))


def _handle(user: User) -> bytes:
    """The user's WebAuthn user handle: random, made once (it names no one)."""
    if not user.webauthn_handle:
        user.webauthn_handle = bytes_to_base64url(secrets.token_bytes(32))
    return base64url_to_bytes(user.webauthn_handle)


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for transport in passkey.transports:
        try:
            transports.append(AuthenticatorTransport(transport))
        except ValueError:
            continue
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id),
                                         transports=transports or None)


@dataclass
class Ceremony:
    """Options for the browser (JSON) and the challenge to check the answer against."""

    options: str
    challenge: str  # base64url


def registration_options(user: User) -> Ceremony:
    options = generate_registration_options(
        rp_id=rp_id(), rp_name=_issuer_name(), user_id=_handle(user),
        user_name=user.email or user.username, user_display_name=user.name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=[_descriptor(p) for p in passkeys_of(user)],
    )
    return Ceremony(options_to_json(options), bytes_to_base64url(options.challenge))


def register_passkey(user: User, credential: str, challenge: str, name: str) -> Passkey:
    name = " ".join(name.split())[:100] or "Passkey"
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id(), expected_origin=origin())
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        raise FactorError(N_("The passkey could not be registered: %(why)s"),
                          why=_plain(error)) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.scalar(select(Passkey.id).where(Passkey.credential_id == credential_id)):
        raise FactorError(N_("This passkey is already registered."))
    try:
        transports = [str(t) for t in json.loads(credential)["response"].get("transports", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        transports = []
    passkey = Passkey(user_id=user.id, credential_id=credential_id,
                      public_key=bytes_to_base64url(verified.credential_public_key),
                      sign_count=verified.sign_count, transports=transports[:8],
                      device_type=str(getattr(verified.credential_device_type, "value",
                                              "single_device")), name=name)
    db.session.add(passkey)
    return passkey


def authentication_options(user: User | None) -> Ceremony:
    """For a second factor (the user's passkeys), or a sign-in by passkey alone
    (``user`` None: any discoverable credential, user verification required)."""
    options = generate_authentication_options(
        rp_id=rp_id(),
        allow_credentials=[_descriptor(p) for p in passkeys_of(user)] if user else [],
        user_verification=UserVerificationRequirement.REQUIRED if user is None
        else UserVerificationRequirement.PREFERRED)
    return Ceremony(options_to_json(options), bytes_to_base64url(options.challenge))


def key_method(passkey: Passkey) -> str:
    """RFC 8176: a synced key (``swk``) or one bound to its device (``hwk``)."""
    return "swk" if passkey.device_type == "multi_device" else "hwk"


@dataclass
class PasskeyUse:
    passkey: Passkey
    user: User
    user_verified: bool

    def amr(self, *, alone: bool) -> list[str]:
        """Used alone, the user verified by it (``user``) makes two factors."""
        return [key_method(self.passkey), "user", "mfa"] if alone else [key_method(self.passkey)]


def verify_passkey(credential: str, challenge: str, *, user: User | None) -> PasskeyUse:
    """Check an assertion: for ``user`` (a second factor), or for whoever its
    credential belongs to (a passkey sign-in, which needs user verification)."""
    try:
        raw_id = json.loads(credential)["rawId"]
        if not isinstance(raw_id, str):
            raise TypeError("rawId")
    except (ValueError, KeyError, TypeError):
        raise FactorError(N_("That is not a passkey answer.")) from None
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == raw_id))
    if passkey is None or (user is not None and passkey.user_id != user.id):
        raise FactorError(N_("This passkey is not registered here."))
    owner = db.session.get(User, passkey.user_id)
    if owner is None or owner.disabled:
        raise FactorError(N_("This passkey is not registered here."))
    if user is None:
        handle = json.loads(credential).get("response", {}).get("userHandle")
        if not owner.webauthn_handle or handle != owner.webauthn_handle:
            raise FactorError(N_("This passkey is not registered here."))
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id(), expected_origin=origin(),
            credential_public_key=base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=user is None)
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        raise FactorError(N_("The passkey answer was refused: %(why)s"),
                          why=_plain(error)) from None
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = now()
    return PasskeyUse(passkey, owner, verified.user_verified)


def rename_passkey(user: User, passkey_id: str, name: str) -> None:
    passkey = _own_passkey(user, passkey_id)
    passkey.name = " ".join(name.split())[:100] or passkey.name


def remove_passkey(user: User, passkey_id: str) -> None:
    db.session.delete(_own_passkey(user, passkey_id))


def _own_passkey(user: User, passkey_id: str) -> Passkey:
    passkey = db.session.get(Passkey, passkey_id) if len(passkey_id) <= 36 else None
    if passkey is None or passkey.user_id != user.id:
        raise ServiceError(N_("No such passkey."))
    return passkey


def _plain(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]


# -- all of them -----------------------------------------------------------------------------


def reset(user: User, origin: audit.Origin) -> int:
    """Remove every second factor of the user (an administrator's reset, for someone
    who lost them all); their sessions end. Returns how many factors there were."""
    removed = int(remove_totp(user))
    removed += rowcount(db.session.execute(delete(Passkey).where(Passkey.user_id == user.id)))
    remove_recovery_codes(user)
    sessions.end_all_for_user(user.id, origin=origin)
    audit.changed("mfa.reset", origin, user_id=user.id, removed=removed)
    return removed


def factor_count(user: User) -> int:
    totp = totp_of(user)
    return (1 if totp is not None and totp.confirmed_at else 0) + len(passkeys_of(user))
