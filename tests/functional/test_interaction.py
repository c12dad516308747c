"""The authorization interaction, held on the server: each test is a rule of
``idp/oauth/interaction.py`` (OIDC Core §3.1.2.1, SPEC "Authorization endpoint")."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import update

from idp.extensions import db
from idp.models import AuditEvent, AuthorizationCode, Interaction, LoginSession
from tests.conftest import PASSWORD, REDIRECT_URI
from tests.helpers import OAuthClient, location_params
from tests.helpers import authorize_params as params


@pytest.fixture
def signed_in(oauth, alice):
    assert oauth.login("alice", PASSWORD).status_code == 303
    return oauth


def interaction_of(response) -> str:
    """The interaction id a redirect to one of the pages carries (and nothing else)."""
    query = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
    assert set(query) == {"interaction"}, query
    return query["interaction"]


def resume(oauth: OAuthClient, interaction: str):
    return oauth.http.get(f"/oauth/authorize/{interaction}")


def page_path(response) -> str:
    assert response.status_code in (302, 303), response.get_data(True)
    return urlsplit(response.headers["Location"]).path


def auth_times(app, user_id) -> list[int]:
    with app.app_context():
        return [s.auth_time for s in db.session.query(LoginSession).filter_by(user_id=user_id)]


def age_sessions(app, seconds: int) -> None:
    with app.app_context():
        db.session.execute(update(LoginSession).values(auth_time=LoginSession.auth_time - seconds))
        db.session.commit()


def consent_once(oauth, **overrides) -> None:
    """Consent for ``web`` once, so later requests skip the consent page."""
    response = oauth.approve(oauth.authorize(**params(**overrides)))
    assert "code" in location_params(response)


# -- the record ------------------------------------------------------------------------------


def test_the_request_is_stored_on_the_server_and_the_page_carries_only_its_id(app, client,
                                                                             web):
    response = client.get("/oauth/authorize", query_string=params(state="kept", nonce="n1"))
    interaction = interaction_of(response)
    with app.app_context():
        record = db.session.get(Interaction, interaction)
        stored = dict(tuple(pair) for pair in record.params)
        assert stored["state"] == "kept"
        assert stored["nonce"] == "n1"
        assert record.client_id == "web"
        assert record.completed_at is None
        assert record.expires_at - record.began_at == 600


def test_prompt_login_cannot_be_skipped_by_resuming_without_signing_in(app, signed_in, alice,
                                                                      web):
    consent_once(signed_in)
    before = auth_times(app, alice.id)
    response = signed_in.authorize(**params(prompt="login"))
    assert page_path(response) == "/login"
    interaction = interaction_of(response)
    # Going straight back to the interaction, signed in but not inside it: still the login.
    again = resume(signed_in, interaction)
    assert page_path(again) == "/login"
    assert "code" not in dict(parse_qsl(urlsplit(again.headers["Location"]).query))
    # Nor can another page of the interaction be used to get past it.
    for page in ("/consent", "/select-org"):
        sent_on = signed_in.http.get(f"{page}?interaction={interaction}")
        assert sent_on.headers["Location"] == f"/oauth/authorize/{interaction}"
    with app.app_context():
        assert db.session.query(AuthorizationCode).count() == 1  # only consent_once's
    # Signing in on its page is what satisfies it, with a new auth_time.
    answer = signed_in.sign_in_here(response, "alice", PASSWORD)
    assert "code" in location_params(answer)
    assert len(auth_times(app, alice.id)) == len(before) + 1


def test_max_age_1_asks_for_a_login_inside_the_interaction(app, signed_in, alice, web,
                                                           endpoint):
    consent_once(signed_in)
    age_sessions(app, 5)
    response = signed_in.authorize(**params(max_age="1"))
    assert page_path(response) == "/login"
    assert page_path(resume(signed_in, interaction_of(response))) == "/login"
    code = location_params(signed_in.sign_in_here(response, "alice", PASSWORD))["code"]
    body = endpoint.ok({"grant_type": "authorization_code", "code": code,
                        "redirect_uri": REDIRECT_URI}, "web", web.client_secret)
    assert body["id_claims"]["auth_time"] == max(auth_times(app, alice.id))


def test_prompt_consent_asks_even_when_consent_was_given(signed_in, web):
    consent_once(signed_in)
    response = signed_in.authorize(**params(prompt="consent"))
    assert page_path(response) == "/consent"
    assert page_path(resume(signed_in, interaction_of(response))) == "/consent"
    assert "code" in location_params(signed_in.approve(response))


def test_prompt_select_account_asks_even_with_a_remembered_choice(signed_in, alice, make_org,
                                                                 web):
    make_org("acme", members=[alice])
    make_org("globex", members=[alice])
    first = signed_in.authorize(**params())
    consent_page = signed_in.choose_org(first, "acme")
    assert location_params(signed_in.approve(consent_page))["code"]
    assert "code" in location_params(signed_in.authorize(**params()))  # remembered
    response = signed_in.authorize(**params(prompt="select_account"))
    assert page_path(response) == "/select-org"
    assert page_path(resume(signed_in, interaction_of(response))) == "/select-org"
    assert "code" in location_params(signed_in.choose_org(response, "globex"))


@pytest.mark.parametrize(("step", "error"), [
    ("login", "login_required"),
    ("select_org", "account_selection_required"),
    ("consent", "consent_required"),
])
def test_prompt_none_is_an_error_for_each_step_owed(oauth, alice, make_org, web, step, error):
    if step != "login":
        assert oauth.login("alice", PASSWORD).status_code == 303
    if step == "select_org":
        make_org("acme", members=[alice])
        make_org("globex", members=[alice])
    response = oauth.authorize(**params(prompt="none", state="quiet"))
    got = location_params(response)
    assert got["error"] == error
    assert got["state"] == "quiet"
    assert response.headers["Location"].startswith(REDIRECT_URI)


def test_prompt_none_with_nothing_owed_answers_at_once(signed_in, web, app):
    consent_once(signed_in)
    with app.app_context():
        before = db.session.query(Interaction).count()
    assert "code" in location_params(signed_in.authorize(**params(prompt="none")))
    with app.app_context():
        assert db.session.query(Interaction).count() == before  # no record for it


# -- missing, used, expired, foreign ---------------------------------------------------------


def test_a_used_interaction_cannot_be_replayed(signed_in, web, app):
    response = signed_in.authorize(**params())
    interaction = interaction_of(response)
    assert "code" in location_params(signed_in.approve(response))
    for path in (f"/oauth/authorize/{interaction}", f"/consent?interaction={interaction}",
                 f"/login?interaction={interaction}"):
        replay = signed_in.http.get(path)
        assert replay.status_code == 400, path
        assert "Location" not in replay.headers
        assert "already completed" in replay.get_data(True)
    with app.app_context():
        assert db.session.query(AuthorizationCode).count() == 1


def test_an_interaction_is_refused_in_another_browser(signed_in, web, app, alice):
    response = signed_in.authorize(**params())
    interaction = interaction_of(response)
    thief = OAuthClient(app.test_client())
    assert thief.login("alice", PASSWORD).status_code == 303  # even signed in as the user
    for path in (f"/oauth/authorize/{interaction}", f"/consent?interaction={interaction}",
                 f"/login?interaction={interaction}"):
        stolen = thief.http.get(path)
        assert stolen.status_code == 400, path
        assert "not known in this browser" in stolen.get_data(True)
    # The browser that began it still can.
    assert "code" in location_params(signed_in.approve(response))


def test_an_expired_interaction_is_a_page_that_says_so(signed_in, web, app):
    response = signed_in.authorize(**params())
    interaction = interaction_of(response)
    with app.app_context():
        db.session.execute(update(Interaction).values(expires_at=Interaction.began_at))
        db.session.commit()
    expired = resume(signed_in, interaction)
    assert expired.status_code == 400
    assert "expired" in expired.get_data(True)
    page = signed_in.http.get(response.headers["Location"])
    assert page.status_code == 400


@pytest.mark.parametrize("path", ["/consent", "/select-org", "/consent?interaction=",
                                  "/consent?interaction=unknown", "/oauth/authorize/unknown",
                                  "/login?interaction=" + "x" * 500])
def test_a_missing_or_unknown_interaction_is_a_page_not_an_error(client, path):
    response = client.get(path)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers


def test_two_interactions_at_once_in_one_browser(oauth, alice, web, make_client):
    make_client("other")
    first = oauth.authorize(**params(state="tab-1"))
    second = oauth.authorize(**params(client_id="other", state="tab-2"))
    assert interaction_of(first) != interaction_of(second)
    # Signing in on the second tab's page...
    consent_second = oauth.sign_in_here(second, "alice", PASSWORD)
    assert page_path(consent_second) == "/consent"
    # ...also lets the first tab go on, each to its own client with its own state.
    consent_first = resume(oauth, interaction_of(first))
    assert page_path(consent_first) == "/consent"
    got_first = location_params(oauth.approve(consent_first))
    got_second = location_params(oauth.approve(consent_second))
    assert got_first["state"] == "tab-1"
    assert got_second["state"] == "tab-2"
    assert got_first["code"] != got_second["code"]


def test_a_different_user_signing_in_meanwhile_must_sign_in_again(oauth, alice, make_user,
                                                                 web, app):
    make_user("bob")
    response = oauth.authorize(**params())
    interaction = interaction_of(response)
    assert page_path(oauth.sign_in_here(response, "alice", PASSWORD)) == "/consent"
    assert oauth.login("bob", PASSWORD).status_code == 303  # another tab, another person
    assert page_path(resume(oauth, interaction)) == "/login"


def test_the_login_page_names_the_application_and_prefills_the_hint(oauth, alice, web):
    response = oauth.authorize(**params(login_hint="alice@example.com"))
    page = oauth.http.get(response.headers["Location"]).get_data(True)
    assert "Sign in to web app" in page
    assert 'value="alice@example.com"' in page


def test_deny_ends_the_interaction(signed_in, web, app):
    response = signed_in.authorize(**params())
    denied = signed_in.approve(response, decision="deny")
    assert location_params(denied)["error"] == "access_denied"
    assert resume(signed_in, interaction_of(response)).status_code == 400
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(tag="consent.denied").count() == 1


# -- request objects (OIDC Core §6) ------------------------------------------------------------


@pytest.mark.parametrize(("name", "error"), [("request", "request_not_supported"),
                                             ("request_uri", "request_uri_not_supported")])
def test_request_objects_are_refused_never_ignored(signed_in, web, name, error):
    consent_once(signed_in)
    # A request object whose state and nonce the client expects back: a success without
    # them would be worse than any error.
    value = ("eyJhbGciOiJub25lIn0.eyJzdGF0ZSI6ImluLW9iamVjdCJ9." if name == "request"
             else "https://rp.example/request.jwt")
    response = signed_in.authorize(**params(state="outer", **{name: value}))
    got = location_params(response)
    assert got["error"] == error
    assert got["state"] == "outer"
    assert "code" not in got


def test_discovery_says_request_objects_are_not_supported(client):
    document = client.get("/.well-known/openid-configuration").get_json()
    assert document["request_parameter_supported"] is False
    assert document["request_uri_parameter_supported"] is False
    assert "request_object_signing_alg_values_supported" not in document


# -- sessions and codes agree ---------------------------------------------------------------


def test_a_code_issued_before_its_session_ended_does_not_redeem(signed_in, web, endpoint,
                                                                client):
    consent_once(signed_in)
    code = location_params(signed_in.authorize(**params()))["code"]
    page = client.get("/logout")
    from tests.helpers import csrf_token
    assert client.post("/logout", data={"csrf_token": csrf_token(page.get_data(True))}
                       ).status_code == 200
    response = endpoint.post({"grant_type": "authorization_code", "code": code,
                              "redirect_uri": REDIRECT_URI}, "web", web.client_secret)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
