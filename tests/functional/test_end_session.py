"""RP-initiated logout by the book (RP-Initiated Logout 1.0 §2-§4): each test a rule of
``idp/oauth/end_session.py``."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from idp.extensions import db
from idp.models import LoginSession
from tests.conftest import PASSWORD, REDIRECT_URI
from tests.helpers import OAuthClient, csrf_token, get_code

AFTER = "https://rp.example/signed-out"


@pytest.fixture
def rp(make_client):
    return make_client("rp", post_logout_redirect_uris=[AFTER])


def sign_in_and_get_tokens(oauth: OAuthClient, endpoint, rp, username: str = "alice") -> dict:
    assert oauth.login(username, PASSWORD).status_code == 303
    code = get_code(oauth, client_id="rp", scope="openid")
    return endpoint.ok({"grant_type": "authorization_code", "code": code,
                        "redirect_uri": REDIRECT_URI}, "rp", rp.client_secret)


def open_sessions(app) -> int:
    with app.app_context():
        return db.session.query(LoginSession).filter(LoginSession.ended_at.is_(None)).count()


def signed_in(oauth: OAuthClient) -> bool:
    return oauth.http.get("/account").status_code == 200


@pytest.fixture
def tokens(oauth, alice, endpoint, rp):
    return sign_in_and_get_tokens(oauth, endpoint, rp)


def test_a_hint_naming_this_session_signs_out_at_once_and_returns_with_state(oauth, tokens):
    response = oauth.http.get("/oauth/logout", query_string={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": AFTER, "state": "s"})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == AFTER
    assert dict(parse_qsl(location.query)) == {"state": "s"}
    assert not signed_in(oauth)


@pytest.mark.parametrize("uri", [AFTER + "/other", AFTER + "?foo=bar", "https://evil.example/",
                                 AFTER.upper()], ids=["path", "query", "foreign", "case"])
def test_an_unregistered_post_logout_uri_is_an_error_page_and_signs_nobody_out(oauth, tokens,
                                                                             app, uri):
    response = oauth.http.get("/oauth/logout", query_string={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": uri, "state": "s"})
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    assert signed_in(oauth)
    assert open_sessions(app) == 1


def test_a_post_logout_uri_without_a_client_is_an_error_page(oauth, tokens):
    response = oauth.http.get("/oauth/logout", query_string={"post_logout_redirect_uri": AFTER})
    assert response.status_code == 400
    assert signed_in(oauth)


def test_an_access_token_is_not_an_id_token_hint(oauth, tokens):
    response = oauth.http.get("/oauth/logout", query_string={
        "id_token_hint": tokens["access_token"], "post_logout_redirect_uri": AFTER})
    assert response.status_code == 400
    assert "not an ID token issued here" in response.get_data(True)
    assert signed_in(oauth)


def test_a_hint_for_another_session_asks_before_signing_anyone_out(app, oauth, tokens,
                                                                  endpoint, rp):
    elsewhere = OAuthClient(app.test_client())  # the same person, another browser
    other_tokens = sign_in_and_get_tokens(elsewhere, endpoint, rp)
    response = oauth.http.get("/oauth/logout", query_string={
        "id_token_hint": other_tokens["id_token"], "post_logout_redirect_uri": AFTER})
    assert response.status_code == 200
    page = response.get_data(True)
    assert 'name="confirm" value="yes"' in page
    assert signed_in(oauth)
    assert signed_in(elsewhere)
    # Confirmed: this browser's session ends, and only it.
    confirmed = oauth.http.post("/oauth/logout", data={
        "confirm": "yes", "csrf_token": csrf_token(page), "client_id": "rp",
        "post_logout_redirect_uri": AFTER})
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == AFTER
    assert not signed_in(oauth)
    assert signed_in(elsewhere)


def test_a_hint_for_another_user_asks_first(app, oauth, tokens, make_user, endpoint, rp):
    make_user("bob")
    bob = OAuthClient(app.test_client())
    bobs = sign_in_and_get_tokens(bob, endpoint, rp, "bob")
    response = oauth.http.get("/oauth/logout", query_string={"id_token_hint": bobs["id_token"]})
    assert response.status_code == 200
    assert 'name="confirm" value="yes"' in response.get_data(True)
    assert signed_in(oauth)
    assert signed_in(bob)


def test_the_confirmation_needs_its_csrf_token(oauth, tokens):
    response = oauth.http.post("/oauth/logout", data={"confirm": "yes", "client_id": "rp"})
    assert response.status_code == 400
    assert signed_in(oauth)


def test_nobody_signed_in_is_told_so_instead_of_asked(client, rp):
    response = client.get("/oauth/logout", query_string={
        "client_id": "rp", "post_logout_redirect_uri": AFTER, "state": "s"})
    assert response.status_code == 200
    page = response.get_data(True)
    assert "You are not signed in" in page
    assert 'name="confirm"' not in page
    assert f'href="{AFTER}?state=s"' in page  # a way back, which the person may take


def test_nobody_signed_in_with_a_valid_hint_goes_back_to_the_client(app, oauth, tokens):
    hint = tokens["id_token"]
    fresh = app.test_client()
    response = fresh.get("/oauth/logout", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": AFTER, "state": "s"})
    assert response.status_code == 302
    assert response.headers["Location"] == AFTER + "?state=s"


def test_logging_out_revokes_the_session_tokens(oauth, tokens, client):
    oauth.http.get("/oauth/logout", query_string={"id_token_hint": tokens["id_token"]})
    userinfo = client.get("/oauth/userinfo",
                          headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
