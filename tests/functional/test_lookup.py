"""``by_key``: what ``Session.get`` returns, by a prebuilt statement."""

from __future__ import annotations

from idp.extensions import db
from idp.models import Client, User, by_key


def test_by_key_returns_the_sessions_own_row_or_none(app, alice, web):
    with app.app_context():
        user = by_key(User, alice.id)
        assert user is not None
        assert user.username == alice.username
        assert user is db.session.get(User, alice.id)  # the same identity-mapped object
        assert by_key(Client, "web").client_id == "web"
        assert by_key(User, "no-such-id") is None
        user.given_name = "Changed"  # persistent: changes are saved like any other
        db.session.commit()
        db.session.expunge_all()
        assert by_key(User, alice.id).given_name == "Changed"
