"""What a security review found, each test named after what should happen.

Token exchange policy (findings 3, 4) is in ``test_token_exchange.py``, the
password change (5) in ``test_account.py``, the loopback rule (10) in
``tests/unit/test_redirects.py``, the refresh grace window (13) in
``test_grants.py``.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func, update

from idp.extensions import db
from idp.models import AuditEvent, LoginSession
from tests.conftest import PASSWORD, REDIRECT_URI
from tests.helpers import assert_json_error, basic, csrf_token, get_code

IDP = Path(__file__).resolve().parents[2] / "idp"


def events(app, tag: str) -> list[AuditEvent]:
    with app.app_context():
        return db.session.query(AuditEvent).filter_by(tag=tag).all()


@pytest.fixture
def external(make_client):
    return make_client("external", grant_types=["password", "refresh_token"], redirect_uris=[],
                       scope="openid profile")


def password_grant(client, external, password: str, address: str = "10.0.0.1", **extra):
    return client.post("/oauth/token", data={"grant_type": "password", "username": "alice",
                                             "password": password, **extra},
                       headers=basic("external", external.client_secret),
                       environ_base={"REMOTE_ADDR": address})


def login_from(app, address: str, password: str, username: str = "alice"):
    http = app.test_client()
    page = http.get("/login", environ_base={"REMOTE_ADDR": address})
    return http.post("/login", data={"username": username, "password": password,
                                     "csrf_token": csrf_token(page.get_data(True))},
                     environ_base={"REMOTE_ADDR": address})


# -- 1. parameters come from the body, and every limit keys on what is used -------------------


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/introspect", "/oauth/revoke"])
def test_machine_endpoints_refuse_parameters_in_the_query_string(client, web, path):
    response = client.post(f"{path}?grant_type=password&token=x", data={"token": "x"},
                           headers=basic("web", web.client_secret))
    assert_json_error(response, 400, "invalid_request")
    assert "query string" in response.get_json()["error_description"]


def test_a_grant_type_in_the_query_string_never_reaches_a_password_check(client, app, alice,
                                                                         external):
    for _ in range(12):  # more than the per-account limit
        response = client.post("/oauth/token?grant_type=password",
                               data={"username": "alice", "password": "guess"},
                               headers=basic("external", external.client_secret))
        assert_json_error(response, 400, "invalid_request")
    assert events(app, "login.failure") == []  # no password was ever checked


# -- 2. security events survive the answer, and one place commits ----------------------------


def test_a_refused_password_grant_still_records_its_failure(client, app, alice, external):
    assert_json_error(password_grant(client, external, "wrong"), 400, "invalid_grant")
    [failure] = events(app, "login.failure")
    assert failure.user_id == alice.id


def test_a_password_grant_sign_in_is_recorded(client, app, alice, external):
    assert password_grant(client, external, PASSWORD).status_code == 200
    [success] = events(app, "login.success")
    assert (success.user_id, success.client_id) == (alice.id, "external")
    assert success.details["grant_type"] == "password"


def test_every_audit_event_is_both_logged_and_stored(client, app, alice, external, caplog):
    with app.app_context():  # the set-up's own events (user.created, client.created)
        before = db.session.query(func.max(AuditEvent.id)).scalar() or 0
    caplog.set_level(logging.INFO, logger="idp.audit")
    password_grant(client, external, "wrong")
    password_grant(client, external, PASSWORD)
    logged = [r.getMessage().split()[0] for r in caplog.records if r.name == "idp.audit"]
    with app.app_context():
        stored = [e.tag for e in db.session.query(AuditEvent).filter(AuditEvent.id > before)
                  .order_by(AuditEvent.id)]
    assert logged == stored == ["login.failure", "login.success"]


def test_only_the_transaction_module_commits_a_request():
    """One transaction per request, committed or rolled back in ``idp/transaction.py``;
    the command line (``cli.py``) and the batch purge commit their own."""
    allowed = {"transaction.py", "services/housekeeping.py"}
    offenders = []
    for path in IDP.rglob("*.py"):
        name = str(path.relative_to(IDP))
        if name in allowed or name.startswith(("migrations/", "cli/")):
            continue
        if re.search(r"\.commit\(\)", path.read_text()):
            offenders.append(name)
    assert offenders == []


# -- 6, 7. limits throttle the guesser, never the owner --------------------------------------


def test_the_current_password_check_is_limited_like_sign_in(oauth, alice, client):
    assert oauth.login("alice", PASSWORD).status_code == 303
    statuses = []
    for _ in range(11):
        page = client.get("/account").get_data(True)
        statuses.append(client.post("/account/password", data={
            "csrf_token": csrf_token(page), "current_password": "a guess",
            "new_password": "another passphrase", "confirm_password": "another passphrase",
        }).status_code)
    assert statuses == [400] * 10 + [429]


def test_a_guesser_cannot_lock_the_owner_out(app, alice):
    for _ in range(10):
        assert login_from(app, "203.0.113.9", "a guess").status_code == 401
    assert login_from(app, "203.0.113.9", "another guess").status_code == 429
    assert login_from(app, "203.0.113.9", PASSWORD).status_code == 429  # the guesser waits
    # The owner, from an address that has not been failing, gets in.
    assert login_from(app, "198.51.100.7", PASSWORD).status_code == 303


def test_the_password_grant_throttles_the_guesser_not_the_owner(client, alice, external):
    for _ in range(10):
        assert password_grant(client, external, "a guess", "203.0.113.9").status_code == 400
    assert password_grant(client, external, PASSWORD, "203.0.113.9").status_code == 429
    assert password_grant(client, external, PASSWORD, "198.51.100.7").status_code == 200


def test_an_account_guessed_at_from_everywhere_is_slowed_never_refused(make_app, monkeypatch):
    from idp.security import ratelimit
    from idp.services import accounts

    app = make_app(RATE_LIMIT_LOGIN_SLOWDOWN="3/minute", LOGIN_SLOWDOWN_SECONDS=0.5)
    with app.app_context():
        accounts.create_user("alice", "alice@example.com", PASSWORD)
        db.session.commit()
    waits: list[float] = []
    monkeypatch.setattr(ratelimit.time, "sleep", waits.append)
    for n in range(3):
        assert login_from(app, f"203.0.113.{n}", "a guess").status_code == 401
    assert waits == []
    assert login_from(app, "203.0.113.50", "a guess").status_code == 401
    assert waits == [0.5]  # slowed
    assert login_from(app, "198.51.100.7", PASSWORD).status_code == 303  # and let in
    assert waits == [0.5, 0.5]


# -- 8. unreadable credentials ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/introspect", "/oauth/revoke"])
@pytest.mark.parametrize("credentials", ["//46/Q==", "bm8gY29sb24=", "not base64!", ""])
def test_unreadable_basic_credentials_are_invalid_client_not_500(client, path, credentials,
                                                                 caplog):
    response = client.post(path, data={"grant_type": "client_credentials", "token": "x"},
                           headers={"Authorization": f"Basic {credentials}"})
    assert_json_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert "Traceback" not in caplog.text


# -- 9. revocation is limited like the token endpoint ---------------------------------------


def test_revocation_failures_are_rate_limited(make_app):
    app = make_app(RATE_LIMIT_TOKEN_IP="3/minute")
    http = app.test_client()
    statuses = [http.post("/oauth/revoke", data={"token": "x"},
                          headers=basic("nobody", "wrong")).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


# -- 10. loopback ports ------------------------------------------------------------------------


def test_a_confidential_client_registered_on_loopback_gets_exact_matching(oauth, alice,
                                                                         make_client):
    make_client("loop", redirect_uris=["http://127.0.0.1:8765/cb"])
    assert oauth.login("alice", PASSWORD).status_code == 303
    for uri in ("http://127.0.0.1:9999/cb", "http://127.0.0.1:0/cb", "http://127.0.0.1:8765/cb#"):
        response = oauth.authorize(response_type="code", client_id="loop", redirect_uri=uri,
                                   scope="openid", state="s")
        assert response.status_code == 400, uri
        assert "Location" not in response.headers


# -- 11. one client authentication method, the registered one --------------------------------


def test_two_authentication_methods_in_one_request_are_refused(client, web, make_client):
    other = make_client("other", auth_method="client_secret_post")
    response = client.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": "other",
        "client_secret": other.client_secret}, headers=basic("web", web.client_secret))
    assert_json_error(response, 400, "invalid_request")


def test_a_client_authenticates_only_with_its_registered_method(signed_in_code, endpoint, web):
    code = signed_in_code()
    response = endpoint.http.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "client_id": "web", "client_secret": web.client_secret})  # registered for Basic
    assert_json_error(response, 401, "invalid_client")


@pytest.fixture
def signed_in_code(oauth, alice, web):
    def code() -> str:
        assert oauth.login("alice", PASSWORD).status_code == 303
        return get_code(oauth)
    return code


# -- 12. smaller ones --------------------------------------------------------------------------


def test_unknown_and_known_clients_get_the_same_answer(client, web):
    unknown = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                          headers=basic("nobody-here", "whatever"))
    wrong = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        headers=basic("web", "not-its-secret"))
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json() == wrong.get_json()


def test_a_login_session_ends_after_the_idle_timeout(app, oauth, alice, client):
    assert oauth.login("alice", PASSWORD).status_code == 303
    assert client.get("/account").status_code == 200
    idle = app.config["IDP_LOGIN_SESSION_IDLE"]
    with app.app_context():
        db.session.execute(update(LoginSession).values(last_seen_at=int(time.time()) - idle))
        db.session.commit()
    assert client.get("/account").status_code == 302  # to the login page


def test_a_used_session_does_not_idle_out(app, oauth, alice, client):
    assert oauth.login("alice", PASSWORD).status_code == 303
    idle = app.config["IDP_LOGIN_SESSION_IDLE"]
    with app.app_context():
        db.session.execute(update(LoginSession).values(last_seen_at=int(time.time()) - idle + 5))
        db.session.commit()
    assert client.get("/account").status_code == 200  # noted as used now
    with app.app_context():
        assert db.session.query(LoginSession).one().last_seen_at >= int(time.time()) - 2


def test_the_development_server_logs_no_query_strings_and_no_version():
    """``make run`` serves with granian and the JSON access log, as ``make serve`` does
    (Werkzeug's development server logged every query string and named its version)."""
    import subprocess

    from idp.access_log import ACCESS_LOG_FORMAT

    recipe = subprocess.run(["make", "-n", "-s", "--no-print-directory", "run"],
                            cwd=IDP.parent, capture_output=True, text=True,
                            check=True).stdout.replace("\\\n", " ")
    serving = [line for line in recipe.splitlines() if "granian" in line]
    assert serving, recipe
    assert "flask run" not in recipe
    assert " run --host" not in recipe
    assert ACCESS_LOG_FORMAT in serving[-1]
    assert "--log-config logging.json" in serving[-1]
