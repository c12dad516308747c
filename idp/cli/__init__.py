"""The ``flask idp`` command group: set-up and administration, one module per noun.

Every ``create`` and every ``list`` / ``show`` takes ``--json`` and then prints one
JSON object; secrets are shown once. A broken rule is a clear message and exit
status 1; each command commits once, at its end.
"""

from __future__ import annotations

from flask import Flask

from .base import idp


def init_app(app: Flask) -> None:
    from . import apis, clients, keys, orgs, setup, upstreams, users  # noqa: F401 - they register

    app.cli.add_command(idp)
