"""Token exchange has a policy (RFC 8693; Webex ``client_delegate``): the caller's
organization binding, nothing wider than the subject, and a derived token that lives
and dies with its subject's grant."""

from __future__ import annotations

import pytest

from idp.extensions import db
from idp.models import AuditEvent
from tests.conftest import PASSWORD
from tests.helpers import assert_json_error, basic, csrf_token

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def delegate(make_client):
    return make_client("delegate", grant_types=["client_delegate", EXCHANGE], redirect_uris=[],
                       scope="openid profile email offline_access org")


def exchange(endpoint, subject: str, client="delegate", secret=None, **extra):
    return endpoint.post({"grant_type": EXCHANGE, "subject_token": subject,
                          "subject_token_type": ACCESS_TOKEN_TYPE, **extra}, client, secret)


def exchanged(endpoint, delegate, subject: str, **extra) -> dict:
    return endpoint.ok({"grant_type": EXCHANGE, "subject_token": subject,
                        "subject_token_type": ACCESS_TOKEN_TYPE, **extra},
                       "delegate", delegate.client_secret)


def works(client, token: str) -> bool:
    return client.get("/oauth/userinfo",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200


# -- organization, scope, lifetime --------------------------------------------------------


def test_a_client_bound_to_an_organization_cannot_act_in_another(code_tokens, endpoint,
                                                                 make_client, make_org, alice):
    make_org("acme", members=[alice])
    make_org("initech")  # alice is not in it
    bound = make_client("bound-delegate", grant_types=[EXCHANGE], redirect_uris=[],
                        scope="openid org", org="initech")
    subject = code_tokens(scope="openid org")
    assert subject["claims"]["org_id"]  # acme, alice's only organization
    response = exchange(endpoint, subject["access_token"], "bound-delegate", bound.client_secret)
    assert_json_error(response, 400, "invalid_grant")


def test_a_client_bound_to_the_subjects_organization_keeps_it(code_tokens, endpoint,
                                                              make_client, make_org, alice):
    acme = make_org("acme", members=[alice])
    bound = make_client("acme-delegate", grant_types=[EXCHANGE], redirect_uris=[],
                        scope="openid org", org="acme")
    subject = code_tokens(scope="openid org")
    body = endpoint.ok({"grant_type": EXCHANGE, "subject_token": subject["access_token"],
                        "subject_token_type": ACCESS_TOKEN_TYPE}, "acme-delegate",
                       bound.client_secret)
    assert body["claims"]["org_id"] == acme.id == subject["claims"]["org_id"]


def test_a_subject_without_the_bound_organization_is_refused(code_tokens, endpoint,
                                                             make_client, make_org, alice):
    make_org("acme", members=[alice])
    make_org("globex", members=[alice])
    bound = make_client("bound-delegate", grant_types=[EXCHANGE], redirect_uris=[],
                        scope="openid", org="globex")
    signer = make_client("pw", grant_types=["password"], redirect_uris=[], scope="openid")
    subject = endpoint.ok({"grant_type": "password", "username": "alice", "password": PASSWORD,
                           "scope": "openid"}, "pw", signer.client_secret)
    assert "org_id" not in subject["claims"]  # two organizations, none named
    # The exchange may not add an organization the subject token did not have.
    response = exchange(endpoint, subject["access_token"], "bound-delegate", bound.client_secret)
    assert_json_error(response, 400, "invalid_grant")


def test_offline_access_is_never_inherited(code_tokens, endpoint, delegate):
    subject = code_tokens()  # openid profile email offline_access
    assert "offline_access" in subject["scope"].split()
    body = exchanged(endpoint, delegate, subject["access_token"])
    assert "offline_access" not in body["scope"].split()
    assert "refresh_token" not in body
    asked = exchange(endpoint, subject["access_token"], secret=delegate.client_secret,
                     scope="openid offline_access")
    assert_json_error(asked, 400, "invalid_scope")


def test_an_exchanged_token_never_outlives_its_subject(code_tokens, endpoint, delegate,
                                                      make_client):
    subject = code_tokens(accessTokenValiditySeconds="60")
    once = exchanged(endpoint, delegate, subject["access_token"])
    assert once["claims"]["exp"] <= subject["claims"]["exp"]
    second = make_client("second", grant_types=[EXCHANGE], redirect_uris=[],
                         scope="openid profile email")
    for _ in range(3):  # re-exchanging never moves it later
        again = endpoint.ok({"grant_type": EXCHANGE, "subject_token": once["access_token"],
                             "subject_token_type": ACCESS_TOKEN_TYPE}, "second",
                            second.client_secret)
        assert again["claims"]["exp"] <= subject["claims"]["exp"]
        assert again["expires_in"] == again["claims"]["exp"] - again["claims"]["iat"]
        once = again


# -- revoked with its subject ----------------------------------------------------------------


def test_an_exchanged_token_dies_when_the_user_withdraws_consent(code_tokens, endpoint,
                                                                delegate, client, oauth):
    subject = code_tokens()
    derived = exchanged(endpoint, delegate, subject["access_token"])
    assert works(client, derived["access_token"])
    page = client.get("/account").get_data(True)
    withdrawn = client.post("/account/consents/web/revoke", data={"csrf_token": csrf_token(page)})
    assert withdrawn.status_code == 303
    assert not works(client, subject["access_token"])
    assert not works(client, derived["access_token"])


def test_an_exchanged_token_dies_when_the_subjects_session_ends(code_tokens, endpoint,
                                                               delegate, client):
    subject = code_tokens(scope="openid profile")  # no offline_access: bound to the session
    derived = exchanged(endpoint, delegate, subject["access_token"])
    page = client.get("/logout").get_data(True)
    assert client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 200
    assert not works(client, derived["access_token"])


def test_an_exchanged_token_dies_when_its_subjects_grant_is_replayed(code_tokens, endpoint,
                                                                    delegate, client, web):
    subject = code_tokens()
    derived = exchanged(endpoint, delegate, subject["access_token"])
    rotate = {"grant_type": "refresh_token", "refresh_token": subject["refresh_token"]}
    endpoint.ok(rotate, "web", web.client_secret)
    assert endpoint.post(rotate, "web", web.client_secret).status_code == 400  # a replay
    assert not works(client, derived["access_token"])


def test_an_exchanged_exchanged_token_dies_with_the_first_subject(code_tokens, endpoint,
                                                                 delegate, client, make_client,
                                                                 web):
    second = make_client("second", grant_types=[EXCHANGE], redirect_uris=[], scope="openid")
    subject = code_tokens()
    once = exchanged(endpoint, delegate, subject["access_token"])
    twice = endpoint.ok({"grant_type": EXCHANGE, "subject_token": once["access_token"],
                         "subject_token_type": ACCESS_TOKEN_TYPE}, "second", second.client_secret)
    revoked = client.post("/oauth/revoke", data={"token": subject["refresh_token"]},
                          headers=basic("web", web.client_secret))
    assert revoked.status_code == 200
    assert not works(client, once["access_token"])
    assert not works(client, twice["access_token"])


# -- recorded, and visible to the user ------------------------------------------------------


def test_an_exchange_is_an_audit_event_and_listed_on_the_account_page(code_tokens, endpoint,
                                                                      delegate, client, app,
                                                                      alice):
    subject = code_tokens()
    derived = exchanged(endpoint, delegate, subject["access_token"], scope="openid email")
    with app.app_context():
        [event] = db.session.query(AuditEvent).filter_by(tag="token.exchanged").all()
        assert (event.user_id, event.client_id) == (alice.id, "delegate")
        assert event.details["subject_client_id"] == "web"
    page = client.get("/account").get_data(True)
    assert "Applications acting for you" in page
    assert "delegate app" in page
    # Withdrawing it stops the acting application and leaves the one it acted through.
    action = page.split('action="/account/acting/')[1].split('"')[0]
    response = client.post(f"/account/acting/{action}", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert not works(client, derived["access_token"])
    assert works(client, subject["access_token"])
    assert "Applications acting for you" not in client.get("/account").get_data(True)


def test_one_cannot_withdraw_someone_elses_acting_application(code_tokens, endpoint, delegate,
                                                             app, make_user):
    subject = code_tokens()
    exchanged(endpoint, delegate, subject["access_token"])
    from tests.helpers import OAuthClient
    make_user("bob")
    bob = OAuthClient(app.test_client())
    assert bob.login("bob", PASSWORD).status_code == 303
    with app.app_context():
        from idp.models import Grant
        derived = db.session.query(Grant).filter(Grant.parent_id.isnot(None)).one()
    page = bob.http.get("/account").get_data(True)
    response = bob.http.post(f"/account/acting/{derived.id}/revoke",
                             data={"csrf_token": csrf_token(page)})
    assert response.status_code == 404
