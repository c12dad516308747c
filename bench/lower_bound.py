"""The production app with parts of the client_credentials path taken out.

    make bench ARGS="--only client_credentials --peer --without signature"

``bench/run.py --without PARTS`` serves ``bench.lower_bound:app`` instead of
``app:app``, with every other ``make serve`` setting unchanged, and passes PARTS
in ``BENCH_WITHOUT``. These are lower bounds, never options: an unsigned token
is no token at all. They show what each part costs under the real server and
load, and where the peer ratio would stand without it.

PARTS, comma-separated:
- ``signature``: the access token is a constant string instead of a signed JWT.
"""

from __future__ import annotations

import os

from app import app
from idp.oauth import keys

PARTS = ("signature",)

without = {part for part in os.environ.get("BENCH_WITHOUT", "").split(",") if part}
if unknown := without - set(PARTS):
    raise SystemExit(f"BENCH_WITHOUT: unknown parts {sorted(unknown)}; known: {PARTS}")
if "signature" in without:
    keys.sign = lambda claims, alg, typ="JWT": "unsigned"

__all__ = ["app"]
