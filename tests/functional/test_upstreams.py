"""Signing in through upstream providers: configuration, ``oidc_id``, the login page's
buttons, linking rules, and every failure.

The upstream is node-oidc-provider over https (``tests.upstream_provider``),
driven through its own sign-in pages; a small fake (``tests.fake_upstream``)
plays only what a real provider will not do: a wrong ``iss``, a bad signature.
Every token our provider issues after an upstream sign-in is verified.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import func, select

from idp.extensions import db
from idp.models import AuditEvent, GroupMember, LinkedIdentity, Membership, Upstream, User
from idp.security import sealing
from idp.services import upstreams

from ..fake_upstream import FakeUpstream, fake_upstream
from ..helpers import (
    ISSUER,
    PASSWORD,
    REDIRECT_URI,
    OAuthClient,
    authorize_params,
    csrf_token,
    location_params,
    verify_jwt,
)
from ..upstream_provider import NodeProvider, node_provider, sign_in

SECRET = "upstream-client-secret-0123456789abcdef"
CALLBACK = f"{ISSUER}/upstream/company/callback"
ACCOUNTS = {
    "carol": {"email": "carol@example.com", "email_verified": True, "name": "Carol Chen",
              "given_name": "Carol", "family_name": "Chen", "preferred_username": "carol.c",
              "groups": ["eng", "ops"]},
    "dave": {"email": "dave@example.com", "email_verified": False},
    "erin": {},
    "frank": {"email": "frank@elsewhere.example", "email_verified": True},
}


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[NodeProvider]:
    clients = [{"client_id": "our-idp", "client_secret": SECRET, "redirect_uris": [CALLBACK],
                "grant_types": ["authorization_code"], "response_types": ["code"]}]
    with node_provider(tmp_path_factory.mktemp("node"), clients, ACCOUNTS) as provider:
        yield provider


def configure(app, node: NodeProvider, **options) -> None:
    with app.app_context():
        upstreams.create_upstream("company", "Company SSO", issuer=node.issuer,
                                  client_id="our-idp", client_secret=SECRET, **options)
        db.session.commit()


@pytest.fixture
def web_app(make_client):
    return make_client("web", skip_consent=True)


def through_node(oauth: OAuthClient, response, login: str, *, consent: bool = True):
    """From our redirect to the upstream: sign in there as ``login``; our callback's
    answer (a GET: a success redirects with 302)."""
    location = response.headers["Location"]
    assert location.startswith("https://localhost:"), location
    back = sign_in(location, login, until=f"{ISSUER}/upstream/", consent=consent)
    parts = urlsplit(back)
    return oauth.http.get(parts.path + "?" + parts.query)


def resumed(oauth: OAuthClient, back):
    """After the callback: on through the interaction to the client."""
    assert back.status_code == 302, back.get_data(True)
    assert urlsplit(back.headers["Location"]).path.startswith("/oauth/authorize/")
    return oauth.http.get(back.headers["Location"])


def start_at_login_page(oauth: OAuthClient, login_location: str, provider: str = "company"):
    page = oauth.http.get(login_location)
    html = page.get_data(True)
    assert f'name="provider" value="{provider}"' in html
    action = html.split('class="providers"')[0].rsplit('action="', 1)[1].split('"')[0]
    return oauth.http.post(action.replace("&amp;", "&"),
                           data={"provider": provider, "csrf_token": csrf_token(html)})


def id_claims(oauth: OAuthClient, answer, web_app) -> dict:
    code = location_params(answer)["code"]
    tokens = oauth.exchange(code, "web", web_app.client_secret, redirect_uri=REDIRECT_URI)
    assert tokens.status_code == 200, tokens.get_data(True)
    body = tokens.get_json()
    _, claims = verify_jwt(body["id_token"], oauth.jwks(), "RS256", iss=ISSUER, aud="web")
    verify_jwt(body["access_token"], oauth.jwks(), "Ed25519", iss=ISSUER, sub=claims["sub"])
    return claims


def users(app) -> list[User]:
    with app.app_context():
        return list(db.session.scalars(select(User).order_by(User.username)))


def audit_tags(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.tag).order_by(AuditEvent.id)))


def audit_details(app, tag: str) -> list[dict]:
    with app.app_context():
        return [e.details for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.id))]


def signed_in(oauth: OAuthClient) -> bool:
    return oauth.http.get("/account").status_code == 200


# -- configuration ---------------------------------------------------------------------------


def test_the_cli_creates_lists_and_deletes_upstreams(runner, app, node):
    made = runner.invoke(args=[
        "idp", "upstreams", "create", "company", "--name", "Company SSO", "--issuer",
        node.issuer, "--client-id", "our-idp", "--client-secret", SECRET, "--create-users",
        "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output) == {"id": "company", "name": "Company SSO",
                                       "callback_url": CALLBACK}
    listed = json.loads(runner.invoke(args=["idp", "upstreams", "list", "--json"]).output)
    [row] = listed["upstreams"]
    assert row["issuer"] == node.issuer
    assert row["scope"] == "openid email profile"
    assert SECRET not in json.dumps(listed)
    with app.app_context():
        stored = db.session.get(Upstream, "company")
        assert SECRET not in stored.sealed_client_secret
        assert sealing.unseal("upstream client secret", stored.sealed_client_secret) == SECRET
    deleted = runner.invoke(args=["idp", "upstreams", "delete", "company"])
    assert deleted.exit_code == 0, deleted.output
    assert json.loads(runner.invoke(args=["idp", "upstreams", "list", "--json"]).output) == {
        "upstreams": []}


@pytest.mark.parametrize(("args", "message"), [
    (["--issuer", "https://a.example", "--authorize-url", "https://a.example/auth"],
     "not both"),
    ([], "--issuer: give the issuer"),
    (["--authorize-url", "https://a.example/a", "--token-url", "https://a.example/t"],
     "--issuer: give the issuer"),
    (["--issuer", "ftp://a.example"], "absolute http(s) URL"),
    (["--issuer", "https://a.example", "--claim", "colour=hue"], "unknown claim"),
    (["--issuer", "https://a.example", "--claim", "nonsense"], "CLAIM=FIELD"),
    (["--issuer", "https://a.example", "--org", "nowhere"], "no organization"),
])
def test_bad_upstream_settings_get_clear_messages(runner, args, message):
    result = runner.invoke(args=["idp", "upstreams", "create", "x", "--name", "X",
                                 "--client-id", "c", "--client-secret", "s", *args])
    assert result.exit_code != 0
    assert message in result.output


def test_ids_are_checked_and_unique(runner):
    base = ["--name", "X", "--issuer", "https://a.example", "--client-id", "c",
            "--client-secret", "s"]
    assert "lowercase letters" in runner.invoke(
        args=["idp", "upstreams", "create", "Bad_Id", *base]).output
    assert runner.invoke(args=["idp", "upstreams", "create", "ok", *base]).exit_code == 0
    assert "exists" in runner.invoke(args=["idp", "upstreams", "create", "ok", *base]).output


# -- oidc_id and the login page --------------------------------------------------------------


def test_an_unknown_oidc_id_is_404_json(oauth, web_app):
    response = oauth.authorize(**authorize_params(oidc_id="nobody"))
    assert response.status_code == 404
    assert response.get_json()["error"] == "invalid_request"


def test_oidc_id_signs_in_through_the_upstream_and_creates_the_account(app, oauth, node,
                                                                      web_app):
    configure(app, node, create_users=True)
    answer = oauth.authorize(**authorize_params(oidc_id="company", scope="openid profile email"))
    assert urlsplit(answer.headers["Location"]).path == "/upstream/company/start"
    to_upstream = oauth.http.get(answer.headers["Location"])
    query = parse_qs(urlsplit(to_upstream.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["nonce"]
    assert query["state"]

    back = through_node(oauth, to_upstream, "carol")
    claims = id_claims(oauth, resumed(oauth, back), web_app)
    assert claims["amr"] == ["fed"]
    assert claims["acr"] == "1"
    [carol] = users(app)
    assert claims["sub"] == carol.id
    assert (carol.username, carol.email, carol.email_verified) == (
        "carol.c", "carol@example.com", True)
    assert (carol.given_name, carol.family_name) == ("Carol", "Chen")
    assert carol.password_hash is None
    assert {"upstream.user_created", "upstream.linked", "login.success"} <= set(
        audit_tags(app))

    # Next time: the same account, found by the upstream's sub.
    again = OAuthClient(app.test_client())
    answer = again.authorize(**authorize_params(oidc_id="company"))
    back = through_node(again, again.http.get(answer.headers["Location"]), "carol")
    assert id_claims(again, resumed(again, back), web_app)["sub"] == carol.id
    assert len(users(app)) == 1


def test_the_login_page_has_a_button_per_upstream(app, oauth, node, web_app):
    configure(app, node, create_users=True)
    answer = oauth.authorize(**authorize_params())
    page = oauth.http.get(answer.headers["Location"]).get_data(True)
    assert "Sign in with Company SSO" in page
    assert 'name="password"' in page
    to_upstream = start_at_login_page(oauth, answer.headers["Location"])
    assert to_upstream.status_code == 303
    back = through_node(oauth, to_upstream, "carol")
    assert id_claims(oauth, resumed(oauth, back), web_app)["amr"] == ["fed"]


def test_the_site_login_page_signs_in_through_the_upstream_too(app, oauth, node):
    configure(app, node, create_users=True)
    back = through_node(oauth, start_at_login_page(oauth, "/login?next=/account"), "carol")
    assert back.headers["Location"] == "/account"
    assert signed_in(oauth)


def test_the_password_form_can_be_turned_off(make_app, node):
    app = make_app(PASSWORD_LOGIN=False)
    configure(app, node, create_users=True)
    http = app.test_client()
    page = http.get("/login").get_data(True)
    assert 'name="password"' not in page
    assert "Sign in with Company SSO" in page
    refused = http.post("/login", data={"username": "a", "password": "b",
                                        "csrf_token": csrf_token(page)})
    assert refused.status_code == 400
    assert "turned off" in refused.get_data(True)


# -- linking rules ---------------------------------------------------------------------------


def test_a_verified_email_links_to_the_existing_account_when_allowed(app, oauth, node, web_app,
                                                                    make_user):
    existing = make_user("carol", email="Carol@Example.com")
    configure(app, node, link_by_verified_email=True)
    answer = oauth.authorize(**authorize_params(oidc_id="company"))
    back = through_node(oauth, oauth.http.get(answer.headers["Location"]), "carol")
    assert id_claims(oauth, resumed(oauth, back), web_app)["sub"] == existing.id
    assert len(users(app)) == 1
    assert audit_details(app, "upstream.linked")[0]["how"] == "by verified email"


def test_an_unverified_email_never_links(app, oauth, node, make_user):
    make_user("dave", email="dave@example.com")
    configure(app, node, link_by_verified_email=True, create_users=True)
    back = through_node(oauth, start_at_login_page(oauth, "/login"), "dave")
    assert back.status_code == 403
    assert "already has your email address" in back.get_data(True)
    assert not signed_in(oauth)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LinkedIdentity)) == 0
    assert audit_details(app, "upstream.login_refused")[-1]["reason"] == "email taken"


def test_without_link_or_create_the_person_gets_a_clear_page(app, oauth, node, make_user):
    make_user("carol", email="carol@example.com")
    configure(app, node)  # neither --link-by-verified-email nor --create-users
    back = through_node(oauth, start_at_login_page(oauth, "/login"), "carol")
    assert back.status_code == 403
    assert "No account here is linked to your Company SSO account" in back.get_data(True)
    assert "text/html" in back.content_type
    assert len(users(app)) == 1
    assert not signed_in(oauth)


def test_an_account_needs_an_email_to_be_created(app, oauth, node):
    configure(app, node, create_users=True)
    back = through_node(oauth, start_at_login_page(oauth, "/login"), "erin")
    assert back.status_code == 403
    assert "did not share an email address" in back.get_data(True)
    assert users(app) == []


def test_a_person_links_and_unlinks_from_the_account_page(app, oauth, node, alice, web_app):
    configure(app, node)
    oauth.login("alice", PASSWORD)
    page = oauth.http.get("/account").get_data(True)
    assert "Link your Company SSO account" in page
    html = page.split('class="providers"')[0]
    started = oauth.http.post("/upstream/start", data={
        "provider": "company", "link": "1", "csrf_token": csrf_token(html)})
    back = through_node(oauth, started, "frank")
    assert back.headers["Location"] == "/account?done=linked"
    page = oauth.http.get("/account").get_data(True)
    assert "frank@elsewhere.example" in page

    # Now frank at the upstream is alice here.
    other = OAuthClient(app.test_client())
    answer = other.authorize(**authorize_params(oidc_id="company"))
    back = through_node(other, other.http.get(answer.headers["Location"]), "frank")
    assert id_claims(other, resumed(other, back), web_app)["sub"] == alice.id

    unlinked = oauth.http.post("/account/upstreams/company/unlink",
                               data={"csrf_token": csrf_token(page)})
    assert unlinked.headers["Location"] == "/account?done=unlinked"
    assert "upstream.unlinked" in audit_tags(app)


def test_an_identity_links_to_one_account_only(app, oauth, node, alice, make_user):
    configure(app, node)
    make_user("bob")
    for username in ("alice", "bob"):
        browser = OAuthClient(app.test_client())
        browser.login(username, PASSWORD)
        html = browser.http.get("/account").get_data(True)
        started = browser.http.post("/upstream/start", data={
            "provider": "company", "link": "1", "csrf_token": csrf_token(html)})
        back = through_node(browser, started, "frank")
        if username == "alice":
            assert back.status_code == 302
        else:
            assert back.status_code == 403
            assert "already linked to another account" in back.get_data(True)


def test_the_last_way_to_sign_in_cannot_be_unlinked(app, oauth, node):
    configure(app, node, create_users=True)
    through_node(oauth, start_at_login_page(oauth, "/login"), "carol")
    page = oauth.http.get("/account").get_data(True)
    assert "You have no password here" in page
    refused = oauth.http.post("/account/upstreams/company/unlink",
                              data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 400
    assert "only way to sign in" in refused.get_data(True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LinkedIdentity)) == 1
    # Nor can the upstream be deleted from under them without --force.
    runner = app.test_cli_runner()
    result = runner.invoke(args=["idp", "upstreams", "delete", "company"])
    assert result.exit_code == 1
    assert "1 user(s) can sign in only through" in result.output
    assert runner.invoke(args=["idp", "upstreams", "delete", "company", "--force"]
                         ).exit_code == 0


def test_a_disabled_account_is_refused(app, oauth, node):
    configure(app, node, create_users=True)
    through_node(oauth, start_at_login_page(oauth, "/login"), "carol")
    with app.app_context():
        db.session.execute(User.__table__.update().values(disabled=True))
        db.session.commit()
    other = OAuthClient(app.test_client())
    back = through_node(other, start_at_login_page(other, "/login"), "carol")
    assert back.status_code == 403
    assert "disabled" in back.get_data(True)


def test_an_organization_and_its_groups_follow_the_upstream(app, oauth, node, make_org):
    org = make_org("acme")
    configure(app, node, create_users=True, org="acme", groups_claim="groups",
              scope="openid email profile groups")
    through_node(oauth, start_at_login_page(oauth, "/login"), "carol")
    with app.app_context():
        [carol] = db.session.scalars(select(User)).all()
        assert db.session.get(Membership, (org.id, carol.id)) is not None
        from idp.services import orgs

        assert [g.name for g in orgs.user_groups(carol.id, org.id)] == ["eng", "ops"]


def test_a_user_with_a_second_factor_gives_it_after_the_upstream(app, oauth, node, web_app,
                                                                make_user):
    user = make_user("carol", email="carol@example.com")
    configure(app, node, link_by_verified_email=True)
    with app.app_context():
        from idp.services import factors

        merged = db.session.merge(user)
        enrolment = factors.start_totp(merged)
        factors.confirm_totp(merged, pyotp.TOTP(enrolment.secret).now())
        db.session.commit()
    answer = oauth.authorize(**authorize_params(oidc_id="company"))
    back = through_node(oauth, oauth.http.get(answer.headers["Location"]), "carol")
    assert urlsplit(back.headers["Location"]).path == "/login/mfa"
    assert not signed_in(oauth)
    page = oauth.http.get(back.headers["Location"]).get_data(True)
    import time

    code = pyotp.TOTP(enrolment.secret).at(int(time.time()) + 30)  # the next step
    done = oauth.http.post(back.headers["Location"], data={"code": code,
                                                          "csrf_token": csrf_token(page)})
    claims = id_claims(oauth, oauth.follow(done), web_app)
    assert claims["amr"] == ["fed", "otp", "mfa"]
    assert claims["acr"] == "2"


# -- failures --------------------------------------------------------------------------------


def assert_failed(app, oauth, answer, status: int, words: str, reason: str) -> None:
    assert answer.status_code == status, answer.get_data(True)
    assert "text/html" in answer.content_type
    body = answer.get_data(True)
    assert words in body
    assert "Traceback" not in body
    assert reason in audit_details(app, "upstream.failed")[-1]["reason"]
    assert not signed_in(oauth)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LinkedIdentity)) == 0
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_a_refusal_at_the_upstream(app, oauth, node):
    configure(app, node, create_users=True)
    back = through_node(oauth, start_at_login_page(oauth, "/login"), "carol", consent=False)
    assert_failed(app, oauth, back, 400, "you did not allow it", "access_denied")


def test_a_replayed_callback_and_a_bad_state(app, oauth, node):
    configure(app, node, create_users=True)
    location = start_at_login_page(oauth, "/login").headers["Location"]
    back = sign_in(location, "carol", until=f"{ISSUER}/upstream/")
    parts = urlsplit(back)
    assert oauth.http.get(parts.path + "?" + parts.query).status_code == 302
    oauth.http.post("/logout", data={"csrf_token": csrf_token(
        oauth.http.get("/logout").get_data(True))})
    replay = oauth.http.get(parts.path + "?" + parts.query)
    assert replay.status_code == 400
    assert "expired or was already used" in replay.get_data(True)
    assert not signed_in(oauth)
    forged = OAuthClient(app.test_client())
    start_at_login_page(forged, "/login")
    answer = forged.http.get("/upstream/company/callback?code=x&state=made-up")
    assert answer.status_code == 400
    assert audit_details(app, "upstream.failed")[-1]["reason"] == "bad or used state"


def test_an_upstream_that_is_down(app, oauth):
    with app.app_context():
        upstreams.create_upstream("company", "Company SSO", issuer="https://127.0.0.1:9",
                                  client_id="c", client_secret=SECRET, create_users=True)
        db.session.commit()
    answer = start_at_login_page(oauth, "/login")
    assert_failed(app, oauth, answer, 502, "Company SSO is not answering", "unreachable")


def test_an_unknown_upstream_callback_is_404(client):
    assert client.get("/upstream/nobody/callback?code=x&state=y").status_code == 404


@pytest.fixture
def fake(app) -> Iterator[FakeUpstream]:
    with fake_upstream() as upstream:
        with app.app_context():
            upstreams.create_upstream("company", "Company SSO", issuer=upstream.issuer,
                                      client_id=upstream.client_id, client_secret=SECRET,
                                      create_users=True)
            db.session.commit()
        upstream.behaviour.userinfo = {"email": "fay@example.com"}
        yield upstream


def through_fake(oauth: OAuthClient, fake: FakeUpstream, **callback_changes):
    started = start_at_login_page(oauth, "/login")
    back = urlsplit(fake.approve(started.headers["Location"]))
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    query.update(callback_changes)
    query = {k: v for k, v in query.items() if v is not None}
    return oauth.http.get(back.path, query_string=query)


def test_the_fake_signs_in_when_it_behaves(app, oauth, fake):
    fake.behaviour.claims = {"email": "fay@example.com", "email_verified": True}
    answer = through_fake(oauth, fake)
    assert answer.status_code == 302, answer.get_data(True)
    assert signed_in(oauth)


@pytest.mark.parametrize(("claims", "reason"), [
    ({"iss": "https://evil.example"}, "id token"),
    ({"aud": "someone-else"}, "id token"),
    ({"nonce": "not-the-one"}, "id token"),
    ({"exp": 1000}, "id token"),
])
def test_an_id_token_with_wrong_claims_is_refused(app, oauth, fake, claims, reason):
    fake.behaviour.claims = claims
    assert_failed(app, oauth, through_fake(oauth, fake), 400, "could not be trusted", reason)


def test_an_id_token_signed_by_another_key_is_refused(app, oauth, fake):
    fake.behaviour.sign_with_unpublished_key = True
    assert_failed(app, oauth, through_fake(oauth, fake), 400, "could not be trusted",
                  "id token")


def test_an_unsigned_id_token_is_refused_though_the_metadata_offers_none(app, oauth, fake):
    fake.behaviour.unsigned = True
    assert_failed(app, oauth, through_fake(oauth, fake), 400, "could not be trusted",
                  "id token")


def test_a_callback_from_another_issuer_is_refused(app, oauth, fake):
    assert_failed(app, oauth, through_fake(oauth, fake, iss="https://evil.example"), 400,
                  "another sign-in service", "iss mismatch")


def test_a_callback_without_the_promised_iss_is_refused(app, oauth, fake):
    assert_failed(app, oauth, through_fake(oauth, fake, iss=None), 400, "incomplete",
                  "iss missing")


def test_a_token_endpoint_error(app, oauth, fake):
    fake.behaviour.token_error = "invalid_grant"
    assert_failed(app, oauth, through_fake(oauth, fake), 400, "refused to complete",
                  "token endpoint: invalid_grant")


def test_a_discovery_document_naming_another_issuer(app, oauth, fake):
    fake.behaviour.metadata_issuer = "https://evil.example"
    answer = start_at_login_page(oauth, "/login")
    assert_failed(app, oauth, answer, 502, "not configured correctly",
                  "discovery issuer mismatch")


def test_userinfo_naming_another_subject_is_refused(app, oauth, fake):
    fake.behaviour.userinfo = {"sub": "someone-else", "email": "x@example.com"}
    assert_failed(app, oauth, through_fake(oauth, fake), 400, "could not be trusted",
                  "id token")


def test_a_plain_oauth2_provider_through_its_claim_mapping(app, oauth, fake):
    with app.app_context():
        upstreams.create_upstream(
            "hub", "CodeHub", authorize_url=fake.issuer + "/authorize",
            token_url=fake.issuer + "/token", userinfo_url=fake.issuer + "/userinfo",
            client_id=fake.client_id, client_secret=SECRET, scope="read:user",
            create_users=True)
        db.session.commit()
    fake.behaviour.userinfo = {"id": 4242, "login": "octo", "email": "octo@example.com",
                               "name": "Octo Cat"}
    started = start_at_login_page(oauth, "/login", provider="hub")
    query = parse_qs(urlsplit(started.headers["Location"]).query)
    assert "nonce" not in query
    assert query["scope"] == ["read:user"]
    back = urlsplit(fake.approve(started.headers["Location"], subject="ignored"))
    answer = oauth.http.get(back.path + "?" + back.query)
    assert answer.status_code == 302, answer.get_data(True)
    with app.app_context():
        identity = db.session.scalar(select(LinkedIdentity))
        assert identity.subject == "4242"
        user = db.session.get(User, identity.user_id)
        assert (user.username, user.email, user.email_verified) == (
            "octo", "octo@example.com", False)


def test_groups_follow_the_upstream_on_every_sign_in(app, fake, make_org):
    org = make_org("acme")
    with app.app_context():
        stored = db.session.get(Upstream, "company")
        stored.org_id, stored.groups_claim = org.id, "groups"
        db.session.commit()
    for groups in (["a", "b"], ["b", "c"]):
        fake.behaviour.claims = {"email": "fay@example.com", "email_verified": True,
                                 "groups": groups}
        browser = OAuthClient(app.test_client())
        assert through_fake(browser, fake).status_code == 302
        with app.app_context():
            user = db.session.scalar(select(User))
            from idp.services import orgs

            assert [g.name for g in orgs.user_groups(user.id, org.id)] == groups
            assert db.session.scalar(select(func.count()).select_from(GroupMember)) == 2


def test_an_invitation_is_accepted_by_signing_in_through_the_upstream(app, oauth, node,
                                                                      make_org):
    from idp.security import links
    from idp.services import invitations

    configure(app, node, create_users=True)
    org = make_org("acme", "Acme")
    with app.app_context():
        token = links.make(invitations.PURPOSE, {"o": org.id, "e": "carol@example.com",
                                                 "r": "member"})
    path = f"/invite/{token}"
    page = oauth.http.get(path).get_data(True)
    assert "Sign in with Company SSO" in page
    assert f'href="/login?next={path}"' in page
    back = through_node(oauth, start_at_login_page(oauth, f"/login?next={path}"), "carol")
    assert back.headers["Location"] == path  # the account is made; back to the invitation
    page = oauth.http.get(path).get_data(True)
    joined = oauth.http.post(path, data={"csrf_token": csrf_token(page)})
    assert joined.status_code == 303
    with app.app_context():
        carol = db.session.scalar(select(User).where(User.email == "carol@example.com"))
        assert db.session.scalar(select(Membership.org_id).where(
            Membership.user_id == carol.id)) == org.id
