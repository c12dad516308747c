"""Alembic migrations: an empty database reaches head with no drift; down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from idp.extensions import db


def drift(app) -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True})
        return compare_metadata(context, db.metadata)


def test_head_matches_the_models(app):
    with app.app_context():
        assert drift(app) == []


def test_downgrade_to_base_and_upgrade_again(app, runner):
    directory = app.extensions["migrate"].directory
    with app.app_context():
        downgrade(directory=directory, revision="base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade(directory=directory)
        assert set(inspect(db.engine).get_table_names()) >= set(db.metadata.tables)
        assert drift(app) == []
    # init on an up-to-date schema changes nothing and makes the keys again.
    result = runner.invoke(args=["idp", "init"])
    assert result.exit_code == 0, result.output
    assert "signing key" in result.output


def test_init_upgrades_an_empty_database(runner, app):
    directory = app.extensions["migrate"].directory
    with app.app_context():
        downgrade(directory=directory, revision="base")
    result = runner.invoke(args=["idp", "init", "--demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert drift(app) == []
        from idp.models import Client
        assert db.session.get(Client, "demo-web") is not None
