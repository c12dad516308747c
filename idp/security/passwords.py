"""User passwords: argon2id with OWASP parameters.

An unknown user costs one verification too, against a fixed dummy hash, so
the response time does not tell whether an account exists (ASVS 6.3.8).

A process computes one hash at a time, always on the same thread (each takes
a core and 19 MiB, which stay with the thread's allocator arena): the other
logins queue for it while the worker's other threads go on serving tokens, so
a burst of logins can neither take every core nor starve them, nor hold 19 MiB
per thread. Logins scale with worker processes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..i18n import N_

# OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = HASHER.hash("not a password anyone has")
_HASHING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2")

MIN_LENGTH = 8
MAX_LENGTH = 256


def hash_password(password: str) -> str:
    return _HASHING.submit(HASHER.hash, password).result()


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check ``password``; with no stored hash, burn the same time and fail."""
    try:
        verified = _HASHING.submit(HASHER.verify, stored_hash or _DUMMY_HASH, password).result()
        return verified and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return HASHER.check_needs_rehash(stored_hash)


def password_problem(password: str) -> tuple[str, dict[str, int]] | None:
    """Why ``password`` is not acceptable (ASVS 6.2), as a message and its values, or None."""
    if len(password) < MIN_LENGTH:
        return N_("The password must be at least %(count)d characters."), {"count": MIN_LENGTH}
    if len(password) > MAX_LENGTH:
        return N_("The password must be at most %(count)d characters."), {"count": MAX_LENGTH}
    return None
