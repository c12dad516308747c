"""``flask idp purge``: what expired goes, in batches, and traffic goes on.

What counts as expired:
- a code: ``expires_at`` has passed (used or not);
- a grant: ``expires_at`` has passed, the expiry of the last token it issued
  (a revoked but unexpired grant stays: it is still needed to recognise a
  replay, and its used refresh tokens go with it);
- a revoked-token entry: the access token it names has expired;
- an interaction: ``expires_at`` has passed;
- a login session: ``expires_at`` has passed, or it was ended (signed out).

Between batches each transaction is committed: another connection writes
meanwhile without waiting (SQLite: with no busy timeout at all), and what
it writes is not touched.
"""

from __future__ import annotations

import math
import secrets
from collections import Counter

import pytest
from sqlalchemy import create_engine, event, func, insert, select
from sqlalchemy.orm import Session

from idp.clock import now
from idp.extensions import db
from idp.models import (
    AuthorizationCode,
    Grant,
    Interaction,
    LoginSession,
    PlaygroundRun,
    RevokedToken,
    UsedLink,
    UsedRefreshToken,
)
from idp.services import housekeeping

BATCH = 2
PAST, FUTURE = -3600, 3600


def code(client_id: str, user_id: str, expires_in: int, used: bool = False) -> dict:
    at = now()
    return {"id": secrets.token_hex(16), "code_digest": secrets.token_hex(32),
            "client_id": client_id, "user_id": user_id, "scope": "openid",
            "auth_time": at, "amr": ["pwd"], "issued_at": at + min(expires_in, 0) - 60,
            "expires_at": at + expires_in, "used_at": at - 30 if used else None}


def grant(client_id: str, user_id: str, expires_in: int, revoked: bool = False) -> Grant:
    at = now()
    grant_id = secrets.token_hex(16)
    return Grant(id=grant_id, root_id=grant_id, client_id=client_id, user_id=user_id,
                 grant_type="authorization_code", scope="openid", offline=False,
                 created_at=at - 7200, expires_at=at + expires_in,
                 refresh_digest=secrets.token_hex(32), refresh_expires_at=at + expires_in,
                 rotated_at=at - 7200, revoked_at=at - 10 if revoked else None)


def used(of: Grant) -> UsedRefreshToken:
    return UsedRefreshToken(digest=secrets.token_hex(32), grant_id=of.id, used_at=now() - 7200)


def revoked_token(expires_in: int) -> RevokedToken:
    return RevokedToken(jti=secrets.token_urlsafe(16), expires_at=now() + expires_in)


def used_link(expires_in: int) -> UsedLink:
    return UsedLink(digest=secrets.token_hex(32), expires_at=now() + expires_in)


def interaction(client_id: str, expires_in: int) -> Interaction:
    at = now()
    return Interaction(id=secrets.token_urlsafe(24), browser="b", client_id=client_id,
                       params=[["client_id", client_id]], began_at=at - 600,
                       expires_at=at + expires_in, org_chosen=False, consented=False)


def playground_run(expires_in: int) -> PlaygroundRun:
    at = now()
    return PlaygroundRun(id=secrets.token_urlsafe(32), created_at=at - 3600,
                         expires_at=at + expires_in, sealed="sealed")


def login_session(user_id: str, expires_in: int, ended: bool = False) -> LoginSession:
    at = now()
    return LoginSession(sid=secrets.token_urlsafe(24), user_id=user_id, auth_time=at - 7200,
                        amr=["pwd"], acr="1", created_at=at - 7200, expires_at=at + expires_in,
                        ended_at=at - 60 if ended else None)


