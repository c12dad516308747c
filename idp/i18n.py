"""The language of every page and mail (Flask-Babel).

A request's language is, in order: the ``ui_locales`` it carries (OIDC Core
§3.1.2.1: a space-separated list, most preferred first), or the one its
interaction was begun with; then the browser's ``Accept-Language``; then
``IDP_LOCALE``. Catalogues live in ``idp/translations`` (``make translations``
compiles them; ``babel.cfg`` says what is extracted).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from flask import Flask, Response, current_app, g, has_request_context, request
from flask_babel import Babel, force_locale, format_timedelta, get_locale
from flask_babel import lazy_gettext as _l

LANGUAGES = ("en", "de", "fr", "es")
DIRECTORY = Path(__file__).parent / "translations"


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it here: it is sent in
    English where English is due (a JSON error) and translated where a page shows it."""
    return message


class Words(str):
    """A value that is itself a catalogue message (a reason inside another message):
    English as a ``str``, translated by ``ServiceError.shown()``."""

    __slots__ = ()


def preferred(tags: str | None) -> str | None:
    """The first supported language of a ``ui_locales`` list (``de-CH`` counts as ``de``)."""
    for tag in (tags or "").split():
        language = tag.replace("_", "-").split("-", 1)[0].lower()
        if language in LANGUAGES:
            return language
    return None


def select() -> str:
    if has_request_context():
        chosen = preferred(request.args.get("ui_locales")) or _interaction_locale()
        if chosen:
            g.idp_carried_locale = chosen
            return chosen
        if best := request.accept_languages.best_match(LANGUAGES):
            return best
    return str(current_app.config["IDP_LOCALE"])


def _interaction_locale() -> str | None:
    """The ``ui_locales`` of the authorization request this page belongs to."""
    interaction_id = request.args.get("interaction")
    if not interaction_id or len(interaction_id) > 64:
        return None
    from sqlalchemy.exc import SQLAlchemyError

    from .extensions import db
    from .models import Interaction

    try:  # the page's own view loads it too: the session's identity map answers once
        record = db.session.get(Interaction, interaction_id)
    except SQLAlchemyError:  # the error page of a database that is down still renders
        return None
    if record is None:
        return None
    return preferred(next((value for key, value in record.params if key == "ui_locales"), None))


@contextmanager
def speaking(tags: str | None) -> Iterator[None]:
    """Mail to someone whose language is known (a user's ``locale``) is in it;
    otherwise it is in the request's language."""
    language = preferred(tags)
    if language is None:
        yield
        return
    with force_locale(language):
        yield


def mail_language(locale: str | None) -> str | None:
    """The language of a mail to someone: theirs (a user's ``locale``), else the one
    this page was asked in; None leaves the request's own."""
    return preferred(locale) or carried()


def in_language(link: str, language: str | None) -> str:
    """``link`` opening its pages in ``language``, when one was chosen."""
    return f"{link}?ui_locales={language}" if language else link


def wait_words(seconds: int) -> str:
    """``90`` → "2 minutes", in the request's language."""
    return str(format_timedelta(timedelta(seconds=seconds), threshold=1.5))


ROLE_WORDS = {"member": _l("a member"), "admin": _l("an administrator")}
ROLE_LABELS = {"member": _l("Member"), "admin": _l("Administrator")}


def role_words(role: str | None) -> str:
    """A role in a sentence: "… where you are an administrator"."""
    return str(ROLE_WORDS.get(role or "", role or ROLE_WORDS["member"]))


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def carried() -> str | None:
    """The language this page was asked for (``ui_locales``, or its interaction's),
    which the links it offers carry on; None when the browser's own applies."""
    get_locale()  # the selector notes it
    value = g.get("idp_carried_locale")
    return str(value) if value else None


def language() -> str:
    """The language of this request, for ``<html lang>``."""
    locale = get_locale()
    return locale.language if locale is not None else str(current_app.config["IDP_LOCALE"])


def _vary(response: Response) -> Response:
    """A page's words depend on Accept-Language: say so to caches."""
    if response.mimetype == "text/html":
        response.vary.add("Accept-Language")
    return response


def init_app(app: Flask) -> None:
    if app.config["IDP_LOCALE"] not in LANGUAGES:
        raise ValueError(f"IDP_LOCALE must be one of {', '.join(LANGUAGES)}")
    Babel(app, locale_selector=select, default_locale=str(app.config["IDP_LOCALE"]),
          default_translation_directories=str(DIRECTORY))
    app.jinja_env.globals.update(html_lang=language, carried_locale=carried, role_words=role_words,
                                 role_label=role_label)
    app.jinja_env.filters["wait_words"] = wait_words
    app.after_request(_vary)
