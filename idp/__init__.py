"""A self-hosted OAuth 2.0 / OpenID Connect identity provider."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import brand, humane, i18n, write_lock
from . import config as settings
from .extensions import csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the application: config → extensions → oauth → blueprints → errors → cli
    → the WSGI layers in front."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(settings.load(app.instance_path, config))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from .security import headers

    headers.init_app(app)  # first: a foreign Host is refused before any other work (CSRF too)
    db.init_app(app)
    with app.app_context():
        write_lock.init_app(app, db.engine)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    brand.init_app(app)
    humane.init_app(app)
    _init_login(app)

    from .oauth import keys, server

    keys.init_app(app)
    server.init_app(app)

    from .views import (
        account,
        admin,
        admin_api,
        auth,
        consent,
        end_session,
        factors,
        health,
        invitations,
        oauth,
        openapi,
        orgs,
        playground,
        recovery,
        upstream,
        verification,
        well_known,
    )

    for blueprint in (auth.bp, consent.bp, orgs.bp, account.bp, factors.bp, oauth.bp,
                      upstream.bp, end_session.bp, admin.bp, admin_api.bp, well_known.bp,
                      openapi.bp, playground.bp, recovery.bp, verification.bp,
                      invitations.bp, health.bp):
        app.register_blueprint(blueprint)

    from . import cli, errors, mail, transaction

    mail.init_app(app)
    errors.init_app(app)
    transaction.init_app(app)
    cli.init_app(app)
    _wrap(app)
    return app


def _wrap(app: Flask) -> None:
    """WSGI layers in front of Flask: ProxyFix outermost, then the fast token path."""
    from .oauth.fast_token import FastTokenPath

    # Flask documents replacing wsgi_app with middleware; its stubs call it a method.
    app.wsgi_app = FastTokenPath(app, app.wsgi_app)  # type: ignore[method-assign]
    if proxies := int(app.config["IDP_PROXY_COUNT"]):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # as above
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)


def _init_login(app: Flask) -> None:
    from .models import User, by_key
    from .services import sessions

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = None  # the session id is renewed at login instead

    @login_manager.user_loader
    def load_user(sid: str) -> User | None:
        """The user id in the cookie is the login session's ``sid``: ending it signs out."""
        login_session = sessions.load_active(sid)
        if login_session is None:
            return None
        sessions.seen(login_session)
        user = by_key(User, login_session.user_id)
        if user is not None:
            user.login_session = login_session
        return user


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    """WAL lets readers run beside the writer; foreign keys are off by default."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Pages read through a shared memory map, not a per-connection cache:
        # lookups in a large table cost no read() calls, and every connection
        # and worker shares the operating system's copy.
        cursor.execute("PRAGMA mmap_size=1073741824")
        cursor.close()
