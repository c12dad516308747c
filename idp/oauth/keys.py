"""Signing keys: generation, rotation, the published JWKS, and a process cache.

Rules:
- keys live in the database; the newest unretired key of an algorithm signs
  (the caller commits a change);
- ``rotate`` retires the current key but keeps publishing it until every token
  it can have signed has expired (the longest access or ID token lifetime);
- each process caches the key set for ``CACHE_SECONDS`` so signing costs no
  query, and a rotation made elsewhere is picked up within that time.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, current_app
from joserfc import jwt
from joserfc.jwk import ECKey, KeyParameters, KeySet, OKPKey, RSAKey
from sqlalchemy import func, select

from ..clock import now
from ..extensions import db
from ..i18n import N_
from ..models import Client, SigningKey
from ..services.audit import Origin, changed

KEY_ALGS = ("Ed25519", "RS256", "ES256")
# The JWS "alg" values each stored key signs for.
SIGNING_ALGS = {"Ed25519": "Ed25519", "EdDSA": "Ed25519", "RS256": "RS256", "ES256": "ES256"}
CACHE_SECONDS = 30


def generate(alg: str) -> SigningKey:
    """Create (unsaved) a new private key for ``alg``."""
    key: RSAKey | ECKey | OKPKey
    if alg == "RS256":
        key = RSAKey.generate_key(2048, parameters=KeyParameters(use="sig", alg=alg),
                                  auto_kid=True)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", parameters=KeyParameters(use="sig", alg=alg),
                                 auto_kid=True)
    elif alg == "Ed25519":
        # No "alg" member: the same key verifies "Ed25519" and legacy "EdDSA" JWSs.
        key = OKPKey.generate_key("Ed25519", parameters=KeyParameters(use="sig"), auto_kid=True)
    else:
        raise ValueError(f"unsupported key algorithm {alg!r}")
    return SigningKey(kid=key.kid, alg=alg, private_jwk=key.as_dict(private=True))


def ensure_keys() -> list[SigningKey]:
    """Create a current key for every algorithm that has none; return the new ones."""
    have = set(
        db.session.scalars(select(SigningKey.alg).where(SigningKey.retired_at.is_(None)))
    )
    created = [generate(alg) for alg in KEY_ALGS if alg not in have]
    db.session.add_all(created)
    store().invalidate()
    return created


def rotate(alg: str, origin: Origin | None = None) -> SigningKey:
    """Retire the current key of ``alg`` and make a new one current."""
    for old in db.session.scalars(
        select(SigningKey).where(SigningKey.alg == alg, SigningKey.retired_at.is_(None))
    ):
        old.retired_at = now()
    new = generate(alg)
    db.session.add(new)
    db.session.flush()
    store().invalidate()
    changed("key.rotated", origin, kid=new.kid, alg=alg)
    return new


def states() -> list[tuple[SigningKey, str]]:
    """Every key, oldest first, with its state: current, published (retired, still
    verifying its tokens) or retired."""
    published = {k.kid for k in published_keys()}
    rows = db.session.scalars(select(SigningKey).order_by(SigningKey.created_at))
    return [(k, "current" if k.retired_at is None else
             "published" if k.kid in published else "retired") for k in rows]


def withdraw(kid: str, origin: Origin | None = None) -> SigningKey:
    """Stop publishing a retired key at once (it leaked, say): tokens it signed stop
    verifying. A current key is rotated first."""
    key = db.session.get(SigningKey, kid) if len(kid) <= 64 else None
    if key is None:
        from ..services import NotFound

        raise NotFound(N_("no key %(kid)r"), kid=kid)
    if key.retired_at is None:
        from ..services import ServiceError

        raise ServiceError(N_("This key is current; rotate its algorithm first."))
    key.retired_at = 1  # long before any publication window
    store().invalidate()
    changed("key.withdrawn", origin, kid=kid, alg=key.alg)
    return key


def publication_window() -> int:
    """How long a retired key stays published: the longest signed-token lifetime."""
    cfg = current_app.config
    longest_client = db.session.scalar(select(func.max(Client.access_token_ttl))) or 0
    return max(int(cfg["IDP_ACCESS_TOKEN_TTL"]), int(cfg["IDP_ID_TOKEN_TTL"]), longest_client)


def published_keys() -> list[SigningKey]:
    cutoff = now() - publication_window()
    rows = db.session.scalars(
        select(SigningKey)
        .where((SigningKey.retired_at.is_(None)) | (SigningKey.retired_at > cutoff))
        .order_by(SigningKey.created_at.desc())
    )
    return list(rows)


@dataclass
class KeyCache:
    loaded_at: float = 0.0
    signing: dict[str, Any] = field(default_factory=dict)
    verifying: KeySet | None = None
    jwks: dict[str, Any] = field(default_factory=dict)

    def invalidate(self) -> None:
        self.loaded_at = 0.0

    def refresh(self) -> None:
        if time.monotonic() - self.loaded_at < CACHE_SECONDS:
            return
        keys = published_keys()
        imported = {k.kid: _import(k.private_jwk) for k in keys}
        signing: dict[str, Any] = {}
        for k in keys:  # newest first
            if k.retired_at is None and k.alg not in signing:
                signing[k.alg] = imported[k.kid]
        public = [imported[k.kid].as_dict(private=False) for k in keys]
        self.signing = signing
        self.verifying = KeySet([imported[k.kid] for k in keys])
        self.jwks = {"keys": public}
        self.loaded_at = time.monotonic()


def _import(jwk: dict[str, Any]) -> RSAKey | ECKey | OKPKey:
    kty = jwk["kty"]
    if kty == "RSA":
        return RSAKey.import_key(jwk)
    if kty == "EC":
        return ECKey.import_key(jwk)
    return OKPKey.import_key(jwk)


def store() -> KeyCache:
    return current_app.extensions["idp.keys"]


def init_app(app: Flask) -> None:
    app.extensions["idp.keys"] = KeyCache()


def signing_key(alg: str) -> Any:
    cache = store()
    cache.refresh()
    key_alg = SIGNING_ALGS[alg]
    try:
        return cache.signing[key_alg]
    except KeyError:
        raise RuntimeError(f"no current {key_alg} signing key; run 'flask idp init'") from None


def jwks() -> dict[str, Any]:
    cache = store()
    cache.refresh()
    return cache.jwks


def verification_keys() -> KeySet:
    cache = store()
    cache.refresh()
    assert cache.verifying is not None
    return cache.verifying


def sign(claims: dict[str, Any], alg: str, typ: str = "JWT") -> str:
    """Sign ``claims`` as a compact JWS with the current key for ``alg``."""
    key = signing_key(alg)
    header = {"typ": typ, "alg": alg, "kid": key.kid}  # joserfc's order
    if SIGNING_ALGS[alg] == "Ed25519":  # "Ed25519", or the legacy "EdDSA" a client opted into
        return _compact_ed25519(header, claims, key)
    return jwt.encode(header, claims, key, algorithms=[alg])


def _compact_ed25519(header: dict[str, Any], claims: dict[str, Any], key: OKPKey) -> str:
    """The JWS Compact Serialization (RFC 7515 §7.1) of ``claims``, signed with ``key``.

    Every access token is signed here, and joserfc's ``jwt.encode`` re-checks the
    header, algorithm and key for each token (``bench/README.md`` has what that
    costs); the key was checked once, when it was loaded. The bytes are the same
    as joserfc's.
    """
    signing_input = b".".join((_b64(_json(header)), _b64(_json(claims))))
    private = key.private_key
    assert isinstance(private, Ed25519PrivateKey)  # only Ed25519 keys sign here
    signature = private.sign(signing_input)
    return b".".join((signing_input, _b64(signature))).decode("ascii")


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")
