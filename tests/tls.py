"""A throwaway certificate authority and a server certificate for the live tests.

Production is always https, so the live tests are too: the servers they start
present a certificate for ``localhost`` (and the loopback addresses) signed by
a CA made for the test run, and every client trusts exactly that CA: the
``requests`` sessions through ``verify=``, Chromium through the CA's public
key (``--ignore-certificate-errors-spki-list``, which accepts a chain ending
in that key and nothing else).
"""

from __future__ import annotations

import atexit
import base64
import datetime
import functools
import hashlib
import ipaddress
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOSTNAME = "localhost"
LOOPBACK = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class Certificates:
    """PEM files on disk: the CA (to trust) and the server's chain and key."""

    ca_path: Path
    cert_path: Path  # the leaf, then the CA
    key_path: Path  # PKCS#8, as granian wants it
    ca_spki_sha256: str  # base64 SHA-256 of the CA's SubjectPublicKeyInfo, for Chromium

    def chromium_args(self) -> list[str]:
        return [f"--ignore-certificate-errors-spki-list={self.ca_spki_sha256}"]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(directory: Path, hostname: str = HOSTNAME) -> Certificates:
    """Make a CA and a server certificate for ``hostname`` and the loopback addresses."""
    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=2))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("idp test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0]).not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(hostname)]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in LOOPBACK]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(hostname)).issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0]).not_valid_after(validity[1])
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", \
        directory / "server-key.pem"
    ca_path.write_bytes(ca.public_bytes(pem))
    cert_path.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    spki = ca.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return Certificates(ca_path, cert_path, key_path,
                        base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii"))


@functools.cache
def certificates() -> Certificates:
    """The test run's certificates, made once per process in a directory removed at exit."""
    directory = Path(tempfile.mkdtemp(prefix="idp-tls-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return make_certificates(directory)
