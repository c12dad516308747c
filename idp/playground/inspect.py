"""What the playground says about a token or an error: decoded, verified, explained.

Rules:
- a JWT's signature is checked against the keys the issuer publishes (its
  ``jwks_uri``, fetched like any relying party would), with the algorithm its
  header names, and only one the issuer lists; the verdict says why when it fails;
- each claim is explained in a line, with the section of the RFC or OpenID
  Connect that defines it; times are shown as UTC;
- an error is explained from its code (RFC 6749 §5.2, OIDC Core §3.1.2.6,
  RFC 6750 §3.1, RFC 8707, RFC 8693) in plain words;
- nothing here is trusted: a token that is not a JWT is shown as opaque;
- the words are in the catalogue (the tables lazily); a ``Decoded`` is made for the
  page being shown, never stored, so it holds them translated.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

RFC = "https://www.rfc-editor.org/rfc/"
OIDC = "https://openid.net/specs/openid-connect-core-1_0.html"
TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time", "updated_at")

# claim -> (what it says, translated when shown; where it is defined)
CLAIMS: dict[str, tuple[str, str]] = {
    "iss": (_l("Who issued the token: this provider's issuer URL."), f"{RFC}rfc7519#section-4.1.1"),
    "sub": (_l("Whom the token is about: the user's stable id (or the client's, for a "
               "client_credentials token)."), f"{RFC}rfc7519#section-4.1.2"),
    "aud": (_l("Whom the token is for: the client (ID token) or the API (access token)."),
            f"{RFC}rfc7519#section-4.1.3"),
    "exp": (_l("When it stops being valid."), f"{RFC}rfc7519#section-4.1.4"),
    "iat": (_l("When it was issued."), f"{RFC}rfc7519#section-4.1.6"),
    "nbf": (_l("Not valid before this time."), f"{RFC}rfc7519#section-4.1.5"),
    "jti": (_l("The token's unique id (revocation lists name it)."),
            f"{RFC}rfc7519#section-4.1.7"),
    "auth_time": (_l("When the user last signed in with their credentials."),
                  f"{OIDC}#IDToken"),
    "nonce": (_l("The value the client sent in the authorization request; the client "
                 "checks it to tie the ID token to its own request."), f"{OIDC}#IDToken"),
    "acr": (_l("How strongly the user signed in: 1 one factor, 2 two factors."),
            f"{OIDC}#IDToken"),
    "amr": (_l("How the user signed in: pwd (password), otp, hwk/swk (a passkey), "
               "mfa, fed (an upstream provider)."), f"{RFC}rfc8176"),
    "azp": (_l("The client the ID token was issued to."), f"{OIDC}#IDToken"),
    "at_hash": (_l("Half a hash of the access token issued with it: the client checks "
                   "that the two belong together."), f"{OIDC}#CodeIDToken"),
    "c_hash": (_l("Half a hash of the authorization code."), f"{OIDC}#HybridIDToken"),
    "sid": (_l("The sign-in session; logout names it."),
            "https://openid.net/specs/openid-connect-frontchannel-1_0.html#ClaimsContents"),
    "client_id": (_l("The client the access token was issued to."),
                  f"{RFC}rfc9068#section-2.2"),
    "scope": (_l("What the access token allows, space-separated."),
              f"{RFC}rfc9068#section-2.2.3"),
    "act": (_l("Who acts for the subject: the client that exchanged the token."),
            f"{RFC}rfc8693#section-4.1"),
    "org_id": (_l("The organization the token is for."), ""),
    "org_slug": (_l("The organization's short name."), ""),
    "org_role": (_l("The user's role in that organization."), ""),
    "groups": (_l("The user's groups in the organization."), ""),
    "roles": (_l("The user's roles for this API."), ""),
    "permissions": (_l("What the user's roles allow at this API."), ""),
    "name": (_l("The user's full name."), f"{OIDC}#StandardClaims"),
    "given_name": (_l("The user's first name."), f"{OIDC}#StandardClaims"),
    "family_name": (_l("The user's last name."), f"{OIDC}#StandardClaims"),
    "preferred_username": (_l("The name the user signs in with."), f"{OIDC}#StandardClaims"),
    "email": (_l("The user's email address."), f"{OIDC}#StandardClaims"),
    "email_verified": (_l("Whether the address is known to be theirs."),
                       f"{OIDC}#StandardClaims"),
    "picture": (_l("A URL of the user's picture."), f"{OIDC}#StandardClaims"),
    "locale": (_l("The user's language."), f"{OIDC}#StandardClaims"),
    "updated_at": (_l("When the profile last changed."), f"{OIDC}#StandardClaims"),
    "public_metadata": (_l("Data about the user an administrator keeps, readable by "
                           "applications (Clerk)."), ""),
    "private_metadata": (_l("Data about the user only for back ends (Clerk)."), ""),
    "unsafe_metadata": (_l("Data the user may change themselves (Clerk)."), ""),
}
HEADER = {
    "alg": (_l("The signature algorithm."), f"{RFC}rfc7515#section-4.1.1"),
    "kid": (_l("Which of the published keys signed it."), f"{RFC}rfc7515#section-4.1.4"),
    "typ": (_l("What kind of token: at+jwt is an access token (RFC 9068), JWT an ID token."),
            f"{RFC}rfc9068#section-2.1"),
}

# error code -> (plain words, translated when shown; where it is defined)
ERRORS: dict[str, tuple[str, str]] = {
    "invalid_request": (_l("The request is missing a parameter, repeats one, or has one "
                           "the endpoint does not take."), f"{RFC}rfc6749#section-5.2"),
    "invalid_client": (_l("The client could not be authenticated: unknown, disabled, a wrong "
                          "secret, or the wrong authentication method."),
                       f"{RFC}rfc6749#section-5.2"),
    "invalid_grant": (_l("The code, refresh token or password is not (or no longer) good: "
                         "used already, expired, revoked, for another client or redirect "
                         "URI, or the PKCE verifier does not match."),
                      f"{RFC}rfc6749#section-5.2"),
    "unauthorized_client": (_l("This client is not registered for that grant type."),
                            f"{RFC}rfc6749#section-5.2"),
    "unsupported_grant_type": (_l("This provider does not know that grant type."),
                               f"{RFC}rfc6749#section-5.2"),
    "invalid_scope": (_l("A requested scope is unknown, or more than the client (or the "
                         "subject token) may have."), f"{RFC}rfc6749#section-5.2"),
    "access_denied": (_l("The user (or a rule, such as membership of the organization) "
                         "refused."), f"{RFC}rfc6749#section-4.1.2.1"),
    "unsupported_response_type": (_l("The client may not use that response_type."),
                                  f"{RFC}rfc6749#section-4.1.2.1"),
    "login_required": (_l("prompt=none, but nobody is signed in."), f"{OIDC}#AuthError"),
    "consent_required": (_l("prompt=none, but the user has not allowed this client yet."),
                         f"{OIDC}#AuthError"),
    "interaction_required": (_l("prompt=none, but the user would have to do something "
                                "(choose an organization, give a second factor)."),
                             f"{OIDC}#AuthError"),
    "account_selection_required": (_l("prompt=none, but the user must choose."),
                                   f"{OIDC}#AuthError"),
    "invalid_target": (_l("The resource (API) asked for is unknown or not allowed to this "
                          "client."), f"{RFC}rfc8707#section-2"),
    "invalid_token": (_l("The access token is expired, revoked, malformed or not ours."),
                      f"{RFC}rfc6750#section-3.1"),
    "insufficient_scope": (_l("The access token lacks a scope this call needs."),
                           f"{RFC}rfc6750#section-3.1"),
    "request_not_supported": (_l("Request objects are not supported here."),
                              f"{OIDC}#AuthError"),
    "temporarily_unavailable": (_l("The provider could not answer just now; try again."),
                                f"{RFC}rfc6749#section-4.1.2.1"),
}


@dataclass
class Claim:
    name: str
    value: str  # as JSON
    meaning: str
    link: str
    when: str | None = None  # a time claim, in UTC


@dataclass
class Decoded:
    """A token as the playground shows it."""

    label: str
    token: str
    jwt: bool = False
    header: list[Claim] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    valid: bool | None = None  # None: not a JWT, so nothing to verify
    verdict: str = ""
    unknown_kid: bool = False  # signed with a key not among those fetched


def _b64json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _claims(values: dict[str, Any], known: dict[str, tuple[str, str]]) -> list[Claim]:
    shown = []
    for name, value in values.items():
        meaning, link = known.get(name, (_l("A claim this provider adds."), ""))
        when = None
        if name in TIME_CLAIMS and isinstance(value, int) and not isinstance(value, bool):
            try:
                when = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            except (OverflowError, OSError, ValueError):
                when = None
        shown.append(Claim(name, json.dumps(value, ensure_ascii=False), str(meaning), link,
                           when))
    return shown


def decode(label: str, token: str, jwks: dict[str, Any] | None,
           algorithms: list[str]) -> Decoded:
    """Decode ``token`` and check its signature against ``jwks`` (the published keys)."""
    decoded = Decoded(label, token)
    parts = token.split(".")
    if len(parts) != 3:
        decoded.verdict = _("Opaque: not a JWT, so only the provider can say what it is "
                            "(introspection).")
        return decoded
    try:
        header, claims = _b64json(parts[0]), _b64json(parts[1])
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past any real token
        decoded.verdict = _("Not a JWT: its parts are not base64url-encoded JSON.")
        return decoded
    if not isinstance(header, dict) or not isinstance(claims, dict):
        decoded.verdict = _("Not a JWT: its header or payload is not a JSON object.")
        return decoded
    decoded.jwt = True
    decoded.header, decoded.claims = _claims(header, HEADER), _claims(claims, CLAIMS)
    _verify(decoded, header, jwks, algorithms)
    return decoded


def _verify(decoded: Decoded, header: dict[str, Any], jwks: dict[str, Any] | None,
            algorithms: list[str]) -> None:
    """Set the token's validity and the verdict that says why."""
    alg = header.get("alg")
    decoded.valid = False
    if jwks is None:
        decoded.verdict = _("Signature not checked: the published keys could not be fetched.")
        return
    if alg not in algorithms:
        decoded.verdict = _("Signature invalid: alg %(alg)s is not one the issuer signs with.",
                            alg=repr(alg))
        return
    kid = header.get("kid")
    if kid not in {k.get("kid") for k in jwks.get("keys", [])}:
        decoded.unknown_kid = True
        decoded.verdict = _("Signature invalid: no published key has this kid.")
        return
    try:
        jws.deserialize_compact(decoded.token, KeySet.import_key_set(jwks),  # type: ignore[arg-type]  # the issuer's JWKS, as fetched
                                algorithms=[alg])
    except (JoseError, ValueError) as error:
        decoded.verdict = _("Signature invalid: %(error)s.", error=error.__class__.__name__)
        return
    decoded.valid = True
    decoded.verdict = _("Signature valid: %(alg)s, key %(kid)s of the issuer's published keys.",
                        alg=alg, kid=kid)


def explain_error(body: Any, status: int | None) -> tuple[str, str] | None:
    """Plain words for an error answer (and where the spec says so), or None."""
    code = body.get("error") if isinstance(body, dict) else None
    if not isinstance(code, str):
        if status is None or status < 400:
            return None
        return _("The answer was HTTP %(status)s.", status=status), ""
    words, link = ERRORS.get(code, (_l("An error this playground does not know."), ""))
    said = body.get("error_description")
    if isinstance(said, str) and said:
        return _("%(code)s: %(words)s The provider said: “%(said)s”", code=code, words=words,
                 said=said), link
    return _("%(code)s: %(words)s", code=code, words=words), link
