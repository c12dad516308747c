"""Identifiers: random for people and organizations, time-ordered for tokens."""

import os
import time
import uuid


def new_id() -> str:
    """A random UUID: users' and organizations' ids go to every client, and
    should not tell when the account was made."""
    return str(uuid.uuid4())


def new_ordered_id() -> str:
    """A UUIDv7 (RFC 9562 §5.7): 48 bits of milliseconds, then 74 random bits.

    For token jtis and families: ids made close in time sort close together,
    so a new row's key lands on the index pages the last rows touched instead
    of a random page of a large table, and inserts stay as cheap at a million
    tokens as at none. (A token states its issue time anyway.)
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10))
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # the RFC 9562 variant
    return str(uuid.UUID(int=value))
