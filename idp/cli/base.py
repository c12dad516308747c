"""What every command shares: the group, running a service call, printing."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click
from flask.cli import AppGroup

from ..extensions import db
from ..models import User
from ..services import FieldError, ServiceError, accounts

T = TypeVar("T")

idp = AppGroup("idp", help="Administer the identity provider.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def fail(message: str) -> NoReturn:
    db.session.rollback()
    raise click.ClickException(message)


# A setting's command-line option, where it is not "--" and the name with dashes.
OPTIONS = {"username": "USERNAME", "slug": "SLUG", "identifier": "IDENTIFIER", "id": "ID",
           "authorize_url": "--authorize-url", "redirect_uris": "--redirect-uri",
           "post_logout_redirect_uris": "--post-logout-redirect-uri",
           "grant_types": "--grant-type", "apis": "--api"}


def run(action: Callable[[], T]) -> T:
    """Run a service call and commit; a broken rule is a clear message and exit status 1
    (naming the option, when the rule is about one)."""
    try:
        result = action()
        db.session.commit()
        return result
    except FieldError as error:
        fail(f"{OPTIONS.get(error.field, '--' + error.field.replace('_', '-'))}: {error}")
    except ServiceError as error:
        fail(str(error))


def pairs(values: tuple[str, ...], option: str, shape: str) -> dict[str, str]:
    """Repeated ``NAME=VALUE`` options as a mapping (``shape`` names them in errors)."""
    found = {}
    for pair in values:
        name, equals, value = pair.partition("=")
        if not equals or not name or not value:
            raise click.BadParameter(f"{pair!r}: give {shape}", param_hint=option)
        found[name] = value
    return found


def emit(as_json: bool, data: Any, text: str) -> None:
    click.echo(json.dumps(data) if as_json else text)


def user(identifier: str) -> User:
    found = accounts.find_user(identifier)
    if found is None:
        fail(f"no user {identifier!r}")
    return found


def secret_from(password: str | None, password_stdin: bool) -> str | None:
    """A secret given on the command line or, better, on standard input."""
    if password and password_stdin:
        fail("give --password or --password-stdin, not both")
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return password