def test_purge_removes_exactly_what_expired_in_batches(app, runner, alice, web, monkeypatch):
    monkeypatch.setattr(housekeeping, "BATCH", BATCH)
    with app.app_context():
        user_id, client_id = alice.id, web.client.client_id
        expired_codes = [code(client_id, user_id, PAST) for _ in range(4)]
        expired_codes.append(code(client_id, user_id, PAST, used=True))
        live_codes = [code(client_id, user_id, FUTURE), code(client_id, user_id, FUTURE, True)]
        expired_grants = [grant(client_id, user_id, PAST) for _ in range(4)]
        expired_grants.append(grant(client_id, user_id, PAST, revoked=True))
        live_grants = [grant(client_id, user_id, FUTURE) for _ in range(3)]
        live_grants.append(grant(client_id, user_id, FUTURE, revoked=True))  # for replays
        used_tokens = [used(expired_grants[0]), used(live_grants[0])]
        expired_revocations = [revoked_token(PAST) for _ in range(3)]
        live_revocations = [revoked_token(FUTURE)]
        expired_links = [used_link(PAST) for _ in range(2)]
        live_links = [used_link(FUTURE)]
        expired_interactions = [interaction(client_id, PAST) for _ in range(2)]
        live_interactions = [interaction(client_id, FUTURE)]
        expired_runs = [playground_run(PAST) for _ in range(3)]
        live_runs = [playground_run(FUTURE)]
        expired_sessions = [login_session(user_id, PAST) for _ in range(3)]
        expired_sessions.append(login_session(user_id, FUTURE, ended=True))  # signed out
        live_sessions = [login_session(user_id, FUTURE) for _ in range(2)]

        db.session.execute(insert(AuthorizationCode), expired_codes + live_codes)
        db.session.add_all(expired_grants + live_grants + expired_sessions + live_sessions
                           + expired_revocations + live_revocations + expired_interactions
                           + live_interactions + expired_runs + live_runs + expired_links
                           + live_links)
        db.session.flush()
        db.session.add_all(used_tokens)
        db.session.commit()
        kept = {
            "codes": {c["id"] for c in live_codes},
            "grants": {g.id for g in live_grants},
            "used": {used_tokens[1].digest},
            "revoked": {r.jti for r in live_revocations},
            "links": {u.digest for u in live_links},
            "interactions": {i.id for i in live_interactions},
            "runs": {r.id for r in live_runs},
            "sessions": {s.sid for s in live_sessions},
        }
        database_url = db.engine.url
        engine = db.engine

    # Watch the purge: its DELETE statements, and a write by someone else after each commit.
    deletes: Counter[str] = Counter()
    written: list[str] = []
    # SQLite: no busy timeout, so a lock still held by the purge would fail the write.
    other = create_engine(database_url, connect_args={"timeout": 0}
                          if database_url.get_backend_name() == "sqlite" else {})

    def count_deletes(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE FROM"):
            deletes[statement.split()[2].strip('"')] += 1

    def write_meanwhile(session):
        row = code(client_id, user_id, FUTURE)
        with other.begin() as conn:  # a Core connection: no Session, no recursion
            conn.execute(insert(AuthorizationCode), [row])
        written.append(row["id"])

    event.listen(engine, "before_cursor_execute", count_deletes)
    event.listen(Session, "after_commit", write_meanwhile)
    try:
        result = runner.invoke(args=["idp", "purge"])
    finally:
        event.remove(Session, "after_commit", write_meanwhile)
        event.remove(engine, "before_cursor_execute", count_deletes)
        other.dispose()

    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("5 codes, 5 grants, 3 revoked tokens, 2 used links, "
                                     "2 interactions, 3 playground runs, 4 sessions deleted")

    # Several batches per table, each at most BATCH rows, each committed on its own.
    assert deletes == {"authorization_codes": math.ceil(5 / BATCH),
                       "grants": math.ceil(5 / BATCH),
                       "revoked_tokens": math.ceil(3 / BATCH),
                       "used_links": math.ceil(2 / BATCH),
                       "interactions": math.ceil(2 / BATCH),
                       "playground_runs": math.ceil(3 / BATCH),
                       "login_sessions": math.ceil(4 / BATCH)}
    assert len(written) >= sum(deletes.values())

    with app.app_context():
        codes = set(db.session.scalars(select(AuthorizationCode.id)))
        assert codes == kept["codes"] | set(written)  # what was written meanwhile stays
        assert set(db.session.scalars(select(Grant.id))) == kept["grants"]
        # A grant's used refresh tokens go with it.
        assert set(db.session.scalars(select(UsedRefreshToken.digest))) == kept["used"]
        assert set(db.session.scalars(select(RevokedToken.jti))) == kept["revoked"]
        assert set(db.session.scalars(select(UsedLink.digest))) == kept["links"]
        assert set(db.session.scalars(select(Interaction.id))) == kept["interactions"]
        assert set(db.session.scalars(select(PlaygroundRun.id))) == kept["runs"]
        assert set(db.session.scalars(select(LoginSession.sid))) == kept["sessions"]

    # Nothing left to do: a second run deletes nothing.
    again = runner.invoke(args=["idp", "purge"])
    assert again.exit_code == 0, again.output
    assert again.output.strip() == ("0 codes, 0 grants, 0 revoked tokens, 0 used links, "
                                    "0 interactions, 0 playground runs, 0 sessions deleted")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Grant)) == len(kept["grants"])


@pytest.mark.parametrize("batch", [1, 1000])
def test_purge_counts_do_not_depend_on_the_batch_size(app, runner, alice, web, monkeypatch,
                                                      batch):
    monkeypatch.setattr(housekeeping, "BATCH", batch)
    with app.app_context():
        user_id, client_id = alice.id, web.client.client_id
        db.session.execute(insert(AuthorizationCode),
                           [code(client_id, user_id, PAST) for _ in range(3)])
        db.session.add_all([grant(client_id, user_id, PAST) for _ in range(2)]
                           + [login_session(user_id, PAST)])
        db.session.commit()
    result = runner.invoke(args=["idp", "purge"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("3 codes, 2 grants, 0 revoked tokens, 0 used links, "
                                     "0 interactions, 0 playground runs, 1 sessions deleted")
