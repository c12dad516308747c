"""A WebAuthn authenticator in software, for tests that speak to the server directly
(the browser tests use Chromium's own virtual authenticator instead).

It makes a P-256 credential with "none" attestation, as most passkeys do, and
signs assertions the way WebAuthn Level 2 §6.3.3 says: over the authenticator
data followed by the SHA-256 of the client data JSON. Each use counts up.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40  # authenticator data flags


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    def __init__(self, origin: str, *, verifies_user: bool = True, synced: bool = False,
                 counts: bool = True) -> None:
        self.origin = origin
        self.verifies_user = verifies_user
        self.synced = synced
        self.counts = counts
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.user_handle: str | None = None
        self.rp_id = ""
        self.sign_count = 0

    @property
    def id(self) -> str:
        return b64(self.credential_id)

    def _public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    def _authenticator_data(self, rp_id: str, *, attested: bool) -> bytes:
        flags = UP | (UV if self.verifies_user else 0) | ((BE | BS) if self.synced else 0)
        if self.counts:
            self.sign_count += 1
        data = hashlib.sha256(rp_id.encode()).digest()
        data += bytes([flags | (AT if attested else 0)]) + struct.pack(">I", self.sign_count)
        if attested:
            data += bytes(16) + struct.pack(">H", len(self.credential_id))
            data += self.credential_id + self._public_key()
        return data

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge,
                           "origin": origin or self.origin, "crossOrigin": False}).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None,
               rp_id: str | None = None) -> dict[str, Any]:
        """``navigator.credentials.create``'s answer, as ``PublicKeyCredential.toJSON``."""
        self.rp_id = rp_id or options["rp"]["id"]
        self.user_handle = options["user"]["id"]
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {},
                                   "authData": self._authenticator_data(self.rp_id,
                                                                        attested=True)})
        return {"id": self.id, "rawId": self.id, "type": "public-key",
                "response": {"clientDataJSON": b64(client_data),
                             "attestationObject": b64(attestation),
                             "transports": ["internal", "hybrid"]},
                "clientExtensionResults": {}, "authenticatorAttachment": "platform"}

    def get(self, options: dict[str, Any], *, origin: str | None = None,
            rp_id: str | None = None, user_handle: str | None = None) -> dict[str, Any]:
        """``navigator.credentials.get``'s answer, as ``PublicKeyCredential.toJSON``."""
        data = self._authenticator_data(rp_id or self.rp_id, attested=False)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return {"id": self.id, "rawId": self.id, "type": "public-key",
                "response": {"clientDataJSON": b64(client_data), "authenticatorData": b64(data),
                             "signature": b64(signature),
                             "userHandle": user_handle or self.user_handle},
                "clientExtensionResults": {}, "authenticatorAttachment": "platform"}
