"""The authorization endpoint: validation, interaction steps, response modes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.conftest import ISSUER, PASSWORD, REDIRECT_URI
from tests.helpers import authorize_params as params
from tests.helpers import csrf_token, form_post_params, location_params, pkce_pair

HOSTILE_STATE = "a b\"c'd&e=f<g>h%20i+j#k;é"


@pytest.fixture
def signed_in(oauth, alice):
    response = oauth.login("alice", PASSWORD)
    assert response.status_code == 303
    return oauth


def consented_code(oauth, **overrides):
    """Authorize, allow on the consent page, return the redirect response."""
    response = oauth.authorize(**params(**overrides))
    return oauth.approve(response)


# -- requests that must never redirect ---------------------------------------------


def test_unknown_client_is_401_page_not_redirect(client, web):
    response = client.get("/oauth/authorize", query_string=params(client_id="nope"))
    assert response.status_code == 401
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"


def test_unknown_client_answers_json_when_asked(client, web):
    response = client.get("/oauth/authorize", query_string=params(client_id="nope"),
                          headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.get_json()["error_description"]


def test_missing_client_id_is_401(client, web):
    response = client.get("/oauth/authorize", query_string=params(client_id=None))
    assert response.status_code == 401
    assert "Location" not in response.headers


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/callback",
    REDIRECT_URI + "/",
    REDIRECT_URI + "?x=1",
    REDIRECT_URI.upper(),
    "https://rp.example/callback/../callback",
    "https://user@rp.example/callback",
    "https://rp.example/callback#frag",
])
def test_unregistered_redirect_uri_is_400_page_not_redirect(client, web, redirect_uri):
    response = client.get("/oauth/authorize", query_string=params(redirect_uri=redirect_uri))
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_missing_redirect_uri_with_several_registered_is_400(client, make_client):
    make_client("multi", redirect_uris=[REDIRECT_URI, "https://rp.example/other"])
    response = client.get("/oauth/authorize",
                          query_string=params(client_id="multi", redirect_uri=None))
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_oidc_id_is_reserved_and_unknown_is_404_json(client, web):
    response = client.get("/oauth/authorize", query_string=params(oidc_id="github"))
    assert response.status_code == 404
    assert response.get_json() == {"error": "invalid_request",
                                   "error_description": "Unknown identity provider in 'oidc_id'."}


# -- errors that redirect back to the client --------------------------------------


def test_missing_response_type_redirects_with_error_state_and_iss(client, web):
    response = client.get("/oauth/authorize", query_string=params(response_type=None))
    got = location_params(response)
    assert got["error"] == "unsupported_response_type"
    assert got["state"] == "xyz"
    assert got["iss"] == ISSUER


def test_unsupported_response_type_redirects(client, web):
    got = location_params(client.get("/oauth/authorize",
                                     query_string=params(response_type="token")))
    assert got["error"] == "unsupported_response_type"


def test_unknown_response_mode_is_invalid_request(client, web):
    got = location_params(client.get("/oauth/authorize",
                                     query_string=params(response_mode="web_message")))
    assert got["error"] == "invalid_request"
    assert got["iss"] == ISSUER


def test_scope_with_nothing_the_client_may_have_is_invalid_scope(client, web):
    got = location_params(client.get("/oauth/authorize",
                                     query_string=params(scope="admin billing")))
    assert got["error"] == "invalid_scope"
    assert got["state"] == "xyz"


def test_scopes_the_client_may_not_have_are_left_out(signed_in, web):
    response = signed_in.authorize(**params(scope="openid admin email"))
    page = signed_in.http.get(response.headers["Location"]).get_data(True)
    assert 'data-scope="openid"' in page
    assert 'data-scope="email"' in page
    assert 'data-scope="admin"' not in page


def test_plain_pkce_is_rejected(client, web):
    got = location_params(client.get("/oauth/authorize", query_string=params(
        code_challenge="a" * 43, code_challenge_method="plain")))
    assert got["error"] == "invalid_request"


def test_pkce_challenge_without_method_is_rejected_as_plain(client, web):
    got = location_params(client.get("/oauth/authorize",
                                     query_string=params(code_challenge="a" * 43)))
    assert got["error"] == "invalid_request"
    assert "S256" in got["error_description"]


def test_public_client_without_pkce_is_rejected(client, make_client):
    make_client("spa", auth_method="none")
    got = location_params(client.get("/oauth/authorize", query_string=params(client_id="spa")))
    assert got["error"] == "invalid_request"
    assert "PKCE" in got["error_description"]


def test_require_pkce_client_without_challenge_is_rejected(client, make_client):
    make_client("strict", require_pkce=True)
    got = location_params(client.get("/oauth/authorize",
                                     query_string=params(client_id="strict")))
    assert got["error"] == "invalid_request"


@pytest.mark.parametrize("repeated", ["scope=openid", "redirect_uri=https://evil.example/cb",
                                      "client_id=other", "state=t", "response_type=code"])
def test_repeated_parameter_is_invalid_request_without_redirect(client, web, repeated):
    query = "response_type=code&client_id=web&redirect_uri=" + REDIRECT_URI + \
        "&scope=openid+profile&state=s&" + repeated
    response = client.get("/oauth/authorize?" + query, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.get_json()["error"] == "invalid_request"


def test_error_in_fragment_mode_goes_in_fragment(client, web):
    response = client.get("/oauth/authorize",
                          query_string=params(scope="admin", response_mode="fragment"))
    got = location_params(response, "fragment")
    assert got["error"] == "invalid_scope"
    assert got["iss"] == ISSUER
    assert "?" not in response.headers["Location"]


def test_error_in_form_post_mode_is_posted(client, web):
    response = client.get("/oauth/authorize",
                          query_string=params(scope="admin", response_mode="form_post"))
    assert response.status_code == 200
    action, method, fields = form_post_params(response.get_data(True))
    assert (action, method) == (REDIRECT_URI, "post")
    assert fields["error"] == "invalid_scope"
    assert fields["iss"] == ISSUER


# -- the interaction steps --------------------------------------------------------


def test_not_signed_in_goes_to_login_carrying_only_the_interaction(client, web):
    response = client.get("/oauth/authorize", query_string=params())
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    query = dict(parse_qsl(location.query))
    assert set(query) == {"interaction"}  # the request stays on the server
    assert len(query["interaction"]) >= 32


def test_login_returns_to_the_interaction(oauth, alice, web):
    to_login = oauth.authorize(**params())
    interaction = dict(parse_qsl(urlsplit(to_login.headers["Location"]).query))["interaction"]
    response = oauth.login("alice", PASSWORD, at=to_login.headers["Location"])
    assert response.status_code == 303
    assert response.headers["Location"] == f"/oauth/authorize/{interaction}"


def test_login_page_prefills_login_hint(oauth, alice, web):
    to_login = oauth.authorize(**params(login_hint="alice@example.com"))
    page = oauth.http.get(to_login.headers["Location"])
    assert 'value="alice@example.com"' in page.get_data(True)


def test_consent_page_names_client_and_describes_scopes(signed_in, web):
    response = signed_in.authorize(**params(scope="openid profile email"))
    page = signed_in.http.get(response.headers["Location"])
    html = page.get_data(True)
    assert page.status_code == 200
    assert "web app" in html
    assert "See your email address" in html
    assert 'name="decision" value="allow"' in html
    assert 'name="decision" value="deny"' in html
    assert csrf_token(html)


def test_consent_allow_redirects_with_code_state_and_iss(signed_in, web):
    response = consented_code(signed_in)
    assert response.status_code == 302  # the interaction answers, by GET, after the POST
    got = location_params(response)
    assert set(got) == {"code", "state", "iss"}
    assert got["state"] == "xyz"
    assert got["iss"] == ISSUER
    assert len(got["code"]) >= 43  # 256 bits


def test_consent_deny_redirects_with_access_denied(signed_in, web):
    response = signed_in.approve(signed_in.authorize(**params()), decision="deny")
    got = location_params(response)
    assert got["error"] == "access_denied"
    assert got["state"] == "xyz"
    assert got["iss"] == ISSUER
    assert "code" not in got


def test_consent_is_remembered_for_the_same_scopes(signed_in, web):
    consented_code(signed_in)
    again = signed_in.authorize(**params())
    assert again.status_code == 302
    assert "code" in location_params(again)


def test_consent_is_asked_again_for_more_scopes(signed_in, web):
    consented_code(signed_in, scope="openid")
    again = signed_in.authorize(**params(scope="openid email"))
    assert "/consent?" in again.headers["Location"]


def test_consent_post_without_csrf_token_is_rejected(signed_in, web):
    response = signed_in.authorize(**params())
    posted = signed_in.http.post(response.headers["Location"], data={"decision": "allow"})
    assert posted.status_code == 400
    assert "Location" not in posted.headers


def test_consent_rejects_a_decision_other_than_allow_or_deny(signed_in, web):
    response = signed_in.authorize(**params())
    page = signed_in.http.get(response.headers["Location"])
    posted = signed_in.http.post(response.headers["Location"],
                                 data={"decision": "maybe",
                                       "csrf_token": csrf_token(page.get_data(True))})
    assert posted.status_code == 200  # the page again, no redirect
    assert "Location" not in posted.headers


def test_skip_consent_client_gets_code_at_once(signed_in, make_client):
    make_client("trusted", skip_consent=True)
    response = signed_in.authorize(**params(client_id="trusted"))
    assert "code" in location_params(response)


def test_two_organizations_ask_which_one(signed_in, alice, make_org, web):
    make_org("acme", members=[alice])
    make_org("globex", members=[alice])
    response = signed_in.authorize(**params())
    assert "/select-org?" in response.headers["Location"]
    page = signed_in.http.get(response.headers["Location"]).get_data(True)
    assert 'name="org" value="acme"' in page
    assert 'name="org" value="globex"' in page
    chosen = signed_in.submit_page(response, org="globex")
    assert chosen.status_code == 303
    assert chosen.headers["Location"].startswith("/oauth/authorize/")
    consent = signed_in.http.get(chosen.headers["Location"])
    assert "/consent?" in consent.headers["Location"]


def test_select_org_refuses_an_organization_the_user_is_not_in(signed_in, alice, make_org,
                                                               make_user, web):
    make_org("acme", members=[alice])
    make_org("globex", members=[alice])
    make_org("initech", members=[make_user("carol")])
    response = signed_in.authorize(**params())
    chosen = signed_in.submit_page(response, org="initech")
    assert chosen.status_code == 400
    assert "Location" not in chosen.headers


def test_single_organization_is_chosen_without_asking(signed_in, alice, make_org, web):
    make_org("acme", members=[alice])
    response = signed_in.authorize(**params())
    assert "/consent?" in response.headers["Location"]


def test_org_id_parameter_preselects(signed_in, alice, make_org, web):
    make_org("acme", members=[alice])
    globex = make_org("globex", members=[alice])
    response = signed_in.authorize(**params(org_id=globex.id))
    assert "/consent?" in response.headers["Location"]


def test_client_bound_to_an_organization_refuses_non_members_with_403(
        signed_in, make_org, make_user, make_client):
    make_org("initech", members=[make_user("carol")])
    make_client("initech-app", org="initech")
    response = signed_in.authorize(**params(client_id="initech-app"))
    assert response.status_code == 403
    assert "Location" not in response.headers


# -- response modes -------------------------------------------------------------


def test_query_mode_state_arrives_byte_for_byte(signed_in, web):
    got = location_params(consented_code(signed_in, state=HOSTILE_STATE))
    assert got["state"] == HOSTILE_STATE


def test_fragment_mode_puts_code_state_and_iss_in_fragment(signed_in, web):
    response = consented_code(signed_in, response_mode="fragment", state=HOSTILE_STATE)
    got = location_params(response, "fragment")
    assert set(got) == {"code", "state", "iss"}
    assert got["state"] == HOSTILE_STATE
    assert "code=" not in urlsplit(response.headers["Location"]).query


def test_form_post_mode_is_an_escaped_auto_submitting_page(signed_in, web):
    response = consented_code(signed_in, response_mode="form_post", state=HOSTILE_STATE)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'nonce-" in csp
    assert "frame-ancestors 'none'" in csp
    html = response.get_data(True)
    action, method, fields = form_post_params(html)
    assert (action, method) == (REDIRECT_URI, "post")
    assert fields["state"] == HOSTILE_STATE
    assert fields["iss"] == ISSUER
    assert fields["code"]
    assert "<g>" not in html  # escaped, not injected


def test_post_authorization_request_is_answered_with_303(signed_in, make_client):
    make_client("trusted", skip_consent=True)
    response = signed_in.authorize("POST", **params(client_id="trusted"))
    assert response.status_code == 303
    assert "code" in location_params(response)


def test_post_authorization_request_not_signed_in_goes_to_login(oauth, web):
    response = oauth.authorize("POST", **params())
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_unknown_parameters_are_ignored(signed_in, make_client):
    make_client("trusted", skip_consent=True)
    response = signed_in.authorize(**params(client_id="trusted", foo="bar", display="page"))
    assert "code" in location_params(response)


def test_pkce_s256_is_accepted(signed_in, make_client):
    make_client("spa", auth_method="none", skip_consent=True)
    _, challenge = pkce_pair()
    response = signed_in.authorize(**params(client_id="spa", code_challenge=challenge,
                                            code_challenge_method="S256"))
    assert "code" in location_params(response)
